"""Streaming CSV import of salary payment reports (給与支払報告書), one row per employee.

The format — headers in English or Japanese, one submission per run of rows of one company and
year, idempotency keys derived from the rows, errors placed by CSV row and column — is
:mod:`ledger.encoding.payroll_csv`, which the HTTP bulk upload reads too. The import is the one
every file format goes through (:func:`producers.file_import.import_file`, ``format="payroll-csv"``):
read as a stream (memory holds one batch of companies' rows at a time) in UTF-8 with or without
a BOM or in CP932 (Windows' Shift_JIS), detected or asked for (:mod:`ledger.encoding.text_files`),
and recorded through a producer.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import IO

from ledger.domain.model import Receipt
from ledger.encoding.file_formats import PAYROLL_CSV
from ledger.encoding.text_files import AUTO, text_lines
from producers.file_import import MAX_ERRORS, ImportResult, import_file

__all__ = ["MAX_ERRORS", "ImportResult", "import_payroll_csv", "read_text"]


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
    return import_file(producer, source, format=PAYROLL_CSV, encoding=encoding, batch_size=batch_size, on_row=on_row,
                       keep_receipts=keep_receipts, on_receipt=on_receipt)


def read_text(data: bytes, encoding: str = AUTO) -> io.StringIO:
    """Decode uploaded bytes (UTF-8 with or without a BOM, or CP932) as ``import_payroll_csv`` would."""
    return io.StringIO("".join(text_lines(io.BytesIO(data), encoding)), newline="")
