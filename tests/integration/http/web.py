"""What the web-page tests share: the site's address, signing a person in with a one-time link, a form's CSRF
token (the fixtures ``staff`` and ``web`` are in this folder's conftest)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from ledger.service.staff import StaffStore

#: Where the test client reaches the pages: https, so the __Host- session cookie (Secure) is kept and sent.
SITE = "https://testserver"


def sign_in(web: TestClient, staff: StaffStore, principal: str, person: str = "山田 花子", *, fresh: bool = False) -> str:
    """Sign ``person`` in for ``principal`` as the link's button would (``fresh``: signed out first); their account id."""
    if fresh:
        web.cookies.clear()
    account, link = staff.invite(principal, person)
    page = web.get(f"/web/invite/{link}")
    assert page.status_code == 200 and person in page.text
    answer = web.post("/web/invite", data={"invite": link}, headers={"Origin": SITE}, follow_redirects=False)
    assert answer.status_code == 303
    return account.staff_id


def csrf_of(page_text: str, action: str) -> str:
    """The CSRF token of the form on the page whose action ends with ``action``."""
    match = re.search(re.escape(action) + r'"[^>]*>\s*<input type="hidden" name="csrf" value="([0-9a-f]+)"', page_text)
    assert match is not None, f"no form posting to {action}"
    return match.group(1)
