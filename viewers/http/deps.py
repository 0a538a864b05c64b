"""What every route needs: the caller (authenticated by the gate), the deployment, the notice bell."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from fastapi import Request, Security
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ledger.bootstrap import Kiroku
from ledger.domain.model import Principal
from ledger.errors import Unauthenticated
from viewers.http.gate import www_authenticate
from viewers.http.problems import document_problems, problem_response

bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="An API token made with `kiroku principals add` (shown once, stored only as a hash).")


def current_principal(request: Request, _: HTTPAuthorizationCredentials | None = Security(bearer)) -> Principal:
    """The principal the gate authenticated."""
    who = getattr(request.state, "principal", None)
    if who is None:  # only when a route is mounted outside the gate's protection
        raise Unauthenticated("send an API token: Authorization: Bearer kk_…", field="authorization")
    return who


def reauthenticate(request: Request) -> None:
    """Check again that the token this request came with is active: for a connection that stays
    open (an SSE stream, a long-poll), at each wake-up. ``Unauthenticated`` once it was revoked
    or has expired — the gate's check holds only for the moment the request arrived."""
    token_id, tokens = getattr(request.state, "token_id", None), getattr(request.app.state, "tokens", None)
    if token_id is None or tokens is None:  # only when a route is mounted outside the gate's protection
        raise Unauthenticated("send an API token: Authorization: Bearer kk_…", field="authorization")
    tokens.check(token_id)


def unauthenticated(request: Request, err: Unauthenticated) -> Response:
    """The 401 problem for a token found inactive after the gate let the request in, with the
    same ``WWW-Authenticate`` challenge the gate sends."""
    response = problem_response(request, err)
    response.headers["WWW-Authenticate"] = www_authenticate(err)
    return response


def kiroku_of(request: Request) -> Kiroku:
    return request.app.state.kiroku


@dataclass
class Limits:
    """Server-side bounds (the OpenAPI document states the widest; a server may be configured lower)."""

    max_wait: float = 30.0  # long-poll
    max_stream_seconds: float = 3600.0  # one SSE connection, then the client resumes with Last-Event-ID
    poll_interval: float = 1.0  # how often a waiting feed looks at the catalog (other processes may record)
    keepalive: float = 15.0  # SSE comment lines on an idle stream
    bulk_batch: int = 200  # items recorded per durable batch in a bulk upload
    # Slow or huge clients (ledger/settings.py's http_* settings; viewers/http/server.py applies the connection ones)
    header_timeout: float = 10.0  # seconds to send a request's whole head
    body_timeout: float = 30.0  # seconds the server waits for the next bytes of a body
    min_body_rate: float = 1024.0  # bytes/s a body averages while the server waits for it, after body_timeout s (0: none)
    max_line: int = 10 * 2**20  # bytes in one line of a bulk upload
    bulk_per_principal: int = 2  # bulk uploads one principal runs at once
    bulk_workers: int = 8  # bulk uploads the server runs at once (threads of the bulk pool)
    max_connections: int = 1000  # open connections
    max_header_bytes: int = 16384  # a request's head
    backlog: int = 1024  # connections queued in the kernel before they are accepted


class NoticeBell:
    """Wakes long-polls and SSE streams as soon as this server records something.

    Recording in another process is seen at the next poll (``Limits.poll_interval``)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._lock = threading.Lock()
        self.waiting = 0  # long-polls and streams waiting right now (they found nothing new)

    def _current(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._loop is not loop or self._event is None:
                self._loop, self._event = loop, asyncio.Event()
            return self._event

    async def wait(self, timeout: float) -> None:
        event = self._current()
        self.waiting += 1  # only touched on the event loop's thread
        try:
            await asyncio.wait_for(event.wait(), timeout=max(0.0, timeout))
        except TimeoutError:
            pass
        finally:
            self.waiting -= 1

    def ring(self) -> None:
        """Called from any thread after something was recorded."""
        with self._lock:
            loop, event = self._loop, self._event
            if loop is None or event is None:
                return
            self._event = asyncio.Event()
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # the loop has closed
            pass


def problems(*statuses: int) -> dict:
    """OpenAPI responses for an operation's own problems (401, 413, 422 and 429 are added to every operation)."""
    return document_problems(statuses)


def context(request: Request, *, top_level: frozenset[str] | None = None, headers: frozenset[str] = frozenset()) -> None:
    """Tell the error handler how to point at fields: which are the body's own, which came as headers."""
    request.state.top_level = top_level
    request.state.header_fields = headers
