"""The payroll CSV format both the CSV import and the HTTP bulk upload read (no I/O)."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.identifiers import make_personal_number
from ledger.encoding.payroll_csv import (
    COLUMNS,
    KEY_PREFIX,
    RowGroup,
    group_rows,
    header_mapping,
    locate_errors,
    submission_request,
)
from ledger.errors import ValidationError, ValidationErrors

pytestmark = pytest.mark.unit

EN = ["corporate_number", "period", "employer_name", "employer_address", "municipality_code", "employee_name",
      "personal_number", "payment_amount"]
JA = ["法人番号", "年分", "支払者名称", "支払者所在地", "提出先市区町村コード", "氏名", "個人番号", "支払金額"]


def reader(header: list[str], *rows: list[str]) -> csv.DictReader:
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    out.seek(0)
    return csv.DictReader(out)


def cells(corp: str, n: int, period: str = "2026") -> list[str]:
    return [corp, period, "株式会社記録", "東京都千代田区", "131016", f"山田 {n}", "123456789018", " 5000000 "]


def test_japanese_headers_and_a_leftover_bom_map_to_the_canonical_columns() -> None:
    mapping = header_mapping(["\ufeff" + JA[0], *JA[1:]])
    assert sorted(mapping.values()) == sorted(EN)
    assert all(canon in COLUMNS for canon in mapping.values())


@pytest.mark.parametrize(
    ("header", "code", "field"),
    [
        (None, "empty_file", "header"),
        ([*EN, "bonus"], "unknown_column", "column bonus"),
        ([c for c in EN if c != "period"], "missing_column", "column period"),
    ],
)
def test_a_header_that_does_not_fit_refuses_the_file(header: list[str] | None, code: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        header_mapping(header)
    assert (info.value.code, info.value.field) == (code, field)


def test_consecutive_rows_of_one_company_and_year_are_one_group_counting_the_header_as_row_1() -> None:
    r = reader(EN, cells("A", 1), cells("A", 2), cells("B", 3), cells("A", 4), cells("A", 5, period="2027"))
    seen: list[int] = []
    groups = list(group_rows(r, header_mapping(r.fieldnames), seen.append))
    assert [(g.corporate_number, g.period, g.first_row, [n for n, _ in g.rows]) for g in groups] == [
        ("A", "2026", 2, [2, 3]), ("B", "2026", 4, [4]), ("A", "2026", 5, [5]), ("A", "2027", 6, [6]),
    ]
    assert seen == [2, 3, 4, 5, 6]
    assert groups[0].rows[0][1]["payment_amount"] == "5000000"  # cells are stripped


def test_a_row_with_more_cells_than_the_header_is_refused_naming_the_row() -> None:
    r = reader(EN, cells("A", 1), [*cells("A", 2), "extra"])
    with pytest.raises(ValidationError) as info:
        list(group_rows(r, header_mapping(r.fieldnames)))
    assert (info.value.code, info.value.field) == ("extra_cells", "row 3")


def test_a_group_is_one_payroll_report_whose_key_depends_only_on_its_rows() -> None:
    r = reader(EN, cells("A", 1), cells("A", 2))
    group = next(group_rows(r, header_mapping(r.fieldnames)))
    request = submission_request(group)
    assert (request.corporate_number, request.procedure, request.period) == ("A", "PAYROLL_REPORT", "2026")
    assert request.payload["employer"] == {"name": "株式会社記録", "address": "東京都千代田区"}
    assert [line["employee_name"] for line in request.payload["lines"]] == ["山田 1", "山田 2"]
    assert request.idempotency_key.startswith("csv-import:")
    moved = RowGroup("A", "2026", 12, [(n + 10, row) for n, row in group.rows])  # same rows, later in a file
    assert submission_request(moved).idempotency_key == request.idempotency_key
    other = next(group_rows(reader(EN, cells("A", 1), cells("A", 3)), header_mapping(EN)))
    assert submission_request(other).idempotency_key != request.idempotency_key


def with_number(row: list[str], number: str) -> list[str]:
    return [*row[:6], number, *row[7:]]


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=10**11 - 1))
def test_a_groups_key_reveals_nothing_of_its_personal_numbers(base: int) -> None:
    """The key is stored in the entry in clear, where readers barred from personal numbers see it:
    the old key (SHA-256 over every cell) let them confirm a guessed 個人番号 by recomputing it.
    Personal numbers: 行政手続における特定の個人を識別するための番号の利用等に関する法律 第2条第5項."""
    number = make_personal_number(f"{base:011d}")
    rows = [with_number(cells("7000012050002", 1), number)]
    group = next(group_rows(reader(EN, *rows), header_mapping(EN)))
    key = submission_request(group).idempotency_key
    old = "csv-import:" + hashlib.sha256(repr([r for _, r in group.rows]).encode()).hexdigest()[:32]
    assert key != old and number not in key
    assert key.startswith(KEY_PREFIX)
    other = next(group_rows(reader(EN, with_number(cells("7000012050002", 1), "123456789018")), header_mapping(EN)))
    assert submission_request(other).idempotency_key == key  # the same whatever the number: nothing to test a guess on


def test_service_errors_are_placed_on_the_csv_row_and_column() -> None:
    group = RowGroup("A", "2026", 7, [(7, {}), (8, {}), (9, {})])
    err = ValidationErrors([
        ValidationError("bad number", field="lines[2].personal_number", code="invalid_personal_number"),
        ValidationError("no name", field="payload.employer.name", code="missing"),
    ])
    assert [(d["row"], d["column"], d["code"]) for d in locate_errors(err, group)] == [
        (8, "personal_number", "invalid_personal_number"), (7, "employer_name", "missing"),
    ]
