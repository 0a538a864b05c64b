"""Flow 7 — deadlines: rolled past weekends and holidays, late filings marked late, missing filings reported."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.errors import ValidationError
from tests.factories import CHIYODA, CORP_A, CORP_B, payroll, withholding
from tests.integration.helpers import (
    PENSION_OFFICE,
    TAX_OFFICE,
    agency,
    bonus_payment,
    company,
    company_view,
    corp_number,
    enroll_payroll,
    enroll_to,
    filing_ends,
    jst,
    municipality,
    standard_remuneration,
    wage_ledger,
)

pytestmark = pytest.mark.integration

CHIYODA_ID = municipality(CHIYODA)
PAYROLL_2026_PASSES = jst(2027, 2, 2, 0, 0)  # due Sunday 31 Jan 2027 → Monday 1 Feb; passes at midnight JST


def test_a_filing_recorded_on_the_rolled_deadline_day_is_on_time(kiroku, clock):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    clock.set(jst(2027, 2, 1, 23, 59, 59))  # Monday, the rolled due date, one second before it passes
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    assert receipt.deadline == PAYROLL_2026_PASSES
    assert (receipt.on_time, receipt.late) == (True, False)
    assert company_view(kiroku, CORP_A).filings()[0].on_time is True


def test_a_filing_after_the_deadline_is_accepted_marked_late_and_still_notified(kiroku, clock):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    clock.set(PAYROLL_2026_PASSES)
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    assert receipt.deadline == PAYROLL_2026_PASSES
    assert (receipt.on_time, receipt.late) == (False, True)
    assert receipt.targets == [CHIYODA_ID]
    assert [n.submission_id for n in agency(kiroku, CHIYODA_ID).notices()] == [receipt.submission_id]
    [info] = agency(kiroku, CHIYODA_ID).filings(CORP_A)
    assert (info.on_time, info.deadline) == (False, PAYROLL_2026_PASSES)


def test_a_late_correction_is_late_while_the_original_stays_on_time(kiroku, clock):
    a = company(kiroku, CORP_A)
    clock.set(jst(2027, 1, 15))
    v1 = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    clock.set(jst(2027, 3, 1))
    v2 = a.correct(v1.submission_id, payroll())
    assert (v1.on_time, v2.on_time) == (True, False)
    assert [h.on_time for h in company_view(kiroku, CORP_A).history(v2.submission_id)] == [True, False]


@pytest.mark.parametrize(("procedure", "period", "payload", "passes"), [
    ("WITHHOLDING_SLIP", "2026", withholding(1), jst(2027, 2, 2)),
    ("STANDARD_REMUNERATION", "2027", standard_remuneration(), jst(2027, 7, 13)),  # 10 Jul 2027 is a Saturday
    ("WAGE_LEDGER", "2027-04", wage_ledger(), None),  # kept, not filed: no deadline
])
def test_each_procedure_applies_its_own_deadline_rule(kiroku, clock, procedure, period, payload, passes):
    clock.set(jst(2027, 7, 12, 12, 0))
    receipt = company(kiroku, CORP_A).record(CORP_A, procedure, period, payload)
    assert receipt.deadline == passes
    assert receipt.on_time == (None if passes is None else clock() < passes)


def test_bonus_payment_is_due_five_days_after_payment_rolled_to_a_business_day(kiroku, clock):
    clock.set(jst(2027, 7, 1))
    receipt = company(kiroku, CORP_A).record(CORP_A, "BONUS_PAYMENT", "2027-06-25", bonus_payment())
    assert receipt.deadline == jst(2027, 7, 1)  # 30 Jun is a Wednesday: it passes at midnight
    assert receipt.on_time is False


def test_after_the_deadline_each_enrolled_company_that_filed_nothing_is_reported_once(kiroku, clock):
    clock.set(jst(2027, 1, 5, 9, 0))
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    enroll_payroll(kiroku, CORP_B, CHIYODA)
    clock.set(jst(2027, 1, 25, 9, 0))
    filed = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    chiyoda = agency(kiroku, CHIYODA_ID)

    clock.set(jst(2027, 2, 1, 23, 0))  # the deadline has not passed
    assert kiroku.commands.report_missing() == []
    assert chiyoda.missing_report() == []

    clock.set(jst(2027, 2, 2, 0, 30))
    assert kiroku.commands.report_missing() == [(CHIYODA_ID, CORP_B, "PAYROLL_REPORT", "2026")]
    [missing] = chiyoda.missing_report()
    assert (missing.corporate_number, missing.procedure, missing.period) == (CORP_B, "PAYROLL_REPORT", "2026")
    assert (missing.deadline, missing.reported_at) == (PAYROLL_2026_PASSES, jst(2027, 2, 2, 0, 30))
    feed = chiyoda.notices()
    assert [(n.seq, n.notice_type, n.corporate_number, n.submission_id) for n in feed] == [
        (1, "SUBMITTED", CORP_A, filed.submission_id), (2, "MISSING", CORP_B, None)]
    assert (feed[1].procedure, feed[1].period) == ("PAYROLL_REPORT", "2026")

    ends = filing_ends(kiroku)
    clock.set(jst(2027, 2, 3))
    assert kiroku.commands.report_missing() == []
    assert filing_ends(kiroku) == ends
    assert len(chiyoda.missing_report()) == 1 and len(chiyoda.notices()) == 2


def test_a_company_that_files_late_but_before_the_report_is_not_reported(kiroku, clock):
    clock.set(jst(2027, 1, 5))
    enroll_to(kiroku, CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    clock.set(jst(2027, 2, 2, 8, 0))
    assert company(kiroku, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding()).late
    assert kiroku.commands.report_missing() == []
    assert agency(kiroku, TAX_OFFICE).missing_report() == []


def test_only_the_agencies_that_accepted_get_a_missing_filing_report(kiroku, clock):
    clock.set(jst(2027, 1, 5))
    enr = enroll_to(kiroku, CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    other = company(kiroku, CORP_B).enroll(CORP_B, "WITHHOLDING_SLIP", TAX_OFFICE)  # never accepted
    withdrawn = enroll_to(kiroku, corp_number(3), "WITHHOLDING_SLIP", TAX_OFFICE)
    company(kiroku, corp_number(3)).withdraw(withdrawn)
    clock.set(jst(2027, 2, 10))
    assert kiroku.commands.report_missing() == [(TAX_OFFICE, CORP_A, "WITHHOLDING_SLIP", "2026")]
    assert [m.enrollment_id for m in agency(kiroku, TAX_OFFICE).missing_report()] == [enr]
    assert other.decisions == {}


def test_a_company_enrolled_after_a_deadline_is_not_reported_missing_for_that_period(kiroku, clock):
    clock.set(jst(2027, 3, 1, 10, 0))  # after the 2026 deadline
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    clock.set(jst(2027, 3, 2, 10, 0))
    assert kiroku.commands.report_missing() == []
    clock.set(jst(2028, 2, 2, 0, 0, 1))  # the 2027 deadline (31 Jan 2028 is a Monday) has passed
    assert kiroku.commands.report_missing() == [(CHIYODA_ID, CORP_A, "PAYROLL_REPORT", "2027")]


def test_an_enrolled_company_is_reminded_of_a_coming_deadline_until_it_files(kiroku, clock):
    clock.set(jst(2027, 1, 10))
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    view = company_view(kiroku, CORP_A)
    assert view.reminders(within=timedelta(days=30)) == [("PAYROLL_REPORT", "2026", PAYROLL_2026_PASSES)]
    assert view.reminders(within=timedelta(days=7)) == []
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    assert view.reminders(within=timedelta(days=30)) == []


def test_a_period_past_its_retention_is_not_reported_missing(kiroku, clock):
    """A period that can no longer be filed is not reported: a 算定基礎届 is kept 2 years
    (健康保険法施行規則第34条, 厚生年金保険法施行規則第28条), a late one for a period past that is
    refused (``period_past_retention``), and the right to assess it has lapsed (厚生年金保険法第92条)."""
    clock.set(jst(2022, 6, 1, 10, 0))
    enroll_to(kiroku, CORP_A, "STANDARD_REMUNERATION", PENSION_OFFICE)
    clock.set(jst(2026, 8, 1, 10, 0))  # 2022's retention ended 1 Jan 2025, 2023's 1 Jan 2026
    reported = kiroku.commands.report_missing()
    assert [(a, c, p, period) for a, c, p, period in reported] == [
        (PENSION_OFFICE, CORP_A, "STANDARD_REMUNERATION", y) for y in ("2024", "2025", "2026")]
    with pytest.raises(ValidationError) as err:
        company(kiroku, CORP_A).record(CORP_A, "STANDARD_REMUNERATION", "2023", standard_remuneration())
    assert (err.value.code, err.value.field) == ("period_past_retention", "period")

def test_an_agency_expects_the_companies_whose_enrollment_it_accepted_before_the_deadline(kiroku, clock):
    """AgencyView.expected_filers: the rule of the missing-filing report (accepted one by one before the deadline, or
    by standing policy for the agency's employers), the agency's own only, each read recorded as its addressee."""
    from ledger.domain.model import Principal
    from ledger.errors import Forbidden
    from tests.factories import SAPPORO
    from tests.integration.helpers import agency, company_view, corp_number, enroll_payroll, jst, municipality

    clock.set(jst(2027, 1, 10, 9, 0))
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    enroll_payroll(kiroku, CORP_B, SAPPORO)
    clock.set(jst(2027, 3, 1, 9, 0))
    late = corp_number(7)
    enroll_payroll(kiroku, late, CHIYODA)  # accepted after the 2026 deadline: expected for 2027, not 2026
    view = agency(kiroku, municipality(CHIYODA))
    assert view.expected_filers("PAYROLL_REPORT", "2026") == [CORP_A]
    assert view.expected_filers("PAYROLL_REPORT", "2027") == sorted([CORP_A, late])
    assert agency(kiroku, municipality(SAPPORO)).expected_filers("PAYROLL_REPORT", "2026") == [CORP_B]
    kiroku.processors.catch_up()
    assert [r.action for r in company_view(kiroku, CORP_A).access_log() if r.action == "expected_filer"] == ["expected_filer"] * 2
    with pytest.raises(ValidationError):
        view.expected_filers("PAYROLL_REPORT", "26")
    with pytest.raises(Forbidden):
        kiroku.queries.expected_filers(Principal.company(CORP_A), "PAYROLL_REPORT", "2026")
