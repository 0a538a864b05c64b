"""E10 (issue 15, item 5): from payment year 2026 one 給与支払報告書 through Kiroku also counts as the
源泉徴収票 filed with the tax office — one filing, two kinds of agency, one receipt.

令和5年度税制改正 (所得税法第226条): for 源泉徴収票 due on or after 2027-01-01, filing the 給与支払報告書
electronically with the municipality counts as filing the 給与所得の源泉徴収票 with the tax office
(orion-tax.jp/blog/1146; japan-forms-review.md Part 3, E10)."""

from __future__ import annotations

import pytest

from tests.factories import CHIYODA, CORP_A, SAPPORO, payroll, payroll_line
from tests.integration.helpers import agency, company, enroll_payroll, enroll_to, jst, municipality

pytestmark = pytest.mark.integration

TAX_OFFICE = "tax-office:01101"


@pytest.fixture
def enrolled(kiroku, clock):
    clock.set(jst(2027, 1, 20, 10, 0))
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    enroll_to(kiroku, CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    return kiroku


def test_a_2026_payroll_report_reaches_the_municipalities_and_the_tax_office_in_one_receipt(enrolled) -> None:
    k = enrolled
    lines = [payroll_line(1), payroll_line(2, SAPPORO)]
    receipt = company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll(lines))
    assert receipt.targets == sorted([municipality(CHIYODA), municipality(SAPPORO), TAX_OFFICE])
    office = agency(k, TAX_OFFICE)
    assert [n.submission_id for n in office.notices()] == [receipt.submission_id]
    snap = office.snapshot(receipt.submission_id)
    assert snap.payload is not None and len(snap.payload["lines"]) == 2  # every line: the tax office receives every slip
    assert snap.personal_numbers == "shown" and snap.legal_basis.startswith("所得税法第226条")
    assert [ln["person"]["personal_number"] for ln in snap.payload["lines"]] == [ln["person"]["personal_number"] for ln in lines]
    # Each municipality still sees only its residents' lines.
    sapporo = agency(k, municipality(SAPPORO)).snapshot(receipt.submission_id).payload
    assert sapporo is not None and [ln["person"]["name"] for ln in sapporo["lines"]] == [lines[1]["person"]["name"]]


def test_a_2025_payroll_report_does_not_reach_the_tax_office(enrolled) -> None:
    """The rule applies to 源泉徴収票 due on or after 2027-01-01: payment year 2025's were due in 2026."""
    k = enrolled
    receipt = company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2025", payroll([payroll_line(1)]))
    assert receipt.targets == [municipality(CHIYODA)]
    assert agency(k, TAX_OFFICE).notices() == []


def test_a_tax_office_the_company_did_not_enroll_with_is_not_reached(kiroku, clock) -> None:
    clock.set(jst(2027, 1, 20, 10, 0))
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1)]))
    assert receipt.targets == [municipality(CHIYODA)]
    assert agency(kiroku, TAX_OFFICE).notices() == []
