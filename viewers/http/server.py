"""Running the HTTP API on uvicorn: in the foreground (``kiroku serve``) or in a background thread
(tests, ``kiroku bench http``). The socket is bound before uvicorn starts, so port 0 works and the
real address is known at once.

One process serves an embedded deployment: its SQLite log and catalog want a single writer
process, and the service layer serializes decisions with in-process locks. Requests are handled
concurrently by uvicorn's event loop and FastAPI's thread pool.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on connections accepted from such a
    # socket, and without it every response waits ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def config(app: Any, *, log_level: str = "warning", access_log: bool = False, **kw: Any) -> uvicorn.Config:
    # A large backlog and keep-alive suit many concurrent SDK clients; the h11 protocol and the
    # asyncio loop are the pure-Python defaults, present wherever uvicorn is.
    return uvicorn.Config(app, log_level=log_level, access_log=access_log, timeout_keep_alive=30,
                          timeout_graceful_shutdown=5, lifespan="off", **kw)


def serve(app: Any, sock: socket.socket, **kw: Any) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    uvicorn.Server(config(app, **kw)).run(sockets=[sock])


@contextlib.contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, **kw: Any) -> Iterator[str]:
    """Serve ``app`` from a background thread; yields its base URL and stops it on exit."""
    sock = bind(host, port)
    server = uvicorn.Server(config(app, **kw))
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
