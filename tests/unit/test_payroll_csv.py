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

EN = ["corporate_number", "period", "employer_name", "employer_address", "municipality_code", "employee_number",
      "person.name", "person.birth_date", "person.address", "person.personal_number", "payment_amount"]
JA = ["法人番号", "年分", "支払者名称", "支払者所在地", "提出先市区町村コード", "受給者番号", "氏名", "生年月日", "住所", "個人番号",
      "支払金額"]
#: The v1 header (Kiroku's own format before the v2 forms): the person's items under their v1 names.
V1 = ["corporate_number", "period", "employer_name", "employer_address", "municipality_code", "employee_name",
      "personal_number", "address", "payment_amount"]


def reader(header: list[str], *rows: list[str]) -> csv.DictReader:
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    out.seek(0)
    return csv.DictReader(out)


def cells(corp: str, n: int, period: str = "2026") -> list[str]:
    return [corp, period, "株式会社記録", "東京都千代田区", "131016", f"E{n:04d}", f"山田 {n}", "1980/04/01", "東京都千代田区",
            "123456789018", " 5000000 "]


def test_japanese_headers_and_a_leftover_bom_map_to_the_canonical_columns() -> None:
    mapping = header_mapping(["\ufeff" + JA[0], *JA[1:]])
    assert sorted(mapping.values()) == sorted(EN)
    assert all(canon in COLUMNS for canon in mapping.values())


def test_a_missing_column_error_names_every_missing_column() -> None:
    with pytest.raises(ValidationError) as info:
        header_mapping(V1)
    assert info.value.expected == "employee_number, person.birth_date"


@pytest.mark.parametrize(
    ("header", "code", "field"),
    [
        (None, "empty_file", "header"),
        ([*EN, "bonus"], "unknown_column", "column bonus"),
        ([c for c in EN if c != "period"], "missing_column", "column period"),
        ([c for c in EN if c != "person.birth_date"], "missing_column", "column person.birth_date"),
        # The 個人番号 box is on the form; a blank cell with its reason says it was not given (国税分野FAQ Q2-10).
        ([c for c in EN if c != "person.personal_number"], "missing_column", "column person.personal_number"),
        # A v1 file names its person items in the v1 way, which is read, but lacks what v2 requires:
        # 受給者番号 and 生年月日 (給与支払報告書 個人別明細書の様式, 地方税法施行規則 第十七号様式).
        (V1, "missing_column", "column employee_number"),
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
    assert request.payload["lines"][0] == {
        "municipality_code": "131016", "employee_number": "E0001", "payment_amount": 5_000_000,
        "person": {"name": "山田 1", "birth_date": "1980-04-01", "address": "東京都千代田区", "personal_number": "123456789018"}}
    assert [line["person"]["name"] for line in request.payload["lines"]] == ["山田 1", "山田 2"]
    assert request.idempotency_key.startswith(KEY_PREFIX)
    moved = RowGroup("A", "2026", 12, [(n + 10, row) for n, row in group.rows])  # same rows, later in a file
    assert submission_request(moved).idempotency_key == request.idempotency_key
    other = next(group_rows(reader(EN, cells("A", 1), [*cells("A", 2)[:-1], "5000001"]), header_mapping(EN)))
    assert submission_request(other).idempotency_key != request.idempotency_key


@pytest.mark.parametrize(
    ("column", "cell", "field", "value"),
    [
        # 生年月日 as Japanese spreadsheets and forms write it: 西暦 with slashes, or 和暦 (元号法).
        ("生年月日", "1980/4/1", ("person", "birth_date"), "1980-04-01"),
        ("生年月日", "昭和55年4月1日", ("person", "birth_date"), "1980-04-01"),
        ("生年月日", "令和元年5月1日", ("person", "birth_date"), "2019-05-01"),
        # 平成31年5月1日 does not exist (令和 from that day, 平成31年政令第143号): left for the rules to refuse.
        ("生年月日", "平成31年5月1日", ("person", "birth_date"), "平成31年5月1日"),
        ("生年月日", "1980/2/30", ("person", "birth_date"), "1980/2/30"),
        ("年末調整", "0", ("year_end_adjusted",), False),
        ("年末調整", "TRUE", ("year_end_adjusted",), True),
        ("年末調整", "済", ("year_end_adjusted",), "済"),
        # 徴収区分 and the 普通徴収切替理由 as the 給与支払報告書 writes them (普A–普F, 普通徴収切替理由書).
        ("徴収区分", "普通徴収", ("collection",), "ORDINARY"),
        ("徴収区分", "特別徴収", ("collection",), "SPECIAL"),
        ("普通徴収理由", "普A", ("ordinary_reason",), "FEW_EMPLOYEES"),
        ("普通徴収理由", "F", ("ordinary_reason",), "LEAVING"),
        ("普通徴収理由", "LOW_PAY", ("ordinary_reason",), "LOW_PAY"),
        ("普通徴収理由", "普G", ("ordinary_reason",), "普G"),
        ("退職年月日", "２０２６/０６/３０", ("employment_end",), "2026-06-30"),
    ],
)
def test_cells_are_read_as_the_forms_write_them(column: str, cell: str, field: tuple[str, ...], value: object) -> None:
    header = [*JA, column]
    group = next(group_rows(reader(header, [*cells("A", 1), cell]), header_mapping(header)))
    line = submission_request(group).payload["lines"][0]
    for name in field[:-1]:
        line = line[name]
    assert line[field[-1]] == value


def with_person(row: list[str], name: str, birth: str, address: str, number: str) -> list[str]:
    return [*row[:6], name, birth, address, number, *row[10:]]


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=10**11 - 1), st.text(min_size=1, max_size=20).filter(lambda t: t.strip() == t),
       st.dates())
def test_a_groups_key_reveals_nothing_of_its_person(base: int, name: str, birth: object) -> None:
    """The key is stored in the entry in clear, where readers barred from the person see it: a key
    over the person's cells would let them confirm a guessed 個人番号, name or birth date by
    recomputing it. Personal numbers: 行政手続における特定の個人を識別するための番号の利用等に関する法律
    第2条第5項; the person is sealed whole in v2 (issue 15)."""
    number = make_personal_number(f"{base:011d}")
    rows = [with_person(cells("7000012050002", 1), name, str(birth), "東京都港区", number)]
    group = next(group_rows(reader(EN, *rows), header_mapping(EN)))
    key = submission_request(group).idempotency_key
    old = "csv-import:" + hashlib.sha256(repr([r for _, r in group.rows]).encode()).hexdigest()[:32]
    assert key != old and number not in key
    assert key.startswith(KEY_PREFIX)
    other = next(group_rows(reader(EN, cells("7000012050002", 1)), header_mapping(EN)))
    assert submission_request(other).idempotency_key == key  # the same whatever the person: nothing to test a guess on


def test_service_errors_are_placed_on_the_csv_row_and_column() -> None:
    group = RowGroup("A", "2026", 7, [(7, {}), (8, {}), (9, {})])
    err = ValidationErrors([
        ValidationError("bad number", field="lines[2].person.personal_number", code="invalid_personal_number"),
        ValidationError("no date", field="lines[3].person.birth_date", code="invalid_date"),
        ValidationError("no amount", field="lines[1].payment_amount", code="missing"),
        ValidationError("no name", field="payload.employer.name", code="missing"),
    ])
    assert [(d["row"], d["column"], d["code"]) for d in locate_errors(err, group)] == [
        (8, "person.personal_number", "invalid_personal_number"), (9, "person.birth_date", "invalid_date"),
        (7, "payment_amount", "missing"), (7, "employer_name", "missing"),
    ]
