"""CSV cells that are safe to open in a spreadsheet (OWASP "CSV Injection").

A spreadsheet treats a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and a
leading tab or carriage return can hide such a start; an employee name such as
``=HYPERLINK("http://x")`` would then run when an agency clerk opens the export. Following
OWASP's guidance, such a cell is written with a single quote (``'``) prefixed — the cell shows
as text — and the csv module keeps quoting it where it needs to (commas, quotes, newlines).
Every CSV Kiroku writes passes its rows through :func:`safe_row`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["FORMULA_STARTS", "safe_cell", "safe_row"]

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
