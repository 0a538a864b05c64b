"""The file formats Kiroku imports, by name: which one a file is, and what each group of it records.

One mechanism for every format (``kiroku import``, :func:`producers.file_import.import_file`, the
HTTP bulk upload): the file's decoded lines (:mod:`ledger.encoding.text_files`) are read by the
format's module into groups, one filing each, and each group becomes a :class:`Pending` — the
:class:`SubmissionRequest` to record, or the reading errors that keep it from being recorded —
with a way to place the ledger's errors back on the file's rows (:meth:`Pending.locate`).

- ``payroll-csv`` — Kiroku's own CSV (:mod:`ledger.encoding.payroll_csv`), the fallback of ``auto``;
- ``eltax-315`` — the national 給与支払報告書・源泉徴収票 CSV (:mod:`ledger.encoding.eltax_315`);
- ``nenkin-shfd0006`` — 日本年金機構 SHFD0006.CSV (:mod:`ledger.encoding.nenkin_shfd`), which
  carries no 法人番号: the importer gives it (``corporate_number``).

A national group becomes an ORIGINAL when every line is new, keyed by :func:`scoped_key` (the
reader's key material and the group's company, procedure and period; no personal data); a group with 訂正 (CORRECT) or
取消 (CANCEL) lines becomes a person-level CORRECTION of the filing in force (no ``replaces``:
the ledger corrects what is in force — ``ledger.domain.person_changes``), each line's
``line_action`` ADD (a new line: 追加), CORRECT or CANCEL.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, Final

from ledger.domain.identifiers import validate_corporate_number
from ledger.domain.model import SubmissionKind, SubmissionRequest
from ledger.encoding import eltax_315, nenkin_shfd, payroll_csv
from ledger.encoding.echo import redact, shown
from ledger.encoding.import_groups import ImportGroup
from ledger.errors import KirokuError, ValidationError, ValidationErrors

AUTO: Final = "auto"
PAYROLL_CSV: Final = "payroll-csv"


@dataclass(frozen=True)
class FileFormat:
    """A format Kiroku imports: its name (``--format``), one line for ``--help``, the published
    layout it follows, the prefix of the idempotency keys its groups get, and its reader module."""

    name: str
    title: str
    layout: str
    key_prefix: str
    reader: ModuleType | None  # None: Kiroku's own payroll CSV, read by ledger.encoding.payroll_csv
    needs_corporate_number: bool = False


FORMATS: Final = {f.name: f for f in (
    FileFormat(eltax_315.FORMAT, eltax_315.TITLE, eltax_315.LAYOUT, "eltax-315:v1:", eltax_315),
    FileFormat(nenkin_shfd.FORMAT, nenkin_shfd.TITLE, nenkin_shfd.LAYOUT, "nenkin-shfd0006:v1:", nenkin_shfd,
               needs_corporate_number=True),
    FileFormat(PAYROLL_CSV, "Kiroku's payroll CSV: 給与支払報告書, one row per employee, English or Japanese headers",
               "Kiroku's own columns (kiroku import-csv --help)", payroll_csv.KEY_PREFIX, None),
)}
#: What ``format`` may be.
CHOICES: Final = (AUTO, *FORMATS)

#: What a line's ``change`` (ImportLine.change) makes of it in a person-level correction.
LINE_ACTIONS: Final = {None: "ADD", "ADD": "ADD", "CORRECT": "CORRECT", "CANCEL": "CANCEL"}
#: A service error's field that names a line (1-based, as ``ledger.domain.forms`` numbers them).
LINE_FIELD: Final = re.compile(r"^lines\[(\d+)\](?:\.(.+))?$")


def format_named(name: str | None, field: str = "format") -> str:
    """The format a user named (``auto`` for none); ValidationError ``unknown_format`` listing the choices."""
    key = (name or AUTO).strip().lower()
    if key not in CHOICES:
        raise ValidationError(f"unknown file format {str(name)[:40]!r}: Kiroku imports {', '.join(CHOICES)}",
                              field=field, expected="one of " + ", ".join(CHOICES), got=str(name)[:40], code="unknown_format")
    return key


def check_options(fmt: str, corporate_number: str | None, field: str = "corporate_number") -> str | None:
    """The 法人番号 given for a file whose format carries none (SHFD0006), checked (ValidationError
    naming ``field``); refused as ``required`` when ``fmt`` needs one and none was given. ``auto``
    needs none yet: the file's first line decides, and :func:`read_pending` asks again."""
    if corporate_number:
        return validate_corporate_number(corporate_number, field)
    if fmt in FORMATS and FORMATS[fmt].needs_corporate_number:
        raise ValidationError(f"a {fmt} file carries no 法人番号: give the company's corporate number",
                              field=field, expected="the company's 13-digit 法人番号", got=None, code="required")
    return None


def sniff(first_line: str) -> str:
    """The format of a file whose first decoded line is this: a national one if its reader says so,
    else Kiroku's payroll CSV."""
    for fmt in FORMATS.values():
        if fmt.reader is not None and fmt.reader.sniff(first_line):
            return fmt.name
    return PAYROLL_CSV


@dataclass
class Pending:
    """One group of a file: the request to record (None when reading it found errors, then in
    ``errors``, placed by row and column), its rows, and how the ledger's errors are placed on them."""

    request: SubmissionRequest | None
    first_row: int
    last_row: int
    locate: Callable[[KirokuError], list[dict[str, Any]]]
    errors: list[dict[str, Any]] = field(default_factory=list)
    file: str | None = None  # the file it is in, when one import reads several


