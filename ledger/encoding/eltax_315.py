"""The national 給与支払報告書・源泉徴収票 CSV (法定資料の種類 "315"), read as v2 ``PAYROLL_REPORT`` groups.

Layout (the item table is :mod:`ledger.encoding.eltax_315_layout`): 総務省自治税務局長通知 平成25年11月21日 総税市第49号 (光ディスク等,
record 315) as eLTAX takes it as a CSV (one record per 支払を受ける者, CP932 — :mod:`ledger.encoding.text_files`). The
通知's 別紙 itself was not found; each item's position comes from the sources in :data:`SOURCES`, named per item
(``Item.source``):

- ``A`` 網走市 レコードの作成要領 — items 1–13 with their 記録要領; ``N`` 国税庁 375 記録要領 — the same
  items 1–12 with their 入力文字基準;
- ``K`` arakanema/kyuhou_csv_validator — a validator written to the eLTAX「CSVレイアウト仕様書（給与支払報告書）」
  (2014, 98 items): a name, type and width per item 1–98;
- ``L`` chumaltd/luca-jp ``jp_payreport.rb`` — code that writes the record for eLTAX today (令和 layout):
  items 1–55 and 91 as ``K`` has them, 56–90 left as exactly 35 cells ("col90まで"), then 92–143;
- ``T`` 国税庁「法定資料を光ディスク及び磁気ディスクにより提出する場合の標準規格等」, 別紙 給与所得の源泉徴収票
  (375) レコードの内容及び記録要領 — items 1–93 of 375 are 315's items 1–93, with their codes;
- ``U`` the eLTAX 給与支払報告書・源泉徴収票 統一CSVレイアウト (地方税共同機構), its column names as published
  for 令和6年分 and 令和7年分 — items 92–147.

So items 1–91 stand on two sources or more (56–90 on ``K``'s positions, ``L``'s count and ``T``), 92–143 on
``L`` and ``U``, which agree (普通徴収 … 指定番号 at 134–140, in the order K had them at 92–98 before the
マイナンバー items; widths from K). A record has at least :data:`MIN_CELLS` (140) cells; 141–143 (基礎控除の額,
所得金額調整控除額, ひとり親, 令和2年分〜) are read when present; from 令和7年分 the 特定親族 items 144–146
(:data:`FROM_REIWA_7`, ``U``) are read too, while in earlier years 144 is the 統一CSV's 作成区分 and is read
past, as are later cells (令和7年分's 作成区分, 147). :data:`PROVISIONAL` lists what stays unconfirmed.

Encodings: 生年月日 is four cells, 元号 (44) / 年 / 月 / 日 (K, L, U; ``G`` names the 年/月/日 columns). The
元号 codes are ``T``'s: 1 昭和, 2 大正, 3 明治, 4 平成, 5 令和 (L writes the same; ``W`` lists the scheme among
the 元号コード in use); 9 (その他) names no era a date can be read in and is refused. 中途就・退職 (60–63) is
区分 (``T``: 1 中途就職, 2 中途退職, 0 neither) and 年/月/日 without a 元号 (``T``): the year is read in the era
that makes it the 年分's year (令和, or 平成31 for 令和元年分).

個人番号: ``T`` records a 12-digit 個人番号 in 13 cells with a leading zero (「123456789012」⇒「0123456789012」); a
315 file written that way is read too: 95 takes the number without its zero, and a 94 of 13 digits beginning
with 0 is an individual 提出義務者's 個人番号 (a 法人番号 begins with its check digit, 1–9), never a company.

訂正表示 (item 10): eLTAX takes 0 新規, 1 追加, 2 訂正, 3 取消 (K checks 0–3 and L writes "提出区分（新規0, 追加1,
訂正2, 取消3）"; 板橋区 FAQ: on eLTAX the 個人別明細書's 申告区分/訂正表示 carries 訂正・追加・取消, and a
correction re-sent as 新規 is counted twice). :data:`CHANGES` maps them to ``ImportLine.change``. The 光ディスク
媒体 record (A, N) has only "1" 訂正（取消しを含む）/ "0": a media file's "1" is read here as 追加, which the
ledger refuses for a person the filing already has (:mod:`ledger.domain.person_changes`) — never filed silently
as a correction. Unconfirmed: whether a 取消 record carries the amounts (it is read and checked like any line).

普通徴収: item 134 is the flag; the reason 普A–普F goes in 摘要 (item 86) on eLTAX (川越市 普通徴収切替理由書の
記載要領, :data:`SOURCES` ``O``); the record has no item for it. フリガナ (137) is half-width katakana (K: 半角カナ60,
必須; L converts to 半角 before writing); other characters are refused (an eLTAX 受付エラー otherwise —
鹿児島市 eLTAXエラーチェック), and the kana is given to the v2 ``person.kana`` in full width (NFKC).

Choices where the record says nothing: a blank 個人番号 (95) is ``personal_number_absence`` NOT_PROVIDED; items
19 and 20 both blank is ``year_end_adjusted`` false (国税庁 源泉徴収票の記載要領).

Public: :data:`FORMAT`, :data:`TITLE`, :data:`LAYOUT`, :func:`sniff`, :func:`read_groups`, and the helpers
:func:`reiwa_year` and :func:`birth_date`.
"""

