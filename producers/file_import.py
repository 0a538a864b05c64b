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
    return import_files(producer, [source], format=format, encoding=encoding, corporate_number=corporate_number,
                        batch_size=batch_size, on_row=on_row, keep_receipts=keep_receipts, on_receipt=on_receipt)


def import_files(producer: Any, files: Iterable[Source | tuple[Source, str | None]], *, format: str = AUTO,  # noqa: A002 - --format
                 encoding: str = AUTO_ENCODING, corporate_number: str | None = None, batch_size: int = 200,
                 on_row: Callable[[int], None] | None = None, keep_receipts: bool = True,
                 on_receipt: Callable[[Receipt], None] | None = None) -> ImportResult:
    """Import several files as one stream of filings: their groups share batches, so a folder of small
    files (a SHFD0006.CSV per 事業所, a 315 file per client) is recorded in as few durable appends as
    one large file. Each of ``files`` is a source as :func:`import_file` takes it, or (source,
    法人番号) for a SHFD0006.CSV of its own company; ``corporate_number`` is the number of the others.
    ``format`` and ``encoding`` apply to every file (``auto``: each file's own). With more than one
    file, each error names its ``file`` (the path, or its position from 1) and ``on_row`` counts the
    rows of all files. A file that cannot be read at all (an undecodable line, a payroll CSV without
    its header) raises as :func:`import_file` does, after the files before it were recorded."""
    fmt = format_named(format)
    LineDecoder(encoding)
    todo = [f if isinstance(f, tuple) else (f, corporate_number) for f in files]
    for _, number in todo:
        check_options(fmt, number)
    result = ImportResult(format=fmt)
    seen: list[str] = []
    done_rows = 0

    def groups() -> Iterator[Pending]:
        nonlocal done_rows
        for position, (source, number) in enumerate(todo, start=1):
            name = (str(source) if isinstance(source, (str, Path)) else str(position)) if len(todo) > 1 else None
            rows_before = done_rows

            def count(n: int, header: int, before: int = rows_before) -> None:
                nonlocal done_rows
                done_rows = max(done_rows, before + n - header)
                result.rows = done_rows
                if on_row is not None:
                    on_row(before + n)

            for pending in _read_file(source, fmt, encoding, number, count, seen):
                if name is not None:
                    pending.file = name
                yield pending
        result.format = ",".join(seen) if seen else result.format

    record(producer, groups(), result, batch_size=batch_size, keep_receipts=keep_receipts, on_receipt=on_receipt)
    return result


def _read_file(source: Source, fmt: str, encoding: str, corporate_number: str | None,
               count: Callable[[int, int], None], seen: list[str]) -> Iterator[Pending]:
    """One file's groups, read as they are consumed (the file is closed after its last row); the
    format read (sniffed for ``auto``) is added to ``seen``."""
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
                fmt = sniff(first)
        if fmt == AUTO:
            fmt = PAYROLL_CSV  # an empty file: the payroll CSV's reader says why it is refused
        if fmt not in seen:
            seen.append(fmt)
        header = 1 if fmt == PAYROLL_CSV else 0
        yield from read_pending(decoded, fmt, corporate_number=corporate_number, on_row=lambda n: count(n, header))
    finally:
        if close is not None:
            close.close()


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
                result.add_errors(_in_file(p, p.errors))
                continue
            outcome = next(outcomes)
            if isinstance(outcome, KirokuError):
                result.failed += 1
                result.add_errors(_in_file(p, p.locate(outcome)))
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


def _in_file(pending: Pending, errors: list[dict]) -> list[dict]:
    """``errors`` naming the file they are in (an import of several files), first."""
    if pending.file is None:
        return errors
    return [{"file": pending.file, **e} for e in errors]
