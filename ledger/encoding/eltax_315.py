"""The national 給与支払報告書・源泉徴収票 CSV (法定資料の種類 "315"), read as v2 ``PAYROLL_REPORT`` groups.

Layout: 総務省自治税務局長通知 平成25年11月21日 総税市第49号「個人の住民税の給与支払報告書及び公的年金等
支払報告書の光ディスク等化について」, record 315 (one CSV record per 支払を受ける者, CP932 — see
:mod:`ledger.encoding.text_files`). Sources read for this module:

- 網走市「給与支払報告書 光ディスク等提出データ仕様書 レコードの作成要領」
  https://expydoc.com/doc/7167626/ — items 1–13 (法定資料の種類 … 年分, 住所又は居所, 国外住所表示)
  with their 記録要領 (訂正表示 "1"/"0"; 年分 in 和暦, 元年分～9年分 as "01"–"09");
- 国税庁 給与所得の源泉徴収票 (375) レコードの内容及び記録要領 (https://dokumen.tips/documents/fffeeoeee-cci375.html):
  the same items 1–12 with their 入力文字基準 (整理番号1 半角10文字, 整理番号2 半角13文字, 年分 半角2文字);
- 帯広市「光ディスク等による給与支払報告書の提出について」 https://expydoc.com/doc/7374485/ — that the
  record follows 総税市第49号;
- docsplayer excerpts (https://docsplayer.net/amp/107258758-… , …/23119146-…) naming items 24 老人控除
  対象配偶者, 25 配偶者特別控除の額, 26–32 控除対象扶養親族の数, 33 障害者の数（特別障害者）.

**Confirmed positions** (from those pages): items 1–13 (:data:`CONFIRMED`). **Provisional
positions** (:data:`PROVISIONAL`): every other item this module reads. Their order follows the
国税庁 法定調書 315 record (氏名 14, 支払金額 17, 給与所得控除後 19, 所得控除の額の合計額 20,
源泉徴収税額 21, 社会保険料等の金額 36) as recalled, NOT checked against the 通知's 別紙 in this
session; the items after 44 (生年月日, 中途就・退職, フリガナ, 受給者番号, 提出先市町村コード, 個人番号,
普通徴収, 法人番号) are placed at 45–54 by this module only, so that a file can be built and read —
their real item numbers must be taken from the 通知 before this reader is wired to any import.

和暦 dates (生年月日, 中途就・退職年月日) are read as one cell of 7 digits, 元号 code + YYMMDD
(1 明治, 2 大正, 3 昭和, 4 平成, 5 令和) — the 国税庁 法定調書 encoding; also provisional here.

Choices this module makes where the record says nothing: a blank 個人番号 is given
``personal_number_absence`` NOT_PROVIDED (the record has no item for the reason, which
``ledger.domain.forms`` requires); a record whose items 19 and 20 are both blank is
``year_end_adjusted`` false (国税庁 源泉徴収票の記載要領: no 年末調整, both left blank).

Not yet mapped (cells read past, not interpreted): 8–9 提出者 (blank by the layout), 13 国外住所表示
(read, checked as "0"/"1", not carried: the v2 line has no field for it), 15 役職名, 16 種別,
18 未払金額, 22 未徴収税額, 23 控除対象配偶者の有無等, 24 老人控除対象配偶者, 25 配偶者特別控除の額,
26–32 控除対象扶養親族の数, 33–35 障害者の数, 37–43 (小規模企業共済等掛金, 生命保険料・地震保険料の控除額,
住宅借入金等特別控除等の額, 旧個人年金保険料, 配偶者の合計所得, 旧長期損害保険料), 44 摘要, the spouse's and
dependants' names and numbers, 住宅借入金 details, and every item after 54.

Public: :data:`FORMAT`, :data:`TITLE`, :data:`LAYOUT`, :func:`sniff`, :func:`read_groups`, and the
helpers :func:`reiwa_year` and :func:`wareki_date`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from ledger.domain import wareki
from ledger.encoding.echo import shown
from ledger.encoding.import_groups import ImportGroup, ImportLine

FORMAT: Final = "eltax-315"
TITLE: Final = "給与支払報告書・源泉徴収票 (法定資料の種類 315, 総務省 総税市第49号 layout, CP932)"
LAYOUT: Final = ("総務省自治税務局長通知 平成25年11月21日 総税市第49号, record 315; 網走市 光ディスク等提出データ仕様書 "
                 "レコードの作成要領 (https://expydoc.com/doc/7167626/)")
RECORD_KIND: Final = "315"
PROCEDURE: Final = "PAYROLL_REPORT"


@dataclass(frozen=True)
class Item:
    number: int  # the layout's 項目番号 (1-based cell position)
    name: str  # the layout's 項目名
    field: str  # where it goes: "header.<f>", "line.<f>", "person.<f>", "group.<f>", or "" (read past)
    kind: str  # "text", "yen", "flag01", "wareki", "code", "kind", "year", "digits10", "digits13"

    @property
    def column(self) -> str:
        return f"項目{self.number} {self.name}"


#: Items whose positions the cited pages give (網走市 レコードの作成要領, items 1–13).
CONFIRMED: Final = (
    Item(1, "法定資料の種類", "", "kind"),
    Item(2, "整理番号1", "header.tax_office_reference", "digits10"),
    Item(3, "本支店等区分番号", "header.branch_number", "text"),
    Item(4, "提出義務者の住所(居所)又は所在地", "header.address", "text"),
    Item(5, "提出義務者の氏名又は名称", "header.name", "text"),
    Item(6, "提出義務者の電話番号", "header.phone", "text"),
    Item(7, "整理番号2", "header.office_code", "digits13"),
    Item(8, "提出者の住所又は所在地", "", "text"),
    Item(9, "提出者の氏名又は名称", "", "text"),
    Item(10, "訂正表示", "change", "flag01"),
    Item(11, "年分", "period", "year"),
    Item(12, "住所又は居所", "person.address", "text"),
    Item(13, "国外住所表示", "", "flag01"),
)
#: Items at positions NOT confirmed by the cited pages (see the module docstring): check them
#: against the 通知's 別紙 before use.
PROVISIONAL: Final = (
    Item(14, "氏名", "person.name", "text"),
    Item(17, "支払金額", "line.payment_amount", "yen"),
    Item(19, "給与所得控除後の給与等の金額", "line.income_after_deduction", "yen"),
    Item(20, "所得控除の額の合計額", "line.total_deductions", "yen"),
    Item(21, "源泉徴収税額", "line.withholding_tax", "yen"),
    Item(36, "社会保険料等の金額", "line.social_insurance", "yen"),
    Item(45, "生年月日", "person.birth_date", "wareki"),
    Item(46, "中途就・退職区分", "", "code"),  # "1" 就職, "2" 退職, "" neither
    Item(47, "中途就・退職年月日", "", "wareki"),
    Item(48, "フリガナ", "person.kana", "text"),
    Item(49, "受給者番号", "line.employee_number", "text"),
    Item(50, "提出先市町村コード", "line.municipality_code", "text"),
    Item(51, "個人番号", "person.personal_number", "text"),
    Item(52, "普通徴収", "", "flag01"),
    Item(53, "普通徴収切替理由", "line.ordinary_reason", "code"),  # 普A–普F
    Item(54, "提出義務者の法人番号", "group.corporate_number", "text"),
)
ITEMS: Final = {i.number: i for i in (*CONFIRMED, *PROVISIONAL)}
#: A record has at least this many cells (the last item this module reads).
MIN_CELLS: Final = max(ITEMS)
#: Items about the person (sealed by the ledger): left out of the key material, never echoed.
PERSON_ITEMS: Final = frozenset(i.number for i in ITEMS.values() if i.field.startswith("person.")) | {13, 47}

#: 元号 codes → the Gregorian year of their 元年.
#: 元号 code of the record → era (ledger.domain.wareki).
ERAS: Final = {"1": "明治", "2": "大正", "3": "昭和", "4": "平成", "5": "令和"}
REIWA_FIRST: Final = wareki.gregorian_year("令和", 1)
#: 普通徴収切替理由 符号 → ledger.domain.forms.ORDINARY_REASONS.
ORDINARY: Final = {"普A": "FEW_EMPLOYEES", "普B": "SPECIAL_ELSEWHERE", "普C": "LOW_PAY", "普D": "IRREGULAR_PAY",
                   "普E": "FAMILY_WORKER", "普F": "LEAVING"}

_DIGITS = re.compile(r"^[0-9]+$")


class CellError(ValueError):
    def __init__(self, message: str, expected: str, code: str) -> None:
        super().__init__(message)
        self.expected, self.code = expected, code


def sniff(first_line: str) -> bool:
    """Whether a file whose first line is this is a 315 file: its first cell is "315"."""
    cell = first_line.lstrip("\ufeff").split(",", 1)[0].strip().strip('"')
    return cell == RECORD_KIND


def reiwa_year(cell: str, today: date | None = None) -> str:
    """年分 ("01"–"99", 令和) → "YYYY". 令和 only: earlier eras and years after this one are refused."""
    if not (len(cell) == 2 and _DIGITS.match(cell)) or cell == "00":
        raise CellError("年分 is the 令和 year in two digits (元年分～9年分 as 01–09)", "two digits 01–99", "invalid_year")
    year = REIWA_FIRST + int(cell) - 1
    now = (today or date.today()).year
    if year > now:
        raise CellError(f"年分 {cell} would be {year}, after this year: only 令和 years (since 2019) are read",
                        f"01–{now - REIWA_FIRST + 1:02d} (令和)", "unsupported_year")
    return str(year)


def wareki_date(cell: str) -> str:
    """A 和暦 date, 元号 code + YYMMDD (7 digits, e.g. 3600714 = 昭和60年7月14日) → ISO date."""
    if not (len(cell) == 7 and _DIGITS.match(cell)) or cell[0] not in ERAS or cell[1:3] == "00":
        raise CellError("a 和暦 date is 7 digits: 元号 code (1 明治 … 5 令和) and YYMMDD", "7 digits GYYMMDD", "invalid_date")
    try:
        return wareki.to_date(ERAS[cell[0]], cell[1:]).isoformat()
    except ValueError:
        raise CellError("not a calendar date", "7 digits GYYMMDD naming a real date", "invalid_date") from None


def _yen(cell: str) -> int:
    if not _DIGITS.match(cell):
        raise CellError("an amount is whole yen in digits", "digits (whole yen)", "invalid_amount")
    return int(cell)


def _flag01(cell: str) -> bool:
    if cell not in ("0", "1", ""):
        raise CellError("this item is recorded as 1 or 0", '"1" or "0"', "invalid_flag")
    return cell == "1"


def _error(row: int, item: Item | None, message: str, expected: str, got: Any, code: str) -> dict[str, Any]:
    field = item.field.split(".")[-1] if item and item.field else (item.name if item else "row")
    return {"row": row, "column": item.column if item else "row", "field": field, "message": message,
            "expected": expected, "got": _got(item, got), "code": code}


def _got(item: Item | None, got: Any) -> Any:
    """What an error may say it got: never a person's cell, and no text but ASCII (a name or an
    address typed into another item is not echoed either), through :func:`shown` for the rest."""
    if got is None or not isinstance(got, str):
        return got
    if item is not None and item.number in PERSON_ITEMS:
        return f"{len(got)} characters (not shown: an item about the person)"
    if not got.isascii():
        return f"{len(got)} characters (not shown: not ASCII)"
    return shown(got, item.field.split(".")[-1] if item and item.field else None)


def _read_row(number: int, cells: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One record → {"header", "line", "person", "change", "period", "corporate_number"} and errors."""
    errors: list[dict[str, Any]] = []
    out: dict[str, Any] = {"header": {}, "line": {}, "person": {}, "change": None, "period": None, "corporate_number": ""}
    values: dict[int, Any] = {}
    for item in ITEMS.values():
        cell = cells[item.number - 1].strip()
        try:
            if item.kind == "kind":
                if cell != RECORD_KIND:
                    raise CellError("every record of this file is 法定資料の種類 315", '"315"', "wrong_record_kind")
                value: Any = cell
            elif item.kind == "year":
                value = reiwa_year(cell)
            elif item.kind in ("digits10", "digits13"):
                width = int(item.kind[6:])
                if cell and not (len(cell) == width and _DIGITS.match(cell)):
                    raise CellError(f"{item.name} is the {width}-digit number the 税務署 gave, or blank", f"{width} digits or blank",
                                    "invalid_reference")
                value = cell or None
            elif item.kind == "yen":
                value = _yen(cell) if cell else None
            elif item.kind == "flag01":
                value = _flag01(cell)
            elif item.kind == "wareki":
                value = wareki_date(cell) if cell else None
            else:
                value = cell or None
        except CellError as e:
            errors.append(_error(number, item, f"row {number}, {item.column}: {e}", e.expected, cell, e.code))
            continue
        values[item.number] = value
        where, _, name = item.field.partition(".")
        if where in ("header", "line", "person") and value is not None:
            out[where][name] = value
        elif where == "group" and value is not None:
            out[name] = value
        elif item.field == "change":
            out["change"] = "CORRECT" if value else None
        elif item.field == "period":
            out["period"] = value
    # 中途就・退職 (items 46–47, provisional): 1 就職 → employment_start, 2 退職 → employment_end.
    kind, when = values.get(46), values.get(47)
    if kind not in (None, "1", "2"):
        errors.append(_error(number, ITEMS[46], f"row {number}, {ITEMS[46].column}: 1 (就職), 2 (退職) or blank",
                             '"1", "2" or blank', kind, "invalid_code"))
    elif kind and when is None and 47 in values:
        errors.append(_error(number, ITEMS[47], f"row {number}, {ITEMS[47].column}: a 中途就・退職 needs its date",
                             "7 digits GYYMMDD", None, "required"))
    elif kind:
        out["line"]["employment_start" if kind == "1" else "employment_end"] = when
    # 普通徴収 (items 52–53, provisional).
    reason = out["line"].pop("ordinary_reason", None)
    if values.get(52):
        out["line"]["collection"] = "ORDINARY"
    if reason is not None:
        if reason not in ORDINARY:
            errors.append(_error(number, ITEMS[53], f"row {number}, {ITEMS[53].column}: one of 普A–普F", "普A–普F",
                                 reason, "invalid_choice"))
        else:
            out["line"]["ordinary_reason"] = ORDINARY[reason]
    # A slip without 年末調整 leaves both amounts blank (国税庁 源泉徴収票の記載要領).
    if "income_after_deduction" not in out["line"] and "total_deductions" not in out["line"]:
        out["line"]["year_end_adjusted"] = False
    if out["person"].get("personal_number") is None:
        out["person"]["personal_number_absence"] = "NOT_PROVIDED"  # the layout has no reason: blank means not given
    return out, errors


