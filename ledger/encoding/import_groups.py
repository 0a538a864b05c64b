"""What every file format Kiroku imports gives the import: groups of lines, one filing each.

A format module (Kiroku's own payroll CSV, the national 給与支払報告書・源泉徴収票 CSV, the 日本年金機構
``SHFD0006.CSV``) reads decoded text lines (:mod:`ledger.encoding.text_files`) and yields
:class:`ImportGroup` s as it reads them — one per (company, procedure, period) — so an import
holds one batch of groups in memory whatever the file's size. It decides nothing about what is
recorded: the import (:mod:`producers.csv_import`) turns each group into a submission request —
an original, or, where the filing is already recorded, a person-level correction (訂正・追加・取消
per person) — and places the ledger's errors back on the file's rows through :attr:`ImportLine.row`.

A format module offers:

- ``FORMAT`` — its name as users give it (``--format``, ``format=``), e.g. ``"eltax-315"``;
- ``TITLE`` — one line for ``--help``, and ``LAYOUT`` — the published layout it follows (a citation);
- ``sniff(first_line: str) -> bool`` — whether a file whose first line is this is in the format;
- ``read_groups(lines: Iterable[str], on_row: Callable[[int], None] | None = None) -> Iterator[ImportGroup]``.

Errors found while reading (a cell that is not a date, a wrong record kind) go in
:attr:`ImportGroup.errors`, each placed by row and column and never echoing a personal number or
a name (:func:`ledger.encoding.echo.shown`); a group with errors is reported and recorded nowhere.
An error that makes the rest of the file unreadable is raised as ``ValidationError``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Final

#: How a line relates to what is already filed for its (company, procedure, period, office):
#: ``None`` a line as the file gives it without a mark (新規: of a new filing, or — beside marked lines —
#: added to the filed one); ``ADD`` a person added to the filed filing (追加);
#: ``CORRECT`` the corrected version of a filed person's line (訂正);
#: ``CANCEL`` the person's filed line is withdrawn (取消).
CHANGES: Final = (None, "ADD", "CORRECT", "CANCEL")


@dataclass
class ImportLine:
    """One line of a filing as the file gives it: the v2 domain line (``ledger.domain.forms``)."""

    row: int  # the file's line number (the first line is 1)
    line: dict[str, Any]
    change: str | None = None  # one of CHANGES


@dataclass
class ImportGroup:
    """The rows of one (company, procedure, period) in a file: one filing, or its corrections."""

    corporate_number: str
    procedure: str
    period: str
    header: dict[str, Any]  # the payload's fields other than ``lines`` (employer / office, summaries)
    first_row: int
    lines: list[ImportLine] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)  # {row, column, field, message, expected, got, code}
    #: Text made from the rows without their sealed cells (person), from which the idempotency
    #: key is derived: the same rows give the same key, and a key reveals no personal datum.
    key_material: str = ""

    def idempotency_key(self, prefix: str) -> str:
        return prefix + hashlib.sha256(self.key_material.encode()).hexdigest()[:32]
