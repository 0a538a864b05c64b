"""Fixtures for the HTTP API: the app over the test deployment, tokens, and callers by principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the HTTP API needs the 'http' extra: pip install -e '.[http]'")

from fastapi.testclient import TestClient  # noqa: E402

from ledger.service.principals import TokenStore  # noqa: E402
from ledger.service.staff import StaffStore  # noqa: E402
from viewers.http.app import create_app  # noqa: E402
from viewers.http.deps import Limits  # noqa: E402


class Caller:
    """An HTTP client that acts as one principal."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client, self.token = client, token

    def request(self, method: str, url: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kw)

    def get(self, url: str, **kw: Any) -> Any:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> Any:
        return self.request("PUT", url, **kw)


class Api:
    """The app under test, and a caller for any principal (tokens made on demand)."""

    def __init__(self, client: TestClient, tokens: TokenStore) -> None:
        self.client, self.tokens = client, tokens
        self._callers: dict[str, Caller] = {}

    def as_(self, principal: str) -> Caller:
        if principal not in self._callers:
            _, token = self.tokens.add(principal)
            self._callers[principal] = Caller(self.client, token)
        return self._callers[principal]


@pytest.fixture
def tokens(home, clock) -> Iterator[TokenStore]:
    store = TokenStore.for_home(home, clock)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def app(kiroku, tokens):
    return create_app(kiroku, tokens, rate=0, limits=Limits(max_wait=2.0, max_stream_seconds=2.0, poll_interval=0.05))


@pytest.fixture
def api(app, tokens) -> Iterator[Api]:
    with TestClient(app, raise_server_exceptions=True) as client:
        yield Api(client, tokens)


@pytest.fixture
def staff(home, clock) -> Iterator[StaffStore]:
    """The web pages' staff accounts (beside the API tokens in principals.db)."""
    store = StaffStore.for_home(home, clock)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def web(kiroku, tokens, staff) -> Iterator[TestClient]:
    """A browser-like client of the pages at https://testserver (tests/integration/http/web.py signs people in)."""
    app = create_app(kiroku, tokens, staff=staff, rate=0, limits=Limits(max_wait=2.0, max_stream_seconds=2.0))
    with TestClient(app, base_url="https://testserver") as client:
        yield client
