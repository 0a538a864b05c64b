"""The gate every request passes before any route runs (plain ASGI, so nothing reads the body first).

In order: a body larger than allowed is refused with 413 — from ``Content-Length`` before a byte
is read, or as soon as a chunked body passes the limit; a client address or presented token that
failed authentication too often lately is refused with 429 (``Retry-After``) before its token is
even looked up; the bearer token is authenticated (401 otherwise, with ``WWW-Authenticate``); the
principal's rate limit is charged (429 with ``Retry-After`` when spent). The authenticated
``Principal`` and its token's id (never the token) are left in ``scope["state"]``, so that a
connection that stays open (SSE, long-poll) can check the token again (``deps.reauthenticate``).
Authorization is not done here: the service layer decides what a principal may do.

Failed authentication is limited per client address and per presented token (by a digest of its
first characters, so no token text is kept or logged): each key may fail ``burst`` times, then one
more time every ``1/rate`` seconds. Only a presented bearer token counts — a call without one is
not a guess (and is answered 401 at no cost). The address is the connection's peer: behind a
reverse proxy every client shares the proxy's address, so let the proxy limit per client too.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ledger.domain.model import Principal
from ledger.errors import KirokuError, PayloadTooLarge, TooManyRequests, Unauthenticated
from ledger.service.principals import TokenStore
from viewers.http.problems import PROBLEM_JSON, http_status, problem_body, problem_bytes

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("kiroku.http")

#: Paths served without a token.
OPEN_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


class TokenBucket:
    """Per-principal token buckets: ``rate`` requests a second on average, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Charge one request; returns 0 if allowed, else the seconds to wait before the next one fits."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


