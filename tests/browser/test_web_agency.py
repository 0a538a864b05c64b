"""The agency's pages in a real Chromium: a municipal clerk searches its filings, opens one, follows a
person's 受給者番号 to what changed in their line, finds the downloads; issues a 特別徴収税額決定通知 to
one company from the form and to many from a file (the page streams a line per company); and reads
the filing progress through the deadline as a chart and a table. axe-core (WCAG 2.2 AA) finds nothing
on any page at 1280 and 320 px; nothing needs JavaScript."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By

from ledger.service.staff import StaffStore
from tests.browser.conftest import Page
from tests.browser.test_web_pages import arrive, everywhere, sign_in
from tests.factories import CHIYODA, CORP_A, CORP_B, SAPPORO, payroll, payroll_line
from tests.integration.helpers import company, corp_number, enroll_payroll, jst, municipality
from viewers.http.app import create_app
from viewers.http.server import serve_in_thread

CHIYODA_ID = municipality(CHIYODA)
LATE, NEVER = corp_number(11), corp_number(12)


@pytest.fixture
def site(kiroku, home, clock) -> Iterator[tuple[str, StaffStore]]:
    """CORP_A filed on time to 千代田区 and 札幌市 and corrected E0001; LATE filed after the deadline;
    NEVER filed nothing (reported missing); CORP_B is 札幌市's alone. Now: 5 February 2027."""
    clock.set(jst(2027, 1, 4, 9, 0))
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    enroll_payroll(kiroku, CORP_B, SAPPORO)
    for corp in (LATE, NEVER):
        enroll_payroll(kiroku, corp, CHIYODA)
    clock.set(jst(2027, 1, 14, 10, 0))
    first = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll(
        lines=[payroll_line(1, CHIYODA), payroll_line(2, SAPPORO)]))
    company(kiroku, CORP_B).record(CORP_B, "PAYROLL_REPORT", "2026", payroll(lines=[payroll_line(1, SAPPORO)]))
    clock.set(jst(2027, 1, 21, 10, 0))
    company(kiroku, CORP_A).correct(first.submission_id, payroll(
        [{**payroll_line(1, CHIYODA, payment_amount=5_300_000), "line_action": "CORRECT"}]))
    clock.set(jst(2027, 2, 2, 0, 30))
    kiroku.commands.report_missing()
    clock.set(jst(2027, 2, 3, 11, 0))
    company(kiroku, LATE).record(LATE, "PAYROLL_REPORT", "2026", payroll())
    clock.set(jst(2027, 2, 5, 9, 0))
    kiroku.processors.catch_up()
    staff = StaffStore.for_home(home, clock)
    with serve_in_thread(create_app(kiroku, staff=staff, rate=0)) as url:
        yield url, staff
    staff.close()


def main_text(page: Page) -> str:
    return str(page.driver.find_element(By.TAG_NAME, "main").text)


def test_a_clerk_searches_opens_a_filing_and_follows_a_persons_changes(page, site):
    url, staff = site
    sign_in(page, url, staff, f"agency:{CHIYODA_ID}", "山田 花子")
    driver = page.driver
    driver.find_element(By.LINK_TEXT, "提出データ").click()
    arrive(page, lambda here: here.endswith("/web/agency/filings"))
    everywhere(page, "agency-filings-empty")
    driver.find_element(By.ID, "f-company").send_keys(CORP_A)
    driver.find_element(By.CSS_SELECTOR, "form.search button").click()
    arrive(page, lambda here: "company=" in here)
    assert CORP_A in main_text(page) and CORP_B not in main_text(page)
    everywhere(page, "agency-filings")
    driver.find_element(By.CSS_SELECTOR, "main table a").click()
    arrive(page, lambda here: "/web/agency/submissions/" in here)
    text = main_text(page)
    assert "E0001" in text and "E0002" not in text and "Excel（xlsx）" in text and "CSV（Shift_JIS）" in text
    everywhere(page, "agency-submission-links")
    driver.find_element(By.LINK_TEXT, "E0001").click()
    arrive(page, lambda here: here.endswith("/person/E0001"))
    text = main_text(page)
    assert "payment_amount" in text and "5300000" in text and "訂正" in text
    everywhere(page, "agency-person")
    driver.find_element(By.LINK_TEXT, "English").click()
    arrive(page, lambda here: "lang=en" in here)
    assert "corrected" in main_text(page)
    everywhere(page, "agency-person-en")


