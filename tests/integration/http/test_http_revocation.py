"""Revocation is immediate everywhere (issue 14, item 8): an open SSE stream or a held long-poll
stops at the token's revocation or expiry without sending what was recorded after it; failed
authentication is limited per client address and per presented token (429 + Retry-After,
nothing of the token echoed or logged); denials are recorded one by one only up to a bound per
principal and window, then summed up exactly. And the feed refuses ``after`` past its end
(item 9) instead of echoing it back as ``last_seq``."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from ledger.catalog import reads
from ledger.domain.model import Principal
from ledger.errors import Unauthenticated
from ledger.service.access import DENIALS_RECORDED
from tests.factories import CHIYODA, CORP_A, CORP_B, OSAKA, payroll
from tests.integration.helpers import enroll_payroll, grant_until, poll_until
from viewers.http.app import create_app
from viewers.http.deps import Limits
from viewers.http.gate import FailureLimiter
from viewers.http.server import serve_in_thread
from viewers.remote import RemoteAgencyView

pytestmark = pytest.mark.integration

A = f"company:{CORP_A}"
CHIYODA_ID = f"agency:municipality:{CHIYODA}"


def submission(period: str, corp: str = CORP_A) -> dict:
    return {"corporate_number": corp, "procedure": "PAYROLL_REPORT", "period": period, "payload": payroll()}


def record(client: TestClient, token: str, period: str, corp: str = CORP_A) -> dict:
    resp = client.post("/v1/submissions", json=submission(period, corp),
                       headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"rev-{corp}-{period}"})
    assert resp.status_code == 201, resp.text
    return resp.json()


def events(body: str) -> list[dict[str, str]]:
    """The events of an SSE body: each as its fields (``id``, ``event``, ``data``)."""
    out = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in fields:
            out.append(fields)
    return out


@pytest.fixture
def held(kiroku, tokens):
    """An app whose streams and long-polls last far longer than any of these tests (so only a
    revocation can end them early), looking at the catalog every 50 ms."""
    app = create_app(kiroku, tokens, rate=0, limits=Limits(max_wait=60, max_stream_seconds=60, poll_interval=0.05))
    with TestClient(app) as client:
        yield app, client


def in_thread(call):
    result: dict = {}

    def run() -> None:
        result["response"] = call()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


# -- open streams and held long-polls -------------------------------------------------------------------

@pytest.mark.parametrize("end", ["revoked", "expired"])
def test_an_open_sse_stream_closes_when_its_token_ends_without_the_notice_recorded_after(held, kiroku, tokens, clock, end):
    app, client = held
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    _, company = tokens.add(A)
    info, agency = tokens.add(CHIYODA_ID, expires_at=clock() + timedelta(hours=1))
    before = record(client, company, "2025")
    thread, result = in_thread(lambda: client.get("/v1/notices/stream", headers={"Authorization": f"Bearer {agency}"}))
    poll_until(lambda: app.state.bell.waiting >= 1, what="the stream to send what there is and wait")
    if end == "revoked":
        tokens.revoke(info.token_id)
    else:
        clock.advance(timedelta(hours=2))
    after = record(client, company, "2026")
    thread.join(timeout=30)
    assert not thread.is_alive(), "the stream stayed open after its token ended"
    got = events(result["response"].text)
    assert [(e["event"], e.get("id")) for e in got] == [("notice", "1"), ("problem", None)]
    assert json.loads(got[0]["data"])["submission_id"] == before["submission_id"]
    problem = json.loads(got[1]["data"])
    code = "token_revoked" if end == "revoked" else "token_expired"
    assert (problem["status"], problem["code"], problem["field"], problem["in"]) == (401, code, "/authorization", "header")
    assert after["submission_id"] not in result["response"].text
    # The notice was recorded to this agency's feed: the stream withheld it, it did not miss it.
    assert [n.submission_id for n in kiroku.queries.notices(Principal.agency(f"municipality:{CHIYODA}"), after=1)] == [
        after["submission_id"]]


@pytest.mark.parametrize("end", ["revoked", "expired"])
def test_a_held_long_poll_answers_401_when_its_token_ends_without_the_notice_recorded_after(held, kiroku, tokens, clock, end):
    app, client = held
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    _, company = tokens.add(A)
    info, agency = tokens.add(CHIYODA_ID, expires_at=clock() + timedelta(hours=1))
    record(client, company, "2025")
    thread, result = in_thread(lambda: client.get("/v1/notices", params={"after": 1, "wait": 60},
                                                  headers={"Authorization": f"Bearer {agency}"}))
    poll_until(lambda: app.state.bell.waiting >= 1, what="the long-poll to find nothing new and wait")
    if end == "revoked":
        tokens.revoke(info.token_id)
    else:
        clock.advance(timedelta(hours=2))
    after = record(client, company, "2026")
    thread.join(timeout=30)
    assert not thread.is_alive(), "the long-poll was held after its token ended"
    resp = result["response"]
    code = "token_revoked" if end == "revoked" else "token_expired"
    assert (resp.status_code, resp.json()["code"], resp.json()["field"], resp.json()["in"]) == (401, code, "/authorization", "header")
    assert resp.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert after["submission_id"] not in resp.text


def test_the_remote_sdk_raises_unauthenticated_when_the_server_ends_its_stream(kiroku, tokens):
    app = create_app(kiroku, tokens, rate=0, limits=Limits(max_wait=60, max_stream_seconds=60, poll_interval=0.05))
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    _, company = tokens.add(A)
    info, agency = tokens.add(CHIYODA_ID)
    with serve_in_thread(app) as url, TestClient(app) as client:
        first = record(client, company, "2025")
        with RemoteAgencyView.open(url, agency) as view:
            stream = view.events()
            assert next(stream).submission_id == first["submission_id"]
            tokens.revoke(info.token_id)
            record(client, company, "2026")
            with pytest.raises(Unauthenticated) as raised:
                next(stream)
    assert (raised.value.code, raised.value.field) == ("token_revoked", "authorization")


# -- failed authentication ------------------------------------------------------------------------------

BURST = 20  # the gate's default: failed attempts a key may make before it is refused


def test_failed_authentication_from_one_address_is_refused_with_429_and_retry_after(kiroku, tokens, caplog):
    _, good = tokens.add(A)
    app = create_app(kiroku, tokens, failures=FailureLimiter(clock=lambda: 1000.0))  # time stands still: exact waits
    wrong = [f"kk_guess{i:04d}" + "x" * 36 for i in range(BURST + 1)]
    caplog.set_level(logging.DEBUG)
    with TestClient(app, client=("198.51.100.7", 40000)) as prober, TestClient(app, client=("203.0.113.9", 40000)) as other:
        statuses = [prober.get("/v1/me", headers={"Authorization": f"Bearer {t}"}).status_code for t in wrong[:BURST]]
        assert statuses == [401] * BURST
        refused = prober.get("/v1/me", headers={"Authorization": f"Bearer {wrong[BURST]}"})
        problem = refused.json()
        assert (refused.status_code, problem["code"], problem["field"], problem["in"], problem["retriable"]) == (
            429, "too_many_failed_authentications", "/authorization", "header", True)
        assert refused.headers["Retry-After"] == "5"  # one more attempt every 5 s (rate 0.2/s)
        # While refused, not even a good token is looked up from there (a guess learns nothing) …
        assert prober.get("/v1/me", headers={"Authorization": f"Bearer {good}"}).status_code == 429
        # … and other clients are not affected, nor calls without a token (they guess nothing).
        assert other.get("/v1/me", headers={"Authorization": f"Bearer {good}"}).status_code == 200
        assert prober.get("/v1/me").status_code == 401
    shown = refused.text + "".join(r.getMessage() for r in caplog.records)
    assert not any(t in shown or t[:12] in shown for t in wrong)  # no token, nor its prefix, echoed or logged
    assert any("198.51.100.7" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_one_token_failing_from_many_addresses_is_refused_with_429(kiroku, tokens):
    app = create_app(kiroku, tokens)
    revoked_info, revoked = tokens.add(A)
    tokens.revoke(revoked_info.token_id)
    for n in range(BURST):
        with TestClient(app, client=(f"192.0.2.{n + 1}", 40000)) as client:
            assert client.get("/v1/me", headers={"Authorization": f"Bearer {revoked}"}).json()["code"] == "token_revoked"
    with TestClient(app, client=("192.0.2.200", 40000)) as fresh:
        again = fresh.get("/v1/me", headers={"Authorization": f"Bearer {revoked}"})
        assert (again.status_code, again.json()["code"]) == (429, "too_many_failed_authentications")
        assert fresh.get("/v1/me", headers={"Authorization": "Bearer kk_" + "B" * 43}).json()["code"] == "invalid_token"


# -- denials are bounded per principal, reads never ------------------------------------------------------

def test_denied_probes_beyond_the_bound_are_summed_up_in_one_exact_record_and_allowed_reads_all_kept(api, kiroku, clock):
    clock.set(datetime(2026, 12, 4, 10, 15, tzinfo=UTC))
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    enroll_payroll(kiroku, CORP_B, CHIYODA)
    a, b = api.as_(A), api.as_(f"company:{CORP_B}")
    theirs = a.post("/v1/submissions", json=submission("2026"), headers={"Idempotency-Key": "a"}).json()["submission_id"]
    b.post("/v1/grants", json={"grantee": "firm:prober", "procedures": ["PAYROLL_REPORT"], "actions": ["read"],
                               "expires_at": grant_until(kiroku).isoformat()})
    own = b.post("/v1/submissions", json=submission("2026", CORP_B), headers={"Idempotency-Key": "b"}).json()["submission_id"]
    firm = api.as_("firm:prober")
    extra = {"snapshot": 5, "receipt": 2}
    for _ in range(DENIALS_RECORDED + extra["snapshot"]):
        assert firm.get(f"/v1/submissions/{theirs}").status_code == 404
    for _ in range(extra["receipt"]):
        assert firm.get(f"/v1/submissions/{theirs}/receipt").status_code == 404
    for _ in range(3):  # past the bound on its denials, every read it may make is still recorded
        assert firm.get(f"/v1/submissions/{own}").status_code == 200

    def rows(corp: str) -> list:
        return [r for r in kiroku.queries.access_log(Principal.company(corp), corp) if r.viewer == "firm:prober"]

    probes = rows(CORP_A)
    assert len(probes) == DENIALS_RECORDED and {(r.outcome, r.action) for r in probes} == {("DENIED", "snapshot")}
    assert probes[-1].reason.endswith(f"denial {DENIALS_RECORDED} of firm:prober in this window: further denials until "
                                      "2026-12-04T11:00:00+00:00 are counted and summed up, not recorded one by one")
    assert [(r.outcome, r.action) for r in rows(CORP_B)] == [("ALLOWED", "snapshot")] * 3

    clock.advance(timedelta(hours=1))  # the window is over: the next record (anyone's read) writes the summary
    assert b.get(f"/v1/submissions/{own}").status_code == 200
    summed = rows(CORP_A)[DENIALS_RECORDED:]
    assert [(r.outcome, r.action, r.subject, r.legal_basis) for r in summed] == [("DENIED", "denials_suppressed", "7 denials", None)]
    assert summed[0].reason == (
        "7 more denials of firm:prober about this company, from 2026-12-04T10:15:00+00:00 to 2026-12-04T10:15:00+00:00, "
        f"were counted, not recorded one by one: the first {DENIALS_RECORDED} denials of firm:prober in the window "
        "2026-12-04T10:00:00+00:00 – 2026-12-04T11:00:00+00:00 were. Actions: receipt ×2, snapshot ×5")
    assert firm.get(f"/v1/submissions/{theirs}").status_code == 404  # a new window: recorded one by one again
    assert [r.action for r in rows(CORP_A)[DENIALS_RECORDED + 1:]] == ["snapshot"]
    with kiroku.catalog.connect() as conn:  # nothing went to the log of no company
        assert [r for r in reads.access_records(conn, "-", 0, 1000) if r.viewer == "firm:prober"] == []


# -- after= past the feed's end (item 9) -----------------------------------------------------------------

def test_after_past_the_feeds_end_is_refused_naming_the_last_notice(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    a, chiyoda = api.as_(A), api.as_(CHIYODA_ID)
    for year in ("2025", "2026"):
        a.post("/v1/submissions", json=submission(year), headers={"Idempotency-Key": year})
    at_end = chiyoda.get("/v1/notices", params={"after": 2})
    assert (at_end.status_code, at_end.json()) == (200, {"notices": [], "last_seq": 2})
    for params in ({"after": 3}, {"after": 3, "wait": 1}):
        past = chiyoda.get("/v1/notices", params=params)
        problem = past.json()
        assert (past.status_code, problem["code"], problem["field"], problem["in"], problem["expected"], problem["got"]) == (
            422, "after_past_end", "/after", "query", "a sequence number from 0 to 2", 3)
    streamed = chiyoda.get("/v1/notices/stream", params={"after": 7})
    assert (streamed.status_code, streamed.json()["field"], streamed.json()["expected"]) == (422, "/after", "a sequence number from 0 to 2")
    resumed = chiyoda.get("/v1/notices/stream", headers={"Last-Event-ID": "5"})
    assert (resumed.status_code, resumed.json()["code"], resumed.json()["field"], resumed.json()["in"], resumed.json()["got"]) == (
        422, "after_past_end", "/Last-Event-ID", "header", 5)
    empty = api.as_(f"agency:municipality:{OSAKA}").get("/v1/notices", params={"after": 1})  # a feed with no notice yet
    assert (empty.status_code, empty.json()["expected"]) == (422, "a sequence number from 0 to 0")


def test_a_bulk_upload_records_nothing_after_its_token_is_revoked(kiroku, tokens):
    """A long upload outlives the gate's check at its start: each batch checks the token again, so
    the items sent after a revocation are not recorded and the stream ends with the 401 line."""
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    info, company = tokens.add(A)
    app = create_app(kiroku, tokens, rate=0, limits=Limits(bulk_batch=1))
    first_recorded, revoked = threading.Event(), threading.Event()
    year = datetime.now(UTC).year

    def body():
        yield (json.dumps({**submission(str(year - 1)), "idempotency_key": "bulk-rev-1"}) + "\n").encode()
        assert first_recorded.wait(30)
        tokens.revoke(info.token_id)
        revoked.set()
        yield (json.dumps({**submission(str(year)), "idempotency_key": "bulk-rev-2"}) + "\n").encode()

    def watch() -> None:
        poll_until(lambda: len(kiroku.queries.filings(Principal.company(CORP_A), CORP_A)) == 1, what="the first batch")
        first_recorded.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    with serve_in_thread(app) as url:
        import httpx

        resp = httpx.post(f"{url}/v1/submissions/bulk", content=body(), timeout=60,
                          headers={"Authorization": f"Bearer {company}", "Content-Type": "application/x-ndjson"})
    watcher.join()
    lines = [json.loads(x) for x in resp.text.splitlines()]
    assert revoked.is_set() and [x.get("status") for x in lines] == [201, 401], lines
    assert (lines[1]["item"], lines[1]["problem"]["code"]) == (None, "token_revoked")
    assert not any(x.get("done") for x in lines)
    assert [f.period for f in kiroku.queries.filings(Principal.company(CORP_A), CORP_A)] == [str(year - 1)]
