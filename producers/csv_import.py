"""Streaming CSV import of salary payment reports (給与支払報告書), one row per employee.

The format — headers in English or Japanese, one submission per run of rows of one company and
year, idempotency keys derived from the rows, errors placed by CSV row and column — is
:mod:`ledger.encoding.payroll_csv`, which the HTTP bulk upload reads too. This module reads a
file as a stream (memory holds one batch of companies' rows at a time) in UTF-8 with or without
a BOM or in CP932 (Windows' Shift_JIS), detected or asked for (:mod:`ledger.encoding.text_files`),
and records it through a producer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ledger.domain.model import Receipt
from ledger.encoding.payroll_csv import RowGroup, group_rows, header_mapping, locate_errors, submission_request
from ledger.encoding.text_files import AUTO, LineDecoder, text_lines
from ledger.errors import KirokuError


@dataclass
class ImportResult:
    """What an import did: receipts for recorded submissions, errors by CSV row and column."""

    receipts: list[Receipt] = field(default_factory=list)  # empty when keep_receipts=False
    errors: list[dict] = field(default_factory=list)  # the first MAX_ERRORS problems
    rows: int = 0
    recorded: int = 0
    more_errors: int = 0  # problems beyond those listed

    @property
    def ok(self) -> bool:
        return not self.errors


MAX_ERRORS = 1000


def import_payroll_csv(producer: object, source: str | Path | bytes | IO[bytes] | IO[str], *, batch_size: int = 200,
                       on_row: Callable[[int], None] | None = None, keep_receipts: bool = True,
                       on_receipt: Callable[[Receipt], None] | None = None, encoding: str = AUTO) -> ImportResult:
    """Import a salary-payment-report CSV through ``producer`` (a ``Producer``); returns what happened.

    ``source`` is a path, the file's bytes, a binary stream, or a text stream (read as it is).
    ``encoding`` is ``auto`` (UTF-8, with or without a BOM, or CP932, detected), ``utf-8`` or
    ``cp932`` (``shift_jis``, ``sjis``, ``windows-31j``, ``ms932`` too); a file that is neither,
    or mixes them, is refused (ValidationError ``invalid_encoding``/``mixed_encoding`` naming its
    line). The same rows give the same submissions and keys in every encoding.

    Each company-year group is validated and recorded on its own: a bad group is reported (row,
    column, expected, got) and recorded nowhere; the good ones are recorded.

    Memory stays bounded by ``batch_size`` companies whatever the file's size, provided the
    receipts are not all kept: pass ``keep_receipts=False`` (and ``on_receipt`` to stream them).
    """
    result = ImportResult()
    LineDecoder(encoding)  # an unknown encoding is refused before the file is opened
    close = None
    lines: Iterable[bytes] | Iterable[str]
    if isinstance(source, (str, Path)):
        close = open(source, "rb")  # closed below, after the last row is read
        lines = close
    elif isinstance(source, bytes):
        lines = io.BytesIO(source)
    else:
        lines = source
    try:
        reader = csv.DictReader(text_lines(lines, encoding))
        mapping = header_mapping(reader.fieldnames)

        def count(n: int) -> None:
            result.rows = n - 1
            if on_row:
                on_row(n)

        pending: list[RowGroup] = []

        def flush() -> None:
            requests = [submission_request(g) for g in pending]
            for group, outcome in zip(pending, producer.record_many(requests, batch_size=batch_size)):  # type: ignore[attr-defined]
                if isinstance(outcome, KirokuError):
                    found = locate_errors(outcome, group)
                    room = MAX_ERRORS - len(result.errors)
                    result.errors.extend(found[:room])
                    result.more_errors += max(0, len(found) - room)
                else:
                    result.recorded += 1
                    if keep_receipts:
                        result.receipts.append(outcome)
                    if on_receipt is not None:
                        on_receipt(outcome)
            pending.clear()

        for group in group_rows(reader, mapping, count):
            pending.append(group)
            if len(pending) >= batch_size:
                flush()
        flush()
    finally:
        if close is not None:
            close.close()
    return result


def read_text(data: bytes, encoding: str = AUTO) -> io.StringIO:
    """Decode uploaded bytes (UTF-8 with or without a BOM, or CP932) as ``import_payroll_csv`` would."""
    return io.StringIO("".join(text_lines(io.BytesIO(data), encoding)), newline="")
