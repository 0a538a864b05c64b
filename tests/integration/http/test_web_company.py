"""The company's filings by deadline (issue 16, item 3): for each enrolled procedure its previous and current
period, each row filed on time, filed late, missing or due, counted at the top, every filed row linking its
receipt — computed from the company's own views, with the clock moved through a year of deadlines."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from ledger.service.staff import StaffStore
from tests.factories import CHIYODA, CORP_A, payroll, withholding
from tests.integration.helpers import (
    PENSION_OFFICE,
    TAX_OFFICE,
    bonus_payment,
    company,
    enroll_payroll,
    enroll_to,
    jst,
    standard_remuneration,
)
from tests.integration.http.web import sign_in as web_sign_in

pytestmark = pytest.mark.integration

STATES = {"期限内に提出": "on_time", "期限後に提出": "late", "未提出（期限経過）": "missing", "提出待ち（期限前）": "due"}









def sign_in(web: TestClient, staff: StaffStore, principal: str, person: str = "経理 一郎") -> str:
    return web_sign_in(web, staff, principal, person)

def board(web: TestClient, staff: StaffStore) -> tuple[dict[str, int], list[tuple[str, str, str, str | None]]]:
    """The dashboard's counts by state, and its rows as (procedure, period, state, submission linked) — signed
    in afresh (the test's clock moves by months: a session would be long over)."""
    web.cookies.clear()
    sign_in(web, staff, f"company:{CORP_A}")
    page = web.get("/web/company", follow_redirects=False)
    assert page.status_code == 200
    found = re.findall(r'<span class="n">(\d+)</span> <span class="state">([^<]+)</span>', page.text)
    counts = {STATES[label]: int(n) for n, label in found}
    rows = []
    for tr in re.findall(r'<tr class="row-\w+">(.*?)</tr>', page.text, re.S):
        cells = re.findall(r"<td>(.*?)</td>", tr, re.S)
        link = re.search(r'href="/web/company/receipts/(sub_\w+)"', tr)
        rows.append((cells[0], re.sub(r"（.*", "", cells[1]), STATES[re.search(r'class="state state-\w+">([^<]+)<', tr)[1]],
                     link[1] if link else None))
    return counts, rows


def test_each_enrolled_period_is_due_then_missing_then_filed_late_or_on_time_as_the_clock_moves(kiroku, web, staff, clock):
    clock.set(jst(2026, 3, 1, 10))
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    enroll_to(kiroku, CORP_A, "STANDARD_REMUNERATION", PENSION_OFFICE)
    enroll_to(kiroku, CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    # March 2026: the periods whose deadline passed before the enrollment (2025's) are not expected.
    counts, rows = board(web, staff)
    assert {(p, period, state) for p, period, state, _ in rows} == {
        ("給与支払報告書", "2026", "due"), ("算定基礎届", "2026", "due"), ("源泉徴収票", "2026", "due")}
    assert counts == {"missing": 0, "due": 3, "late": 0, "on_time": 0}

    clock.set(jst(2026, 8, 1, 10))  # 算定基礎届 2026 was due on 10 July
    counts, rows = board(web, staff)
    assert ("算定基礎届", "2026", "missing", None) in rows and ("算定基礎届", "2027", "due", None) in rows
    assert counts == {"missing": 1, "due": 3, "late": 0, "on_time": 0}
    late = company(kiroku, CORP_A).record(CORP_A, "STANDARD_REMUNERATION", "2026", standard_remuneration())
    on_time = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    counts, rows = board(web, staff)
    assert ("算定基礎届", "2026", "late", late.submission_id) in rows
    assert ("給与支払報告書", "2026", "on_time", on_time.submission_id) in rows
    assert counts == {"missing": 0, "due": 2, "late": 1, "on_time": 1}

    clock.set(jst(2027, 2, 10, 10))  # past 2026's 31 January deadline (2 February 2027, rolled forward)
    corrected = company(kiroku, CORP_A).correct(on_time.submission_id, payroll())  # a late correction of an on-time filing
    counts, rows = board(web, staff)
    assert ("給与支払報告書", "2026", "on_time", corrected.submission_id) in rows  # still filed on time: the original was
    assert ("源泉徴収票", "2026", "missing", None) in rows and ("給与支払報告書", "2027", "due", None) in rows
    assert counts == {"missing": 1, "due": 3, "late": 1, "on_time": 1}
    company(kiroku, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding())
    counts, _ = board(web, staff)
    assert counts == {"missing": 0, "due": 3, "late": 2, "on_time": 1}


def test_every_filed_row_links_its_receipt_page_and_the_page_says_its_rules(kiroku, web, staff, clock):
    clock.set(jst(2026, 5, 1, 10))
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    older = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2024", payroll())  # on no row: listed after
    sign_in(web, staff, f"company:{CORP_A}")
    page = web.get("/web/company")
    assert f'href="/web/company/receipts/{receipt.submission_id}"' in page.text
    assert f'href="/web/company/receipts/{older.submission_id}"' in page.text and "その他の提出" in page.text
    assert "この表の決まり" in page.text and "<details" in page.text  # the rules, readable without a script
    assert web.get(f"/web/company/receipts/{receipt.submission_id}").status_code == 200
    english = web.get("/web/company?lang=en")
    assert "Filed on time" in english.text and "How this table is made" in english.text


def test_a_registered_bonus_month_is_a_period_answered_by_a_bonus_paid_in_it(kiroku, web, staff, clock):
    clock.set(jst(2026, 3, 1, 10))
    enr = company(kiroku, CORP_A).enroll(CORP_A, "BONUS_PAYMENT", PENSION_OFFICE, bonus_months=[6])
    from tests.integration.helpers import agency

    agency(kiroku, PENSION_OFFICE).accept(enr.enrollment_id)
    clock.set(jst(2026, 7, 20, 10))  # June's report was due on 6 July
    _, rows = board(web, staff)
    assert ("賞与不支給報告書", "2026-06", "missing", None) in rows
    paid = company(kiroku, CORP_A).record(CORP_A, "BONUS_PAYMENT", "2026-06-25", bonus_payment())
    _, rows = board(web, staff)
    assert ("賞与不支給報告書", "2026-06", "late", paid.submission_id) in rows  # 5 days after the payment: late


def test_a_company_with_nothing_enrolled_is_told_how_the_board_fills(web, staff):
    sign_in(web, staff, f"company:{CORP_A}")
    page = web.get("/web/company")
    assert page.status_code == 200 and "登録している手続はありません" in page.text
