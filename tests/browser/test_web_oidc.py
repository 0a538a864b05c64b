"""Signing in to the pages in Chromium through a real OpenID Provider (panva's oidc-provider on loopback, standing
in for GビズID or an agency's own provider): the first time from the one-time link, which binds the provider's
identity to the account; afterwards from the sign-in page alone. The provider's own login and consent pages are
filled in as a person would; Kiroku's pages pass axe on the way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from infra.oidc import OidcProvider, default_client, start_provider
from infra.services import ToolMissing, free_port
from ledger.service.staff import StaffStore
from tests.browser.conftest import Page
from tests.browser.test_web_pages import arrive
from tests.factories import CHIYODA
from tests.integration.helpers import municipality
from tests.service_fixtures import unavailable
from viewers.http.app import create_app
from viewers.http.server import serve_in_thread
from viewers.web.oidc import OidcClient, OidcConfig

AGENCY = f"agency:{municipality(CHIYODA)}"


@pytest.fixture
def site(kiroku, home, clock) -> Iterator[tuple[str, StaffStore, OidcProvider]]:
    port = free_port()
    client = default_client("kiroku-web", f"http://127.0.0.1:{port}/web/oidc/callback")
    with ExitStack() as stack:
        try:
            provider = stack.enter_context(start_provider(clients=[client]))
        except ToolMissing as exc:
            unavailable(f"the local OpenID Provider (oidc-provider on Node.js) cannot start: {exc}")
        rp = stack.enter_context(OidcClient(OidcConfig(issuer=provider.issuer, client_id=client.client_id,
                                                       client_secret=client.client_secret, redirect_uri=client.redirect_uris[0])))
        staff = StaffStore.for_home(home, clock)
        stack.callback(staff.close)
        url = stack.enter_context(serve_in_thread(create_app(kiroku, staff=staff, rate=0, oidc=rp), port=port))
        yield url, staff, provider


def through_the_provider(page: Page, login: str) -> None:
    """Fill in the provider's login page (its development form: any password) and confirm its consent page."""
    driver = page.driver
    try:
        WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.NAME, "login"))
    except Exception:
        raise AssertionError(driver.current_url + "\n" + driver.find_element(By.TAG_NAME, "body").text[:800]) from None
    driver.find_element(By.NAME, "login").send_keys(login)
    driver.find_element(By.NAME, "password").send_keys("any")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit], form [type=submit]").click()
    WebDriverWait(driver, 10).until(lambda d: "/web/" in d.current_url or d.find_elements(By.CSS_SELECTOR, "form [type=submit]"))
    if "/web/" not in driver.current_url:  # the consent page
        driver.find_element(By.CSS_SELECTOR, "form [type=submit]").click()
    arrive(page, lambda here: here.endswith("/web/agency/notices"))


def test_a_clerk_links_the_provider_through_the_link_and_then_signs_in_with_it_alone(page, site):
    url, staff, _ = site
    account, link = staff.invite(AGENCY, "山田 花子")
    page.open(f"{url}/web/invite/{link}")
    page.assert_accessible()
    page.driver.find_element(By.XPATH, "//button[contains(., 'OpenID Connect')]").click()
    through_the_provider(page, "staff-001")
    assert "山田 花子" in page.driver.find_element(By.TAG_NAME, "header").text
    page.assert_accessible()
    assert staff.account(account.staff_id).oidc_subject == "staff-001"
    page.driver.delete_all_cookies()
    page.open(f"{url}/web/sign-in")
    page.assert_accessible()
    page.driver.find_element(By.XPATH, "//button[contains(., 'OpenID Connect')]").click()
    through_the_provider(page, "staff-001")
    assert "山田 花子" in page.driver.find_element(By.TAG_NAME, "header").text
