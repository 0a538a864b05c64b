"""The wire under the remote SDKs (``producers.remote``, ``viewers.remote``): httpx, bearer token,
retries, and problems turned back into the service layer's own errors.

Retries: a request that never reached the server (connection refused, connect or pool timeout)
is sent again whatever it is; one that may have reached it (read or write timeout, a dropped
connection, 502/503/504) only when sending it twice cannot do anything twice — reads, and
recordings, which carry the same ``Idempotency-Key`` every time. A 429 waits ``Retry-After``.
When retries run out, ``Unavailable`` (retriable) is raised, as the in-process SDK would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx

from ledger.domain.model import Principal
from ledger.errors import KirokuError, Unavailable
from viewers.http.problems import error_from_problem

#: Errors after which the request certainly did not reach the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Errors after which it may have.
_MAYBE_SENT = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class HttpClient:
    """One principal's connection to a remote Kiroku (thread-safe; reuses connections)."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0, retries: int = 3, backoff: float = 0.2,
                 max_retry_after: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries, self.backoff, self.max_retry_after = retries, backoff, max_retry_after
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                  headers={"Authorization": f"Bearer {token}", "User-Agent": "kiroku-remote-sdk"})
        self._principal: Principal | None = None

    @property
    def principal(self) -> Principal:
        """Who the token stands for (asked once)."""
        if self._principal is None:
            self._principal = Principal.parse(self.call("GET", "/v1/me").json()["principal"])
        return self._principal

    def close(self) -> None:
        self._http.close()

    def pause(self, attempt: int) -> None:
        """Wait before the ``attempt``-th retry (0-based): ``backoff · 2^attempt`` seconds. Public so
        that callers retrying a whole exchange themselves (``producers.remote``'s bulk upload)
        keep the same schedule."""
        time.sleep(self.backoff * (2**attempt))

    def call(self, method: str, path: str, *, safe: bool | None = None, **kw: Any) -> httpx.Response:
        """Send a request; returns a 2xx response or raises the service error the problem describes.

        ``safe``: whether sending it twice is harmless (default: only for GET)."""
        safe = method == "GET" if safe is None else safe
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                resp = self._http.request(method, path, **kw)
            except _NOT_SENT as exc:
                if last:
                    raise Unavailable(f"cannot reach Kiroku at {self.base_url}: {exc}", retriable=True) from exc
                self.pause(attempt)
                continue
            except _MAYBE_SENT as exc:
                if last or not safe:
                    raise Unavailable(f"no answer from Kiroku at {self.base_url} ({type(exc).__name__}); "
                                      + ("retry with the same idempotency key" if safe else "check before retrying"),
                                      retriable=True) from exc
                self.pause(attempt)
                continue
            if resp.status_code == 429 and not last:
                time.sleep(min(self.max_retry_after, float(resp.headers.get("Retry-After", "1") or 1)))
                continue
            if resp.status_code in (502, 503, 504) and safe and not last:
                self.pause(attempt)
                continue
            if resp.status_code >= 400:
                raise problem_error(resp)
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def stream_lines(self, method: str, path: str, **kw: Any) -> Iterator[str]:
        """Send a request and yield its response body line by line as it arrives (no retries)."""
        try:
            with self._http.stream(method, path, **kw) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise problem_error(resp)
                yield from resp.iter_lines()
        except (*_NOT_SENT, *_MAYBE_SENT) as exc:
            raise Unavailable(f"the stream from Kiroku at {self.base_url} broke off ({type(exc).__name__})", retriable=True) from exc


def problem_error(resp: httpx.Response) -> KirokuError:
    """The service error an HTTP problem response describes."""
    try:
        body = resp.json()
        if not isinstance(body, dict):
            raise ValueError
    except (ValueError, json.JSONDecodeError):
        body = {"detail": resp.text[:500] or resp.reason_phrase, "code": f"http_{resp.status_code}"}
    retry_after = resp.headers.get("Retry-After")
    return error_from_problem(body, resp.status_code, int(retry_after) if retry_after and retry_after.isdigit() else None)
