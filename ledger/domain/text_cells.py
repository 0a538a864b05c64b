"""Text cells (a CSV row) read into the payload's types, before the payload's rules see them.

A text format has no numbers, no booleans and many spellings of a date, so its reader — not the
rules, which take each value in one form only — decides what a cell means (:func:`from_text_cells`).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any, Final

from ledger.domain import wareki
from ledger.domain.fields import FieldRule, iso_date
from ledger.domain.procedures import Procedure


def from_text_cells(proc: Procedure, line: dict[str, Any]) -> dict[str, Any]:
    """A line read from text cells (a CSV row) in the payload's types: amounts and counts as numbers,
    flags as booleans, dates as ``YYYY-MM-DD``, an object's cells (``person``) each by its own kind.

    A text format has no numbers, so its reader, not the payload's rules, decides what a cell
    means: a cell of an amount with full-width digits or thousands separators (``５,０００,０００``)
    becomes 5000000; a flag cell ``1``/``0``/``true``/``false`` (as spreadsheets write them) a
    boolean; a date cell ``1980/04/01`` (as Japanese spreadsheets write it) or in 和暦,
    ``昭和55年4月1日`` (元年 too), the same date in ISO form; a フリガナ cell in half-width kana
    (``ﾔﾏﾀﾞ ﾀﾛｳ``) full-width (``ヤマダ タロウ``). A cell that is none of these is left
    as it is, for the rules to refuse with its field named; codes are left as they are too (an
    identifier has one spelling, see ``ledger.domain.identifiers``)."""
    return _from_text(proc.line, line)


def _from_text(rules: tuple[FieldRule, ...], cells: dict[str, Any]) -> dict[str, Any]:
    by_name = {r.name: r for r in rules}
    out: dict[str, Any] = {}
    for name, cell in cells.items():
        rule = by_name.get(name)
        kind = rule.kind if rule is not None else None
        if rule is not None and kind == "record" and isinstance(cell, dict):
            out[name] = _from_text(rule.fields, cell)
        elif not isinstance(cell, str):
            out[name] = cell
        elif kind in ("yen", "count"):
            text = _to_ascii_digits(cell).strip().replace(",", "")
            digits = text[1:] if text.startswith("-") else text
            out[name] = int(text) if digits.isascii() and digits.isdigit() else cell  # -5: "must not be negative"
        elif kind == "flag":
            out[name] = _TEXT_FLAGS.get(cell.strip().lower(), cell)
        elif kind == "date":
            out[name] = _text_date(cell)
        elif name == "kana":
            # Payroll software and the national records write フリガナ in half-width kana (ﾔﾏﾀﾞ ﾀﾛｳ); the
            # forms take it full-width (ヤマダ タロウ): NFKC composes ﾀﾞ into ダ and widens the rest.
            out[name] = unicodedata.normalize("NFKC", cell)
        else:
            out[name] = cell
    return out


#: Flag cells as spreadsheets and payroll software write them.
_TEXT_FLAGS: Final = {"1": True, "0": False, "true": True, "false": False}
_SLASHED_DATE: Final = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")
_WAREKI_DATE: Final = re.compile(r"^(明治|大正|昭和|平成|令和)(元|\d{1,2})年(\d{1,2})月(\d{1,2})日$")


def _text_date(cell: str) -> str:
    """A date cell as ``YYYY-MM-DD`` where it is one in another spelling, else the cell as it came."""
    text = _to_ascii_digits(cell).strip()
    if iso_date(text) is not None:
        return text
    slashed = _SLASHED_DATE.match(text)
    if slashed:
        year, month, day = (int(g) for g in slashed.groups())
    else:
        era = _WAREKI_DATE.match(text)
        if not era:
            return cell
        number = 1 if era[2] == "元" else int(era[2])
        try:
            return wareki.to_date(era[1], f"{number:02d}{int(era[3]):02d}{int(era[4]):02d}").isoformat()
        except ValueError:
            return cell  # no such day in that era: the rules say it is no date
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return cell


_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９，", "0123456789,")


def _to_ascii_digits(text: str) -> str:
    """Full-width digits (and comma) as ASCII; nothing else changes (no NFKC: ① is not a 1)."""
    return text.translate(_FULL_WIDTH_DIGITS)
