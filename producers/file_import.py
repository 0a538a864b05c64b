"""One import for every file vendors produce: Kiroku's payroll CSV, the national 315 CSV, SHFD0006.CSV.

    from producers import Producer
    with Producer.open("vendor:acme") as p:
        result = p.import_file("KYUYO.CSV")                       # format detected from the first line
        result = p.import_file("SHFD0006.CSV", corporate_number="7000012050002")

The file is read as a stream in UTF-8 (with or without a BOM) or CP932 (:mod:`ledger.encoding.text_files`),
its format named or sniffed from its first line (:mod:`ledger.encoding.file_formats`), and each of
its groups — one filing — recorded through ``producer.record_many`` in batches: a group the reader
found errors in is reported (row, column, expected, got) and recorded nowhere; the ledger's
refusals are placed back on the file's rows; the others are recorded. Memory holds one batch of
groups whatever the file's size, provided the receipts are not all kept (``keep_receipts=False``,
and ``on_receipt`` to stream them).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ledger.domain.model import Receipt
from ledger.encoding.file_formats import AUTO, PAYROLL_CSV, Pending, check_options, format_named, read_pending, sniff
from ledger.encoding.text_files import AUTO as AUTO_ENCODING
from ledger.encoding.text_files import LineDecoder, text_lines
from ledger.errors import KirokuError

Source = str | Path | bytes | IO[bytes] | IO[str]
MAX_ERRORS = 1000


@dataclass
class ImportResult:
    """What an import did: receipts for recorded submissions, errors by the file's row and column."""

    receipts: list[Receipt] = field(default_factory=list)  # empty when keep_receipts=False
    errors: list[dict] = field(default_factory=list)  # the first MAX_ERRORS problems
    rows: int = 0  # lines of the file read (a payroll CSV's header not counted)
    recorded: int = 0  # submissions recorded (or found recorded already: the same file again)
    more_errors: int = 0  # problems beyond those listed
    format: str = ""  # the format read (auto: the one detected)
    failed: int = 0  # groups (filings) not recorded

    @property
    def ok(self) -> bool:
        return not self.errors

    def add_errors(self, found: list[dict]) -> None:
        room = MAX_ERRORS - len(self.errors)
        self.errors.extend(found[:max(0, room)])
        self.more_errors += max(0, len(found) - max(0, room))


def import_file(producer: Any, source: Source, *, format: str = AUTO, encoding: str = AUTO_ENCODING,  # noqa: A002 - the CLI's --format
                corporate_number: str | None = None, batch_size: int = 200, on_row: Callable[[int], None] | None = None,
                keep_receipts: bool = True, on_receipt: Callable[[Receipt], None] | None = None) -> ImportResult:
    """Import a file through ``producer`` (a ``Producer``); returns what happened.

    ``source`` is a path, the file's bytes, a binary stream, or a text stream (read as it is).
    ``format`` is ``auto`` (sniffed from the first line; Kiroku's payroll CSV when no national
    format's reader claims it), ``payroll-csv``, ``eltax-315`` or ``nenkin-shfd0006``; the last
    needs ``corporate_number`` (SHFD0006 has no 法人番号). ``encoding`` is ``auto``, ``utf-8`` or
    ``cp932`` (``shift_jis``…). An unknown format or encoding, or a missing corporate number, is
    refused (ValidationError naming ``format``, ``encoding``, ``corporate_number``) before the file
    is opened. ``on_row`` is told each line's number as it is read."""
    fmt = format_named(format)
    LineDecoder(encoding)
    check_options(fmt, corporate_number)
    result = ImportResult(format=fmt)
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
        decoded = text_lines(lines, encoding)
        first = next(decoded, None)
        if first is None:
            decoded = iter(())
        else:
            decoded = itertools.chain((first,), decoded)
            if fmt == AUTO:
                fmt = result.format = sniff(first)
        if fmt == AUTO:
            fmt = result.format = PAYROLL_CSV  # an empty file: the payroll CSV's reader says why it is refused
        header = 1 if fmt == PAYROLL_CSV else 0

        def count(n: int) -> None:
            result.rows = max(result.rows, n - header)
            if on_row is not None:
                on_row(n)

        record(producer, read_pending(decoded, fmt, corporate_number=corporate_number, on_row=count), result,
               batch_size=batch_size, keep_receipts=keep_receipts, on_receipt=on_receipt)
    finally:
        if close is not None:
            close.close()
    return result


def record(producer: Any, groups: Iterator[Pending], result: ImportResult, *, batch_size: int = 200,
           keep_receipts: bool = True, on_receipt: Callable[[Receipt], None] | None = None) -> None:
    """Record a file's groups in batches of ``batch_size`` through ``producer.record_many``: reading
    errors and the ledger's refusals go on ``result`` placed on the file's rows, receipts counted
    (and kept, if ``keep_receipts``; passed to ``on_receipt``)."""
    pending: list[Pending] = []

    def flush() -> None:
        ready = [p for p in pending if p.request is not None]
        outcomes = iter(producer.record_many([p.request for p in ready], batch_size=batch_size)) if ready else iter(())
        for p in pending:
            if p.request is None:
                result.failed += 1
                result.add_errors(p.errors)
                continue
            outcome = next(outcomes)
            if isinstance(outcome, KirokuError):
                result.failed += 1
                result.add_errors(p.locate(outcome))
            else:
                result.recorded += 1
                if keep_receipts:
                    result.receipts.append(outcome)
                if on_receipt is not None:
                    on_receipt(outcome)
        pending.clear()

    for group in groups:
        pending.append(group)
        if len(pending) >= batch_size:
            flush()
    flush()
