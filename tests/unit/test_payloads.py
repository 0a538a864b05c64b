"""Payload rules, without I/O."""

from __future__ import annotations

import pytest

from ledger.domain.procedures import PROCEDURES, get_procedure, validate_agency_id, validate_payload
from ledger.errors import ValidationError, ValidationErrors
from tests.factories import payroll, payroll_line

pytestmark = pytest.mark.unit


PAYROLL = PROCEDURES["PAYROLL_REPORT"]


def test_every_problem_in_a_payload_is_reported_with_its_line_number() -> None:
    bad = payroll([payroll_line(1), payroll_line(2, payment_amount=-1, employee_name=""), payroll_line(3, municipality="131017")])
    with pytest.raises(ValidationErrors) as err:
        validate_payload(PAYROLL, bad)
    found = {(e.field, e.code) for e in err.value.errors}
    assert found == {("lines[2].payment_amount", "negative_amount"), ("lines[2].employee_name", "required"),
                     ("lines[3].municipality_code", "check_digit")}


def test_amounts_must_be_whole_yen_not_floats_or_booleans() -> None:
    for value, code in ((1.5, "invalid_amount"), (True, "invalid_amount"), ("12a", "invalid_amount"), (10**16, "amount_too_large")):
        with pytest.raises(ValidationErrors) as err:
            validate_payload(PAYROLL, payroll([payroll_line(1, withholding_tax=value)]))
        assert [(e.field, e.code) for e in err.value.errors] == [("lines[1].withholding_tax", code)]


def test_csv_style_amounts_are_normalized() -> None:
    out = validate_payload(PAYROLL, payroll([payroll_line(1, payment_amount="5,000,000", withholding_tax="１２０")]))
    assert out["lines"][0]["payment_amount"] == 5_000_000 and out["lines"][0]["withholding_tax"] == 120


def test_unknown_line_fields_are_named() -> None:
    with pytest.raises(ValidationErrors) as err:
        validate_payload(PAYROLL, payroll([payroll_line(1, bonus=3)]))
    assert [(e.field, e.code) for e in err.value.errors] == [("lines[1].bonus", "unknown_field")]


def test_a_payload_without_lines_or_header_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        validate_payload(PAYROLL, {"lines": [payroll_line(1)]})
    assert (err.value.field, err.value.code) == ("employer", "required")
    with pytest.raises(ValidationErrors) as err2:
        validate_payload(PAYROLL, {"employer": {"name": "x", "address": "y"}, "lines": []})
    assert [(e.field, e.code) for e in err2.value.errors] == [("lines", "required")]


def test_unknown_procedures_and_agencies_are_refused_listing_what_is_known() -> None:
    with pytest.raises(ValidationError) as err:
        get_procedure("PAYROLL")
    assert err.value.code == "unknown_procedure" and "PAYROLL_REPORT" in err.value.expected
    with pytest.raises(ValidationError) as err:
        get_procedure("PAYROLL_REPORT", disposition=True, field_name="kind")
    assert err.value.field == "kind" and "SPECIAL_COLLECTION_NOTICE" in err.value.expected
    with pytest.raises(ValidationError) as err:
        validate_agency_id("city:131016")
    assert err.value.code == "invalid_agency"
    with pytest.raises(ValidationError) as err:
        validate_agency_id("municipality:131017")
    assert err.value.code == "check_digit"




from hypothesis import given, settings, strategies as st  # noqa: E402

from ledger.domain.procedures import _check, _fast_lines  # noqa: E402

_values = st.one_of(st.none(), st.integers(min_value=-5, max_value=10**16), st.booleans(), st.floats(allow_nan=False),
                    st.text(max_size=14), st.sampled_from(["131016", "131017", "123456789018", "123456789019", " 12", "１２３",
                                                           "5,000", "2026-13", "2026-01", ""]))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(PROCEDURES)), st.data())
def test_the_fast_line_path_accepts_only_what_the_careful_path_returns_unchanged(code: str, data: st.DataObject) -> None:
    proc = PROCEDURES[code]
    line = {r.name: data.draw(_values, label=r.name) for r in proc.line if data.draw(st.booleans(), label=f"has {r.name}")}
    [fast] = _fast_lines(proc, [line])
    careful: dict | None = {}
    for rule in proc.line:
        try:
            value = _check(rule, line.get(rule.name), rule.name, "")
        except ValidationError:
            careful = None
            break
        careful[rule.name] = value
    if fast is not None:
        assert careful == fast
        assert all(line.get(k) in (None, v) for k, v in fast.items())
    # And the other way round: a line the careful path leaves exactly as it came is taken by the
    # fast path.
    unchanged = careful is not None and all(
        line.get(k) is None or (line[k] == v and type(line[k]) is type(v)) for k, v in careful.items())
    if unchanged:
        assert fast == careful


def test_a_month_is_four_ascii_digits_of_a_year_from_1900_to_2099_a_hyphen_and_two_of_a_month() -> None:
    month = next(r for r in PROCEDURES["STANDARD_REMUNERATION_DECISION"].header if r.kind == "month")
    for good in ("1900-01", "2099-12", "2027-09"):
        assert _check(month, good, "effective_from", "") == good
    for bad in ("1899-12", "2100-01", "2027-13", "2027-00", "2027-9", "2027-09\n", "20２7-09", "2027/09", "2027-09-01"):
        with pytest.raises(ValidationError) as err:
            _check(month, bad, "effective_from", "")
        assert (err.value.code, err.value.field) == ("invalid_month", "effective_from")


def test_the_fast_path_leaves_lines_that_are_not_clean_to_the_careful_path() -> None:
    proc = PROCEDURES["PAYROLL_REPORT"]
    clean = {"municipality_code": "131016", "employee_name": "山田 太郎", "personal_number": "123456789018",
             "address": "千代田区1-1", "payment_amount": 1, "income_after_deduction": 1, "total_deductions": 0,
             "withholding_tax": 0, "social_insurance": 0}
    lines = [clean, [clean], {**clean, "bonus": 1}, {**clean, "payment_amount": True}, {**clean, "employee_name": " 山田"},
             {**clean, "personal_number": "123456789019"}, {**clean, "municipality_code": "131017"},
             {**clean, "payment_amount": 10**15 + 1}, {**clean, "payment_amount": 2**64}, {**clean, "dependents": None}]
    out = _fast_lines(proc, lines)
    assert out[0] == {**clean, "employee_kana": None, "dependents": 0}
    assert out[1:9] == [None] * 8
    assert out[9] == {**clean, "employee_kana": None, "dependents": 0}  # an empty optional field takes its default
    assert list(out[0]) == [r.name for r in proc.line]  # in the schema's order
