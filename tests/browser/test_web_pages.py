"""The web pages in a real Chromium (Debian's chromium through chromium-driver): a municipal clerk signs in
with the link ``kiroku web invite`` made, reads the notice inbox and a filing as the municipality may see it;
a company's payroll staff see their filings and who read them, by name. axe-core (WCAG 2.2 AA) finds nothing
on any page, at 1280 and at 320 px, in Japanese and in English; nothing needs JavaScript."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from ledger.domain.model import Principal
from ledger.service.staff import StaffStore
from tests.browser.conftest import Page
from tests.factories import CHIYODA, CORP_A, SAPPORO, payroll, payroll_line
from tests.integration.helpers import company, enroll_payroll, municipality
from viewers.http.app import create_app
from viewers.http.server import serve_in_thread

CHIYODA_ID = municipality(CHIYODA)


@pytest.fixture
def site(kiroku, home, clock) -> Iterator[tuple[str, StaffStore]]:
    """The HTTP API with its pages, served on loopback, over a deployment with one filing for 千代田区 and 札幌市."""
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll(lines=[payroll_line(1, CHIYODA), payroll_line(2, SAPPORO)]))
    kiroku.processors.catch_up()
    staff = StaffStore.for_home(home, clock)
    with serve_in_thread(create_app(kiroku, staff=staff, rate=0)) as url:
        yield url, staff
    staff.close()


def sign_in(page: Page, url: str, staff: StaffStore, principal: str, person: str, *, check: bool = True) -> None:
    _, link = staff.invite(principal, person)
    page.open(f"{url}/web/invite/{link}")
    assert person in page.driver.find_element(By.TAG_NAME, "main").text
    if check:
        page.assert_accessible()
    page.driver.find_element(By.CSS_SELECTOR, "main form button").click()
    arrive(page, lambda here: "/web/invite" not in here)


def arrive(page: Page, where: object) -> None:
    """Wait for the navigation a click started (a form's POST and its redirect) to land."""
    WebDriverWait(page.driver, 10).until(lambda d: where(d.current_url) and d.execute_script("return document.readyState") == "complete")


def everywhere(page: Page, name: str) -> None:
    """axe at desktop width and at 320 px (no horizontal scroll of the page itself), and a screenshot."""
    page.assert_accessible()
    page.screenshot(name)
    with page.narrow():
        page.assert_accessible()
        wide = page.driver.execute_script(  # what is too wide, for the failure message
            "return ['main', 'header', '.scroll', 'h1', 'form', 'dl'].map(s => { const e = document.querySelector(s);"
            " return e ? s + ' scroll ' + e.scrollWidth + ', client ' + e.clientWidth : s })")
        assert page.driver.execute_script("return document.documentElement.scrollWidth") <= 320, wide
        page.screenshot(f"{name}-320")


def test_a_municipal_clerk_signs_in_reads_the_inbox_and_a_filing(page, site):
    url, staff = site
    sign_in(page, url, staff, f"agency:{CHIYODA_ID}", "山田 花子")
    driver = page.driver
    assert driver.current_url.endswith("/web/agency/notices")
    assert "山田 花子" in driver.find_element(By.CSS_SELECTOR, "header").text
    assert "新着: 1 件" in driver.find_element(By.TAG_NAME, "main").text
    everywhere(page, "agency-notices")
    driver.find_element(By.CSS_SELECTOR, "main table a").click()
    arrive(page, lambda here: "/web/agency/submissions/" in here)
    text = driver.find_element(By.TAG_NAME, "main").text
    assert "E0001" in text and "E0002" not in text  # 札幌市's resident is not shown to 千代田区
    everywhere(page, "agency-submission")
    driver.find_element(By.LINK_TEXT, "未提出").click()
    arrive(page, lambda here: here.endswith("/web/agency/missing"))
    everywhere(page, "agency-missing")
    driver.find_element(By.LINK_TEXT, "English").click()
    arrive(page, lambda here: "lang=en" in here)
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    everywhere(page, "agency-missing-en")
    driver.find_element(By.CSS_SELECTOR, "header form button").click()  # sign out (a POST with its CSRF token)
    arrive(page, lambda here: "/web/sign-in" in here)
    page.assert_accessible()
    page.open(f"{url}/web/agency/notices")
    assert "/web/sign-in" in driver.current_url  # the session is over


def test_the_companys_staff_see_their_filings_and_who_read_them(page, site):
    url, staff = site
    sign_in(page, url, staff, f"agency:{CHIYODA_ID}", "山田 花子")
    page.driver.find_element(By.CSS_SELECTOR, "main table a").click()
    arrive(page, lambda here: "/web/agency/submissions/" in here)
    page.driver.delete_all_cookies()
    sign_in(page, url, staff, f"company:{CORP_A}", "経理 一郎")
    driver = page.driver
    assert driver.current_url.endswith("/web/company")
    assert "給与支払報告書" in driver.find_element(By.TAG_NAME, "main").text
    everywhere(page, "company-home")
    driver.find_element(By.LINK_TEXT, "閲覧記録").click()
    arrive(page, lambda here: here.endswith("/web/company/access"))
    assert "山田 花子" in driver.find_element(By.TAG_NAME, "main").text
    everywhere(page, "company-access-log")


def test_pages_read_without_javascript(page, site):
    """Reading needs no script: with JavaScript off the inbox still lists the filing (CDP Emulation)."""
    url, staff = site
    page.driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        sign_in(page, url, staff, f"agency:{CHIYODA_ID}", "山田 花子", check=False)  # (axe is a script)
        assert "sub_" in page.driver.find_element(By.CSS_SELECTOR, "main table").text
    finally:
        page.driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


def test_the_company_verifies_its_receipt_in_the_browser_and_a_tampered_file_is_refused(page, site, kiroku, tmp_path):
    """WebCrypto Ed25519 (C2SP signed note) and SHA-256 (RFC 6962 leaf, RFC 9162 inclusion) in static/verify.js,
    against the key the deployment publishes; the downloaded file is the one kiroku verify --receipt takes."""
    import base64
    import json

    url, staff = site
    [filing] = kiroku.queries.filings(Principal.company(CORP_A), CORP_A)
    sign_in(page, url, staff, f"company:{CORP_A}", "経理 一郎")
    driver = page.driver
    driver.find_element(By.LINK_TEXT, filing.submission_id).click()
    arrive(page, lambda here: "/web/company/receipts/" in here)
    driver.find_element(By.ID, "verify-this").click()
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#verify-result .verdict"))
    result = driver.find_element(By.ID, "verify-result")
    assert "検証できました" in result.text
    checks = {li.get_attribute("data-check"): li.get_attribute("data-ok") for li in result.find_elements(By.TAG_NAME, "li")}
    assert checks == {"format": "true", "key": "true", "signature": "true", "origin": "true", "leaf": "true", "inclusion": "true",
                      "fields": "null"}
    everywhere(page, "company-receipt")
    proof = json.loads(kiroku.transparency.receipt_with_proof(Principal.company(CORP_A), filing.submission_id).to_json())
    entry = bytearray(base64.b64decode(proof["entry"]))
    entry[-1] ^= 1
    tampered = tmp_path / "tampered.receipt.json"
    tampered.write_text(json.dumps({**proof, "entry": base64.b64encode(bytes(entry)).decode()}))
    driver.find_element(By.ID, "verify-file").send_keys(str(tampered))
    WebDriverWait(driver, 10).until(lambda d: "検証できませんでした" in d.find_element(By.ID, "verify-result").text)
    bad = {li.get_attribute("data-check"): li.get_attribute("data-ok")
           for li in driver.find_elements(By.CSS_SELECTOR, "#verify-result li")}
    assert bad["leaf"] == "false" and bad["signature"] == "true"
