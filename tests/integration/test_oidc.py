"""Staff sign-in (viewers/web/oidc.py) against a real OpenID Provider: panva's oidc-provider on loopback.

The provider (infra/oidc.py) registers two clients, Kiroku's and another application's, and two staff
accounts; :meth:`OidcProvider.sign_in` fills in its login and consent pages. Each negative test
changes one thing and asserts the exact error code. Without Node.js/npm the tests skip, except under
CI=true, where they fail.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from infra.oidc import Client, OidcProvider, default_client, start_provider
from infra.services import ToolMissing, free_port
from tests.service_fixtures import unavailable
from viewers.web.oidc import Begin, OidcClient, OidcConfig, OidcError

pytestmark = pytest.mark.integration

KIROKU = default_client("kiroku-web", "http://127.0.0.1:8400/auth/callback")
OTHER = default_client("other-app", "http://127.0.0.1:8500/callback")


@contextmanager
def provide(**options: Any) -> Iterator[OidcProvider]:
    """:func:`start_provider`, skipping (failing under CI=true) when Node.js or npm is missing."""
    with ExitStack() as stack:
        try:
            provider = stack.enter_context(start_provider(**options))
        except ToolMissing as exc:
            unavailable(f"the local OpenID Provider (oidc-provider on Node.js) cannot start: {exc}")
        yield provider


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with provide(clients=[KIROKU, OTHER]) as started:
        yield started


def config_for(provider: OidcProvider, client: Client = KIROKU, **changes: Any) -> OidcConfig:
    config = OidcConfig(issuer=provider.issuer, client_id=client.client_id, client_secret=client.client_secret,
                        redirect_uri=client.redirect_uris[0])
    return replace(config, **changes)


@pytest.fixture
def rp(provider: OidcProvider) -> Iterator[OidcClient]:
    with OidcClient(config_for(provider)) as client:
        yield client


class RewriteTokens(httpx.BaseTransport):
    """A real transport, except that the token endpoint's JSON answer passes through ``rewrite`` first:
    what a network attacker or a confused provider could hand the relying party. ``paths`` lists
    every path requested."""

    def __init__(self, rewrite: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: body) -> None:
        self.inner = httpx.HTTPTransport()
        self.rewrite = rewrite
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        response = self.inner.handle_request(request)
        if request.method != "POST" or request.url.path != "/token":
            return response
        response.read()
        return httpx.Response(response.status_code, json=self.rewrite(response.json()))

    def close(self) -> None:
        self.inner.close()


def rewriting_rp(provider: OidcProvider, rewrite: Callable[[dict[str, Any]], dict[str, Any]]) -> OidcClient:
    return OidcClient(config_for(provider), http=httpx.Client(transport=RewriteTokens(rewrite), timeout=10.0))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=urlencode({**dict(parse_qsl(parts.query)), **changes})))


# -- signing in ------------------------------------------------------------------------------------


def test_staff_sign_in_gives_the_accounts_subject_name_and_email(provider: OidcProvider) -> None:
    transport = RewriteTokens()
    with OidcClient(config_for(provider), http=httpx.Client(transport=transport, timeout=10.0)) as rp:
        begun = rp.start()
        identity = rp.finish(provider.sign_in(begun.url, "staff-001"), begun)
    assert (identity.issuer, identity.subject) == (provider.issuer, "staff-001")
    assert (identity.name, identity.email) == ("山田 花子", "hanako.yamada@example.go.jp")
    assert identity.claims["aud"] == KIROKU.client_id
    # oidc-provider keeps scope claims out of the ID token (Core 1.0 §5.4): they came from UserInfo
    assert transport.paths == ["/.well-known/openid-configuration", "/token", "/me"]


def test_the_authorization_request_uses_pkce_s256_and_fresh_secrets(rp: OidcClient) -> None:
    first, second = rp.start(), rp.start()
    query = dict(parse_qsl(urlsplit(first.url).query))
    assert query["code_challenge_method"] == "S256" and query["response_type"] == "code"
    assert first.code_verifier not in first.url and len(first.code_verifier) >= 43
    assert {first.state, first.nonce}.isdisjoint({second.state, second.nonce})


def test_claims_in_the_id_token_are_read_without_userinfo() -> None:
    with provide(port=free_port(), accounts={"staff-009": {"name": "鈴木 三郎", "email": "s@example.go.jp"}},
                 claims_in_id_token=True) as provider:
        assert provider.issuer.endswith(f":{provider.port}")
        transport = RewriteTokens()
        with OidcClient(config_for(provider, provider.client), http=httpx.Client(transport=transport, timeout=10.0)) as rp:
            begun = rp.start()
            identity = rp.finish(provider.sign_in(begun.url, "staff-009"), begun)
        assert (identity.subject, identity.name, identity.email) == ("staff-009", "鈴木 三郎", "s@example.go.jp")
        assert "/me" not in transport.paths


# -- the answer at the redirect URI ----------------------------------------------------------------


def test_an_answer_with_another_state_is_refused(provider: OidcProvider, rp: OidcClient) -> None:
    begun = rp.start()
    params = provider.sign_in(begun.url, "staff-001")
    with pytest.raises(OidcError) as caught:
        rp.finish({**params, "state": rp.start().state}, begun)
    assert (caught.value.code, caught.value.field) == ("state_mismatch", "state")
    with pytest.raises(OidcError) as missing:
        rp.finish({k: v for k, v in params.items() if k != "state"}, begun)
    assert missing.value.code == "state_mismatch"


def test_an_answer_naming_another_issuer_is_refused(provider: OidcProvider, rp: OidcClient) -> None:
    begun = rp.start()
    params = provider.sign_in(begun.url, "staff-001")
    with pytest.raises(OidcError) as caught:
        rp.finish({**params, "iss": "https://idp.example.com"}, begun)
    assert (caught.value.code, caught.value.field) == ("bad_issuer", "iss")


def test_a_sign_in_the_person_cancels_is_a_provider_error(provider: OidcProvider, rp: OidcClient) -> None:
    begun = rp.start()
    params = provider.sign_in(begun.url, "staff-001", consent=False)
    with pytest.raises(OidcError) as caught:
        rp.finish(params, begun)
    assert (caught.value.code, caught.value.got) == ("provider_error", "access_denied")


def test_a_replayed_code_is_refused_by_the_provider(provider: OidcProvider, rp: OidcClient) -> None:
    begun = rp.start()
    params = provider.sign_in(begun.url, "staff-001")
    assert rp.finish(params, begun).subject == "staff-001"
    with pytest.raises(OidcError) as caught:
        rp.finish(params, begun)
    assert (caught.value.code, caught.value.got) == ("token_refused", "invalid_grant")
    assert params["code"] not in str(caught.value.to_dict())


def test_a_code_exchanged_with_another_verifier_is_refused(provider: OidcProvider, rp: OidcClient) -> None:
    begun = rp.start()
    params = provider.sign_in(begun.url, "staff-001")
    with pytest.raises(OidcError) as caught:
        rp.finish(params, replace(begun, code_verifier=rp.start().code_verifier))
    assert (caught.value.code, caught.value.got) == ("token_refused", "invalid_grant")


# -- the ID token ----------------------------------------------------------------------------------


def test_an_id_token_issued_to_another_client_is_refused(provider: OidcProvider, rp: OidcClient) -> None:
    begun = rp.start()
    with OidcClient(config_for(provider, OTHER)) as other:
        theirs = other.start()  # the other application's sign-in, carrying our nonce: only aud differs
        their_params = provider.sign_in(with_query(theirs.url, nonce=begun.nonce), "staff-001")
        their_token = other_id_token(other, their_params, replace(theirs, nonce=begun.nonce))
    ours = provider.sign_in(begun.url, "staff-001")
    with rewriting_rp(provider, lambda body: {**body, "id_token": their_token}) as victim:
        with pytest.raises(OidcError) as caught:
            victim.finish(ours, begun)
    assert (caught.value.code, caught.value.field) == ("bad_audience", "aud")


def other_id_token(client: OidcClient, params: dict[str, str], begun: Begin) -> str:
    """The raw ID token another client gets for its code (what an attacker holding it could replay)."""
    captured: dict[str, Any] = {}

    def keep(body: dict[str, Any]) -> dict[str, Any]:
        captured.update(body)
        return body

    with OidcClient(client.config, http=httpx.Client(transport=RewriteTokens(keep), timeout=10.0)) as spy:
        spy.finish(params, begun)
    return str(captured["id_token"])


def test_an_id_token_with_a_tampered_payload_fails_its_signature(provider: OidcProvider) -> None:
    def impersonate(body: dict[str, Any]) -> dict[str, Any]:
        header, payload, signature = body["id_token"].split(".")
        claims = json.loads(unb64(payload))
        claims["sub"] = "staff-002"
        return {**body, "id_token": f"{header}.{b64(json.dumps(claims).encode())}.{signature}"}

    with rewriting_rp(provider, impersonate) as rp:
        begun = rp.start()
        with pytest.raises(OidcError) as caught:
            rp.finish(provider.sign_in(begun.url, "staff-001"), begun)
    assert caught.value.code == "bad_signature"
    assert "staff-00" not in str(caught.value.to_dict())  # no personal data, no token in the message


def test_an_id_token_with_a_tampered_signature_is_refused(provider: OidcProvider) -> None:
    def scratch(body: dict[str, Any]) -> dict[str, Any]:
        header, payload, signature = body["id_token"].split(".")
        raw = bytearray(unb64(signature))
        raw[len(raw) // 2] ^= 0x01
        return {**body, "id_token": f"{header}.{payload}.{b64(bytes(raw))}"}

    with rewriting_rp(provider, scratch) as rp:
        begun = rp.start()
        with pytest.raises(OidcError) as caught:
            rp.finish(provider.sign_in(begun.url, "staff-001"), begun)
    assert (caught.value.code, caught.value.field) == ("bad_signature", "id_token")


def test_an_unsigned_id_token_is_refused(provider: OidcProvider) -> None:
    def unsign(body: dict[str, Any]) -> dict[str, Any]:
        _, payload, _ = body["id_token"].split(".")
        return {**body, "id_token": f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{payload}."}

    with rewriting_rp(provider, unsign) as rp:
        begun = rp.start()
        with pytest.raises(OidcError) as caught:
            rp.finish(provider.sign_in(begun.url, "staff-001"), begun)
    assert (caught.value.code, caught.value.got) == ("bad_signature", "none")


def test_an_id_token_with_another_nonce_is_refused(provider: OidcProvider, rp: OidcClient) -> None:
    begun = rp.start()
    params = provider.sign_in(begun.url, "staff-001")
    with pytest.raises(OidcError) as caught:
        rp.finish(params, replace(begun, nonce=rp.start().nonce))
    assert (caught.value.code, caught.value.field) == ("nonce_mismatch", "nonce")


@pytest.mark.parametrize(("skew", "code", "field"), [(+3600, "expired", "exp"), (-3600, "not_yet_valid", "iat")])
def test_an_id_token_read_with_a_clock_an_hour_off_is_refused(provider: OidcProvider, skew: int, code: str, field: str) -> None:
    with OidcClient(config_for(provider), clock=lambda: time.time() + skew) as rp:
        begun = rp.start()
        with pytest.raises(OidcError) as caught:
            rp.finish(provider.sign_in(begun.url, "staff-001"), begun)
    assert (caught.value.code, caught.value.field) == (code, field)


def test_a_clock_within_the_leeway_is_accepted(provider: OidcProvider) -> None:
    with OidcClient(config_for(provider), clock=lambda: time.time() - 20) as rp:  # leeway: 30 s
        begun = rp.start()
        assert rp.finish(provider.sign_in(begun.url, "staff-001"), begun).subject == "staff-001"


# -- discovery -------------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["localhost", "trailing slash"])
def test_a_provider_whose_discovery_names_another_issuer_is_refused(provider: OidcProvider, spelling: str) -> None:
    issuer = provider.issuer.replace("127.0.0.1", "localhost") if spelling == "localhost" else provider.issuer + "/"
    with OidcClient(config_for(provider, issuer=issuer)) as rp:
        with pytest.raises(OidcError) as caught:
            rp.start()
    assert (caught.value.code, caught.value.got) == ("bad_issuer", provider.issuer)


def test_a_provider_that_does_not_answer_is_unreachable_and_retriable() -> None:
    config = OidcConfig(issuer=f"http://127.0.0.1:{free_port()}", client_id="kiroku-web", client_secret="x" * 32,
                        redirect_uri="http://127.0.0.1:8400/auth/callback", timeout=2.0)
    with OidcClient(config) as rp:
        with pytest.raises(OidcError) as caught:
            rp.discover()
    assert (caught.value.code, caught.value.retriable) == ("unreachable", True)


def test_a_plain_http_issuer_off_loopback_is_a_configuration_error() -> None:
    with pytest.raises(OidcError) as caught:
        OidcConfig(issuer="http://idp.example.com", client_id="kiroku-web", client_secret="x" * 32,
                   redirect_uri="https://kiroku.example.go.jp/auth/callback")
    assert (caught.value.code, caught.value.field) == ("bad_config", "issuer")
