"""Slow or huge clients cannot starve the others (issue 14, item 3), on a real uvicorn server.

The soak: 45 slow chunked bulk uploads (more than the 40 threads of the default thread pool), 300
connections that never finish their request head, and one NDJSON line of 8 MiB (eight times the
line limit), all at once — and meanwhile ``/health`` and an ordinary snapshot read answer; then
every abuser has been cut off with a clear answer and the server serves as before. The limits are
small so that the run stays short (a few seconds); which bound cuts off whom is asserted exactly,
never how long anything took.

Around it, each bound on its own: a head's deadline, the connection bound, a stalled or trickled
body, a principal's and the server's bulk uploads, the line limit, and the bulk answer's counts of
recorded and replayed items (issue 14, item 9).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.factories import CHIYODA, CORP_A, payroll
from tests.integration.helpers import enroll_payroll
from viewers.http.app import create_app
from viewers.http.deps import Limits
from viewers.http.server import serve_in_thread

pytestmark = pytest.mark.integration

A = f"company:{CORP_A}"
NDJSON = {"Content-Type": "application/x-ndjson"}
#: Generous bounds on every socket read, so that a server that never answers fails the test instead of hanging it.
PATIENCE = 20.0


def submission(period: str, key: str) -> dict:
    return {"corporate_number": CORP_A, "procedure": "PAYROLL_REPORT", "period": period, "payload": payroll(),
            "idempotency_key": key}


def ndjson(items: list[dict]) -> bytes:
    return "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items).encode()


class Server:
    """A live server over the test deployment, and a token per principal (made on demand)."""

    def __init__(self, url: str, tokens: Any) -> None:
        self.url, self.tokens = url, tokens
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.address = (host, int(port))
        self._tokens: dict[str, str] = {}
        self.http = httpx.Client(base_url=url, timeout=PATIENCE)

    def token(self, principal: str) -> str:
        if principal not in self._tokens:
            self._tokens[principal] = self.tokens.add(principal)[1]
        return self._tokens[principal]

    def auth(self, principal: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(principal)}"}

    def connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=PATIENCE)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def start_bulk(self, principal: str) -> socket.socket:
        """A chunked bulk upload whose head is sent, and no byte of its body yet."""
        sock = self.connect()
        sock.sendall(f"POST /v1/submissions/bulk HTTP/1.1\r\nHost: kiroku\r\nAuthorization: Bearer {self.token(principal)}\r\n"
                     "Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        return sock


@contextlib.contextmanager
def live(kiroku, tokens, **limits: Any) -> Iterator[Server]:
    app = create_app(kiroku, tokens, rate=0, limits=Limits(**limits))
    with serve_in_thread(app) as url:
        server = Server(url, tokens)
        try:
            yield server
        finally:
            server.http.close()


def read_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The status and headers of the response on ``sock``, and whatever of its body came with them."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            raise AssertionError(f"the connection closed before a response head: {data!r}")
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, rest


def read_to_close(sock: socket.socket, already: bytes = b"") -> bytes:
    data = already
    with contextlib.suppress(ConnectionResetError):
        while more := sock.recv(65536):
            data += more
    return data


def dechunk(data: bytes) -> bytes:
    out, rest = b"", data
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out, rest = out + rest[:n], rest[n + 2:]
    return out


def result_lines(data: bytes) -> list[dict]:
    return [json.loads(x) for x in dechunk(data).splitlines() if x.strip()]


def problem_of(body: bytes) -> dict:
    return json.loads(body)


def recorded_submission(server: Server, kiroku) -> str:
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    resp = server.http.post("/v1/submissions", json={k: v for k, v in submission("2026", "-").items() if k != "idempotency_key"},
                            headers={**server.auth(A), "Idempotency-Key": "soak-read"})
    assert resp.status_code == 201, resp.text
    return resp.json()["submission_id"]


# -- the soak -------------------------------------------------------------------------------------------

def test_health_and_reads_answer_while_slow_uploads_half_sent_heads_and_a_huge_line_abuse_the_server(kiroku, tokens):
    limits = {"header_timeout": 2.0, "body_timeout": 1.0, "min_body_rate": 1000.0, "max_line": 2**20,
              "bulk_per_principal": 15, "bulk_workers": 46}
    with live(kiroku, tokens, **limits) as server:
        sid = recorded_submission(server, kiroku)
        slow = [server.start_bulk(f"vendor:slow-{i % 3}") for i in range(45)]  # 45 > the default pool's 40 threads
        assert [read_head(s)[0] for s in slow] == [200] * 45  # every one running, on the bulk pool
        heads = []
        for _ in range(300):
            sock = server.connect()
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: kiroku\r\nX-Never-Ends: ")
            heads.append(sock)

        huge: dict[str, Any] = {}

        def upload_huge_line() -> None:
            def body() -> Iterator[bytes]:
                yield b'{"padding": "'
                for _ in range(128):
                    yield b"x" * 65536  # 8 MiB, one line, never held whole by the server
                yield b'"}\n' + ndjson([submission("2027", "after-the-huge-line")])

            huge["resp"] = httpx.post(f"{server.url}/v1/submissions/bulk", content=body(), timeout=PATIENCE,
                                      headers={**NDJSON, **server.auth(A)})

        uploader = threading.Thread(target=upload_huge_line)
        uploader.start()
        answered = []
        for round_ in range(6):  # while the abuse goes on: the slow ones trickle, the heads hang
            for s in slow:
                with contextlib.suppress(OSError):
                    s.sendall(b"1\r\n \r\n")  # one byte of body (a blank line's beginning)
            health = server.http.get("/health")
            snapshot = server.http.get(f"/v1/submissions/{sid}", headers=server.auth(A))
            answered.append((health.status_code, health.json()["status"], snapshot.status_code, snapshot.json()["info"]["submission_id"]))
            time.sleep(0.1)
        assert answered == [(200, "ok", 200, sid)] * 6
        uploader.join(PATIENCE)

        # The huge line: 413 for it, named by its number; the next line recorded all the same.
        lines = [json.loads(x) for x in huge["resp"].text.splitlines()]
        assert (lines[0]["item"], lines[0]["status"], lines[0]["problem"]["code"]) == (1, 413, "line_too_long")
        assert lines[0]["problem"]["detail"].startswith("line 1 of the upload is longer than this server accepts (1,048,576 bytes)")
        assert (lines[0]["problem"]["expected"], lines[0]["problem"]["got"]) == ("at most 1,048,576 bytes per line", "8,388,623 bytes")
        assert (lines[1]["item"], lines[1]["status"]) == (2, 201)
        assert lines[-1] == {"done": True, "items": 2, "recorded": 1, "replayed": 0, "failed": 1}

        # Every half-sent head: 408 and closed. Every slow upload: a 408 line, the stream ended, closed.
        for sock in heads:
            status, _, rest = read_head(sock)
            assert (status, problem_of(read_to_close(sock, rest))["code"]) == (408, "header_timeout")
            sock.close()
        for sock in slow:
            data = read_to_close(sock)
            sock.close()
            last = result_lines(data)[-1]  # too slow, or stalled once the trickle stopped (each is tested below)
            assert (last["item"], last["status"], last["problem"]["code"]) == (None, 408, "request_timeout")

        # Recovered: every slot given back, the same principals upload again at once.
        assert server.http.get("/health").status_code == 200
        for i in range(3):
            again = server.http.post("/v1/submissions/bulk", content=ndjson([submission(str(2030 + i), f"later-{i}")]),
                                     headers={**NDJSON, **server.auth(f"vendor:slow-{i}")})
            assert json.loads(again.text.splitlines()[-1]) == {"done": True, "items": 1, "recorded": 0, "replayed": 0, "failed": 1}


# -- each bound on its own ------------------------------------------------------------------------------

def test_a_request_head_not_sent_in_time_is_answered_408_and_the_connection_closed(kiroku, tokens):
    with live(kiroku, tokens, header_timeout=0.5) as server:
        half = server.connect()
        half.sendall(b"GET /health HTTP/1.1\r\nHost: kiroku\r\nX-Tri")  # and never the rest
        silent = server.connect()  # sends nothing at all
        kept = server.connect()  # a kept-alive connection whose second head stalls
        kept.sendall(b"GET /health HTTP/1.1\r\nHost: kiroku\r\n\r\n")
        status, _, rest = read_head(kept)
        assert status == 200
        kept.sendall(b"GET /health HTTP/1.1\r\nHo")
        for sock in (half, silent, kept):
            status, headers, rest = read_head(sock)
            body = read_to_close(sock, rest)  # closed by the server: the read ends
            assert (status, headers["connection"], headers["content-type"]) == (408, "close", "application/problem+json")
            problem = problem_of(body[-int(headers["content-length"]):])
            assert {k: problem[k] for k in ("status", "code", "field", "in", "expected", "retriable")} == {
                "status": 408, "code": "header_timeout", "field": "/headers", "in": "header",
                "expected": "a complete request head within 0.5 s", "retriable": True}
            assert problem["detail"] == "the request's head (request line and headers) did not arrive within 0.5 s"
            sock.close()
        assert server.http.get("/health").status_code == 200


def test_connections_beyond_the_bound_are_answered_503_as_they_are_accepted_and_the_server_recovers(kiroku, tokens):
    with live(kiroku, tokens, max_connections=5, header_timeout=1.0) as server:
        held = [server.connect() for _ in range(5)]
        for sock in held:
            sock.sendall(b"GET /health HTTP/1.1\r\n")  # half a head each: the bound is full
        time.sleep(0.2)  # let the server accept them (ordering, not a timed assertion)
        extra = server.connect()
        status, headers, rest = read_head(extra)
        problem = problem_of(read_to_close(extra, rest))
        assert (status, headers["retry-after"], problem["code"], problem["retriable"]) == (503, "1", "too_many_connections", True)
        assert problem["detail"] == "the server holds its most connections (5); retry shortly"
        for sock in held:  # the head deadline frees them
            assert read_head(sock)[0] == 408
            sock.close()
        assert server.http.get("/health").status_code == 200


def test_a_request_head_growing_past_the_bound_is_refused_with_400(kiroku, tokens):
    with live(kiroku, tokens, max_header_bytes=2048) as server:
        sock = server.connect()
        # h11 bounds what it buffers of a head still incomplete: a client cannot make it hold more.
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: kiroku\r\nX-Big: " + b"a" * 4096)
        status, headers, rest = read_head(sock)
        assert (status, headers["connection"], read_to_close(sock, rest)) == (400, "close", b"Invalid HTTP request received.")
        sock.close()


def test_a_stalled_request_body_is_answered_408_naming_the_wait(kiroku, tokens):
    with live(kiroku, tokens, body_timeout=0.5) as server:
        sock = server.connect()
        sock.sendall(f"POST /v1/submissions HTTP/1.1\r\nHost: kiroku\r\nAuthorization: Bearer {server.token(A)}\r\n"
                     "Idempotency-Key: k\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"corpo".encode())
        status, headers, rest = read_head(sock)
        problem = problem_of(read_to_close(sock, rest))
        assert (status, headers["connection"]) == (408, "close")
        assert {k: problem[k] for k in ("status", "code", "field", "expected", "got", "retriable")} == {
            "status": 408, "code": "request_timeout", "field": "/body", "expected": "the next bytes within 0.5 s",
            "got": "7 bytes in 1 s", "retriable": True}
        sock.close()


def test_a_bulk_body_trickled_below_the_minimum_rate_is_cut_off_with_a_408_line(kiroku, tokens):
    with live(kiroku, tokens, body_timeout=2.0, min_body_rate=1000.0, header_timeout=0.5) as server:
        sock = server.start_bulk(A)
        assert read_head(sock)[0] == 200
        sock.settimeout(0.05)
        data = b""
        for _ in range(int(PATIENCE / 0.05)):  # one byte every 50 ms at most: 20 bytes/s, far below 1,000
            if b"request_timeout" in data:
                break
            with contextlib.suppress(OSError):
                sock.sendall(b"1\r\n \r\n")
            with contextlib.suppress(TimeoutError):
                data += sock.recv(65536)
        sock.settimeout(PATIENCE)
        last = result_lines(read_to_close(sock, data))[-1]
        problem = last["problem"]
        assert (last["item"], last["status"], problem["code"]) == (None, 408, "request_timeout")
        assert problem["expected"] == "at least 1,000 bytes/s"
        assert problem["detail"] == "the request body arrives slower than this server accepts (1,000 bytes/s)"
        sock.close()


def test_bulk_uploads_are_bounded_per_principal_and_in_all_with_429_and_retry_after(kiroku, tokens):
    with live(kiroku, tokens, bulk_per_principal=2, bulk_workers=3) as server:
        mine = [server.start_bulk(A) for _ in range(2)]
        assert [read_head(s)[0] for s in mine] == [200, 200]
        third = server.start_bulk(A)
        status, headers, rest = read_head(third)
        problem = problem_of(rest[:int(headers["content-length"])] if len(rest) >= int(headers["content-length"]) else
                             rest + third.recv(65536))
        assert (status, headers["retry-after"]) == (429, "5")
        assert {k: problem[k] for k in ("code", "field", "in", "expected", "got")} == {
            "code": "too_many_bulk_uploads", "field": "/authorization", "in": "header",
            "expected": "at most 2 bulk upload(s) at once", "got": "3 at once"}
        other = server.start_bulk("vendor:other")
        assert read_head(other)[0] == 200  # the server's third, and last
        fourth = server.start_bulk("vendor:fourth")
        status, headers, rest = read_head(fourth)
        problem = problem_of(rest + (b"" if len(rest) >= int(headers["content-length"]) else fourth.recv(65536)))
        assert (status, headers["retry-after"], problem["code"], problem["expected"], problem["got"]) == (
            429, "5", "bulk_capacity", "at most 3 bulk uploads at once", "4 at once")
        mine[0].sendall(b"0\r\n\r\n")  # one of A's ends: its slot is given back
        mine[0].settimeout(PATIENCE)
        data = b""
        while b'"done"' not in data and (more := mine[0].recv(65536)):
            data += more
        assert b'"done"' in data
        again = server.start_bulk(A)
        assert read_head(again)[0] == 200
        for sock in (*mine, third, other, fourth, again):
            sock.close()


# -- lines: a limit, linear reading, and what is answered (TestClient) -----------------------------------

@pytest.fixture
def small_lines(kiroku, tokens):
    from fastapi.testclient import TestClient

    from tests.integration.http.conftest import Api

    app = create_app(kiroku, tokens, rate=0, limits=Limits(max_line=1024, bulk_batch=2))
    with TestClient(app) as client:
        yield Api(client, tokens)


def test_a_line_longer_than_the_limit_is_answered_413_by_its_number_and_the_others_are_recorded(small_lines, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    long_line = json.dumps({**submission("2021", "long"), "padding": "x" * 2000}).encode()
    body = ndjson([submission("2020", "a")]) + b"\n" + long_line + b"\n" + ndjson([submission("2022", "b")])
    resp = small_lines.as_(A).post("/v1/submissions/bulk", content=body, headers=NDJSON)
    lines = [json.loads(x) for x in resp.text.splitlines()]
    assert [(x.get("item"), x.get("status")) for x in lines[:-1]] == [(1, 201), (2, 413), (3, 201)]
    problem = lines[1]["problem"]
    assert {k: problem[k] for k in ("status", "code", "expected", "got")} == {
        "status": 413, "code": "line_too_long", "expected": "at most 1,024 bytes per line", "got": f"{len(long_line):,} bytes"}
    assert problem["detail"] == "line 3 of the upload is longer than this server accepts (1,024 bytes); it was skipped"
    assert "x" * 80 not in resp.text  # the line itself is never echoed
    assert lines[-1] == {"done": True, "items": 3, "recorded": 2, "replayed": 0, "failed": 1}


def test_a_csv_line_longer_than_the_limit_ends_the_upload_with_413_naming_it(small_lines):
    header = ("法人番号,年分,事業者名,事業者所在地,市区町村コード,受給者番号,氏名,生年月日,個人番号,住所,支払金額,"
              "給与所得控除後の金額,所得控除の額の合計額,源泉徴収税額,社会保険料等の金額\n")
    body = (header + f"{CORP_A},2026," + "x" * 2000 + "\n").encode()
    resp = small_lines.as_(A).post("/v1/submissions/bulk", content=body, headers={"Content-Type": "text/csv"})
    (line,) = [json.loads(x) for x in resp.text.splitlines()]
    assert (line["item"], line["status"], line["problem"]["code"], line["problem"]["field"]) == (None, 413, "line_too_long", "/body")
    assert line["problem"]["detail"] == "line 2 of the upload is longer than this server accepts (1,024 bytes)"


# -- item 9: recorded and replayed, told apart ---------------------------------------------------------

def test_sending_a_bulk_upload_again_reports_nothing_recorded_and_every_item_replayed(small_lines, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    items = [submission("2020", "r-1"), submission("2021", "r-2"), submission("2020", "r-1"), submission("2022", "r-3")]

    def send() -> list[dict]:
        resp = small_lines.as_(A).post("/v1/submissions/bulk", content=ndjson(items), headers=NDJSON)
        return [json.loads(x) for x in resp.text.splitlines()]

    first = send()  # batches of 2: the repeated key is in another batch than its first
    assert [(x["status"], x.get("replayed", False)) for x in first[:-1]] == [(201, False), (201, False), (200, True), (201, False)]
    assert first[2]["receipt"] == first[0]["receipt"]
    assert first[-1] == {"done": True, "items": 4, "recorded": 3, "replayed": 1, "failed": 0}
    again = send()
    assert [(x["status"], x["replayed"]) for x in again[:-1]] == [(200, True)] * 4
    assert [x["receipt"] for x in again[:-1]] == [x["receipt"] for x in first[:-1]]
    assert again[-1] == {"done": True, "items": 4, "recorded": 0, "replayed": 4, "failed": 0}


def test_a_key_repeated_within_one_batch_is_recorded_once_and_counted_once(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    resp = api.as_(A).post("/v1/submissions/bulk", content=ndjson([submission("2020", "same")] * 3), headers=NDJSON)
    lines = [json.loads(x) for x in resp.text.splitlines()]
    assert [x["status"] for x in lines[:-1]] == [201, 200, 200]
    assert lines[-1] == {"done": True, "items": 3, "recorded": 1, "replayed": 2, "failed": 0}


def test_the_bounds_are_settings_and_a_bad_one_fails_at_start_up_naming_it(monkeypatch, tmp_path):
    from ledger.errors import ConfigurationError
    from ledger.settings import load_settings
    from viewers.http.app import limits_of

    monkeypatch.setenv("KIROKU_HOME", str(tmp_path))
    monkeypatch.setenv("KIROKU_HTTP_BULK_PER_PRINCIPAL", "3")
    monkeypatch.setenv("KIROKU_HTTP_HEADER_TIMEOUT", "2.5")
    limits = limits_of(load_settings())
    assert (limits.bulk_per_principal, limits.header_timeout, limits.max_line, limits.bulk_workers) == (3, 2.5, 10 * 2**20, 8)
    monkeypatch.setenv("KIROKU_HTTP_BULK_WORKERS", "0")
    with pytest.raises(ConfigurationError) as err:
        load_settings()
    assert (err.value.code, err.value.field) == ("bad_setting", "KIROKU_HTTP_BULK_WORKERS")