from __future__ import annotations

import csv
import functools
import itertools
import operator
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import Any, Final

from ledger.domain import wareki
from ledger.encoding.echo import shown
from ledger.encoding.eltax_315_layout import (
    BIRTH_ERAS,
    CHANGES,
    CONFIRMED,
    FROM_REIWA_7,
    ITEMS,
    LATER_ITEMS,
    MIN_CELLS,
    ORDINARY,
    PERSON_ITEMS,
    PROVISIONAL,
    REIWA_7,
    REIWA_FIRST,
    SOURCES,
    Item,
)
from ledger.encoding.import_groups import ImportGroup, ImportLine

__all__ = ["BIRTH_ERAS", "CHANGES", "CONFIRMED", "FORMAT", "FROM_REIWA_7", "ITEMS", "LATER_ITEMS", "LAYOUT",
           "MIN_CELLS", "ORDINARY", "PERSON_ITEMS", "PROCEDURE", "PROVISIONAL", "READERS", "RECORD_KIND", "REIWA_7",
           "REIWA_FIRST", "SOURCES", "TITLE", "CellError", "Item", "birth_date", "midyear_date", "read_groups",
           "reiwa_year", "sniff"]

FORMAT: Final = "eltax-315"
TITLE: Final = "給与支払報告書・源泉徴収票 (法定資料の種類 315, 総務省 総税市第49号 layout, CP932)"
LAYOUT: Final = ("総務省自治税務局長通知 平成25年11月21日 総税市第49号, record 315 as eLTAX takes it; 網走市 光ディスク等提出データ仕様書 "
                 "レコードの作成要領 (https://expydoc.com/doc/7167626/), items 14–143 as ledger.encoding.eltax_315.SOURCES gives them")
RECORD_KIND: Final = "315"
PROCEDURE: Final = "PAYROLL_REPORT"

_DIGITS = re.compile(r"^[0-9]+$")
_ORDINARY_CODE = re.compile(r"普\s*([A-F])")
#: フリガナ: JIS X 0201 katakana (半角カナ ･ｦ–ﾟ, U+FF65–U+FF9F) and the space between family and given name — not
#: the JIS X 0201 punctuation ｡｢｣､ (U+FF61–FF64), which is no kana (the v2 person.kana refuses it: E14).
_HALF_KANA = re.compile(r"^[\uff65-\uff9f ]+$")


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


def birth_date(era: str, yy: str, mm: str, dd: str) -> str:
    """受給者の生年月日, items 44–47 (元号 code, 年, 月, 日) → ISO date; ValueError if it is no date of that era."""
    if era not in BIRTH_ERAS:
        raise CellError("元号 is 1 昭和, 2 大正, 3 明治, 4 平成 or 5 令和 (9 その他 names no era a date is read in)",
                        "one of 1, 2, 3, 4, 5", "invalid_era")
    return wareki.to_date(BIRTH_ERAS[era], yy + mm + dd).isoformat()


def midyear_date(yy: str, mm: str, dd: str, year: int) -> str:
    """中途就・退職 年月日 (no 元号) in the 年分 ``year`` → ISO date: 令和, or 平成 for early 2019."""
    for era in ("令和", "平成"):
        if wareki.gregorian_year(era, int(yy)) == year:
            return wareki.to_date(era, yy + mm + dd).isoformat()
    raise ValueError(f"year {yy} is not the 年分 {year} in 令和 or 平成")


