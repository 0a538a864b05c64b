"""Issuing 特別徴収税額決定通知 from the agency's pages: one company's from a form, many companies' from a
file (one row per person, grouped into one disposition per company), each row checked for its shape here and
the notice's rules left to the service; errors placed by the file's row and column, never echoing a value."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from typing import Any

from ledger.domain import calendar
from ledger.domain.identifiers import validate_corporate_number
from ledger.domain.model import Disposition
from ledger.encoding.text_files import text_lines
from ledger.errors import KirokuError, NotFound, ValidationError, ValidationErrors
from ledger.service.staff import StaffSession
from viewers.agency import AgencyView
from viewers.web import i18n
from viewers.web.i18n import translate
from viewers.web.site import Site

log = logging.getLogger("kiroku.web")

#: A file of 特別徴収税額決定通知 rows: at most this many rows and companies (its bytes: agency_pages.MAX_UPLOAD).
MAX_ROWS = 10_000
MAX_COMPANIES = 1_000
#: The one-company form's lines: at most this many characters and rows.
MAX_TEXT = 64 * 1024
MAX_TEXT_ROWS = 500
#: Error rows shown (the rest are counted).
MAX_ERRORS_SHOWN = 200

DISPOSITION_KIND = "SPECIAL_COLLECTION_NOTICE"

#: The columns of a file of 特別徴収税額決定通知 rows: (key, Japanese header, English header, what it holds).
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("corporate_number", "法人番号", "corporate_number"),
    ("employee_number", "受給者番号", "employee_number"),
    ("name", "氏名", "name"),
    ("annual_tax", "年税額", "annual_tax"),
    ("june_amount", "6月分", "june_amount"),
    ("monthly_amount", "7月以降の月額", "monthly_amount"),
)
_AMOUNTS = ("annual_tax", "june_amount", "monthly_amount")
#: A payload field (``lines[n].<field>``) → the file's column.
_FIELD_COLUMN = {"employee_number": "employee_number", "person": "name", "annual_tax": "annual_tax",
                 "june_amount": "june_amount", "monthly_amount": "monthly_amount", "monthly_amounts": "monthly_amount"}
_HEADER_NAMES = {name.casefold(): key for key, ja, en in COLUMNS for name in (ja, en, key)}


# -- issuing dispositions ---------------------------------------------------------------------------

@dataclass
class RowError:
    """One problem: the file's row (1 is the header; None: the form or the whole group), the column
    key, the code, and what was expected (never the value — a row holds a name)."""

    row: int | None
    column: str | None
    code: str
    expected: str | None
    company: str | None = None


@dataclass
class Group:
    """One company's rows: one disposition."""

    corporate_number: str
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    failed: bool = False


@dataclass
class Batch:
    errors: list[RowError] = field(default_factory=list)
    issued: list[tuple[Disposition, int]] = field(default_factory=list)


def _checked_period(period: str, batch: Batch) -> str:
    period = period.strip()
    try:
        calendar.validate_period(DISPOSITION_KIND, period)
    except ValidationError:
        batch.errors.append(RowError(None, None, "invalid_period", "YYYY"))
    return period


def _text_rows(text: str, batch: Batch) -> list[tuple[int, dict[str, str]]]:
    """The one-company form's lines: employee_number,name,annual_tax,june_amount,monthly_amount, the header optional."""
    reader = list(csv.reader(io.StringIO(text.strip("\r\n"))))
    keys = [k for k, _, _ in COLUMNS if k != "corporate_number"]
    start = 1
    if reader and reader[0] and reader[0][0].strip().casefold() in _HEADER_NAMES:
        header = _header(reader[0], batch, required=keys)
        if header is None:
            return []
        keys, reader, start = header, reader[1:], 2
    if len(reader) > MAX_TEXT_ROWS:
        batch.errors.append(RowError(None, None, "too_many_rows", str(MAX_TEXT_ROWS)))
        return []
    out = []
    for number, cells in enumerate(reader, start=start):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(keys):
            batch.errors.append(RowError(number, None, "columns", str(len(keys))))
            continue
        out.append((number, dict(zip(keys, cells, strict=True))))
    return out


def _header(cells: list[str], batch: Batch, required: list[str]) -> list[str] | None:
    keys = [_HEADER_NAMES.get(c.strip().lstrip("\ufeff").casefold()) for c in cells]
    if any(k is None for k in keys):
        batch.errors.append(RowError(1, None, "unknown_column", ", ".join(ja for _, ja, _ in COLUMNS)))
        return None
    lacking = [k for k in required if k not in keys]
    if lacking or len(set(keys)) != len(keys):
        batch.errors.append(RowError(1, lacking[0] if lacking else None, "header", ", ".join(ja for _, ja, _ in COLUMNS)))
        return None
    return [k for k in keys if k is not None]


