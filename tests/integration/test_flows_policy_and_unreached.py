"""Standing-policy acceptance is acceptance, and a filing that reaches no agency says so (issue 15, item 4).

A municipality may accept every 給与支払報告書 enrollment by standing policy (DESIGN.md flow 3); it
must then be told of missing filings and the company reminded, as for one accepted by hand. A
municipality knows its employers from what they filed before (the 特別徴収義務者 it assigned a
指定番号; 地方税法第321条の4): that is whom it expects a report from.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.transparency.verify import load_keys, passed, verify_receipt
from tests.factories import CHIYODA, CORP_A, CORP_B, SAPPORO, payroll, payroll_line, withholding
from tests.integration.helpers import (
    PENSION_OFFICE,
    TAX_OFFICE,
    agency,
    bonus_payment,
    company,
    company_view,
    jst,
    municipality,
)

pytestmark = pytest.mark.integration

CHIYODA_ID = municipality(CHIYODA)
PAYROLL_2027_PASSES = jst(2028, 2, 1)  # 31 Jan 2028 is a Monday: the deadline passes at midnight JST


def test_a_municipality_accepting_by_policy_is_told_of_its_employer_that_files_nothing(kiroku, clock):
    """地方税法第317条の6: every employer files its 給与支払報告書 with each municipality its employees
    lived in on 1 January; the municipality that accepted by policy expects it as one that accepted by hand."""
    clock.set(jst(2027, 1, 5))
    agency(kiroku, CHIYODA_ID).accept_all("PAYROLL_REPORT")
    enr = company(kiroku, CORP_A).enroll(CORP_A, "PAYROLL_REPORT")
    company(kiroku, CORP_B).enroll(CORP_B, "PAYROLL_REPORT")  # never filed to 千代田区: not one of its employers
    first = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    assert first.targets == [CHIYODA_ID]
    clock.set(jst(2027, 2, 3))
    assert kiroku.commands.report_missing() == []  # CORP_B never filed to 千代田区; CORP_A filed 2026

    clock.set(PAYROLL_2027_PASSES)
    assert kiroku.commands.report_missing() == [(CHIYODA_ID, CORP_A, "PAYROLL_REPORT", "2027")]
    [missing] = agency(kiroku, CHIYODA_ID).missing_report()
    assert (missing.enrollment_id, missing.corporate_number) == (enr.enrollment_id, CORP_A)
    assert [n.notice_type for n in agency(kiroku, CHIYODA_ID).notices()] == ["SUBMITTED", "MISSING"]
    clock.set(PAYROLL_2027_PASSES + timedelta(days=3))
    assert kiroku.commands.report_missing() == []  # once
    # A municipality that never saw the company's filings is not told.
    assert agency(kiroku, municipality(SAPPORO)).missing_report() == []


def test_a_municipality_that_rejected_is_not_told_even_with_a_policy(kiroku, clock):
    clock.set(jst(2027, 1, 5))
    enr = company(kiroku, CORP_A).enroll(CORP_A, "PAYROLL_REPORT")
    agency(kiroku, CHIYODA_ID).accept_all("PAYROLL_REPORT")
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    agency(kiroku, CHIYODA_ID).reject(enr.enrollment_id, "対象者なし")
    clock.set(PAYROLL_2027_PASSES)
    assert kiroku.commands.report_missing() == []


def test_a_company_enrolled_where_a_policy_accepts_is_reminded_of_its_deadline(kiroku, clock):
    clock.set(jst(2027, 1, 10))
    agency(kiroku, CHIYODA_ID).accept_all("PAYROLL_REPORT")
    company(kiroku, CORP_A).enroll(CORP_A, "PAYROLL_REPORT")
    view = company_view(kiroku, CORP_A)
    assert view.reminders(within=timedelta(days=30)) == [("PAYROLL_REPORT", "2026", jst(2027, 2, 2))]
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    assert view.reminders(within=timedelta(days=30)) == []


def test_a_rejected_enrollment_brings_no_reminder(kiroku, clock):
    clock.set(jst(2027, 1, 10))
    enr = company(kiroku, CORP_A).enroll(CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    agency(kiroku, TAX_OFFICE).reject(enr.enrollment_id, "提出先が異なります")
    assert company_view(kiroku, CORP_A).reminders(within=timedelta(days=30)) == []


# -- receipts that reach no agency -------------------------------------------------------------------

def test_a_filing_of_a_procedure_never_enrolled_is_recorded_and_its_receipt_says_no_agency_was_reached(kiroku):
    receipt = company(kiroku, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding())
    assert (receipt.targets, receipt.unreached, receipt.reached_no_agency) == ([], [], True)
    assert receipt.model_dump()["reached_no_agency"] is True
    # The same receipt, asked again, says the same.
    assert company_view(kiroku, CORP_A).filings()[0].targets == []
    assert company(kiroku, CORP_A).receipt(receipt.submission_id).reached_no_agency is True


def test_a_receipt_names_the_agency_enrolled_with_that_has_not_accepted_yet(kiroku):
    enr = company(kiroku, CORP_A).enroll(CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    pending = company(kiroku, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", "2025", withholding())
    assert (pending.targets, pending.unreached, pending.reached_no_agency) == ([], [TAX_OFFICE], True)
    agency(kiroku, TAX_OFFICE).accept(enr.enrollment_id)
    after = company(kiroku, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding())
    assert (after.targets, after.unreached, after.reached_no_agency) == ([TAX_OFFICE], [], False)


def test_a_line_routed_filing_that_reaches_some_municipality_is_not_flagged(kiroku):
    enr = company(kiroku, CORP_A).enroll(CORP_A, "PAYROLL_REPORT")
    agency(kiroku, CHIYODA_ID).accept(enr.enrollment_id)
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026",
                                             payroll([payroll_line(1, CHIYODA), payroll_line(2, SAPPORO)]))
    assert (receipt.targets, receipt.unreached, receipt.reached_no_agency) == ([CHIYODA_ID], [municipality(SAPPORO)], False)


def test_a_receipt_that_reached_no_agency_still_verifies_offline(kiroku, tmp_path):
    pension = company(kiroku, CORP_A).enroll(CORP_A, "BONUS_PAYMENT", PENSION_OFFICE)
    receipt = company(kiroku, CORP_A).record(CORP_A, "BONUS_PAYMENT", "2026-06-25", bonus_payment())
    assert (receipt.unreached, receipt.reached_no_agency) == ([PENSION_OFFICE], True)
    assert pension.decisions == {}
    proof = company(kiroku, CORP_A).receipt_with_proof(receipt.submission_id)
    assert (proof.receipt["targets"], proof.receipt["unreached"]) == ([], [PENSION_OFFICE])
    (tmp_path / "receipt.json").write_text(proof.to_json(), encoding="utf-8")
    (tmp_path / "kiroku.pub").write_text(kiroku.transparency.verifier_key() + "\n")
    checks = verify_receipt(tmp_path / "receipt.json", load_keys([tmp_path / "kiroku.pub"]))
    assert passed(checks), checks
