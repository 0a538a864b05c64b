"""The gate every request passes before any route runs (plain ASGI, so nothing reads the body first).

In order: a body larger than allowed is refused with 413 — from ``Content-Length`` before a byte
is read, or as soon as a chunked body passes the limit; the bearer token is authenticated (401
otherwise, with ``WWW-Authenticate``); the principal's rate limit is charged (429 with
``Retry-After`` when spent). The authenticated ``Principal`` is left in ``scope["state"]``.
Authorization is not done here: the service layer decides what a principal may do.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ledger.errors import KirokuError, PayloadTooLarge, TooManyRequests, Unauthenticated
from ledger.service.principals import TokenStore
from viewers.http.problems import PROBLEM_JSON, http_status, problem_body, problem_bytes

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

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


class Gate:
    """ASGI middleware: body limit, authentication, rate limit — before the body is read."""

    def __init__(self, app: ASGIApp, tokens: TokenStore | None, limiter: TokenBucket, config: GateConfig) -> None:
        self.app, self.tokens, self.limiter, self.config = app, tokens, limiter, config

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
            if path not in OPEN_PATHS:
                principal = await self._authenticate(headers.get("authorization"))
                scope.setdefault("state", {})["principal"] = principal
                wait = self.limiter.take(principal.id)
                if wait > 0:
                    seconds = max(1, math.ceil(wait))
                    raise TooManyRequests(f"{principal} sent more requests than its rate limit allows; retry in {seconds} s",
                                          retry_after=seconds, field="authorization")
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

    async def _authenticate(self, header: str | None) -> Any:
        if self.tokens is None:
            raise Unauthenticated("this server has no token store", field="authorization")
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer":
            raise Unauthenticated("send an API token: Authorization: Bearer kk_…", field="authorization",
                                  expected="Bearer kk_…", code="unauthenticated")
        return self.tokens.authenticate(token.strip())


async def _refuse(scope: Scope, send: Send, err: KirokuError) -> None:
    status = http_status(err)
    body = problem_bytes(problem_body(err, instance=scope.get("path"), location="header" if status in (401, 429) else "body"))
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    if isinstance(err, Unauthenticated):
        headers.append((b"www-authenticate",
                        f'Bearer error="{"invalid_token" if err.code != "unauthenticated" else "invalid_request"}"'.encode()))
    if isinstance(err, TooManyRequests):
        headers.append((b"retry-after", str(err.retry_after).encode()))
    if isinstance(err, PayloadTooLarge):
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