def _file_groups(raw: bytes, batch: Batch) -> list[Group]:
    """The file's rows checked and grouped by company (in the order they first appear)."""
    groups: dict[str, Group] = {}
    try:
        reader = csv.reader(text_lines(io.BytesIO(raw), where="the file"))
        header_cells = next(reader, None)
        if header_cells is None:
            batch.errors.append(RowError(None, None, "empty", None))
            return []
        keys = _header(header_cells, batch, required=[k for k, _, _ in COLUMNS])
        if keys is None:
            return []
        for cells in reader:
            number = reader.line_num
            if number - 1 > MAX_ROWS:
                batch.errors.append(RowError(number, None, "too_many_rows", str(MAX_ROWS)))
                return []
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(keys):
                batch.errors.append(RowError(number, None, "columns", str(len(keys))))
                continue
            row = dict(zip(keys, cells, strict=True))
            corp = row["corporate_number"].strip()
            try:
                corp = validate_corporate_number(corp)
            except ValidationError as err:
                batch.errors.append(RowError(number, "corporate_number", err.code, None))
                continue
            if corp not in groups:
                if len(groups) >= MAX_COMPANIES:
                    batch.errors.append(RowError(number, "corporate_number", "too_many_companies", str(MAX_COMPANIES)))
                    return []
                groups[corp] = Group(corp)
            _add_row(groups[corp], number, row, batch)
    except ValidationError as err:  # the decoder's: a line it cannot read (it names the line, never the bytes)
        batch.errors.append(RowError(_line_of(err), None, "encoding", "UTF-8, Shift_JIS (CP932)"))
        return []
    except csv.Error:
        batch.errors.append(RowError(None, None, "csv", None))
        return []
    if not groups and not batch.errors:
        batch.errors.append(RowError(None, None, "empty", None))
    return list(groups.values())


def _line_of(err: ValidationError) -> int | None:
    text = str(err.field or "") + " " + err.message
    digits = "".join(ch if ch.isdigit() else " " for ch in text.split("line", 1)[-1]).split()
    return int(digits[0]) if "line" in text and digits else None


def _add_row(group: Group, number: int, row: dict[str, str], batch: Batch) -> None:
    """Check one row's cells (the rest is the service's); a row in error fails its company's group."""
    ok = True
    line: dict[str, Any] = {}
    for key in ("employee_number", "name"):
        value = row[key].strip()
        if not value:
            batch.errors.append(RowError(number, key, "required", None, group.corporate_number))
            ok = False
        line[key] = value
    for key in _AMOUNTS:
        text = row[key].strip().replace(",", "").removesuffix("円")
        if not text:
            batch.errors.append(RowError(number, key, "required", None, group.corporate_number))
            ok = False
        elif not text.isascii() or not text.isdigit() or len(text) > 12:
            batch.errors.append(RowError(number, key, "invalid_amount", None, group.corporate_number))
            ok = False
        else:
            line[key] = int(text)
    if not ok:
        group.failed = True
        return
    group.rows.append((number, line))


def _issue(site: Site, session: StaffSession, group: Group, period: str, batch: Batch) -> Disposition | None:
    """Issue the group's disposition; its errors placed by row and column."""
    if group.failed or any(e.row is None and e.company is None for e in batch.errors):
        group.failed = True
        return None
    agency = session.staff.who.name
    payload = {"municipality_code": agency.split(":", 1)[1], "lines": [
        {"person": {"name": line["name"]}, "employee_number": line["employee_number"], "annual_tax": line["annual_tax"],
         "june_amount": line["june_amount"], "monthly_amount": line["monthly_amount"]} for _, line in group.rows]}
    try:
        with site.as_person(session):
            issued = AgencyView(site.kiroku, agency).issue_disposition(group.corporate_number, DISPOSITION_KIND, period, payload)
    except KirokuError as err:
        group.failed = True
        for one in (err.errors if isinstance(err, ValidationErrors) else [err]):
            batch.errors.append(_placed(one, group))
        return None
    batch.issued.append((issued, len(group.rows)))
    return issued


def _placed(err: KirokuError, group: Group) -> RowError:
    """A service error by the group's row and the file's column (``lines[3].june_amount`` → the row of line 3)."""
    where = err.field or ""
    if isinstance(err, NotFound):
        return RowError(group.rows[0][0] if group.rows else None, "corporate_number", "not_found", None, group.corporate_number)
    if where.startswith("lines[") and "]" in where:
        index, _, rest = where[len("lines["):].partition("]")
        column = _FIELD_COLUMN.get(rest.lstrip(".").split(".", 1)[0].split("[", 1)[0])
        row = group.rows[int(index) - 1][0] if index.isdigit() and 0 < int(index) <= len(group.rows) else None
        code = "duplicate_line" if err.code in ("duplicate_person", "duplicate_line") else err.code
        return RowError(row, column, code, err.expected if isinstance(err.expected, str) else None, group.corporate_number)
    if err.code in ("forbidden", "not_your_municipality"):
        return RowError(None, None, "forbidden", None, group.corporate_number)
    if where == "period":
        return RowError(None, None, "invalid_period", None, group.corporate_number)
    return RowError(group.rows[0][0] if group.rows else None, None, err.code, None, group.corporate_number)


#: Codes whose message says what is expected already.
_SAYS_EXPECTED = frozenset({"not_in_100_yen", "required", "invalid_amount"})


def _report(batch: Batch, lang: str) -> dict[str, Any]:
    """What the result table shows: each issued disposition, and each error by row and column."""
    names = {key: ja if lang == "ja" else en for key, ja, en in COLUMNS}
    errors = []
    for e in batch.errors[:MAX_ERRORS_SHOWN]:
        key = f"ag_err_{e.code}"
        text = translate(lang, key) if key in i18n.MESSAGES else translate(lang, "ag_err_other")
        if e.expected and e.code not in _SAYS_EXPECTED:
            text += " " + translate(lang, "ag_expected", expected=e.expected)
        errors.append({"row": e.row if e.row is not None else "-", "column": names.get(e.column or "", "-"),
                       "company": e.company or "-", "text": text})
    return {"issued": batch.issued, "errors": errors, "error_count": len(batch.errors),
            "more_errors": max(0, len(batch.errors) - MAX_ERRORS_SHOWN)}