class FailureLimiter:
    """Failed authentication attempts, per key (a client address, a presented token's prefix).

    A key may fail ``burst`` times in a row, then once more every ``1/rate`` seconds; while it has
    no attempt left it is refused with 429 before authentication runs (so a blocked guesser learns
    nothing, not even that a guess was right). At most ``max_keys`` keys are remembered: past that
    the ones that recovered fully, then the least recently failed, are forgotten — memory stays
    bounded whatever a flood of distinct keys sends."""

    def __init__(self, rate: float = 0.2, burst: int = 20, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.max_keys, self.clock = rate, burst, max_keys, clock
        self._keys: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (attempts left, when)
        self._lock = threading.Lock()

    def _left(self, key: str, now: float) -> float:
        left, when = self._keys.get(key, (float(self.burst), now))
        return min(float(self.burst), left + (now - when) * self.rate)

    def wait(self, keys: list[str]) -> float:
        """Seconds until every key may try again (0: it may now)."""
        now = self.clock()
        with self._lock:
            short = max((1.0 - self._left(k, now) for k in keys if k in self._keys), default=0.0)
        return 0.0 if short <= 0 else short / self.rate

    def failed(self, keys: list[str]) -> list[str]:
        """Charge a failed attempt to each key; returns the keys this attempt used up."""
        now = self.clock()
        spent = []
        with self._lock:
            for k in keys:
                left = max(0.0, self._left(k, now) - 1.0)
                self._keys[k] = (left, now)
                self._keys.move_to_end(k)
                if left < 1.0:
                    spent.append(k)
            if len(self._keys) > self.max_keys:
                self._forget(now)
        return spent

    def _forget(self, now: float) -> None:
        for k in [k for k in self._keys if self._left(k, now) >= self.burst]:
            del self._keys[k]
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def __len__(self) -> int:
        return len(self._keys)


def failure_keys(scope: Scope, token: str | None) -> list[str]:
    """The keys a failed attempt is charged to: the peer address and, if a token was presented, a
    digest of its first 12 characters (a retried token is one key from any address; its text is
    never kept)."""
    client = scope.get("client")
    keys = [f"addr:{client[0] if client else '?'}"]
    if token:
        keys.append("token:" + hashlib.sha256(token[:12].encode("utf-8", "surrogatepass")).hexdigest()[:24])
    return keys


@dataclass
class GateConfig:
    max_body: int
    max_bulk_body: int
    bulk_paths: frozenset[str]


class _BodyLimit:
    """Wraps ``receive``: counts body bytes and raises ``PayloadTooLarge`` past the limit."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive, self.limit, self.seen = receive, limit, 0

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit:
                raise PayloadTooLarge(f"the request body is larger than this server accepts ({self.limit:,} bytes)",
                                      field="body", expected=f"at most {self.limit:,} bytes", got=f"more than {self.limit:,} bytes")
        return message


def _web(path: str) -> bool:
    """The web pages (``/web``…), which sign persons in with sessions of their own (viewers/web)."""
    return path == "/web" or path.startswith("/web/")


class Gate:
    """ASGI middleware: body limit, authentication, rate limit — before the body is read."""

    def __init__(self, app: ASGIApp, tokens: TokenStore | None, limiter: TokenBucket, config: GateConfig,
                 failures: FailureLimiter | None = None) -> None:
        self.app, self.tokens, self.limiter, self.config = app, tokens, limiter, config
        self.failures = failures or FailureLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        limit = self.config.max_bulk_body if path in self.config.bulk_paths else self.config.max_body
        try:
            length = headers.get("content-length")
            if length is not None and length.strip().isdigit() and int(length) > limit:
                raise PayloadTooLarge(f"the request body ({int(length):,} bytes) is larger than this server accepts ({limit:,} bytes)",
                                      field="body", expected=f"at most {limit:,} bytes", got=f"{int(length):,} bytes")
            if path not in OPEN_PATHS and not _web(path):
                principal, token_id = self._authenticate(scope, headers.get("authorization"))
                state = scope.setdefault("state", {})
                state["principal"], state["token_id"] = principal, token_id
                wait = self.limiter.take(principal.id)
                if wait > 0:
                    seconds = max(1, math.ceil(wait))
                    raise TooManyRequests(f"{principal} sent more requests than its rate limit allows; retry in {seconds} s",
                                          retry_after=seconds, field="authorization")
            elif _web(path):  # the pages sign persons in themselves; their rate is bounded per client address
                client = scope.get("client")
                wait = self.limiter.take("web:" + (client[0] if client else "?"))
                if wait > 0:
                    seconds = max(1, math.ceil(wait))
                    raise TooManyRequests(f"too many requests from this address; retry in {seconds} s", retry_after=seconds,
                                          field="address")
        except KirokuError as err:
            await _refuse(scope, send, err)
            return
        guarded = _BodyLimit(receive, limit)
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded, tracking_send)
        except PayloadTooLarge as err:
            if started:
                raise
            await _refuse(scope, send, err)

    def _authenticate(self, scope: Scope, header: str | None) -> tuple[Principal, str]:
        if self.tokens is None:
            raise Unauthenticated("this server has no token store", field="authorization")
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("send an API token: Authorization: Bearer kk_…", field="authorization",
                                  expected="Bearer kk_…", code="unauthenticated")
        token = token.strip()
        keys = failure_keys(scope, token)
        wait = self.failures.wait(keys)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise TooManyRequests(f"too many failed authentication attempts from this client or with this token; "
                                  f"retry in {seconds} s", retry_after=seconds, field="authorization",
                                  code="too_many_failed_authentications")
        try:
            info = self.tokens.identify(token)
        except Unauthenticated:
            for key in self.failures.failed(keys):  # the attempt that used a key up: once, for the operator
                log.warning("failed authentication attempts exceed the limit for %s; refusing it for a while",
                            key if key.startswith("addr:") else "one presented token (not shown)")
            raise
        return Principal.parse(info.principal), info.token_id


async def _refuse(scope: Scope, send: Send, err: KirokuError) -> None:
    status = http_status(err)
    body = problem_bytes(problem_body(err, instance=scope.get("path"), location="header" if status in (401, 429) else "body"))
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    if isinstance(err, Unauthenticated):
        headers.append((b"www-authenticate", www_authenticate(err).encode()))
    if isinstance(err, TooManyRequests):
        headers.append((b"retry-after", str(err.retry_after).encode()))
    if isinstance(err, PayloadTooLarge):
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def www_authenticate(err: Unauthenticated) -> str:
    """The ``WWW-Authenticate`` challenge of a 401 (RFC 6750 §3)."""
    return f'Bearer error="{"invalid_token" if err.code != "unauthenticated" else "invalid_request"}"'
