"""Flow 1 — enrollment (クラウド提出の申出): declared by the company or its agent, decided by the agency."""

from __future__ import annotations

import pytest

from ledger.errors import Forbidden, NotFound, ValidationError
from tests.factories import CHIYODA, CORP_A, CORP_B, OSAKA, SAPPORO, payroll, payroll_line, withholding
from tests.integration.helpers import (
    PENSION_OFFICE,
    TAX_OFFICE,
    agency,
    company,
    enroll_to,
    grant_until,
    log_ends,
    municipality,
    producer,
)

pytestmark = pytest.mark.integration


def test_an_enrollment_waits_for_its_agency_and_is_accepted_by_it(kiroku):
    enr = company(kiroku, CORP_A).enroll(CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    assert (enr.corporate_number, enr.procedure, enr.agency_id, enr.decisions) == (CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE, {})

    office = agency(kiroku, TAX_OFFICE)
    assert [e.enrollment_id for e in office.pending_enrollments()] == [enr.enrollment_id]
    assert agency(kiroku, "tax-office:01102").pending_enrollments() == []

    accepted = office.accept(enr.enrollment_id)
    assert accepted.decisions == {TAX_OFFICE: "accepted"}
    assert office.pending_enrollments() == []


def test_only_a_submission_recorded_after_acceptance_counts_as_a_filing_to_the_agency(kiroku):
    a = company(kiroku, CORP_A)
    enr = a.enroll(CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    before = a.record(CORP_A, "WITHHOLDING_SLIP", "2025", withholding())
    assert before.targets == []
    office = agency(kiroku, TAX_OFFICE)
    assert office.notices() == []
    with pytest.raises(NotFound) as err:
        office.snapshot(before.submission_id)
    assert (err.value.code, err.value.field) == ("not_found", "submission_id")

    office.accept(enr.enrollment_id)
    after = a.record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding())
    assert after.targets == [TAX_OFFICE]
    assert [n.submission_id for n in office.notices()] == [after.submission_id]
    assert office.snapshot(after.submission_id).info.submission_id == after.submission_id


def test_a_rejected_enrollment_needs_a_reason_and_makes_no_filing(kiroku):
    a = company(kiroku, CORP_A)
    enr = a.enroll(CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    office = agency(kiroku, TAX_OFFICE)
    with pytest.raises(ValidationError) as err:
        office.reject(enr.enrollment_id, "  ")
    assert (err.value.code, err.value.field) == ("required", "reason")

    rejected = office.reject(enr.enrollment_id, "提出先が異なります")
    assert rejected.decisions == {TAX_OFFICE: "rejected"}
    receipt = a.record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding())
    assert receipt.targets == []
    assert office.notices() == []


def test_enrolling_again_returns_the_active_enrollment_and_records_nothing(kiroku):
    a = company(kiroku, CORP_A)
    first = a.enroll(CORP_A, "PAYROLL_REPORT")
    ends = log_ends(kiroku)
    again = a.enroll(CORP_A, "PAYROLL_REPORT")
    assert again.enrollment_id == first.enrollment_id
    assert log_ends(kiroku) == ends


def test_a_line_routed_procedure_is_enrolled_once_and_awaits_every_municipality(kiroku):
    enr = company(kiroku, CORP_A).enroll(CORP_A, "PAYROLL_REPORT")
    assert enr.agency_id is None
    for code in (CHIYODA, SAPPORO, OSAKA):
        assert [e.enrollment_id for e in agency(kiroku, municipality(code)).pending_enrollments()] == [enr.enrollment_id]
    agency(kiroku, municipality(CHIYODA)).accept(enr.enrollment_id)
    decided = agency(kiroku, municipality(SAPPORO)).reject(enr.enrollment_id, "対象者なし")
    assert decided.decisions == {municipality(CHIYODA): "accepted", municipality(SAPPORO): "rejected"}
    assert agency(kiroku, municipality(CHIYODA)).pending_enrollments() == []
    assert [e.enrollment_id for e in agency(kiroku, municipality(OSAKA)).pending_enrollments()] == [enr.enrollment_id]
    assert agency(kiroku, TAX_OFFICE).pending_enrollments() == []


@pytest.mark.parametrize(("procedure", "agency_id", "code", "field"), [
    ("PAYROLL_REPORT", municipality(CHIYODA), "line_routed", "agency_id"),
    ("WITHHOLDING_SLIP", None, "required", "agency_id"),
    ("WITHHOLDING_SLIP", municipality(CHIYODA), "wrong_agency", "agency_id"),
    ("STANDARD_REMUNERATION", TAX_OFFICE, "wrong_agency", "agency_id"),
    ("WITHHOLDING_SLIP", "tax_office/01101", "invalid_agency", "agency_id"),
    ("WITHHOLDING_SLIP", "ministry:01101", "invalid_agency", "agency_id"),
    ("NO_SUCH_PROCEDURE", TAX_OFFICE, "unknown_procedure", "procedure"),
])
def test_an_enrollment_to_the_wrong_kind_of_target_is_refused_naming_the_field(kiroku, procedure, agency_id, code, field):
    ends = log_ends(kiroku)
    with pytest.raises(ValidationError) as err:
        company(kiroku, CORP_A).enroll(CORP_A, procedure, agency_id)
    assert (err.value.code, err.value.field) == (code, field)
    assert log_ends(kiroku) == ends


def test_a_municipality_agency_id_must_pass_its_check_digit(kiroku):
    with pytest.raises(ValidationError) as err:
        agency(kiroku, "municipality:131017")
    assert (err.value.code, err.value.field) == ("check_digit", "agency_id")


def test_an_enrollment_for_a_company_with_a_bad_corporate_number_is_refused(kiroku):
    with pytest.raises(ValidationError) as err:
        company(kiroku, CORP_A).enroll("7000012050003", "PAYROLL_REPORT")
    assert (err.value.code, err.value.field) == ("check_digit", "corporate_number")


def test_only_the_addressed_agency_decides_on_an_enrollment(kiroku):
    enr = company(kiroku, CORP_A).enroll(CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    with pytest.raises(Forbidden) as err:
        kiroku.commands.accept_enrollment(company(kiroku, CORP_A).principal, enr.enrollment_id)
    assert (err.value.code, err.value.field) == ("forbidden", "principal")
    for other in ("tax-office:01102", PENSION_OFFICE, municipality(CHIYODA)):
        with pytest.raises(NotFound) as err:
            agency(kiroku, other).accept(enr.enrollment_id)
        assert (err.value.code, err.value.field) == ("not_found", "enrollment_id")
    with pytest.raises(NotFound) as err:
        agency(kiroku, TAX_OFFICE).accept("enr_DOESNOTEXIST")
    assert (err.value.code, err.value.field) == ("not_found", "enrollment_id")


def test_another_company_cannot_enroll_for_a_company(kiroku):
    with pytest.raises(Forbidden) as err:
        company(kiroku, CORP_B).enroll(CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    assert (err.value.code, err.value.field) == ("forbidden", "corporate_number")
    assert company(kiroku, CORP_A).enrollments(CORP_A) == []


def test_an_agent_enrolls_for_its_client_only_under_a_submit_grant(kiroku):
    firm = producer(kiroku, "firm:tanaka-tax")
    with pytest.raises(Forbidden) as err:
        firm.enroll(CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    assert (err.value.code, err.value.field) == ("forbidden", "corporate_number")

    company(kiroku, CORP_A).grant("firm:tanaka-tax", ["WITHHOLDING_SLIP"], ["read"], grant_until(kiroku))
    with pytest.raises(Forbidden):
        firm.enroll(CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)

    company(kiroku, CORP_A).grant("firm:tanaka-tax", ["WITHHOLDING_SLIP"], ["submit"], grant_until(kiroku))
    enr = firm.enroll(CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    assert enr.corporate_number == CORP_A
    with pytest.raises(Forbidden):  # the grant covers WITHHOLDING_SLIP only
        firm.enroll(CORP_A, "PAYROLL_REPORT")


def test_a_withdrawn_enrollment_stops_routing_new_submissions(kiroku):
    enr_id = enroll_to(kiroku, CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    a = company(kiroku, CORP_A)
    assert a.record(CORP_A, "WITHHOLDING_SLIP", "2025", withholding()).targets == [TAX_OFFICE]

    withdrawn = a.withdraw(enr_id, "紙で提出します")
    assert withdrawn.withdrawn_at is not None
    assert a.record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding()).targets == []
    assert len(agency(kiroku, TAX_OFFICE).notices()) == 1
    with pytest.raises(NotFound) as err:
        agency(kiroku, TAX_OFFICE).accept(enr_id)
    assert (err.value.code, err.value.field) == ("not_found", "enrollment_id")


def test_a_company_cannot_withdraw_another_companys_enrollment(kiroku):
    enr_id = enroll_to(kiroku, CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    with pytest.raises(NotFound) as err:
        company(kiroku, CORP_B).withdraw(enr_id)
    assert (err.value.code, err.value.field) == ("not_found", "enrollment_id")
    with pytest.raises(NotFound) as missing:
        company(kiroku, CORP_B).withdraw("enr_DOESNOTEXIST")
    assert missing.value.to_dict().keys() == err.value.to_dict().keys()
    assert company(kiroku, CORP_A).enrollments(CORP_A)[0].withdrawn_at is None


def test_a_municipality_policy_accepts_enrollments_without_a_decision_one_by_one(kiroku):
    company(kiroku, CORP_A).enroll(CORP_A, "PAYROLL_REPORT")
    agency(kiroku, municipality(OSAKA)).accept_all("PAYROLL_REPORT")
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, OSAKA)]))
    assert receipt.targets == [municipality(OSAKA)]
    with pytest.raises(Forbidden) as err:
        agency(kiroku, TAX_OFFICE).accept_all("PAYROLL_REPORT")
    assert (err.value.code, err.value.field) == ("forbidden", "principal")
