"""The browser tier checks itself: axe-core finds what it should and nothing else, under a strict CSP.

Tiny pages served from a local ``http.server`` on 127.0.0.1, each with the Content-Security-Policy
Kiroku's pages will send (scripts only from the page's own origin, no inline scripts): an accessible
Japanese page, one with two known violations, one that overflows a 320 px viewport, and a probe
that shows the policy is enforced while axe still runs.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from infra import browser as browser_infra
from infra.browser import AXE_VERSION
from infra.services import ServiceError
from tests.browser.conftest import NARROW, WIDTH, Page, describe
from tests.service_fixtures import unavailable

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")

STYLE = """
body { font-family: "Noto Sans CJK JP", sans-serif; margin: 0 auto; max-width: 40rem; padding: 1rem; line-height: 1.7; }
label { display: block; margin-top: 1rem; }
input, button { font: inherit; min-height: 2.75rem; max-width: 100%; box-sizing: border-box; }
.wide { width: 600px; }
.tiny { min-height: 0; width: 16px; height: 16px; padding: 0; margin: 0; border: 1px solid; }
"""

HEAD = """<!doctype html>
<html lang="ja">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="/site.css">{scripts}</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""

SEARCH_FORM = """<h1>届出の検索</h1>
<p>法人番号と対象年月を入力すると、その月に提出された届出（算定基礎届、給与支払報告書など）と受付番号を一覧で表示します。</p>
<form action="/search" method="get">
  <label for="company">法人番号（13桁）</label>
  <input id="company" name="company" type="text" inputmode="numeric" autocomplete="off" size="20">
  <label for="period">対象年月</label>
  <input id="period" name="period" type="month">
  <p><button type="submit">検索する</button></p>
</form>"""

