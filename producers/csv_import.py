"""Streaming CSV import of salary payment reports (給与支払報告書), one row per employee.

Rows of one company and year must be consecutive (as payroll systems export them); each run of
rows becomes one submission. The file is read as a stream — memory holds one company's rows at a
time — in UTF-8 with or without a BOM. Headers may be English or Japanese (see ``COLUMNS``).
Errors name the CSV row (counting the header as row 1) and the column, so a clerk can fix the file.

Each submission's idempotency key is derived from its rows, so importing the same file again
returns the original receipts instead of recording twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator, Sequence

from ledger.domain.model import Receipt, SubmissionRequest
from ledger.errors import KirokuError, ValidationError, ValidationErrors

#: Canonical column → accepted header spellings.
COLUMNS: dict[str, tuple[str, ...]] = {
    "corporate_number": ("corporate_number", "法人番号"),
    "period": ("period", "year", "対象年", "年分"),
    "employer_name": ("employer_name", "事業者名", "支払者名称"),
    "employer_address": ("employer_address", "事業者所在地", "支払者所在地"),
    "municipality_code": ("municipality_code", "市区町村コード", "提出先市区町村コード"),
    "employee_name": ("employee_name", "氏名"),
    "employee_kana": ("employee_kana", "フリガナ"),
    "personal_number": ("personal_number", "個人番号"),
    "address": ("address", "住所"),
    "payment_amount": ("payment_amount", "支払金額"),
    "income_after_deduction": ("income_after_deduction", "給与所得控除後の金額"),
    "total_deductions": ("total_deductions", "所得控除の額の合計額"),
    "withholding_tax": ("withholding_tax", "源泉徴収税額"),
    "social_insurance": ("social_insurance", "社会保険料等の金額"),
    "dependents": ("dependents", "扶養親族の数"),
}
REQUIRED = ("corporate_number", "period", "employer_name", "employer_address")
LINE_COLUMNS = [k for k in COLUMNS if k not in ("corporate_number", "period", "employer_name", "employer_address")]
_ALIASES = {alias: canon for canon, aliases in COLUMNS.items() for alias in aliases}
_LINE_FIELD = re.compile(r"^lines\[(\d+)\]\.(\w+)$")


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


@dataclass
class _Group:
    corporate_number: str
    period: str
    first_row: int
    rows: list[tuple[int, dict[str, str]]]


def _header(fieldnames: Sequence[str] | None) -> dict[str, str]:
    if not fieldnames:
        raise ValidationError("the CSV file is empty: expected a header row", field="header",
                              expected="a header row naming the columns", got="nothing", code="empty_file")
    mapping: dict[str, str] = {}
    for name in fieldnames:
        canon = _ALIASES.get((name or "").lstrip("\ufeff").strip())  # a BOM left by a text-mode reader
        if canon is None:
            raise ValidationError(f"unknown column {name!r} in the header", field=f"column {name}",
                                  expected="one of " + ", ".join(COLUMNS), got=name, code="unknown_column")
        mapping[name] = canon
    missing = [c for c in (*REQUIRED, "municipality_code", "employee_name", "personal_number") if c not in mapping.values()]
    if missing:
        raise ValidationError(f"the header lacks column(s) {', '.join(missing)}", field=f"column {missing[0]}",
                              expected=", ".join(missing), got=", ".join(fieldnames), code="missing_column")
    return mapping


def _groups(reader: csv.DictReader, mapping: dict[str, str], on_row: Callable[[int], None]) -> Iterator[_Group]:
    current: _Group | None = None
    for number, raw in enumerate(reader, start=2):
        on_row(number)
        row = {mapping[k]: (v or "").strip() for k, v in raw.items() if k is not None}
        if None in raw:  # more cells than header columns
            raise ValidationError(f"row {number} has more cells than the header has columns", field=f"row {number}",
                                  expected=f"{len(mapping)} cells", got=f"{len(mapping) + len(raw[None])} cells", code="extra_cells")
        key = (row.get("corporate_number", ""), row.get("period", ""))
        if current is None or key != (current.corporate_number, current.period):
            if current is not None:
                yield current
            current = _Group(key[0], key[1], number, [])
        current.rows.append((number, row))
    if current is not None:
        yield current


def _request(group: _Group) -> SubmissionRequest:
    first = group.rows[0][1]
    lines = []
    for _, row in group.rows:
        line = {k: row[k] for k in LINE_COLUMNS if k in row and row[k] != ""}
        lines.append(line)
    digest = hashlib.sha256(repr([r for _, r in group.rows]).encode()).hexdigest()[:32]
    return SubmissionRequest(
        corporate_number=group.corporate_number, procedure="PAYROLL_REPORT", period=group.period,
        payload={"employer": {"name": first.get("employer_name", ""), "address": first.get("employer_address", "")}, "lines": lines},
        idempotency_key=f"csv-import:{digest}",
    )


def _locate(err: KirokuError, group: _Group) -> list[dict]:
    """Turn a service error into CSV-level errors (row and column)."""
    items = err.errors if isinstance(err, ValidationErrors) else [err]
    out = []
    for e in items:
        d = e.to_dict()
        m = _LINE_FIELD.match(e.field or "")
        if m:
            d["row"] = group.rows[int(m[1]) - 1][0]
            d["column"] = m[2]
        else:
            d["row"] = group.first_row
            column = (e.field or "").split(".")[-1]
            d["column"] = {"name": "employer_name", "address": "employer_address"}.get(column, column)
        out.append(d)
    return out


MAX_ERRORS = 1000


def import_payroll_csv(producer: "object", source: str | Path | IO[str], *, batch_size: int = 200,
                       on_row: Callable[[int], None] | None = None, keep_receipts: bool = True,
                       on_receipt: Callable[[Receipt], None] | None = None) -> ImportResult:
    """Import a salary-payment-report CSV through ``producer`` (a ``Producer``); returns what happened.

    Each company-year group is validated and recorded on its own: a bad group is reported (row,
    column, expected, got) and recorded nowhere; the good ones are recorded.

    Memory stays bounded by ``batch_size`` companies whatever the file's size, provided the
    receipts are not all kept: pass ``keep_receipts=False`` (and ``on_receipt`` to stream them).
    """
    result = ImportResult()
    close = None
    if isinstance(source, (str, Path)):
        close = open(source, "r", encoding="utf-8-sig", newline="")
        stream: IO[str] = close
    else:
        stream = source
    try:
        reader = csv.DictReader(stream)
        mapping = _header(reader.fieldnames)

        def count(n: int) -> None:
            result.rows = n - 1
            if on_row:
                on_row(n)

        pending: list[_Group] = []

        def flush() -> None:
            requests = [_request(g) for g in pending]
            for group, outcome in zip(pending, producer.record_many(requests, batch_size=batch_size)):  # type: ignore[attr-defined]
                if isinstance(outcome, KirokuError):
                    found = _locate(outcome, group)
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

        for group in _groups(reader, mapping, count):
            pending.append(group)
            if len(pending) >= batch_size:
                flush()
        flush()
    finally:
        if close is not None:
            close.close()
    return result


def read_text(data: bytes) -> io.StringIO:
    """Decode uploaded bytes as UTF-8 with or without a BOM."""
    return io.StringIO(data.decode("utf-8-sig"), newline="")
