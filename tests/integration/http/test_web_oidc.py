"""Signing in to the web pages through a real OpenID Provider (panva's oidc-provider on loopback, as GビズID
would be configured in production): the first sign-in comes from the one-time link and binds the provider's
identity to the account; later ones go through the provider alone. The state cookie binds the answer to the
browser that asked; a replay, another browser's answer and an unknown identity are refused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from infra.oidc import OidcProvider, default_client, start_provider
from infra.services import ToolMissing
from ledger.service.staff import StaffStore
from tests.factories import CHIYODA
from tests.integration.helpers import municipality
from tests.service_fixtures import unavailable
from viewers.http.app import create_app
from viewers.http.deps import Limits
from viewers.web.oidc import OidcClient, OidcConfig

pytestmark = pytest.mark.integration

SITE = "https://testserver"
CLIENT = default_client("kiroku-web", f"{SITE}/web/oidc/callback")
AGENCY = f"agency:{municipality(CHIYODA)}"


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with ExitStack() as stack:
        try:
            started = stack.enter_context(start_provider(clients=[CLIENT]))
        except ToolMissing as exc:
            unavailable(f"the local OpenID Provider (oidc-provider on Node.js) cannot start: {exc}")
        yield started


@pytest.fixture
def staff(home, clock) -> Iterator[StaffStore]:
    store = StaffStore.for_home(home, clock)
    yield store
    store.close()


@pytest.fixture
def web(kiroku, tokens, staff, provider) -> Iterator[TestClient]:
    rp = OidcClient(OidcConfig(issuer=provider.issuer, client_id=CLIENT.client_id, client_secret=CLIENT.client_secret,
                               redirect_uri=CLIENT.redirect_uris[0]))
    app = create_app(kiroku, tokens, staff=staff, rate=0, limits=Limits(max_wait=2.0), oidc=rp)
    with TestClient(app, base_url=SITE) as client:
        yield client
    rp.close()


def start(web: TestClient, invite: str = "") -> str:
    """Press the provider's button (on the link's page, or the sign-in page): where the browser is sent."""
    answer = web.post("/web/oidc/start", data={"invite": invite} if invite else {}, headers={"Origin": SITE}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def back(web: TestClient, answer: dict[str, str]):
    return web.get("/web/oidc/callback?" + urlencode(answer))


def test_the_first_sign_in_binds_the_provider_identity_through_the_link_and_later_ones_need_no_link(web, staff, provider):
    account, link = staff.invite(AGENCY, "山田 花子")
    assert "OpenID Connect のアカウントと結び付けて" in web.get(f"/web/invite/{link}").text  # beside the link's own button
    page = back(web, provider.sign_in(start(web, link), "staff-001"))
    assert page.status_code == 200 and 'http-equiv="refresh"' in page.text
    assert web.get("/web/agency/notices").status_code == 200
    assert staff.account(account.staff_id).oidc_subject == "staff-001"
    assert web.post("/web/invite", data={"invite": link}, headers={"Origin": SITE}).status_code == 400  # the link is used
    web.cookies.clear()
    back(web, provider.sign_in(start(web), "staff-001"))  # from the sign-in page: no link needed any more
    me = web.get("/web/agency/notices")
    assert me.status_code == 200 and "山田 花子" in me.text


def test_an_identity_no_account_is_linked_to_gets_no_session(web, provider):
    page = back(web, provider.sign_in(start(web), "staff-002"))
    assert page.status_code == 401 and "アカウントがありません" in page.text
    assert web.get("/web/agency/notices", follow_redirects=False).status_code == 303


def test_an_answer_replayed_or_brought_to_another_browser_is_refused(web, staff, provider, kiroku, tokens):
    _, link = staff.invite(AGENCY, "山田 花子")
    answer = provider.sign_in(start(web, link), "staff-001")
    with TestClient(web.app, base_url=SITE) as other:  # another browser: it has no state cookie for this sign-in
        refused = back(other, answer)
        assert refused.status_code == 400 and "ログインを完了できませんでした" in refused.text
    assert back(web, answer).status_code == 200
    again = back(web, answer)  # the same answer twice: the sign-in under way was used up
    assert again.status_code == 400


def test_a_tampered_answer_is_refused_and_names_no_secret(web, staff, provider):
    _, link = staff.invite(AGENCY, "山田 花子")
    answer = provider.sign_in(start(web, link), "staff-001")
    page = back(web, {**answer, "code": answer["code"][:-2] + "xx"})
    assert page.status_code == 401
    for secret in (answer["code"][:-2], answer["state"]):  # not even in the language link
        assert secret not in page.text
    assert web.get("/web/agency/notices", follow_redirects=False).status_code == 303