def test_a_clerk_issues_a_notice_from_the_form_and_many_from_a_file(page, site, tmp_path):
    url, staff = site
    sign_in(page, url, staff, f"agency:{CHIYODA_ID}", "山田 花子")
    driver = page.driver
    driver.find_element(By.LINK_TEXT, "処分通知の発出").click()
    arrive(page, lambda here: here.endswith("/web/agency/dispositions/new"))
    assert "7月以降の月額" in main_text(page)
    everywhere(page, "agency-dispositions-new")
    driver.find_element(By.ID, "one-company").send_keys(CORP_A)
    driver.find_element(By.ID, "one-period").send_keys("2027")
    driver.find_element(By.ID, "one-lines").send_keys("E0001,山田 太郎,240000,21100,19900")
    driver.find_element(By.CSS_SELECTOR, "form[action$='/dispositions/one'] button").click()
    arrive(page, lambda here: here.endswith("/web/agency/dispositions/one"))
    assert "1 社に発出しました" in main_text(page)
    everywhere(page, "agency-dispositions-one")
    page.open(f"{url}/web/agency/dispositions/new")
    upload = tmp_path / "notices.csv"
    upload.write_bytes(("法人番号,受給者番号,氏名,年税額,6月分,7月以降の月額\r\n"
                        f"{CORP_A},E0001,山田 太郎,240000,21100,19900\r\n"
                        f"{LATE},E0001,秘密 花子,240000,21100,19950\r\n").encode("cp932"))
    driver.find_element(By.ID, "bulk-period").send_keys("2027")
    driver.find_element(By.ID, "bulk-file").send_keys(str(upload))
    driver.find_element(By.CSS_SELECTOR, "form[action$='/dispositions/bulk'] button").click()
    arrive(page, lambda here: here.endswith("/web/agency/dispositions/bulk"))
    text = main_text(page)
    assert f"{CORP_A}: 1 人分を発出しました" in text and f"{LATE}: 誤りがあるため発出しませんでした" in text
    assert "秘密" not in text
    everywhere(page, "agency-dispositions-bulk")


def test_the_filing_progress_through_january_is_a_chart_and_a_table(page, site):
    url, staff = site
    sign_in(page, url, staff, f"agency:{CHIYODA_ID}", "山田 花子")
    driver = page.driver
    driver.find_element(By.LINK_TEXT, "提出の進捗").click()
    arrive(page, lambda here: "/web/agency/progress" in here)
    svg = driver.find_element(By.CSS_SELECTOR, "svg[role='img']")
    assert svg.find_element(By.TAG_NAME, "title").get_attribute("textContent")
    assert "期限後 1 社" in str(svg.find_element(By.TAG_NAME, "desc").get_attribute("textContent"))
    assert "2027-02-03" in main_text(page)
    everywhere(page, "agency-progress")
    driver.find_element(By.LINK_TEXT, "English").click()
    arrive(page, lambda here: "lang=en" in here)
    everywhere(page, "agency-progress-en")


def test_the_agency_pages_work_without_javascript(page, site):
    url, staff = site
    page.driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        sign_in(page, url, staff, f"agency:{CHIYODA_ID}", "山田 花子", check=False)
        page.open(f"{url}/web/agency/progress?procedure=PAYROLL_REPORT&period=2026")
        assert page.driver.find_element(By.CSS_SELECTOR, "svg[role='img']") and "2027-02-03" in main_text(page)
        page.open(f"{url}/web/agency/filings?procedure=PAYROLL_REPORT")
        assert CORP_A in main_text(page)
    finally:
        page.driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