def read_pending(lines: Iterable[str], fmt: str, *, corporate_number: str | None = None,
                 on_row: Callable[[int], None] | None = None) -> Iterator[Pending]:
    """The groups of a file in format ``fmt`` (not ``auto``: :func:`sniff` first), as they are read.
    ``on_row`` is told each line's number (the first line is 1). ValidationError for a file that
    cannot be read at all (a payroll CSV's header, SHFD0006's management records)."""
    spec = FORMATS[fmt]
    if spec.reader is None:
        yield from _payroll(lines, on_row)
        return
    if spec.needs_corporate_number:
        number = check_options(fmt, corporate_number)
        groups = spec.reader.read_groups(lines, on_row, corporate_number=number)
    else:
        groups = spec.reader.read_groups(lines, on_row)
    columns = _columns(spec.reader)
    for group in groups:
        last = max((line.row for line in group.lines), default=group.first_row)
        last = max([last, *(e.get("row") or 0 for e in group.errors)])
        locate = _locator(group, columns)
        if group.errors:
            yield Pending(None, group.first_row, last, locate, [_cleaned(e) for e in group.errors])
        else:
            yield Pending(group_request(group, spec.key_prefix), group.first_row, last, locate)


def _payroll(lines: Iterable[str], on_row: Callable[[int], None] | None) -> Iterator[Pending]:
    reader = csv.DictReader(lines)
    mapping = payroll_csv.header_mapping(list(reader.fieldnames) if reader.fieldnames else None)
    if on_row is not None:
        on_row(1)
    for group in payroll_csv.group_rows(reader, mapping, on_row):
        yield Pending(payroll_csv.submission_request(group), group.first_row, group.rows[-1][0],
                      lambda err, g=group: payroll_csv.locate_errors(err, g))  # type: ignore[misc]


def group_request(group: ImportGroup, key_prefix: str) -> SubmissionRequest:
    """The submission a national group stands for: an ORIGINAL when every line is new, else a
    person-level CORRECTION of the filing in force, each line ADD (新規・追加), CORRECT (訂正) or CANCEL (取消)."""
    person_level = any(line.change is not None for line in group.lines)
    lines = [{**line.line, "line_action": LINE_ACTIONS[line.change]} if person_level else line.line for line in group.lines]
    return SubmissionRequest(
        corporate_number=group.corporate_number, procedure=group.procedure, period=group.period,
        kind=SubmissionKind.CORRECTION if person_level else SubmissionKind.ORIGINAL,
        payload={**group.header, "lines": lines}, idempotency_key=scoped_key(group, key_prefix))


def scoped_key(group: ImportGroup, key_prefix: str) -> str:
    """The group's idempotency key (:meth:`ImportGroup.idempotency_key`) over its rows *and* its
    company, procedure and period: a key is the principal's across every company it files for, and
    a SHFD0006 file's rows do not name the company (two offices' files with the same 整理番号 and
    amounts would otherwise share a key, and the second be refused as a conflict)."""
    scope = f"{group.corporate_number}\n{group.procedure}\n{group.period}\n"
    return replace(group, key_material=scope + group.key_material).idempotency_key(key_prefix)


def _columns(reader: ModuleType) -> dict[str, str]:
    """A line's or header's field path → the file's column that fills it, from the reader's ``ITEMS``
    (``line.payment_amount`` → ``項目17 支払金額``); empty for a reader without such a table."""
    out: dict[str, str] = {}
    for item in getattr(reader, "ITEMS", {}).values():
        where, _, name = (getattr(item, "field", "") or "").partition(".")
        column = getattr(item, "column", None) or getattr(item, "name", None)
        if where == "change" and column is not None:
            out.setdefault("replaces", column)  # "nothing in force to correct": the 訂正表示 made it a correction
        if not name or column is None:
            continue
        path = {"line": name, "person": f"person.{name}", "header": f"header.{name}"}.get(where)
        if path is not None:
            out.setdefault(path, column)
    return out


def _cleaned(error: dict[str, Any]) -> dict[str, Any]:
    """A reading error as it is reported: message and field redacted (readers never echo personal data;
    this is the second lock)."""
    out = dict(error)
    for key in ("message", "field"):
        if isinstance(out.get(key), str):
            out[key] = redact(out[key])
    return out


def _locator(group: ImportGroup, columns: dict[str, str]) -> Callable[[KirokuError], list[dict[str, Any]]]:
    def locate(err: KirokuError) -> list[dict[str, Any]]:
        """The ledger's errors on this group's submission, each placed on the file's row and column."""
        items = err.errors if isinstance(err, ValidationErrors) else [err]
        out = []
        for e in items:
            d = e.to_dict()
            d["message"] = redact(d["message"])
            if "field" in d:
                d["field"] = redact(d["field"])
            if "got" in d:
                d["got"] = shown(e.got, e.field)
            m = LINE_FIELD.match(e.field or "")
            if m and 1 <= int(m[1]) <= len(group.lines):
                path = m[2] or "line"
                d["row"] = group.lines[int(m[1]) - 1].row
                d["column"] = redact(columns.get(path, path))
            else:
                path = (e.field or "").partition(".")[2] or (e.field or "")
                d["row"] = group.first_row
                d["column"] = redact(columns.get(e.field or "") or columns.get(f"header.{path}", e.field or ""))
            out.append(d)
        return out
    return locate


def reading_error(errors: list[dict[str, Any]]) -> ValidationErrors:
    """A group's reading errors as one service error (what the HTTP upload answers for the group)."""
    return ValidationErrors([ValidationError(e.get("message", ""), field=e.get("field"), expected=e.get("expected"),
                                             got=e.get("got"), code=e.get("code") or "invalid") for e in errors])