def _is_digits(cell: str) -> bool:
    """Only ASCII digits, at least one (``str.isdigit`` alone takes ２ and ² too)."""
    return cell.isascii() and cell.isdigit()


def _number(cell: str, width: int | None = None) -> int:
    if not _is_digits(cell) or (width is not None and len(cell) > width):
        raise CellError("a number in digits", f"digits{f' (at most {width})' if width else ''}", "invalid_amount")
    return int(cell)


def _flag01(cell: str) -> bool:
    if cell not in ("0", "1", ""):
        raise CellError("this item is recorded as 1 or 0", '"1" or "0"', "invalid_flag")
    return cell == "1"


def _error(row: int, item: Item | None, message: str, expected: str, got: Any, code: str) -> dict[str, Any]:
    field = item.field.split(".")[-1] if item and "." in item.field else (item.name if item else "row")
    column = item.column if item else "row"
    return {"row": row, "column": column, "field": field, "message": f"row {row}, {column}: {message}",
            "expected": expected, "got": _got(item, got), "code": code}


def _got(item: Item | None, got: Any) -> Any:
    """What an error may say it got: never a person's cell, and no text but ASCII (a name or an
    address typed into another item is not echoed either), through :func:`shown` for the rest."""
    if got is None or not isinstance(got, str):
        return got
    if item is not None and item.number in PERSON_ITEMS:
        return f"{len(got)} characters (not shown: an item about a person)"
    if not got.isascii():
        return f"{len(got)} characters (not shown: not ASCII)"
    return shown(got, item.field.split(".")[-1] if item and item.field else None)


def _kind(item: Item, cell: str) -> str:
    if cell != RECORD_KIND:
        raise CellError("every record of this file is 法定資料の種類 315", '"315"', "wrong_record_kind")
    return cell


def _change(item: Item, cell: str) -> str:
    if cell not in CHANGES:
        raise CellError("訂正表示 is 0 新規, 1 追加, 2 訂正 or 3 取消", "one of 0, 1, 2, 3", "invalid_flag")
    return cell


def _year(item: Item, cell: str) -> str:
    return _reiwa_year(cell, date.today().year)


@functools.lru_cache(maxsize=256)
def _reiwa_year(cell: str, this_year: int) -> str:
    """:func:`reiwa_year` as every record of a file asks it (a CellError is not cached: it is raised again)."""
    return reiwa_year(cell, date(this_year, 1, 1))


def _reference(width: int) -> Callable[[Item, str], str | None]:
    def read(item: Item, cell: str) -> str | None:
        if cell and not (len(cell) == width and _is_digits(cell)):
            raise CellError(f"{item.name} is the {width}-digit number the 税務署 gave, or blank", f"{width} digits or blank",
                            "invalid_reference")
        return cell or None
    return read


def _digits(width: int) -> Callable[[Item, str], str | None]:
    def read(item: Item, cell: str) -> str | None:
        if cell and not (len(cell) == width and _is_digits(cell)):
            raise CellError(f"{width} digit(s)", f"{width} digit(s)", "invalid_date")
        return cell or None
    return read


def _amount(width: int) -> Callable[[Item, str], int | None]:
    def read(item: Item, cell: str) -> int | None:
        if not cell:
            return None
        if len(cell) > width or not (cell.isascii() and cell.isdigit()):
            raise CellError("a number in digits", f"digits (at most {width})", "invalid_amount")
        return int(cell)
    return read


def _flag(item: Item, cell: str) -> bool:
    return _flag01(cell)


def _payer_number(item: Item, cell: str) -> str | None:
    # L writes the company's 法人番号 (13 digits); an individual 提出義務者 has a 個人番号 (12) instead:
    # it is not a corporate number, and stays out of the group and its key (never echoed).
    if cell and not (_is_digits(cell) and len(cell) in (12, 13)):
        raise CellError("the 提出義務者's 法人番号 (13 digits) or 個人番号 (12), or blank", "13 digits, 12 digits or blank",
                        "invalid_reference")
    return cell if _is_corporate(cell) else None


