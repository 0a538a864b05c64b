"""The payroll CSV format: salary payment reports (給与支払報告書), one row per employee.

Shared by ``kiroku import-csv`` (:mod:`producers.csv_import`) and the HTTP bulk upload
(``viewers/http/routes/bulk.py``), so both read the same headers, group rows the same way and
name the same CSV row and column in their errors.

- **Headers** may be English or Japanese (:data:`COLUMNS` lists each column's spellings); an
  unknown column, or a missing required one, refuses the whole file. The columns are the v2
  line's (issue 15): 受給者番号, the person's items as ``person.*`` columns (name, kana, birth date,
  address, personal number or the reason it is blank) — the same names Kiroku's CSV exports
  write — and the amounts, 年末調整, dates of employment, 徴収区分 and 普通徴収 reason. Spouse and
  dependants (lists on the form) are not columns of this format; file them through the API.
- **Cells** are text: amounts may have full-width digits and separators, flags are ``1``/``0``
  or ``true``/``false``, dates ``YYYY-MM-DD``, ``YYYY/MM/DD`` or 和暦 (``昭和55年4月1日``), the
  徴収区分 ``特別徴収``/``普通徴収`` and the reasons ``普A``–``普F`` as the forms write them
  (:func:`ledger.domain.text_cells.from_text_cells`, :data:`CHOICES`).
- **Grouping.** Rows of one company, year and office (``branch_number``, 本支店等区分番号) must be consecutive (as payroll systems export
  them); each run of rows becomes one ``PAYROLL_REPORT`` submission.
- **Idempotency.** Each submission's key is derived from its rows, so sending the same file
  again returns the original receipts instead of recording twice. The key is stored in the
  recorded entry, which proof readers get: it is a digest of the rows *without* their sealed
  cells (the person's, which the entry holds only encrypted), so it reveals nothing the entry
  does not show in clear, and no guessed personal number, name or birth date can be tested
  against it. A retry still tells a changed person apart: the service compares the whole request by
  its keyed fingerprint (:mod:`ledger.service.idempotency`), so the same key with another number
  is a conflict, never the old receipt.
- **Corrections per person.** A ``line_action`` (訂正区分) column marks rows 訂正 (CORRECT), 追加 (ADD)
  or 取消 (CANCEL): such a group is a person-level correction of the company's filing in force for
  its year (``ledger.domain.person_changes``; no ``replaces``: the ledger corrects what is in force).
- **Error places.** Rows count the header as row 1; a service error on ``lines[n].field`` is
  placed on the n-th row of its group, any other on the group's first row. Errors never repeat
  a personal number or a whole row (:mod:`ledger.encoding.echo`).
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.domain.forms import ORDINARY_REASONS
from ledger.domain.model import SubmissionRequest
from ledger.domain.person_changes import is_person_level
from ledger.domain.procedures import PROCEDURES
from ledger.domain.text_cells import from_text_cells
from ledger.encoding.echo import redact, shown
from ledger.errors import KirokuError, ValidationError, ValidationErrors

#: Canonical column → accepted header spellings. The person's items are ``person.*`` columns, as
#: Kiroku's exports write them (``ledger.encoding.csv_cells.flat_line``); the v1 spellings
#: (``employee_name`` …) and the forms' Japanese ones are accepted for them too.
COLUMNS: dict[str, tuple[str, ...]] = {
    "corporate_number": ("corporate_number", "法人番号"),
    "period": ("period", "year", "対象年", "年分"),
    "employer_name": ("employer_name", "事業者名", "支払者名称"),
    "employer_address": ("employer_address", "事業者所在地", "支払者所在地"),
    "branch_number": ("branch_number", "本支店等区分番号"),
    "municipality_code": ("municipality_code", "市区町村コード", "提出先市区町村コード"),
    "employee_number": ("employee_number", "受給者番号"),
    "person.name": ("person.name", "employee_name", "氏名", "受給者氏名"),
    "person.kana": ("person.kana", "employee_kana", "フリガナ", "受給者氏名フリガナ"),
    "person.birth_date": ("person.birth_date", "birth_date", "生年月日"),
    "person.address": ("person.address", "address", "住所", "受給者住所"),
    "person.personal_number": ("person.personal_number", "personal_number", "個人番号"),
    "person.personal_number_absence": ("person.personal_number_absence", "personal_number_absence", "個人番号不提供理由"),
    "payment_amount": ("payment_amount", "支払金額"),
    "income_after_deduction": ("income_after_deduction", "給与所得控除後の金額"),
    "total_deductions": ("total_deductions", "所得控除の額の合計額"),
    "withholding_tax": ("withholding_tax", "源泉徴収税額"),
    "social_insurance": ("social_insurance", "社会保険料等の金額"),
    "dependents": ("dependents", "扶養親族の数"),
    "year_end_adjusted": ("year_end_adjusted", "年末調整"),
    "employment_start": ("employment_start", "就職年月日"),
    "employment_end": ("employment_end", "退職年月日"),
    "collection": ("collection", "徴収区分"),
    "ordinary_reason": ("ordinary_reason", "普通徴収理由"),
    "remarks": ("remarks", "摘要"),
    "line_action": ("line_action", "訂正区分"),
}
#: The submission's own columns (employer and year), which every file must have.
REQUIRED = ("corporate_number", "period", "employer_name", "employer_address")
#: The line columns every file must have: what the form requires of every person, and its 個人番号
#: box (a blank cell there needs its reason in ``person.personal_number_absence``).
REQUIRED_LINE = ("municipality_code", "employee_number", "person.name", "person.birth_date", "person.address",
                 "person.personal_number")
#: Columns a row needs when 年末調整 was done (``year_end_adjusted``, the default) and leaves blank
#: otherwise (中途退職, 乙欄, 2,000万円超: 国税庁 源泉徴収票の記載要領).
WITH_YEAR_END = ("income_after_deduction", "total_deductions")
#: The submission's optional columns: the 本支店等区分番号 of the 給与支払事務所 whose filing the rows are
#: (a company files once per office, E13: ``Procedure.office_fields``); blank for the company as a whole.
HEADER_OPTIONAL = ("branch_number",)
#: Columns that become fields of a payload line, one line per row.
LINE_COLUMNS = [k for k in COLUMNS if k not in REQUIRED and k not in HEADER_OPTIONAL]
#: Header spelling → canonical column.
ALIASES = {alias: canon for canon, aliases in COLUMNS.items() for alias in aliases}
#: Cells the ledger seals (the person, AES-GCM under the scope's data key): never part of a derived key.
SEALED_COLUMNS = frozenset(c for c in COLUMNS if c.split(".")[0] in PROCEDURES["PAYROLL_REPORT"].sensitive_fields)
#: Marks a key derived from the rows without their sealed cells (before: ``csv-import:v2:`` keyed
#: the v1 rows without their personal numbers, ``csv-import:<hex>`` over every cell).
KEY_PREFIX = "csv-import:v3:"
#: A service error's field that names a line: ``lines[3].person.birth_date``.
LINE_FIELD = re.compile(r"^lines\[(\d+)\]\.([\w.\[\]]+)$")
#: The forms' spellings of the 徴収区分 and the 普通徴収 reasons (普A–普F, 普通徴収切替理由書), as payroll
#: software writes them, each read as Kiroku's code.
CHOICES: dict[str, dict[str, str]] = {
    "collection": {"特別徴収": "SPECIAL", "特別": "SPECIAL", "特徴": "SPECIAL",
                   "普通徴収": "ORDINARY", "普通": "ORDINARY", "普徴": "ORDINARY"},
    "ordinary_reason": {f"{prefix}{letter}": code for letter, code in zip("ABCDEF", ORDINARY_REASONS) for prefix in ("普", "")},
    # eLTAX's 訂正・追加・取消 per person (ledger.domain.person_changes); 新規 or blank: a line of a whole filing.
    "line_action": {"追加": "ADD", "訂正": "CORRECT", "取消": "CANCEL", "新規": "ORIGINAL"},
}


@dataclass
class RowGroup:
    """A run of consecutive rows of one company, year and office: one submission."""

    corporate_number: str
    period: str
    first_row: int
    rows: list[tuple[int, dict[str, str]]]  # (CSV row number, canonical column → cell)
    branch: str = ""  # 本支店等区分番号: the office, "" for the company as a whole


def header_mapping(fieldnames: Sequence[str] | None) -> dict[str, str]:
    """Header cell → canonical column; ValidationError for an empty file, an unknown or a missing column."""
    if not fieldnames:
        raise ValidationError("the CSV file is empty: expected a header row", field="header",
                              expected="a header row naming the columns", got="nothing", code="empty_file")
    mapping: dict[str, str] = {}
    for name in fieldnames:
        canon = ALIASES.get((name or "").lstrip("\ufeff").strip())  # a BOM left by a text-mode reader
        if canon is None:
            # A file without a header row has a data row here: say which cell, never what it holds
            # unless it is short and cannot be a personal number.
            cell = shown(name)
            label = name if cell == name else f"number {len(mapping) + 1}"
            raise ValidationError(f"unknown column {label!r} in the header", field=f"column {label}",
                                  expected="one of " + ", ".join(COLUMNS), got=cell, code="unknown_column")
        mapping[name] = canon
    missing = [c for c in (*REQUIRED, *REQUIRED_LINE) if c not in mapping.values()]
    if missing:
        raise ValidationError(f"the header lacks column(s) {', '.join(missing)}", field=f"column {missing[0]}",
                              expected=", ".join(missing), got=", ".join(fieldnames), code="missing_column")
    return mapping


def group_rows(reader: csv.DictReader, mapping: dict[str, str],
               on_row: Callable[[int], None] | None = None) -> Iterator[RowGroup]:
    """The reader's rows, grouped into runs of one company, year and office (本支店等区分番号), as they are read.

    ``on_row`` is told each row's number before it is grouped. ValidationError for a row with
    more cells than the header has columns."""
    current: RowGroup | None = None
    for number, raw in enumerate(reader, start=2):
        if on_row is not None:
            on_row(number)
        row = {mapping[k]: (v or "").strip() for k, v in raw.items() if k is not None}
        if None in raw:  # more cells than header columns
            raise ValidationError(f"row {number} has more cells than the header has columns", field=f"row {number}",
                                  expected=f"{len(mapping)} cells", got=f"{len(mapping) + len(raw[None])} cells", code="extra_cells")
        key = (row.get("corporate_number", ""), row.get("period", ""), row.get("branch_number", ""))
        if current is None or key != (current.corporate_number, current.period, current.branch):
            if current is not None:
                yield current
            current = RowGroup(key[0], key[1], number, [], key[2])
        current.rows.append((number, row))
    if current is not None:
        yield current


def submission_request(group: RowGroup) -> SubmissionRequest:
    """The ``PAYROLL_REPORT`` submission a group of rows stands for, keyed by its rows: an original,
    or, where its 訂正区分 cells say 訂正・追加・取消, the person-level correction of the filing in force."""
    first = group.rows[0][1]
    lines = []
    for _, row in group.rows:
        line: dict[str, Any] = {}
        for column in LINE_COLUMNS:
            cell = row.get(column, "")
            if cell == "":
                continue
            cell = CHOICES.get(column, {}).get(cell, cell)
            if column.startswith("person."):
                line.setdefault("person", {})[column.removeprefix("person.")] = cell
            else:
                line[column] = cell
        lines.append(from_text_cells(PROCEDURES["PAYROLL_REPORT"], line))  # cells are text: amounts become numbers
    digest = hashlib.sha256(repr([{k: v for k, v in r.items() if k not in SEALED_COLUMNS} for _, r in group.rows])
                            .encode()).hexdigest()[:32]
    return SubmissionRequest(
        corporate_number=group.corporate_number, procedure="PAYROLL_REPORT", period=group.period,
        kind="CORRECTION" if is_person_level({"lines": lines}) else "ORIGINAL",
        payload={"employer": {"name": first.get("employer_name", ""), "address": first.get("employer_address", ""),
                              **({"branch_number": group.branch} if group.branch else {})}, "lines": lines},
        idempotency_key=KEY_PREFIX + digest,
    )


def locate_errors(err: KirokuError, group: RowGroup) -> list[dict]:
    """A service error on a group's submission as CSV-level errors: each with its ``row`` and ``column``."""
    items = err.errors if isinstance(err, ValidationErrors) else [err]
    out = []
    for e in items:
        d = e.to_dict()
        d["message"] = redact(d["message"])  # errors are printed and sent: never a personal number
        if "field" in d:
            d["field"] = redact(d["field"])
        if "got" in d:
            d["got"] = shown(e.got, e.field)
        m = LINE_FIELD.match(e.field or "")
        if m:
            d["row"] = group.rows[int(m[1]) - 1][0]
            d["column"] = redact(m[2])
        else:
            d["row"] = group.first_row
            column = (e.field or "").split(".")[-1]
            # replaces: the filing a 訂正区分 row corrects (nothing_to_correct) — its column is line_action.
            d["column"] = redact({"name": "employer_name", "address": "employer_address", "replaces": "line_action"}.get(column, column))
        out.append(d)
    return out
