"""Flow 7 — 賞与支払予定月 and the 賞与不支給報告書 (issue 15; japan-forms-review.md E9).

Since April 2021 the 賞与支払届 総括表 is abolished; an office registered with 賞与支払予定月 files a
賞与不支給報告書 when it pays no bonus in such a month (日本年金機構 2021-03-04,
https://www.nenkin.go.jp/oshirase/taisetu/2021/202103/20210304.html via
https://finexus.jp/2021/03/30/shouyofushikyutodoke/). "賞与支払届と賞与不支給報告書は対になる関係 …
6月と12月を支給月として登録していて、夏季賞与の支給月を6月から7月に遅らせた場合は6月に賞与不支給報告書を
提出し" (https://kobayashiroumu.jp/news/syouyohusikyu1210). No source found names a due date for the
report: Kiroku infers the month's last day + 5 days (``ledger/domain/calendar.py``).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.errors import Conflict, ValidationError
from tests.factories import CORP_A, CORP_B
from tests.integration.helpers import (
    PENSION_OFFICE,
    agency,
    bonus_payment,
    company,
    company_view,
    filing_ends,
    jst,
    log_ends,
)

pytestmark = pytest.mark.integration

JUNE_2027_PASSES = jst(2027, 7, 6)  # 30 Jun + 5 = Monday 5 Jul 2027; passes at midnight JST (inferred rule)


def non_payment(month: str = "2027-06", changed: str | None = None) -> dict:
    return {"office": {"name": "株式会社記録", "address": "東京都千代田区丸の内1-1", "office_code": "01-イロハ",
                       "office_number": "12345"},
            "lines": [{"scheduled_month": month, "not_paid": 1, "changed_months": changed}]}


def enroll_bonus(kiroku, corp: str, months: list[int] | None) -> str:
    enr = company(kiroku, corp).enroll(corp, "BONUS_PAYMENT", PENSION_OFFICE, bonus_months=months)
    agency(kiroku, PENSION_OFFICE).accept(enr.enrollment_id, assigned_id="01-イロハ", office_number="12345")
    return enr.enrollment_id


def test_the_bonus_months_are_recorded_with_the_enrollment_and_listed(kiroku):
    enr = company(kiroku, CORP_A).enroll(CORP_A, "BONUS_PAYMENT", PENSION_OFFICE, bonus_months=[12, 6])
    assert enr.bonus_months == [6, 12]
    assert company_view(kiroku, CORP_A).enrollments()[0].bonus_months == [6, 12]
    # Enrolling again with the same months is the same enrollment; with others it is refused.
    assert company(kiroku, CORP_A).enroll(CORP_A, "BONUS_PAYMENT", PENSION_OFFICE, bonus_months=[6, 12]).enrollment_id == \
        enr.enrollment_id
    with pytest.raises(Conflict) as err:
        company(kiroku, CORP_A).enroll(CORP_A, "BONUS_PAYMENT", PENSION_OFFICE, bonus_months=[7, 12])
    assert (err.value.code, err.value.field) == ("enrolled_otherwise", "bonus_months")


@pytest.mark.parametrize(("procedure", "agency_id", "months", "code", "field"), [
    ("BONUS_PAYMENT", PENSION_OFFICE, [0], "invalid_month", "bonus_months[0]"),
    ("BONUS_PAYMENT", PENSION_OFFICE, [6, 13], "invalid_month", "bonus_months[1]"),
    ("BONUS_PAYMENT", PENSION_OFFICE, [6, 6], "repeated_month", "bonus_months"),
    # 賞与 = pay "三月を超える期間ごとに受けるもの" (健康保険法第3条第6項): four a year are 報酬, not 賞与.
    ("BONUS_PAYMENT", PENSION_OFFICE, [3, 6, 9, 12], "too_many_months", "bonus_months"),
    ("STANDARD_REMUNERATION", PENSION_OFFICE, [6], "unexpected_bonus_months", "bonus_months"),
    ("BONUS_NON_PAYMENT", PENSION_OFFICE, None, "enrolled_with_another", "procedure"),
])
def test_bad_bonus_months_are_refused_naming_the_field(kiroku, procedure, agency_id, months, code, field):
    ends = log_ends(kiroku)
    with pytest.raises(ValidationError) as err:
        company(kiroku, CORP_A).enroll(CORP_A, procedure, agency_id, bonus_months=months)
    assert (err.value.code, err.value.field) == (code, field)
    assert log_ends(kiroku) == ends


def test_a_non_payment_report_is_filed_for_the_month_and_reaches_the_bonus_enrollments_pension_office(kiroku, clock):
    enroll_bonus(kiroku, CORP_A, [6, 12])
    clock.set(jst(2027, 7, 1))
    receipt = company(kiroku, CORP_A).record(CORP_A, "BONUS_NON_PAYMENT", "2027-06", non_payment(changed="07,12"))
    assert receipt.targets == [PENSION_OFFICE]
    assert (receipt.deadline, receipt.on_time, receipt.reached_no_agency) == (JUNE_2027_PASSES, True, False)
    [notice] = agency(kiroku, PENSION_OFFICE).notices()
    assert (notice.procedure, notice.period, notice.assigned_id) == ("BONUS_NON_PAYMENT", "2027-06", "01-イロハ 12345")
    snap = agency(kiroku, PENSION_OFFICE).snapshot(receipt.submission_id)
    assert snap.payload is not None
    assert snap.payload["lines"] == [{"scheduled_month": "2027-06", "not_paid": 1, "changed_months": "07,12"}]


def test_a_non_payment_report_with_a_bad_month_names_the_line_field(kiroku):
    with pytest.raises(ValidationError) as err:
        company(kiroku, CORP_A).record(CORP_A, "BONUS_NON_PAYMENT", "2026-06", non_payment(month="2026-6"))
    assert err.value.errors[0].field == "lines[1].scheduled_month"  # type: ignore[attr-defined]


def test_a_registered_month_with_neither_report_is_reported_missing_once_after_its_deadline(kiroku, clock):
    clock.set(jst(2027, 5, 1))
    enr = enroll_bonus(kiroku, CORP_A, [6, 12])
    enroll_bonus(kiroku, CORP_B, [6, 12])
    clock.set(jst(2027, 6, 25))
    company(kiroku, CORP_B).record(CORP_B, "BONUS_PAYMENT", "2027-06-25", bonus_payment())  # paid: nothing missing

    clock.set(JUNE_2027_PASSES - timedelta(seconds=1))
    assert kiroku.commands.report_missing() == []
    clock.set(JUNE_2027_PASSES)
    assert kiroku.commands.report_missing() == [(PENSION_OFFICE, CORP_A, "BONUS_NON_PAYMENT", "2027-06")]
    [missing] = agency(kiroku, PENSION_OFFICE).missing_report()
    assert (missing.enrollment_id, missing.deadline, missing.assigned_id) == (enr, JUNE_2027_PASSES, "01-イロハ 12345")

    ends = filing_ends(kiroku)
    clock.set(jst(2027, 8, 1))
    assert kiroku.commands.report_missing() == []  # once
    assert filing_ends(kiroku) == ends


def test_a_non_payment_report_or_a_bonus_paid_in_the_month_answers_it(kiroku, clock):
    clock.set(jst(2026, 11, 1))
    enroll_bonus(kiroku, CORP_A, [6, 12])
    clock.set(jst(2026, 12, 28))
    company(kiroku, CORP_A).record(CORP_A, "BONUS_NON_PAYMENT", "2026-12", non_payment(month="2026-12"))
    clock.set(jst(2027, 6, 30))
    company(kiroku, CORP_A).record(CORP_A, "BONUS_PAYMENT", "2027-06-30", bonus_payment())
    clock.set(jst(2028, 1, 10))
    assert kiroku.commands.report_missing() == [(PENSION_OFFICE, CORP_A, "BONUS_NON_PAYMENT", "2027-12")]


def test_a_bonus_paid_in_another_month_does_not_answer_the_registered_one(kiroku, clock):
    """Registered for June, paid in July: June needs a 賞与不支給報告書 (kobayashiroumu.jp above)."""
    clock.set(jst(2027, 5, 1))
    enroll_bonus(kiroku, CORP_A, [6])
    clock.set(jst(2027, 7, 2))
    company(kiroku, CORP_A).record(CORP_A, "BONUS_PAYMENT", "2027-07-01", bonus_payment())
    clock.set(jst(2027, 7, 10))
    assert kiroku.commands.report_missing() == [(PENSION_OFFICE, CORP_A, "BONUS_NON_PAYMENT", "2027-06")]


def test_an_enrollment_without_bonus_months_expects_no_report(kiroku, clock):
    clock.set(jst(2027, 5, 1))
    enroll_bonus(kiroku, CORP_A, None)
    clock.set(jst(2028, 5, 1))
    assert kiroku.commands.report_missing() == []


def test_the_company_is_reminded_of_a_registered_month_until_it_files_one_or_the_other(kiroku, clock):
    clock.set(jst(2027, 6, 20))
    enroll_bonus(kiroku, CORP_A, [6, 12])
    view = company_view(kiroku, CORP_A)
    assert view.reminders(within=timedelta(days=30)) == [("BONUS_NON_PAYMENT", "2027-06", JUNE_2027_PASSES)]
    company(kiroku, CORP_A).record(CORP_A, "BONUS_NON_PAYMENT", "2027-06", non_payment())
    assert view.reminders(within=timedelta(days=30)) == []