def _is_corporate(cell: str) -> bool:
    """Whether item 94 holds a 法人番号: 13 digits led by its check digit, 1–9 — not a 12-digit 個人番号,
    nor one padded to 13 with a leading zero (T)."""
    return len(cell) == 13 and cell[0] != "0"


def _personal_number(item: Item, cell: str) -> str | None:
    """A 個人番号: 12 digits, or 13 with a leading zero (T's 13-cell form) read without it; anything else
    passes as given, for the ledger to refuse naming the field (never echoed)."""
    if len(cell) == 13 and cell[0] == "0" and _is_digits(cell):
        return cell[1:]
    return cell or None


def _kana(item: Item, cell: str) -> str:
    if not cell:
        raise CellError("フリガナ is required", "half-width katakana", "required")
    if not _HALF_KANA.match(cell):
        raise CellError("フリガナ is half-width katakana (JIS X 0201, 半角カナ) and spaces; other characters are an eLTAX 受付エラー",
                        "half-width katakana (U+FF65–U+FF9F) and spaces", "invalid_kana")
    return unicodedata.normalize("NFKC", cell)  # the v2 person.kana is full-width


def _text(item: Item, cell: str) -> str | None:
    return cell or None


_yen = _amount(10)
#: How each kind of item reads its (stripped) cell; CellError when it is not as the layout says.
READERS: Final[dict[str, Callable[[Item, str], Any]]] = {
    "kind": _kind, "change": _change, "year": _year, "digits10": _reference(10), "digits13": _reference(13),
    "digits1": _digits(1), "digits2": _digits(2), "yen": _yen, "count": _amount(2), "flag01": _flag,
    "payer_number": _payer_number, "personal_number": _personal_number, "kana": _kana, "text": _text, "code": _text,
}


def _value(item: Item, cell: str) -> Any:
    """What ``item``'s cell says (:data:`READERS` by its kind)."""
    return READERS[item.kind](item, cell)


#: Kinds whose blank cell reads as None (``_value``): a blank one is skipped without a call.
#: A blank 0/1 item reads as False and is skipped too: every flag it fills defaults to False on the form
#: (``ledger.domain.forms``; tests/unit/test_eltax_315.py checks it), so the validated line is the same.
_BLANK_IS_NONE: Final = frozenset({"text", "yen", "count", "digits1", "digits2", "digits10", "digits13", "code", "payer_number",
                                   "personal_number", "flag01"})
#: Where an item's value goes (``_read_row``): an index into the row's dicts (header, line, person, the
#: 生年月日 and 中途就・退職 parts, the record's own fields, and the values read after the loop by number).
_HEADER, _LINE, _PERSON, _BIRTH, _MIDYEAR, _RECORD, _LATER = range(7)
_WHERE: Final = {"header": _HEADER, "line": _LINE, "person": _PERSON, "birth": _BIRTH, "midyear": _MIDYEAR, "group": _RECORD}


def _plan(item: Item) -> tuple[Item, Callable[[Item, str], Any], int, str | int]:
    where, _, name = item.field.partition(".")
    if item.field == "period":
        return item, READERS[item.kind], _RECORD, "period"
    if where in _WHERE:
        return item, READERS[item.kind], _WHERE[where], name
    return item, READERS[item.kind], _LATER, item.number  # 訂正表示 (10), 寡婦 (54), 普通徴収 (134), those read past


#: Each item by its cell's index, as ``_read_row`` reads them: (item, reader, destination, key there).
_PLAN: Final = tuple(_plan(ITEMS[n + 1]) if n + 1 in ITEMS else None for n in range(max(ITEMS)))
#: The cells read even when blank: of the items whose blank cell is no None (法定資料の種類, 訂正表示, 年分, フリガナ).
_MUST: Final = frozenset(item.number - 1 for item in ITEMS.values() if item.kind not in _BLANK_IS_NONE)
_MUST_TAKE: Final = operator.itemgetter(*sorted(_MUST))
_PLANNED: Final = len(_PLAN)


