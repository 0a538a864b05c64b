"""The browser tier: Kiroku's pages in a real Chromium (Selenium), checked with axe-core.

Every test under ``tests/browser`` is marked ``browser`` (and ``e2e``: the conventions put browser
tests for pages in that tier). One headless Chromium serves the whole session (``chrome``); the
``page`` fixture hands a test that browser with its viewport reset, and the helpers here do the
checks every page owes:

- :func:`axe` injects axe-core (:func:`infra.browser.axe_source`, pinned) and returns the WCAG 2.0,
  2.1 and 2.2 A/AA violations; :func:`assert_accessible` fails listing them.
- :func:`narrow` sets a 320 CSS px viewport (WCAG 1.4.10 Reflow) and puts the old one back.
- :func:`screenshot` writes ``docs/screenshots/<name>.png``, only with ``WRITE_SCREENSHOTS=1``, so
  ordinary runs (and CI) never rewrite the committed pictures.

Kiroku's pages send ``Content-Security-Policy: script-src 'self'`` and no inline scripts. axe is
injected through WebDriver's ``execute_script``, which Chrome evaluates over the DevTools protocol
outside the page's CSP, so the policy needs no hole for the tests (``test_browser_tier`` holds it).

Debian's ``chromium`` and ``chromium-driver`` are required (``infra/run-tests.sh`` installs them as
root); when they are absent the tests skip with the apt command, except under ``CI=true``, where
they fail: CI must never pass by skipping.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from infra.browser import axe_source, chromium_paths
from infra.services import ToolMissing
from tests.service_fixtures import unavailable

T = TypeVar("T")

HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE.parents[1] / "docs" / "screenshots"
WIDTH, HEIGHT = 1280, 900
NARROW = 320  # WCAG 2.1 SC 1.4.10 Reflow: content readable at 320 CSS px without horizontal scrolling
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
"""axe-core rule tags run: WCAG 2.0, 2.1 and 2.2, levels A and AA (2.2 added no level-A rule axe checks)."""

_RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})
  .then(result => done({violations: result.violations}))
  .catch(error => done({error: String(error && error.stack || error)}));
"""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``browser`` and ``e2e`` (the hook sees the whole session)."""
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def chrome() -> Iterator[webdriver.Chrome]:
    """One headless Chromium (Debian's, through its chromedriver) for the whole session."""
    browser, driver_path = _provided(chromium_paths)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--lang=ja-JP",
                     f"--window-size={WIDTH},{HEIGHT}", "--force-device-scale-factor=1", "--hide-scrollbars"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "ja-JP,ja"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _provided(provide: Callable[[], T]) -> T:
    """``provide()``, a missing tool (browser, npm) skipping the test, or failing it under CI=true."""
    try:
        return provide()
    except ToolMissing as exc:
        missing = str(exc)
    unavailable(missing)


class Page:
    """The session's browser for one test, with the tier's checks as methods."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    def open(self, url: str) -> Page:
        self.driver.get(url)
        return self

    def narrow(self) -> Any:
        return narrow(self.driver)

    def axe(self, url: str | None = None) -> list[dict[str, Any]]:
        return axe(self.driver, url)

    def assert_accessible(self, url: str | None = None) -> None:
        assert_accessible(self.driver, url)

    def screenshot(self, name: str, directory: Path | None = None) -> Path | None:
        return screenshot(self.driver, name, directory)


@pytest.fixture
def page(chrome: webdriver.Chrome) -> Iterator[Page]:
    """The session's browser at the default 1280x900 viewport, cookies cleared after the test."""
    _clear_viewport(chrome)
    yield Page(chrome)
    _clear_viewport(chrome)
    chrome.delete_all_cookies()
    chrome.get("about:blank")


@contextmanager
def viewport(driver: webdriver.Chrome, width: int, height: int = HEIGHT) -> Iterator[webdriver.Chrome]:
    """The layout viewport at exactly ``width`` x ``height`` CSS px (a desktop page, scale 1)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    try:
        yield driver
    finally:
        _clear_viewport(driver)


def narrow(driver: webdriver.Chrome) -> Any:
    """``with narrow(driver):`` a 320 CSS px wide viewport, then the window's own again."""
    return viewport(driver, NARROW)


def _clear_viewport(driver: webdriver.Chrome) -> None:
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def axe(driver: webdriver.Chrome, url: str | None = None) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.2 AA violations on the current page (after loading ``url`` if given)."""
    if url is not None:
        driver.get(url)
    if not driver.execute_script("return typeof window.axe === 'object' && typeof window.axe.run === 'function'"):
        driver.execute_script(_provided(axe_source))
    result = driver.execute_async_script(_RUN_AXE, list(WCAG_TAGS))
    if "error" in result:
        raise AssertionError(f"axe.run failed on {driver.current_url}: {result['error']}")
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]], targets: int = 3) -> str:
    """One line per violation: id, impact, help, and the first ``targets`` nodes' selectors."""
    lines = []
    for violation in violations:
        nodes = violation.get("nodes", [])
        selectors = [" ".join(map(str, node.get("target", []))) for node in nodes[:targets]]
        more = f" (+{len(nodes) - targets} more)" if len(nodes) > targets else ""
        lines.append(f"- {violation['id']} [{violation.get('impact')}] {violation.get('help')}: "
                     f"{', '.join(selectors)}{more} ({violation.get('helpUrl')})")
    return "\n".join(lines)


def assert_accessible(driver: webdriver.Chrome, url: str | None = None) -> None:
    """Fail listing every WCAG 2.2 AA violation axe-core finds on the page."""
    violations = axe(driver, url)
    assert not violations, f"axe-core found {len(violations)} WCAG 2.2 AA violation(s) on {driver.current_url}:\n" + describe(violations)


def screenshot(driver: webdriver.Chrome, name: str, directory: Path | None = None) -> Path | None:
    """``<directory or docs/screenshots>/<name>.png`` of the viewport, only when ``WRITE_SCREENSHOTS=1``.

    Returns the file written, or None when screenshots are off (the default, and CI's).
    """
    if os.environ.get("WRITE_SCREENSHOTS", "").strip() != "1":
        return None
    folder = directory or SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    if not driver.save_screenshot(str(path)):
        raise AssertionError(f"Chromium did not write the screenshot {path}")
    return path
