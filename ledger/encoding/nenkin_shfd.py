"""The 日本年金機構 CSV形式届書 ``SHFD0006.CSV``: 算定基礎届 and 賞与支払届 rows as v2 domain lines.

Layout: 日本年金機構「CSV形式届書作成仕様書（電子申請）／電子媒体届書作成仕様書（健康保険・厚生年金保険適用関係届書）」
(https://www.nenkin.go.jp/denshibenri/denshishinsei/20210401-2.files/specs080302_16.2.pdf), as two programs that
write the file carry it (:data:`SOURCES`): ``R`` rakually's ``todokede-csv.js``, which quotes the 仕様書 page by page,
and ``K`` kufu/kirico, a Ruby library writing the 2018年3月以降 records. The file is:

1. 媒体管理レコード: [都道府県コード,] 郡市区符号, 事業所記号, 媒体通番, 作成年月日 (YYYYMMDD), 代表届書コード
   (``22223``) — six cells in R (仕様書 45p, 64p example), five without the 都道府県コード in K;
2. ``[kanri]``; 3. 事業所数情報: (予備 or 社会保険労務士氏名), 事業所情報数 (``001``);
4. that many 事業所情報 rows: [都道府県コード,] 郡市区符号, 事業所記号, 事業所番号, 郵便番号 親, 子, 所在地, 名称,
   事業主氏名, 電話番号 (one cell in K, 市外局番/局番/番号 in R: 9 or 12 cells);
5. ``[data]``; 6. data records, one per insured person.

Data records (:data:`SR_ITEMS`, :data:`BONUS_ITEMS`): 算定基礎届 様式コード ``2225700``, 53 items (R, 仕様書 136–142p;
K ``data_record2225700.rb``); 賞与支払届 ``2265700``, 21 items (K ``data_record2265700.rb``; R does not write it).
Both begin 様式コード, 都道府県コード, 郡市区符号, 事業所記号, 被保険者整理番号, 氏名(カナ), 氏名(漢字), 生年月日
元号 and YYMMDD. 元号 codes 1 明治, 3 大正, 5 昭和, 7 平成, 9 令和 (R: 仕様書 137p 昭和5・平成7・令和9; K: M1 T3 S5 H7;
``S``, the 社会保険庁's sample record, has 5 with 400407 for 昭和40年 and 7 with 14/10 for 平成14年10月).
従前の標準報酬月額 is in 千円 (R: 「千円単位4桁」; K divides by 1000); amounts are 円 otherwise; 合計 is 通貨 +
現物 — a 合計 the cells contradict is refused. From 1千万円 on the 算定基礎届's 合計 is 9,999,999 (R, K); the
賞与's is rounded down to 1,000円 and so 9,999,000 (K, whose change cites the 年金事務所: the last three digits
are always 0 — https://github.com/kufu/kirico/pull/78). 昇(降)給区分 (19) is 1 昇給, 2 降給 (R; K writes the same
for 2225700 — its 0/1 was the old 22257041 record's), read as ``pay_change`` RAISE / CUT.

Choices: 氏名(カナ) (半角カナ) goes to the v2 ``person.kana`` in full width (NFKC), and stands for the name when
氏名(漢字) is blank (K allows 0 bytes; the v2 name is required); a 70歳以上被用者 without 個人番号 (the 基礎年金番号
may stand for it) is ``personal_number_absence`` NOT_PROVIDED.

Provisional (one source): 算定 items 50–51 (パート, 年間平均: K only — R leaves two 備考 cells there); the
賞与支払届's item order (K only); 元号 1 明治 and 3 大正 (K, R; not in S). The old 4-digit/8-digit codes
(``2225``, ``22257041``) are not read.

One group per (procedure, period, 事業所): 算定基礎届 → the year of 適用年月 (YYYY), 賞与支払届 → the payment date;
the 事業所 is the data record's 郡市区符号 + 事業所記号, matched to its 事業所情報 (``header["office"]`` carries
``office_symbol`` ``郡市区符号-事業所記号`` and ``office_number``). SHFD0006 carries no 法人番号, so
:func:`read_groups` takes the company's ``corporate_number``.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

from ledger.domain import wareki
from ledger.encoding.echo import shown
from ledger.encoding.import_groups import ImportGroup, ImportLine
from ledger.errors import ValidationError

__all__ = ["BONUS_ITEMS", "ERAS", "FORMAT", "LAYOUT", "RECORD_CODES", "SOURCES", "SR_ITEMS", "TITLE", "read_groups", "sniff",
           "wareki_date"]

FORMAT: Final = "nenkin-shfd0006"
TITLE: Final = "日本年金機構 CSV形式届書 SHFD0006.CSV (算定基礎届 2225700, 賞与支払届 2265700)"
LAYOUT: Final = ("日本年金機構「CSV形式届書作成仕様書（電子申請）／電子媒体届書作成仕様書」第16.2版 "
                 "(https://www.nenkin.go.jp/denshibenri/denshishinsei/20210401-2.files/specs080302_16.2.pdf), as "
                 "ledger.encoding.nenkin_shfd.SOURCES carry it")
SOURCES: Final = {
    "R": "https://github.com/exally-zeroact/rakually-test kyuyo/lib/todokede-csv.js (quotes the 仕様書 第16.2版 by page)",
    "K": "https://github.com/kufu/kirico lib/kirico/models/data_record2225700.rb, data_record2265700.rb, company.rb",
    "S": "社会保険庁「磁気媒体届書作成におけるファイルイメージと項目構成」 https://expydoc.com/doc/7172831",
}

#: 元号 code of the file → era (ledger.domain.wareki).
ERAS: Final = {"1": "明治", "3": "大正", "5": "昭和", "7": "平成", "9": "令和"}
#: Data-record 様式コード → procedure.
RECORD_CODES: Final = {"2225700": "STANDARD_REMUNERATION", "2265700": "BONUS_PAYMENT"}

_HEAD: Final = ("様式コード", "都道府県コード", "郡市区符号", "事業所記号", "被保険者整理番号", "氏名(カナ)", "氏名(漢字)",
                "元号(生年月日)", "年月日(生年月日)")
_MONTHS: Final = ("april", "may", "june")
_JP: Final = ("4月", "5月", "6月")
SR_ITEMS: Final = (
    *_HEAD, "元号(適用年月)", "年(適用年月)", "月(適用年月)", "従前の標準報酬月額(健保)", "従前の標準報酬月額(厚年)",
    "元号(従前改定年月)", "年(従前改定年月)", "月(従前改定年月)", "昇(降)給月", "昇(降)給区分", "遡及支払月", "遡及支払額",
    *(f"給与支給月({m})" for m in _JP), *(f"支払基礎日数({m})" for m in _JP), *(f"報酬月額通貨({m})" for m in _JP),
    *(f"報酬月額現物({m})" for m in _JP), *(f"報酬月額合計({m})" for m in _JP), "総計", "平均額", "修正平均額", "個人番号",
    "基礎年金番号(課所符号)", "基礎年金番号(一連番号)", "70歳以上被用者", "70歳以上被用者算定基礎月", "二以上勤務", "月額変更予定",
    "途中入社", "病休・育休・休職等", "短時間労働者", "パート", "年間平均", "備考(その他)", "70歳以上被用者届のみ提出",
)
BONUS_ITEMS: Final = (
    *_HEAD, "元号(賞与支払年月日)", "年月日(賞与支払年月日)", "賞与額(通貨)", "賞与額(現物)", "賞与額(合計)", "個人番号",
    "基礎年金番号(課所符号)", "基礎年金番号(一連番号)", "70歳以上被用者", "二以上勤務", "同一月内の賞与合算(初回支払日)",
    "70歳以上被用者届のみ提出",
)
_ITEMS: Final = {"STANDARD_REMUNERATION": SR_ITEMS, "BONUS_PAYMENT": BONUS_ITEMS}
#: 備考 flags of the 算定基礎届 (items 43, 45–51) → ledger.domain.forms.SR_REMARKS.
_SR_FLAGS: Final = {"70歳以上被用者": "AGE_70_PLUS", "二以上勤務": "MULTIPLE_OFFICES", "月額変更予定": "MONTHLY_CHANGE_EXPECTED",
                    "途中入社": "JOINED_MIDWAY", "病休・育休・休職等": "ON_LEAVE", "短時間労働者": "SHORT_TIME_WORKER",
                    "パート": "PART_TIME", "年間平均": "ANNUAL_AVERAGE"}
_OFFICE_9: Final = ("郡市区符号", "事業所記号", "事業所番号", "親番号(郵便番号)", "子番号(郵便番号)", "事業所所在地", "事業所名称",
                    "事業主氏名", "電話番号")
_OFFICE_12: Final = ("都道府県コード", *_OFFICE_9[:-1], "電話番号(市外局番)", "電話番号(局番)", "電話番号(番号)")
_PERSON_ITEMS: Final = frozenset({"氏名(カナ)", "氏名(漢字)", "元号(生年月日)", "年月日(生年月日)", "個人番号",
                                  "基礎年金番号(課所符号)", "基礎年金番号(一連番号)"})
_CAP: Final = 9_999_999  # a 算定基礎届's 合計 of 1千万円 and more is recorded as 9999999 (R, K)
_BONUS_CAP: Final = 9_999_000  # a 賞与's, rounded down to 1,000円, as 9999000 (K; kirico PR #78)
#: 昇(降)給区分 → the v2 line's pay_change (R; K's 2225700).
PAY_CHANGES: Final = {"1": "RAISE", "2": "CUT"}


def sniff(first_line: str) -> bool:
    """Whether ``first_line`` is a 媒体管理レコード: five or six cells ending 作成年月日 (8 digits), 代表届書コード (5)."""
    cells = [c.strip() for c in next(csv.reader([first_line.lstrip("\ufeff")]), [])]
    return len(cells) in (5, 6) and len(cells[-2]) == 8 and cells[-2].isdigit() and len(cells[-1]) == 5 and cells[-1].isdigit()


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


def _month(cells: Mapping[str, str], what: str, *, required: bool = True) -> str | None:
    """元号/年/月 items of ``what`` → YYYY-MM."""
    era, year, month = cells[f"元号({what})"], cells[f"年({what})"], cells[f"月({what})"]
    if not (era or year or month) and not required:
        return None
    if era not in ERAS:
        raise _Bad(f"元号({what})", "unknown 元号 code", "one of 1, 3, 5, 7, 9", era, "bad_era")
    y, m = _number(cells, f"年({what})"), _number(cells, f"月({what})")
    assert y is not None and m is not None
    if not 1 <= m <= 12:
        raise _Bad(f"月({what})", "not a month", "01-12", month, "bad_date")
    return f"{wareki.gregorian_year(ERAS[era], y):04d}-{m:02d}"


def _number(cells: Mapping[str, str], column: str, *, required: bool = True) -> int | None:
    value = cells[column]
    if value == "":
        if required:
            raise _Bad(column, "missing", "digits", "", "missing")
        return None
    if not value.isdigit():
        raise _Bad(column, "not a number", "digits", value, "not_a_number")
    return int(value)


def _flag(cells: Mapping[str, str], column: str) -> bool:
    if cells[column] not in ("", "1"):
        raise _Bad(column, "a 備考 item is 1 or blank", '"1" or blank', cells[column], "bad_flag")
    return cells[column] == "1"


def _total(cells: Mapping[str, str], column: str, expected: int, cap: int = _CAP) -> None:
    """A 合計 the file gives must be what its parts make (capped at ``cap``)."""
    given = _number(cells, column, required=False)
    if given is not None and given != min(expected, cap):
        raise _Bad(column, "the 合計 is not the sum of its parts", f"{min(expected, cap)}", given, "inconsistent_total")


def _person(cells: Mapping[str, str]) -> dict[str, Any]:
    kana = unicodedata.normalize("NFKC", cells["氏名(カナ)"]) or None  # 半角カナ in the file, full width in v2
    if kana is None:
        raise _Bad("氏名(カナ)", "the name in kana is required", "half-width katakana", None, "missing")
    return {"name": cells["氏名(漢字)"] or kana, "kana": kana,
            "birth_date": wareki_date(cells["元号(生年月日)"], cells["年月日(生年月日)"], "年月日(生年月日)")}


def _line(procedure: str, cells: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """The period and the v2 line of one data record."""
    line: dict[str, Any] = {"insured_number": _number(cells, "被保険者整理番号"), "person": _person(cells)}
    number = cells["個人番号"]
    if number:
        line["person"]["personal_number"] = number
    elif _flag(cells, "70歳以上被用者"):
        # only a 70歳以上被用者's number is asked for; blank (the 基礎年金番号 may stand for it) means not given
        line["person"]["personal_number_absence"] = "NOT_PROVIDED"
    if procedure == "STANDARD_REMUNERATION":
        applies = _month(cells, "適用年月")
        assert applies is not None
        line["applies_from"] = applies
        for key, item in (("previous_health_amount", "従前の標準報酬月額(健保)"), ("previous_pension_amount", "従前の標準報酬月額(厚年)")):
            thousands = _number(cells, item, required=False)
            if thousands is not None:
                line[key] = thousands * 1000  # 千円単位4桁 (R, K)
        if (previous := _month(cells, "従前改定年月", required=False)) is not None:
            line["previous_revision"] = previous
        if (raise_month := _number(cells, "昇(降)給月", required=False)) is not None:
            line["pay_change_month"] = f"{applies[:4]}-{raise_month:02d}"
        if (change := cells["昇(降)給区分"]):
            if change not in PAY_CHANGES:
                raise _Bad("昇(降)給区分", "昇(降)給区分 is 1 (昇給) or 2 (降給)", '"1", "2" or blank', change, "bad_code")
            line["pay_change"] = PAY_CHANGES[change]
        line["retroactive_amount"] = _number(cells, "遡及支払額", required=False) or 0
        for jp, m in zip(_JP, _MONTHS, strict=True):
            line[f"days_{m}"] = _number(cells, f"支払基礎日数({jp})")
            currency, in_kind = _number(cells, f"報酬月額通貨({jp})"), _number(cells, f"報酬月額現物({jp})", required=False) or 0
            assert currency is not None
            _total(cells, f"報酬月額合計({jp})", currency + in_kind)
            line[f"remuneration_{m}"], line[f"in_kind_{m}"] = currency + in_kind, in_kind
        if (adjusted := _number(cells, "修正平均額", required=False)) is not None:
            line["adjusted_average"] = adjusted
        remarks = [code for item, code in _SR_FLAGS.items() if _flag(cells, item)]
        if cells["備考(その他)"]:
            remarks.append("OTHER")
            line["remarks_note"] = cells["備考(その他)"]
        line["remarks"] = remarks
        return applies[:4], line
    paid_on = wareki_date(cells["元号(賞与支払年月日)"], cells["年月日(賞与支払年月日)"], "年月日(賞与支払年月日)")
    currency, in_kind = _number(cells, "賞与額(通貨)"), _number(cells, "賞与額(現物)", required=False) or 0
    assert currency is not None
    _total(cells, "賞与額(合計)", (currency + in_kind) // 1000 * 1000, _BONUS_CAP)  # 千円未満切捨て (K)
    line.update(paid_on=paid_on, bonus_amount=currency + in_kind, in_kind=in_kind)
    remarks = [code for item, code in (("70歳以上被用者", "AGE_70_PLUS"), ("二以上勤務", "MULTIPLE_OFFICES")) if _flag(cells, item)]
    if (first := cells["同一月内の賞与合算(初回支払日)"]):
        if not (len(first) == 2 and first.isdigit()):
            raise _Bad("同一月内の賞与合算(初回支払日)", "the first payment's day", "two digits DD", first, "bad_date")
        line["first_paid_on"] = f"{paid_on[:8]}{first}"
        remarks.append("SAME_MONTH_COMBINED")
    line["remarks"] = remarks
    return paid_on, line


def _error(row: int, bad: _Bad, field: str) -> dict[str, Any]:
    got = bad.got if bad.column not in _PERSON_ITEMS else None
    return {"row": row, "column": bad.column, "field": bad.field or field, "message": f"row {row}, {bad.column}: {bad.message}",
            "expected": bad.expected, "got": shown(got, field), "code": bad.code}


def _office(cells: list[str]) -> tuple[tuple[str, str], dict[str, Any]] | None:
    """A 事業所情報 row → ((郡市区符号, 事業所記号), the v2 office header), or None if it is no such row."""
    if len(cells) not in (len(_OFFICE_9), len(_OFFICE_12)):
        return None
    o = dict(zip(_OFFICE_12 if len(cells) == len(_OFFICE_12) else _OFFICE_9, cells, strict=True))
    phone = o.get("電話番号") or "-".join(p for p in (o.get("電話番号(市外局番)"), o.get("電話番号(局番)"), o.get("電話番号(番号)")) if p)
    zip_code = "-".join(p for p in (o["親番号(郵便番号)"], o["子番号(郵便番号)"]) if p)
    return (o["郡市区符号"], o["事業所記号"]), {
        "name": o["事業所名称"], "address": f"〒{zip_code} {o['事業所所在地']}" if zip_code else o["事業所所在地"],
        "phone": phone or None, "office_symbol": f"{o['郡市区符号']}-{o['事業所記号']}", "office_number": o["事業所番号"] or None}


def read_groups(lines: Iterable[str], on_row: Callable[[int], None] | None = None, *, corporate_number: str,
                codes: Mapping[str, str] = RECORD_CODES) -> Iterator[ImportGroup]:
    """The file's data records as :class:`ImportGroup` s, one per (procedure, period, 事業所).

    ``corporate_number`` — the company's 法人番号, which the file does not carry. ``codes`` — the
    様式コード → procedure table. A file without its 媒体管理レコード, ``[kanri]``, 事業所情報 or ``[data]``
    raises ``ValidationError``; a bad data record is placed in its group's (or, when its 様式コード or
    事業所 is unknown, a group of its own) ``errors``."""
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

    row, first = take("媒体管理レコード")
    if len(first) not in (5, 6):
        raise structure("媒体管理レコード of 5 or 6 cells", row, f"{len(first)} cells")
    row, cells = take("[kanri]")
    if cells != ["[kanri]"]:
        raise structure("[kanri]", row, "no [kanri] line")
    row, count_cells = take("事業所数情報")
    if len(count_cells) != 2 or not count_cells[1].isdigit() or int(count_cells[1]) < 1:
        raise structure("事業所数情報: 予備, 事業所情報数 (001)", row, "no count of 事業所情報")
    offices: dict[tuple[str, str], dict[str, Any]] = {}
    for _ in range(int(count_cells[1])):
        row, cells = take("事業所情報")
        office = _office(cells)
        if office is None:
            raise structure("事業所情報 of 9 or 12 cells", row, f"{len(cells)} cells")
        offices[office[0]] = {"office": office[1]}
    row, cells = take("[data]")
    if cells != ["[data]"]:
        raise structure("[data]", row, "no [data] line")

    groups: dict[tuple[str, str, str, str], ImportGroup] = {}
    stray = ImportGroup(corporate_number, "UNKNOWN", "", next(iter(offices.values())), 0)
    for row, raw in rows:
        if on_row:
            on_row(row)
        cells = [c.strip() for c in raw]
        if not any(cells):
            continue
        procedure = codes.get(cells[0])
        header = offices.get((cells[2], cells[3])) if len(cells) > 3 else None
        if procedure is None or header is None:
            stray.first_row = stray.first_row or row
            bad = (_Bad("様式コード", "unknown 様式コード", "one of " + ", ".join(sorted(codes)), cells[0], "unknown_record_code")
                   if procedure is None else
                   _Bad("事業所記号", "no 事業所情報 of this file has this 郡市区符号 and 事業所記号", "an office of the 事業所情報 rows",
                        "-".join(cells[2:4]), "unknown_office"))
            stray.errors.append(_error(row, bad, "procedure" if procedure is None else "office"))
            continue
        items = _ITEMS[procedure]
        period, line, failure = "", None, None
        if len(cells) != len(items):
            failure = _Bad("様式コード", f"{len(cells)} cells", f"{len(items)} cells", len(cells), "wrong_cell_count")
        else:
            try:
                period, line = _line(procedure, dict(zip(items, cells, strict=True)))
            except _Bad as e:
                failure = e
        office = header["office"]
        key = (procedure, period, office["office_symbol"], office["office_number"] or "")
        group = groups.get(key)
        if group is None:
            group = groups[key] = ImportGroup(corporate_number, procedure, period, {"office": dict(office)}, row)
        if failure is not None:
            group.errors.append(_error(row, failure, "lines"))
            continue
        assert line is not None
        group.lines.append(ImportLine(row, line))
        keep = [c for item, c in zip(items, cells, strict=True) if item not in _PERSON_ITEMS]
        group.key_material += f"{row}:{','.join(keep)}\n"
    if stray.errors:
        yield stray
    yield from groups.values()