def _read_row(number: int, cells: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One record → {"header", "line", "person", "change", "period", "corporate_number"} and errors."""
    errors: list[dict[str, Any]] = []
    out: dict[str, Any] = {"header": {}, "line": {}, "person": {}, "change": None, "period": None, "corporate_number": ""}
    birth: dict[str, Any] = {}
    mid: dict[str, Any] = {}
    values: dict[Any, Any] = {}
    failed: set[int] = set()
    into: tuple[dict[Any, Any], ...] = (out["header"], out["line"], out["person"], birth, mid, out, values)

    def fail(item: Item, e: CellError, got: Any) -> None:
        failed.add(item.number)
        errors.append(_error(number, item, str(e), e.expected, got, e.code))

    # Most cells of a record are blank, and what _value makes of a blank one of most kinds (None, False)
    # is what its absence says: only the other cells, and the items that must be given, are read — in
    # item order. (141–143 are absent before 令和2年分: a short record has no cell for them.)
    indexes: Iterable[int] = itertools.compress(range(min(len(cells), _PLANNED)), cells)
    if not all(_MUST_TAKE(cells)):
        indexes = sorted({*indexes, *_MUST})
    for index in indexes:
        plan = _PLAN[index]
        if plan is None:
            continue  # a cell the layout reads past
        item, reader, where, key = plan
        cell = cells[index].strip()
        if reader is _text:  # the commonest kinds, without a call
            if cell:
                into[where][key] = cell
            continue
        if reader is _yen and cell.isdigit() and cell.isascii() and len(cell) <= 10:
            into[where][key] = int(cell)
            continue
        try:
            value = reader(item, cell)
        except CellError as e:
            fail(item, e, cell)
            continue
        if value is not None:
            into[where][key] = value
    out["change"] = CHANGES[values[10]] if 10 in values else None
    if len(cells) > MIN_CELLS + 3 and out["period"] is not None and int(out["period"]) >= REIWA_7:
        for item in FROM_REIWA_7:  # 特定親族 (令和7年分〜); before, 144 is the 作成区分, read past
            cell = cells[item.number - 1].strip() if item.number <= len(cells) else ""
            try:
                value = READERS[item.kind](item, cell)
            except CellError as e:
                fail(item, e, cell)
                continue
            if value is not None and item.field:
                out["line"][item.field.partition(".")[2]] = value
    if any(birth.values()) and not failed & {44, 45, 46, 47}:
        try:
            if not all(birth.get(k) for k in ("era", "yy", "mm", "dd")):
                raise CellError("items 44–47 are given together", "元号, 年, 月 and 日", "invalid_date")
            out["person"]["birth_date"] = birth_date(birth["era"], birth["yy"], birth["mm"], birth["dd"])
        except CellError as e:
            fail(ITEMS[44], e, None)
        except ValueError:
            fail(ITEMS[44], CellError("items 44–47 name no date of that era", "a real date in 元号 + YYMMDD", "invalid_date"), None)
    kind = mid.get("kind")
    if kind not in (None, "0", "1", "2"):
        fail(ITEMS[60], CellError("1 (就職), 2 (退職), 0 or blank", '"1", "2", "0" or blank', "invalid_code"), kind)
    elif kind in ("1", "2") and not failed & {61, 62, 63}:
        try:
            if not (mid.get("yy") and mid.get("mm") and mid.get("dd")) or out["period"] is None:
                raise ValueError("incomplete")
            when = midyear_date(mid["yy"], mid["mm"], mid["dd"], int(out["period"]))
            out["line"]["employment_start" if kind == "1" else "employment_end"] = when
        except ValueError:
            fail(ITEMS[61], CellError("a 中途就・退職 needs its 年月日 (items 61–63), a date in the 年分's year",
                                      "年, 月, 日 of a date in the 年分", "invalid_date"), None)
    if values.get(54) not in (None, "0", "1", "2"):
        fail(ITEMS[54], CellError("寡婦 is 0, 1 or 2", '"0", "1", "2" or blank', "invalid_flag"), values[54])
    elif values.get(54) in ("1", "2"):
        out["line"]["widow"] = True
    # 普通徴収 (134) with its 符号 普A–普F in 摘要 (86): 普通徴収切替理由書の記載要領 (SOURCES "O").
    if values.get(134):
        out["line"]["collection"] = "ORDINARY"
        found = _ORDINARY_CODE.search(unicodedata.normalize("NFKC", out["line"].get("remarks") or ""))
        if found:
            out["line"]["ordinary_reason"] = ORDINARY[found.group(1)]
    # A slip without 年末調整 leaves both amounts blank (国税庁 源泉徴収票の記載要領).
    if "income_after_deduction" not in out["line"] and "total_deductions" not in out["line"]:
        out["line"]["year_end_adjusted"] = False
    if out["person"].get("personal_number") is None:
        out["person"]["personal_number_absence"] = "NOT_PROVIDED"  # the layout has no reason: blank means not given
    return out, errors


#: The cells of a record's first MIN_CELLS items that go into its key (not the person's), as one getter.
_KEY_INDEXES: Final = tuple(i for i in range(MIN_CELLS) if i + 1 not in PERSON_ITEMS)
_KEY_TAKE: Final = operator.itemgetter(*_KEY_INDEXES)
_PAYER_AT: Final = _KEY_INDEXES.index(93)  # item 94 among them


def _key_cells(cells: list[str]) -> list[str]:
    """The record's cells without the person's, and without item 94 when it holds a 個人番号 (12 digits, or 13
    with a leading zero)."""
    if len(cells) < MIN_CELLS or max(PERSON_ITEMS) > MIN_CELLS:
        return [c for n, c in enumerate(cells, start=1) if n not in PERSON_ITEMS and not (n == 94 and _payer_is_person(c))]
    out = [*_KEY_TAKE(cells), *cells[MIN_CELLS:]]  # the same cells, in the same order, as the comprehension above
    if _payer_is_person(out[_PAYER_AT]):
        del out[_PAYER_AT]
    return out


def _payer_is_person(cell: str) -> bool:
    cell = cell.strip()
    return len(cell) == 12 or len(cell) == 13 and cell[0] == "0"


def _key_text(cells: list[str]) -> str:
    """A record's key cells as one string that tells them apart: joined by U+001F when no cell holds
    U+001F or U+001E (the record separator of the group's key material), else their ``repr``."""
    joined = "\x1f".join(cells)
    if "\x1e" in joined or joined.count("\x1f") != len(cells) - 1:
        return "R" + repr(cells)
    return "J" + joined


_OFFICE_TAKE: Final = operator.itemgetter(*(n - 1 for n in (94, 11, 3, 2, 4, 5, 6, 7)))


def _office_key(cells: list[str]) -> tuple[str, ...]:
    """What makes a filing: 法人番号 (94), 年分 (11), 本支店等区分番号 (3), and the rest of the 提出義務者 (2, 4–7)."""
    return tuple(map(str.strip, _OFFICE_TAKE(cells)))  # a 12-digit 94 is only compared, never kept


def read_groups(lines: Iterable[str], on_row: Callable[[int], None] | None = None) -> Iterator[ImportGroup]:
    """The file's records as :class:`ImportGroup` s, one per consecutive run of rows of one 給与支払事務所:
    a 本店 filing for its 支店 gives each 本支店等区分番号 (item 3) its own group, the number in
    ``header["employer"]["branch_number"]``. ``lines`` are decoded text lines (:func:`text_lines`)."""
    current: ImportGroup | None = None
    current_key: tuple[str, ...] | None = None
    key_rows: list[Any] = []

    def close() -> ImportGroup | None:
        if current is not None:
            current.key_material = "\x1e".join(key_rows)
        return current

    for number, cells in enumerate(csv.reader(lines), start=1):
        if on_row is not None:
            on_row(number)
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) < MIN_CELLS or cells[0].strip() != RECORD_KIND:
            if len(cells) < MIN_CELLS:
                err = _error(number, None, f"{len(cells)} cells: a 315 record has at least {MIN_CELLS}",
                             f"at least {MIN_CELLS} cells", f"{len(cells)} cells", "too_few_cells")
            else:
                err = _error(number, ITEMS[1], "every record of this file is 315", '"315"', cells[0].strip(), "wrong_record_kind")
            if current is None:
                current = ImportGroup("", PROCEDURE, "", {"employer": {}}, number)
                current_key = None
            current.errors.append(err)
            key_rows.append(f"{number}:unreadable")
            continue
        key = _office_key(cells)
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
        key_rows.append(f"{number}:{_key_text(_key_cells(cells))}")
        if errors:
            current.errors.extend(errors)
            continue
        current.lines.append(ImportLine(number, {**read["line"], "person": read["person"]}, read["change"]))
    done = close()
    if done is not None:
        yield done
