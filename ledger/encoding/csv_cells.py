"""CSV cells that are safe to open in a spreadsheet (OWASP "CSV Injection").

A spreadsheet treats a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and a
leading tab or carriage return can hide such a start; an employee name such as
``=HYPERLINK("http://x")`` would then run when an agency clerk opens the export. Following
OWASP's guidance, such a cell is written with a single quote (``'``) prefixed — the cell shows
as text — and the csv module keeps quoting it where it needs to (commas, quotes, newlines).
Every CSV Kiroku writes passes its rows through :func:`safe_row`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["FORMULA_STARTS", "flat_line", "safe_cell", "safe_row"]

#: First characters a spreadsheet may read as the start of a formula (OWASP's list).
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell: text starting like a formula gets a ``'`` prefixed.

    Only text is neutralised. Amounts are integers in the domain form, so ``-500`` (an int) stays
    a number a spreadsheet can add up; ``"-500"`` as text would be prefixed, which is right: text
    that looks like a number or formula is exactly what a filer could have typed."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row for ``csv.DictWriter`` with every cell passed through :func:`safe_cell`."""
    return {key: safe_cell(value) for key, value in row.items()}


def flat_line(rules: Sequence[Any], line: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A payload line as flat CSV columns, the same for every line of a procedure: an object's fields
    become ``person.name``, ``person.spouse.name`` … (every field of the form, blank where the line
    has none), and a list (dependants, monthly amounts, remarks) one cell of JSON — a spreadsheet
    row has no room for a list, and a reader's system parses JSON. ``rules`` are the procedure's
    line rules (``ledger.domain.fields.FieldRule``)."""
    out: dict[str, Any] = {}
    for rule in rules:
        value = line.get(rule.name) if isinstance(line, Mapping) else None
        if rule.kind == "record":
            out.update(flat_line(rule.fields, value or {}, f"{prefix}{rule.name}."))
        elif rule.kind in ("records", "choices", "yens"):
            out[prefix + rule.name] = json.dumps(value, ensure_ascii=False) if value else ""
        else:
            out[prefix + rule.name] = value
    return out
