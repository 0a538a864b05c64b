"""The 日本年金機構 CSV形式届書 ``SHFD0006.CSV``: 算定基礎届 and 賞与支払届 rows as v2 domain lines.

Layout source: 日本年金機構「磁気媒体届書作成におけるファイルイメージと項目構成」, as reproduced at
https://expydoc.com/doc/7172831/ (example: one insured person's 算定基礎届). The file is:

1. FD管理レコード: 郡市区符号, 事業所記号, FD通番, 作成年月日 (YYYYMMDD), 代表届書コード
   (``22223`` for the 算定基礎届 in the source's example);
2. ``[kanri]``;
3. 事業所管理: 社会保険労務士氏名, 事業所情報数 (``01``);
4. 事業所情報: 郡市区符号, 事業所記号, 事業所番号, 郵便番号 親番号, 子番号, 事業所所在地, 事業所名称,
   事業主氏名, 電話番号;
5. ``[data]``;
6. data records, one per insured person, beginning 届書コード, 郡市区符号, 事業所記号, 被保険者整理番号.

What the source shows reliably for the 算定基礎届 data record (its example line begins ``2225``):
届書コード, 郡市区記号, 事業所記号, 被保険者整理番号, 元号(生年月日), 年月日(生年月日) (YYMMDD),
改定予定月, 元号(適用年月), 年(適用年月), 月(適用年月), then the name in kana. The items after
those are NOT confirmed by the source as read (its text is cut there): their order below
(:data:`SR_ITEMS` from ``氏名(カナ)`` on) is provisional and must be checked against the
届書作成仕様書 before real files are imported. Likewise the 賞与支払届's data-record 届書コード
is not known from the source: it is not in :data:`RECORD_CODES` and is given by the caller
(``codes=``); its item order (:data:`BONUS_ITEMS`) is provisional after 年月日(生年月日). A lead, not
confirmed: the paper 被保険者賞与支払届 総括表 (https://expydoc.com/doc/9868385/) shows 届書コード
digits "2 6 6" (read as 2266?) for the 総括表, not for the per-person data record.
Rows whose cells are bad are reported in a group with an empty period (their period is unread).

元号 codes: 1=明治, 3=大正, 5=昭和, 7=平成, 9=令和 (the source's example: 元号 5, 年月日 400407 —
昭和40年4月7日; 適用年月 元号 7 年 14 月 10 — 平成14年10月).

Not yet mapped: 改定予定月; 従前の改定月; 昇(降)給; 遡及支払額; 修正平均額; 備考 (remarks); 個人番号 /
基礎年金番号; 賞与支払届's 70歳以上被用者 items; 事業所管理's 社会保険労務士氏名; the FD通番.

SHFD0006 carries no 法人番号, so :func:`read_groups` takes the company's ``corporate_number``.
Groups are one per (procedure, period): 算定基礎届 → the year (YYYY, of 適用年月); 賞与支払届 →
the payment date (YYYY-MM-DD, of 賞与支払年月日).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

from ledger.domain import wareki
from ledger.encoding.echo import shown
from ledger.encoding.import_groups import ImportGroup, ImportLine
from ledger.errors import ValidationError

__all__ = ["BONUS_ITEMS", "ERAS", "FORMAT", "LAYOUT", "RECORD_CODES", "SR_ITEMS", "TITLE", "read_groups", "sniff", "wareki_date"]

FORMAT: Final = "nenkin-shfd0006"
TITLE: Final = "日本年金機構 CSV形式届書 SHFD0006.CSV (算定基礎届, 賞与支払届)"
LAYOUT: Final = ("日本年金機構「磁気媒体届書作成におけるファイルイメージと項目構成」"
                 "(https://expydoc.com/doc/7172831/); items after the person's birth date provisional")

#: 元号 code of the file → era (ledger.domain.wareki).
ERAS: Final = {"1": "明治", "3": "大正", "5": "昭和", "7": "平成", "9": "令和"}
#: Data-record 届書コード → procedure. Only the 算定基礎届's is known from the source.
RECORD_CODES: Final = {"2225": "STANDARD_REMUNERATION"}

_HEAD: Final = ("届書コード", "郡市区符号", "事業所記号", "被保険者整理番号", "元号(生年月日)", "年月日(生年月日)")
SR_ITEMS: Final = (*_HEAD, "改定予定月", "元号(適用年月)", "年(適用年月)", "月(適用年月)",
                   # provisional from here on (not confirmed by the source)
                   "氏名(カナ)", "氏名", "従前の標準報酬月額(健保)", "従前の標準報酬月額(厚年)",
                   "支払基礎日数(4月)", "支払基礎日数(5月)", "支払基礎日数(6月)",
                   "報酬月額通貨(4月)", "報酬月額通貨(5月)", "報酬月額通貨(6月)",
                   "報酬月額現物(4月)", "報酬月額現物(5月)", "報酬月額現物(6月)")
BONUS_ITEMS: Final = (*_HEAD,  # provisional from here on
                      "元号(賞与支払年月日)", "年月日(賞与支払年月日)", "氏名(カナ)", "氏名", "賞与額(通貨)", "賞与額(現物)")
_ITEMS: Final = {"STANDARD_REMUNERATION": SR_ITEMS, "BONUS_PAYMENT": BONUS_ITEMS}
_OFFICE_ITEMS: Final = ("郡市区符号", "事業所記号", "事業所番号", "親番号(郵便番号)", "子番号(郵便番号)", "事業所所在地",
                        "事業所名称", "事業主氏名", "電話番号")
_PERSON_ITEMS: Final = frozenset({"元号(生年月日)", "年月日(生年月日)", "氏名(カナ)", "氏名"})
_MONTHS: Final = ("april", "may", "june")


def sniff(first_line: str) -> bool:
    """Whether ``first_line`` is an FD管理レコード: five cells, the 作成年月日 eight digits and the
    代表届書コード five."""
    cells = [c.strip() for c in next(csv.reader([first_line.lstrip("\ufeff")]), [])]
    return len(cells) == 5 and len(cells[3]) == 8 and cells[3].isdigit() and len(cells[4]) == 5 and cells[4].isdigit()


class _Bad(Exception):
    def __init__(self, column: str, message: str, expected: str, got: Any, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.column, self.message, self.expected, self.got, self.code, self.field = column, message, expected, got, code, field


def wareki_date(era: str, yymmdd: str, column: str = "年月日") -> str:
    """元号 code and YYMMDD → ISO date (``5``, ``400407`` → ``1965-04-07``)."""
    if era not in ERAS:
        era_column = "元号" + column[3:] if column.startswith("年月日(") else "元号"
        raise _Bad(era_column, "unknown 元号 code", "one of 1, 3, 5, 7, 9", era, "bad_era")
    if len(yymmdd) != 6 or not yymmdd.isdigit():
        raise _Bad(column, "not a date YYMMDD", "YYMMDD", None, "bad_date")
    try:
        return wareki.to_date(ERAS[era], yymmdd).isoformat()
    except ValueError:
        raise _Bad(column, "not a date", "a date YYMMDD", None, "bad_date") from None


def _number(cells: Mapping[str, str], column: str, *, required: bool = True) -> int | None:
    value = cells[column]
    if value == "":
        if required:
            raise _Bad(column, "missing", "digits", "", "missing")
        return None
    if not value.isdigit():
        raise _Bad(column, "not a number", "digits", value, "not_a_number")
    return int(value)


def _line(procedure: str, cells: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """The period and the v2 line of one data record."""
    person: dict[str, Any] = {"name": cells["氏名"], "kana": cells["氏名(カナ)"] or None,
                              "birth_date": wareki_date(cells["元号(生年月日)"], cells["年月日(生年月日)"], "年月日(生年月日)")}
    line: dict[str, Any] = {"insured_number": _number(cells, "被保険者整理番号"), "person": person}
    if procedure == "STANDARD_REMUNERATION":
        era = cells["元号(適用年月)"]
        if era not in ERAS:
            raise _Bad("元号(適用年月)", "unknown 元号 code", "one of 1, 3, 5, 7, 9", era, "bad_era")
        year, month = _number(cells, "年(適用年月)"), _number(cells, "月(適用年月)")
        assert year is not None and month is not None
        if not 1 <= month <= 12:
            raise _Bad("月(適用年月)", "not a month", "1-12", cells["月(適用年月)"], "bad_date")
        gregorian = wareki.gregorian_year(ERAS[era], year)
        line["applies_from"] = f"{gregorian:04d}-{month:02d}"
        for key, item in (("previous_health_amount", "従前の標準報酬月額(健保)"), ("previous_pension_amount", "従前の標準報酬月額(厚年)")):
            thousands = _number(cells, item, required=False)
            if thousands is not None:
                line[key] = thousands * 1000  # 千円単位 (provisional: the source does not show the unit)
        for jp, m in zip(("4月", "5月", "6月"), _MONTHS):
            line[f"days_{m}"] = _number(cells, f"支払基礎日数({jp})")
            currency = _number(cells, f"報酬月額通貨({jp})")
            in_kind = _number(cells, f"報酬月額現物({jp})", required=False) or 0
            assert currency is not None
            line[f"remuneration_{m}"] = currency + in_kind
            line[f"in_kind_{m}"] = in_kind
        return f"{gregorian:04d}", line
    paid_on = wareki_date(cells["元号(賞与支払年月日)"], cells["年月日(賞与支払年月日)"], "年月日(賞与支払年月日)")
    currency = _number(cells, "賞与額(通貨)")
    in_kind = _number(cells, "賞与額(現物)", required=False) or 0
    assert currency is not None
    line.update(paid_on=paid_on, bonus_amount=currency + in_kind, in_kind=in_kind)
    return paid_on, line


def _error(row: int, bad: _Bad, field: str) -> dict[str, Any]:
    got = bad.got if bad.column not in _PERSON_ITEMS else None
    return {"row": row, "column": bad.column, "field": bad.field or field, "message": bad.message,
            "expected": bad.expected, "got": shown(got, field), "code": bad.code}


def read_groups(lines: Iterable[str], on_row: Callable[[int], None] | None = None, *, corporate_number: str,
                codes: Mapping[str, str] = RECORD_CODES) -> Iterator[ImportGroup]:
    """The file's data records as :class:`ImportGroup` s, one per (procedure, period).

    ``corporate_number`` — the company's 法人番号, which the file does not carry. ``codes`` — the
    data-record 届書コード → procedure table (the 賞与支払届's code is not known from the source:
    add it, e.g. ``{**RECORD_CODES, code: "BONUS_PAYMENT"}``). A file without its FD管理レコード,
    ``[kanri]``, 事業所情報 or ``[data]`` raises ``ValidationError``; a bad data record is placed
    in its group's (or, when its 届書コード is unknown, a group of its own) ``errors``."""
    rows = enumerate(csv.reader(line.lstrip("\ufeff") if i == 0 else line for i, line in enumerate(lines)), start=1)

    def structure(expected: str, row: int, message: str) -> ValidationError:
        return ValidationError(f"SHFD0006 row {row}: {message} (expected {expected})", field="file", expected=expected)

    def take(expected: str) -> tuple[int, list[str]]:
        for row, cells in rows:
            if on_row:
                on_row(row)
            if any(c.strip() for c in cells):
                return row, [c.strip() for c in cells]
        raise structure(expected, 0, "the file ends early")

    row, fd = take("FD管理レコード")
    if len(fd) != 5:
        raise structure("FD管理レコード of 5 cells", row, f"{len(fd)} cells")
    row, cells = take("[kanri]")
    if cells != ["[kanri]"]:
        raise structure("[kanri]", row, "no [kanri] line")
    take("事業所管理")
    row, office_cells = take("事業所情報")
    if len(office_cells) != len(_OFFICE_ITEMS):
        raise structure(f"事業所情報 of {len(_OFFICE_ITEMS)} cells", row, f"{len(office_cells)} cells")
    o = dict(zip(_OFFICE_ITEMS, office_cells))
    zip_code = "-".join(p for p in (o["親番号(郵便番号)"], o["子番号(郵便番号)"]) if p)
    header = {"office": {"name": o["事業所名称"], "address": f"〒{zip_code} {o['事業所所在地']}" if zip_code else o["事業所所在地"],
                         "phone": o["電話番号"] or None, "office_symbol": f"{o['郡市区符号']}-{o['事業所記号']}",
                         "office_number": o["事業所番号"] or None}}
    row, cells = take("[data]")
    if cells != ["[data]"]:
        raise structure("[data]", row, "no [data] line")

    groups: dict[tuple[str, str], ImportGroup] = {}
    stray = ImportGroup(corporate_number, "UNKNOWN", "", header, 0)
    for row, raw in rows:
        if on_row:
            on_row(row)
        cells = [c.strip() for c in raw]
        if not any(cells):
            continue
        procedure = codes.get(cells[0])
        if procedure is None:
            stray.first_row = stray.first_row or row
            stray.errors.append(_error(row, _Bad("届書コード", "unknown 届書コード", "one of " + ", ".join(sorted(codes)),
                                                 cells[0], "unknown_record_code"), "procedure"))
            continue
        items = _ITEMS[procedure]
        period, line, bad = "", None, None
        if len(cells) != len(items):
            bad = _Bad("届書コード", f"{len(cells)} cells", f"{len(items)} cells", len(cells), "wrong_cell_count")
        else:
            named = dict(zip(items, cells))
            try:
                period, line = _line(procedure, named)
            except _Bad as e:
                bad = e
        group = groups.get((procedure, period))
        if group is None:
            group = groups[(procedure, period)] = ImportGroup(corporate_number, procedure, period, header, row)
        if bad is not None:
            group.errors.append(_error(row, bad, "lines"))
            continue
        assert line is not None
        group.lines.append(ImportLine(row, line))
        keep = [c for item, c in zip(items, cells) if item not in _PERSON_ITEMS]
        group.key_material += f"{row}:{','.join(keep)}\n"
    if stray.errors:
        yield stray
    yield from groups.values()