def _key_cells(cells: list[str]) -> list[str]:
    return [c for n, c in enumerate(cells, start=1) if n not in PERSON_ITEMS]


def read_groups(lines: Iterable[str], on_row: Callable[[int], None] | None = None) -> Iterator[ImportGroup]:
    """The file's records as :class:`ImportGroup` s, one per consecutive run of rows of one payer
    (items 2–7, 54) and 年分 (item 11). ``lines`` are decoded text lines (:func:`text_lines`)."""
    current: ImportGroup | None = None
    current_key: tuple[str, ...] | None = None
    key_rows: list[Any] = []

    def close() -> ImportGroup | None:
        if current is not None:
            current.key_material = repr(key_rows)
        return current

    for number, cells in enumerate(csv.reader(lines), start=1):
        if on_row is not None:
            on_row(number)
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) < MIN_CELLS or cells[0].strip() != RECORD_KIND:
            if len(cells) < MIN_CELLS:
                err = _error(number, None, f"row {number} has {len(cells)} cells: a 315 record has at least {MIN_CELLS}",
                             f"at least {MIN_CELLS} cells", f"{len(cells)} cells", "too_few_cells")
            else:
                err = _error(number, ITEMS[1], f"row {number}, {ITEMS[1].column}: every record of this file is 315",
                             '"315"', cells[0].strip(), "wrong_record_kind")
            if current is None:
                current = ImportGroup("", PROCEDURE, "", {"employer": {}}, number)
                current_key = None
            current.errors.append(err)
            key_rows.append((number, "unreadable"))
            continue
        key = tuple(cells[n - 1].strip() for n in (2, 3, 4, 5, 6, 7, 11, 54))
        if current is None or key != current_key:
            done = close()
            if done is not None:
                yield done
            key_rows = []
            current = ImportGroup("", PROCEDURE, "", {"employer": {}}, number)
            current_key = key
        read, errors = _read_row(number, cells)
        if not current.period and read["period"]:
            current.period = read["period"]
            current.corporate_number = read["corporate_number"]
            current.header = {"employer": read["header"]}
        key_rows.append((number, _key_cells(cells)))
        if errors:
            current.errors.extend(errors)
            continue
        current.lines.append(ImportLine(number, {**read["line"], "person": read["person"]}, read["change"]))
    done = close()
    if done is not None:
        yield done
