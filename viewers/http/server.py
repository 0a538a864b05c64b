"""Running the HTTP API on uvicorn: in the foreground (``kiroku serve``) or in a background thread
(tests, ``kiroku bench http``). The socket is bound before uvicorn starts, so port 0 works and the
real address is known at once.

One process serves an embedded deployment: its SQLite log and catalog want a single writer
process, and the service layer serializes decisions with in-process locks. Requests are handled
concurrently by uvicorn's event loop and FastAPI's thread pool.

No slow or greedy client can starve the others (``Limits``, from the ``http_*`` settings). Here, on
the connection: uvicorn's h11 protocol has no timeout for a request's head (its keep-alive timer
is reset by every byte, so a client trickling a header holds its descriptor forever), so
:class:`GuardedH11Protocol` gives each request head an absolute deadline (408, then closed); the
head's size is bounded (``h11_max_incomplete_event_size``, 400 beyond); connections beyond
``max_connections`` are answered 503 and closed as they are accepted (descriptors stay bounded),
requests in flight are bounded (``limit_concurrency``) and so is the kernel's backlog; a client
that goes on sending a body the server no longer reads (it answered already) is closed after the
same deadline. Request bodies' own timeouts and bulk uploads' bounds are the app's
(``viewers/http/app.py``, ``routes/bulk.py``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ledger.errors import KirokuError
from viewers.http.deps import Limits
from viewers.http.problems import PROBLEM_JSON, problem_body, problem_bytes


def bind(host: str = "127.0.0.1", port: int = 0, backlog: int = Limits.backlog) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on connections accepted from such a
    # socket, and without it every response waits ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def config(app: Any, *, log_level: str = "warning", access_log: bool = False, limits: Limits | None = None,
           **kw: Any) -> uvicorn.Config:
    """uvicorn's configuration for ``app``, bounded by ``limits`` (default: the app's own, else ``Limits()``)."""
    limits = limits or getattr(getattr(app, "state", None), "limits", None) or Limits()
    # Keep-alive suits many concurrent SDK clients; the h11 protocol and the asyncio loop are the
    # pure-Python defaults, present wherever uvicorn is. Connections are refused at max_connections
    # already, so uvicorn's own 503 (it counts connections too) only bounds requests in flight.
    return uvicorn.Config(app, log_level=log_level, access_log=access_log, timeout_keep_alive=30,
                          timeout_graceful_shutdown=5, lifespan="off", http=guarded_protocol(limits),
                          limit_concurrency=limits.max_connections + 1, backlog=limits.backlog,
                          h11_max_incomplete_event_size=limits.max_header_bytes, **kw)


def guarded_protocol(limits: Limits) -> type[GuardedH11Protocol]:
    """uvicorn's h11 protocol with ``limits``' connection bounds."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"limits": limits})


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for every request head, a bound on connections and
    a bound on how long a client may go on sending a body nobody reads any more."""

    limits: Limits = Limits()

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        self._head_timer: Any = None
        self._drain_timer: Any = None
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._answer_and_close(503, KirokuError(
                f"the server holds its most connections ({self.limits.max_connections:,}); retry shortly",
                code="too_many_connections", retriable=True), retry_after=1)
            return
        self._arm_head()  # the first request's head: a connection that sends nothing is closed too

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and self.conn.their_state is h11.IDLE:
            self._arm_head()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)
        state = self.conn.their_state
        if state is not h11.IDLE:
            self._cancel("_head_timer")  # the head is complete
        if state is not h11.SEND_BODY:
            self._cancel("_drain_timer")  # the unread body ended (or the connection was closed)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.SEND_BODY and self._drain_timer is None:
            # Answered before the body was read to its end (a refusal, a broken upload): the rest is
            # discarded as it arrives, for a while — then the connection is closed.
            self._drain_timer = self.loop.call_later(self.limits.header_timeout, self._drain_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel("_head_timer")
        self._cancel("_drain_timer")
        super().connection_lost(exc)

    # -- timers --------------------------------------------------------------------------------------

    def _arm_head(self) -> None:
        self._cancel("_head_timer")
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _cancel(self, name: str) -> None:
        timer = getattr(self, name, None)
        if timer is not None:
            timer.cancel()
            setattr(self, name, None)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        seconds = f"{self.limits.header_timeout:g}"
        self._answer_and_close(408, KirokuError(
            f"the request's head (request line and headers) did not arrive within {seconds} s",
            field="headers", expected=f"a complete request head within {seconds} s", code="header_timeout", retriable=True))

    def _drain_timed_out(self) -> None:
        self._drain_timer = None
        if not self.transport.is_closing() and self.conn.their_state is h11.SEND_BODY:
            self.transport.close()

    def _answer_and_close(self, status: int, err: KirokuError, retry_after: int | None = None) -> None:
        """Answer a connection that has no request (yet) to answer, and close it."""
        body = problem_body(err, status=status, location="header" if err.field else None)
        body["title"] = {408: "Request timeout", 503: "Unavailable"}.get(status, body["title"])
        data = problem_bytes(body)
        reason = {408: "Request Timeout", 503: "Service Unavailable"}[status]
        head = [f"HTTP/1.1 {status} {reason}", f"content-type: {PROBLEM_JSON}", f"content-length: {len(data)}", "connection: close"]
        if retry_after is not None:
            head.append(f"retry-after: {retry_after}")
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        self.transport.close()


class RequestTimeout(KirokuError):
    """A request body stalled or trickled (the HTTP API answers 408; retry at a sensible pace)."""

    code = "request_timeout"
    retriable = True


class BodyPace:
    """ASGI middleware: a request body must keep coming. Each wait for its next bytes is bounded
    (``body_timeout``), and once the server has waited ``body_timeout`` seconds in all, the body
    must average ``min_body_rate`` bytes per second of waiting — else :class:`RequestTimeout`.

    Only time the app spends waiting for the client counts (not its own work between reads), and
    only until the body has ended: a stream's later wait for a disconnect is not bounded here."""

    def __init__(self, app: Any, limits: Limits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self.limits
        waited, got, ended = 0.0, 0, False

        async def paced() -> dict[str, Any]:
            nonlocal waited, got, ended
            if ended:
                return await receive()
            started = time.monotonic()
            with anyio.move_on_after(limits.body_timeout) as scope_:
                message = await receive()
            waited += time.monotonic() - started
            if scope_.cancelled_caught:
                raise RequestTimeout(f"no bytes of the request body arrived for {limits.body_timeout:g} s",
                                     field="body", expected=f"the next bytes within {limits.body_timeout:g} s",
                                     got=f"{got:,} bytes in {waited:.0f} s")
            if message["type"] != "http.request":
                return message
            got += len(message.get("body", b""))
            ended = not message.get("more_body", False)
            rate = limits.min_body_rate
            if not ended and rate > 0 and waited > limits.body_timeout and got < rate * waited:
                raise RequestTimeout(f"the request body arrives slower than this server accepts ({rate:,.0f} bytes/s)",
                                     field="body", expected=f"at least {rate:,.0f} bytes/s",
                                     got=f"{got:,} bytes in {waited:.0f} s")
            return message

        await self.app(scope, paced, send)


def serve(app: Any, sock: socket.socket, **kw: Any) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    uvicorn.Server(config(app, **kw)).run(sockets=[sock])


@contextlib.contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, **kw: Any) -> Iterator[str]:
    """Serve ``app`` from a background thread; yields its base URL and stops it on exit."""
    cfg = config(app, **kw)
    sock = bind(host, port, backlog=cfg.backlog)
    server = uvicorn.Server(cfg)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="kiroku-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the HTTP server did not start")
        time.sleep(0.01)
    try:
        yield base_url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=10)
        sock.close()
