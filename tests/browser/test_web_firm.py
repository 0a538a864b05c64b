"""The company's filings by deadline and filing by upload, in a real Chromium: a company's payroll clerk reads the
board, uploads a payroll CSV through the file input and opens the receipt; a firm's staff read a client's filings,
upload a 315 file with a row refused and a row in error, and open a disposition from the inbox. axe-core (WCAG 2.2
AA) finds nothing at 1280 and at 320 px; the upload works with JavaScript off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from ledger.service.staff import StaffStore
from tests.browser.conftest import Page
from tests.browser.test_web_pages import arrive, everywhere, sign_in
from tests.factories import CHIYODA, CORP_A, CORP_B, payroll
from tests.import_files import eltax_cells, eltax_file, payroll_csv_text
from tests.integration.helpers import agency, company, enroll_payroll, grant_until, municipality, special_collection
from viewers.http.app import create_app
from viewers.http.server import serve_in_thread

FIRM = "firm:tanaka-zeirishi"


@pytest.fixture
def site(kiroku, home, clock) -> Iterator[tuple[str, StaffStore]]:
    """The pages on loopback over: company A enrolled for 給与支払報告書 with last year's filing; company B's grant to the
    firm (submit, read, receive dispositions), one filing of B's and a disposition for B."""
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    enroll_payroll(kiroku, CORP_B, CHIYODA)
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2024", payroll())
    company(kiroku, CORP_B).grant(FIRM, ["PAYROLL_REPORT"], ["submit", "read", "receive_notices"], grant_until(kiroku))
    company(kiroku, CORP_B).record(CORP_B, "PAYROLL_REPORT", "2025", payroll())
    agency(kiroku, municipality(CHIYODA)).issue_disposition(CORP_B, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection())
    kiroku.processors.catch_up()
    staff = StaffStore.for_home(home, clock)
    with serve_in_thread(create_app(kiroku, staff=staff, rate=0)) as url:
        yield url, staff
    staff.close()


def wait_done(page: Page) -> str:
    """The upload's answer, once its last part (the result) has arrived."""
    WebDriverWait(page.driver, 20).until(lambda d: d.find_elements(By.ID, "problems-h") or d.find_elements(By.CSS_SELECTOR, ".failure"))
    arrive(page, lambda here: "/upload" in here)
    return page.driver.find_element(By.TAG_NAME, "main").text


def test_the_company_reads_its_board_uploads_a_payroll_csv_and_opens_the_receipt(page, site, tmp_path: Path):
    url, staff = site
    sign_in(page, url, staff, f"company:{CORP_A}", "経理 一郎")
    driver = page.driver
    text = driver.find_element(By.TAG_NAME, "main").text
    assert "提出待ち（期限前）" in text and "その他の提出" in text  # 2026 is due; 2024's filing is on no row
    everywhere(page, "company-board")
    driver.find_element(By.CSS_SELECTOR, "details.rules summary").click()
    assert "未提出" in driver.find_element(By.CSS_SELECTOR, "details.rules").text
    driver.find_element(By.LINK_TEXT, "ファイルで提出").click()
    arrive(page, lambda here: here.endswith("/web/company/upload"))
    everywhere(page, "company-upload")
    csv_file = tmp_path / "KYUYO.CSV"
    csv_file.write_bytes(payroll_csv_text(CORP_A).encode("cp932"))
    driver.find_element(By.ID, "u-file").send_keys(str(csv_file))
    Select(driver.find_element(By.ID, "u-encoding")).select_by_value("cp932")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    text = wait_done(page)
    assert "1 件を記録しました" in text and "問題はありませんでした" in text and "山田" not in text
    everywhere(page, "company-upload-result")
    driver.find_element(By.CSS_SELECTOR, "main table a[href*='/company/receipts/']").click()
    arrive(page, lambda here: "/web/company/receipts/" in here)
    driver.find_element(By.LINK_TEXT, "ホーム").click()
    arrive(page, lambda here: here.endswith("/web/company"))
    assert "期限内に提出" in driver.find_element(By.TAG_NAME, "main").text
    driver.find_element(By.LINK_TEXT, "English").click()
    arrive(page, lambda here: "lang=en" in here)
    assert "Filed on time" in driver.find_element(By.TAG_NAME, "main").text
    everywhere(page, "company-board-en")


def test_the_firm_reads_a_clients_filings_uploads_for_its_clients_and_opens_a_disposition(page, site, tmp_path: Path):
    url, staff = site
    sign_in(page, url, staff, FIRM, "田中 税理士")
    driver = page.driver
    everywhere(page, "firm-clients")
    driver.find_element(By.PARTIAL_LINK_TEXT, f"{CORP_B} の提出データ").click()
    arrive(page, lambda here: "/web/firm/filings" in here)
    assert "給与支払報告書" in driver.find_element(By.TAG_NAME, "main").text
    everywhere(page, "firm-client-filings")
    driver.find_element(By.LINK_TEXT, "ファイルで提出").click()
    arrive(page, lambda here: here.endswith("/web/firm/upload"))
    everywhere(page, "firm-upload")
    eltax = tmp_path / "315.csv"  # company A granted the firm nothing; in B's 2024 filing an amount is not a number
    eltax.write_bytes(eltax_file([eltax_cells(CORP_A, 1), eltax_cells(CORP_B, 1),
                                  eltax_cells(CORP_B, 2, year="06", **{"line.payment_amount": "abc"})]).encode("cp932"))
    driver.find_element(By.ID, "u-file").send_keys(str(eltax))
    Select(driver.find_element(By.ID, "u-format")).select_by_value("eltax-315")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    text = wait_done(page)
    assert "1 件を記録しました" in text and "forbidden" in text and "支払金額" in text and "山田" not in text
    everywhere(page, "firm-upload-result")
    driver.find_element(By.LINK_TEXT, "処分通知").click()
    arrive(page, lambda here: here.endswith("/web/firm/inbox"))
    everywhere(page, "firm-inbox")
    driver.find_element(By.CSS_SELECTOR, "main table a[href*='/firm/dispositions/']").click()
    arrive(page, lambda here: "/web/firm/dispositions/" in here)
    assert "到達日時" in driver.find_element(By.TAG_NAME, "main").text
    everywhere(page, "firm-disposition")


def test_uploading_works_without_javascript(page, site, tmp_path: Path):
    url, staff = site
    page.driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        sign_in(page, url, staff, f"company:{CORP_A}", "経理 一郎", check=False)
        page.open(f"{url}/web/company/upload")
        csv_file = tmp_path / "KYUYO.CSV"
        csv_file.write_bytes(payroll_csv_text(CORP_A, 2).encode("utf-8"))
        page.driver.find_element(By.ID, "u-file").send_keys(str(csv_file))
        page.driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
        assert "1 件を記録しました" in wait_done(page)
    finally:
        page.driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
