"""E12 (issue 15, item 5): an employer in a 健康保険組合 files the 健康保険 part of its 算定基礎届 and
賞与支払届 with the 組合, the 厚生年金 part with the 年金事務所 — one filing reaches both.

健康保険法第48条: the employer reports its insured persons' 報酬月額 and 賞与額 to the 保険者, which
for a 健康保険組合's members is the 組合 (e.g. https://ijyu-kenpo.jp/topic/licence_2022_08v2.html; payroll
software offers 年金事務所 / 健康保険組合 / 厚生年金基金 as destinations — smartcalc.jp u03-05;
japan-forms-review.md Part 3, E12). A 組合's 保険者番号 has the 法別番号 06 (厚生労働省「診療報酬請求書等の
記載要領」, 法別番号及び制度の略称表: 06 組合管掌健康保険)."""

from __future__ import annotations

import pytest

from ledger.domain.procedures import PROCEDURES
from ledger.errors import ValidationError
from ledger.service.sealing import MASK
from tests.factories import CORP_A, personal
from tests.integration.helpers import agency, company, enroll_to, jst

pytestmark = pytest.mark.integration

PENSION = "pension-office:0101"
SOCIETY = "health-insurance-society:06139999"


def bonus() -> dict:
    return {"office": {"name": "株式会社記録", "address": "東京都千代田区丸の内1-1"},
            "lines": [{"insured_number": 12,
                       "person": {"name": "高橋 一郎", "birth_date": "1952-04-01", "personal_number": personal(90_001)},
                       "remarks": ["AGE_70_PLUS"], "bonus_amount": 500_000}]}


def test_a_bonus_report_reaches_the_pension_office_and_the_health_insurance_society(kiroku, clock) -> None:
    clock.set(jst(2027, 7, 1, 10, 0))
    enroll_to(kiroku, CORP_A, "BONUS_PAYMENT", PENSION)
    enroll_to(kiroku, CORP_A, "BONUS_PAYMENT", SOCIETY)
    receipt = company(kiroku, CORP_A).record(CORP_A, "BONUS_PAYMENT", "2027-06-25", bonus())
    assert receipt.targets == sorted([PENSION, SOCIETY])
    society = agency(kiroku, SOCIETY)
    assert [n.submission_id for n in society.notices()] == [receipt.submission_id]
    snap = society.snapshot(receipt.submission_id)
    assert snap.legal_basis == PROCEDURES["BONUS_PAYMENT"].also_basis and snap.legal_basis.startswith("健康保険法第48条")
    # The number on this form is the 70歳以上被用者's, for 厚生年金: the pension office's, not the 組合's.
    assert snap.personal_numbers == "masked" and snap.payload["lines"][0]["person"]["personal_number"] == MASK
    assert agency(kiroku, PENSION).snapshot(receipt.submission_id).personal_numbers == "shown"


@pytest.mark.parametrize(("agency_id", "code"), [("health-insurance-society:01130011", "invalid_agency"),
                                                 ("health-insurance-society:0613", "invalid_agency")])
def test_a_health_insurance_society_is_named_by_its_06_insurer_number(kiroku, agency_id: str, code: str) -> None:
    with pytest.raises(ValidationError) as err:
        company(kiroku, CORP_A).enroll(CORP_A, "BONUS_PAYMENT", agency_id)
    assert (err.value.code, err.value.field) == (code, "agency_id")


def test_a_health_insurance_society_receives_no_salary_payment_report(kiroku) -> None:
    with pytest.raises(ValidationError) as err:
        company(kiroku, CORP_A).enroll(CORP_A, "WITHHOLDING_SLIP", SOCIETY)
    assert (err.value.code, err.value.field) == ("wrong_agency", "agency_id")