PAGES: dict[str, tuple[str, bytes]] = {
    "/site.css": ("text/css", STYLE.encode()),
    "/logo.svg": ("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32"/></svg>'),
    "/probe.js": ("text/javascript", b'document.documentElement.dataset.external = "ran";\n'),
    "/good.html": ("text/html; charset=utf-8", HEAD.format(title="届出の検索 — Kiroku", scripts="", body=SEARCH_FORM).encode()),
    "/bad.html": ("text/html; charset=utf-8", HEAD.format(title="受付番号 — Kiroku", scripts="", body=(
        '<h1>受付番号</h1>\n<img src="/logo.svg">\n<form action="/search"><input type="text" name="q"></form>')).encode()),
    "/wide.html": ("text/html; charset=utf-8", HEAD.format(title="幅の広い表 — Kiroku", scripts="", body=(
        '<h1>幅の広い表</h1>\n<p class="wide">この段落は幅が600pxに固定されています。</p>')).encode()),
    "/tiny.html": ("text/html; charset=utf-8", HEAD.format(title="小さいボタン — Kiroku", scripts="", body=(
        '<h1>小さいボタン</h1>\n<p><button class="tiny" type="button" aria-label="前へ">&lt;</button>'
        '<button class="tiny" type="button" aria-label="次へ">&gt;</button></p>')).encode()),
    "/csp.html": ("text/html; charset=utf-8", HEAD.format(title="CSPの確認 — Kiroku", body=SEARCH_FORM, scripts=(
        '<script src="/probe.js"></script><script>document.documentElement.dataset.inline = "ran";</script>')).encode()),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        found = PAGES.get(self.path.split("?")[0])
        if found is None:
            self.send_error(404)
            return
        content_type, body = found
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The pages above at ``http://127.0.0.1:<free port>``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="browser-tier-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_pinned_axe_core_is_the_one_injected(page: Page, site: str) -> None:
    page.open(f"{site}/good.html")
    page.axe()
    assert page.driver.execute_script("return window.axe.version") == AXE_VERSION


def test_an_accessible_japanese_page_has_no_wcag_22_aa_violations(page: Page, site: str) -> None:
    page.assert_accessible(f"{site}/good.html")
    assert page.driver.execute_script("return document.documentElement.lang") == "ja"
    assert page.driver.title == "届出の検索 — Kiroku"


def test_an_image_without_alt_and_an_unlabelled_input_are_exactly_the_violations_reported(page: Page, site: str) -> None:
    violations = page.axe(f"{site}/bad.html")
    assert sorted(v["id"] for v in violations) == ["image-alt", "label"], describe(violations)
    targets = {v["id"]: [node["target"] for node in v["nodes"]] for v in violations}
    assert targets == {"image-alt": [["img"]], "label": [["input"]]}
    assert all(set(v["tags"]) & {"wcag2a", "wcag2aa"} for v in violations)


def test_a_wcag_22_aa_rule_runs_two_adjacent_16_px_buttons_fail_target_size(page: Page, site: str) -> None:
    violations = page.axe(f"{site}/tiny.html")
    assert [v["id"] for v in violations] == ["target-size"], describe(violations)  # SC 2.5.8 Target Size (Minimum)
    assert "wcag22aa" in violations[0]["tags"]


def test_assert_accessible_fails_naming_each_violation_its_impact_and_its_target(page: Page, site: str) -> None:
    with pytest.raises(AssertionError) as failure:
        page.assert_accessible(f"{site}/bad.html")
    message = str(failure.value)
    assert "2 WCAG 2.2 AA violation(s)" in message
    assert "- image-alt [critical] Images must have alternative text: img" in message
    assert "- label [critical] Form elements must have labels: input" in message


def test_axe_is_injected_and_runs_under_a_csp_that_blocks_inline_scripts(page: Page, site: str) -> None:
    page.open(f"{site}/csp.html")
    dataset = page.driver.execute_script("return Object.assign({}, document.documentElement.dataset)")
    assert dataset == {"external": "ran"}  # script-src 'self' is enforced: the inline script never ran
    assert page.axe() == []


def test_the_accessible_page_reflows_into_a_320_px_viewport_without_horizontal_scrolling(page: Page, site: str) -> None:
    page.open(f"{site}/good.html")
    width = "return [window.innerWidth, document.documentElement.scrollWidth]"
    with page.narrow():
        assert page.driver.execute_script(width) == [NARROW, NARROW]
        assert page.axe() == []
    assert page.driver.execute_script(width)[0] == WIDTH  # and the window's own viewport is back


def test_a_fixed_600_px_paragraph_overflows_the_320_px_viewport(page: Page, site: str) -> None:
    page.open(f"{site}/wide.html")
    with page.narrow():
        assert page.driver.execute_script("return document.documentElement.scrollWidth") > NARROW


def test_screenshots_are_written_only_with_kiroku_screenshots_1(
    page: Page, site: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page.open(f"{site}/good.html")
    monkeypatch.delenv("WRITE_SCREENSHOTS", raising=False)
    assert page.screenshot("good", tmp_path) is None
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("WRITE_SCREENSHOTS", "1")
    wide = page.screenshot("good", tmp_path)
    with page.narrow():
        narrow = page.screenshot("good-320", tmp_path)
    assert wide is not None and narrow is not None
    assert [_png_size(wide)[0], _png_size(narrow)[0]] == [WIDTH, NARROW]


def test_japanese_text_is_drawn_in_a_cjk_font_not_as_missing_glyphs(page: Page, site: str) -> None:
    page.open(f"{site}/good.html")
    driver = page.driver
    driver.execute_cdp_cmd("DOM.enable", {})
    driver.execute_cdp_cmd("CSS.enable", {})
    root = driver.execute_cdp_cmd("DOM.getDocument", {})["root"]["nodeId"]
    heading = driver.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": "h1"})["nodeId"]
    fonts = driver.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": heading})["fonts"]
    families = [font["familyName"] for font in fonts]
    if not any("CJK" in family for family in families):
        unavailable(f"the heading 届出の検索 is drawn in {families}, not a CJK font: apt-get install fonts-noto-cjk")


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


FAKE_NPM = """#!/bin/sh
# Stands in for npm: counts its runs, waits a moment (so a racing second caller would overlap), and
# lays out the package as npm would under --prefix.
echo run >> "$FAKE_NPM_LOG"
sleep 0.3
while [ "$1" != "--prefix" ]; do shift; done
mkdir -p "$2/node_modules/axe-core"
printf '{"name": "axe-core", "version": "0.0.0-fake"}' > "$2/node_modules/axe-core/package.json"
printf 'window.axe = {};' > "$2/node_modules/axe-core/axe.min.js"
"""


def test_axe_core_is_installed_once_even_by_racing_callers_and_then_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text(FAKE_NPM)
    (bin_dir / "npm").chmod(0o755)
    log = tmp_path / "npm.log"
    monkeypatch.setenv("FAKE_NPM_LOG", str(log))
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("KIROKU_CACHE", str(tmp_path / "cache"))
    sources: list[str] = []

    def install() -> None:
        sources.append(browser_infra.axe_source.__wrapped__("0.0.0-fake"))  # past the in-process memo

    racers = [threading.Thread(target=install) for _ in range(3)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=30)
    assert sources == ["window.axe = {};"] * 3
    assert log.read_text().splitlines() == ["run"]  # the lock held the others until the first had finished
    assert (tmp_path / "cache" / "npm" / "axe-core-0.0.0-fake" / ".complete").is_file()
    log.unlink()
    assert browser_infra.axe_source.__wrapped__("0.0.0-fake") == "window.axe = {};"
    assert not log.exists()  # the cache is reused: npm does not run again


def test_an_npm_install_that_brings_another_version_is_refused_and_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "npm").write_text(FAKE_NPM)
    (bin_dir / "npm").chmod(0o755)
    monkeypatch.setenv("FAKE_NPM_LOG", str(tmp_path / "npm.log"))
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("KIROKU_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ServiceError) as refused:
        browser_infra.axe_source.__wrapped__("9.9.9")
    assert (refused.value.code, refused.value.field, refused.value.expected, refused.value.got) == (
        "service_unavailable", "axe-core", "9.9.9", "0.0.0-fake")
    assert not (tmp_path / "cache" / "npm" / "axe-core-9.9.9").exists()
