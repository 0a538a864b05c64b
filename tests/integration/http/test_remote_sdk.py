"""The remote SDKs against a real uvicorn on 127.0.0.1 (port 0, in a thread): the same interface,
answers and errors as the in-process SDKs, and retries that never record twice."""

from __future__ import annotations

import inspect
import io
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ledger.domain.model import Principal, SubmissionKind
from ledger.errors import Conflict, Forbidden, NotFound, Unavailable, ValidationError, ValidationErrors
from producers import Producer
from producers.remote import RemoteProducer
from tests.factories import CHIYODA, CORP_A, CORP_B, OSAKA, payroll, payroll_line
from tests.integration.helpers import agency, company, enroll_payroll, grant_until, poll_until, request, special_collection
from viewers import AgencyView, CompanyView, FirmView
from viewers.http.app import create_app
from viewers.http.client import HttpClient
from viewers.http.deps import Limits
from viewers.http.server import serve_in_thread
from viewers.remote import RemoteAgencyView, RemoteCompanyView, RemoteFirmView

pytestmark = pytest.mark.integration

CHIYODA_ID = f"municipality:{CHIYODA}"


@pytest.fixture
def live_app(kiroku, tokens):
    return create_app(kiroku, tokens, rate=0, limits=Limits(max_wait=5, max_stream_seconds=5, poll_interval=0.05, keepalive=0.2))


@pytest.fixture
def live(live_app):
    with serve_in_thread(live_app) as url:
        yield url


def connect(cls, live, tokens, principal: str, **kw):
    _, token = tokens.add(principal)
    return cls.open(live, token, **kw)


class TimeoutAfterSending(httpx.HTTPTransport):
    """Delivers the first matching request to the server, then loses its answer (a read timeout)."""

    def __init__(self, method: str, path: str) -> None:
        super().__init__()
        self.method, self.path, self.sent = method, path, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == self.method and request.url.path == self.path:
            self.sent += 1
            if self.sent == 1:
                response.read()
                raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


def test_the_remote_sdks_have_the_in_process_sdks_methods():
    pairs = [(Producer, RemoteProducer), (AgencyView, RemoteAgencyView), (CompanyView, RemoteCompanyView), (FirmView, RemoteFirmView)]
    for local, remote in pairs:
        for name, fn in inspect.getmembers(local, inspect.isfunction):
            if name.startswith("_") or name == "open":
                continue
            assert hasattr(remote, name), f"{remote.__name__} lacks {name}"
            want = [p for p in inspect.signature(fn).parameters if p != "self"]
            got = [p for p in inspect.signature(getattr(remote, name)).parameters if p != "self"]
            assert got[: len(want)] == want, (remote.__name__, name, got, want)


def test_a_vendor_records_corrects_and_cancels_remotely_as_it_would_in_process(live, tokens, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    company(kiroku, CORP_A).grant("vendor:acme", ["PAYROLL_REPORT"], ["submit", "read", "receive_notices"], grant_until(kiroku))
    with connect(RemoteProducer, live, tokens, "vendor:acme") as p:
        assert p.principal == Principal.vendor("acme")
        receipt = p.record(CORP_A, "PAYROLL_REPORT", "2026", payroll(), idempotency_key="jan-run-1")
        assert p.record(CORP_A, "PAYROLL_REPORT", "2026", payroll(), idempotency_key="jan-run-1") == receipt
        assert p.receipt(receipt.submission_id) == kiroku.queries.receipt(Principal.vendor("acme"), receipt.submission_id)
        corrected = p.correct(receipt.submission_id, payroll([payroll_line(1, payment_amount=7_000_000)]))
        cancelled = p.cancel(corrected.submission_id)
        assert (corrected.kind, cancelled.kind, cancelled.replaces) == (SubmissionKind.CORRECTION, SubmissionKind.CANCELLATION,
                                                                        corrected.submission_id)
        with pytest.raises(Conflict) as conflict:
            p.record(CORP_A, "PAYROLL_REPORT", "2026", payroll(name="別"), idempotency_key="jan-run-1")
        assert (conflict.value.code, conflict.value.field) == ("idempotency_conflict", "idempotency_key")
        with pytest.raises(Forbidden) as forbidden:
            p.record(CORP_B, "PAYROLL_REPORT", "2026", payroll())
        local = Producer(kiroku, "vendor:acme")
        with pytest.raises(Forbidden) as same:
            local.record(CORP_B, "PAYROLL_REPORT", "2026", payroll())
        assert (forbidden.value.code, forbidden.value.field, forbidden.value.message) == (same.value.code, same.value.field,
                                                                                          same.value.message)
        with pytest.raises(ValidationErrors) as invalid:
            p.record(CORP_A, "PAYROLL_REPORT", "2025", payroll([payroll_line(3, payment_amount="x")]))
        assert [e.field for e in invalid.value.errors] == ["lines[1].payment_amount"]  # the service layer's own field names
        with pytest.raises(NotFound):
            p.receipt("sub_01JZZZZZZZZZZZZZZZZZZZZZZZ")
        assert [e.procedure for e in p.enrollments(CORP_A)] == ["PAYROLL_REPORT"]


def test_a_company_registers_its_bonus_months_remotely(live, tokens, kiroku):
    """賞与支払予定月 over the remote SDK (issue 15, E9), as the embedded SDK records them."""
    with connect(RemoteProducer, live, tokens, f"company:{CORP_A}") as p:
        assert p.enroll(CORP_A, "BONUS_PAYMENT", "pension-office:0101", bonus_months=[12, 6]).bonus_months == [6, 12]
        assert p.enrollments(CORP_A)[0].bonus_months == [6, 12]


def test_record_many_streams_one_answer_per_request_in_order(live, tokens, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    first = datetime.now(UTC).year - 6  # seven years still inside the 7-year retention of a 給与支払報告書
    reqs = [request(CORP_A, "PAYROLL_REPORT", str(first + i), payroll(), key=f"many-{i}") for i in range(7)]
    reqs[3] = request(CORP_A, "PAYROLL_REPORT", "1999", payroll(), key="many-bad")  # before the calendar's first year
    reqs.append(request(CORP_B, "PAYROLL_REPORT", "2026", payroll(), key="theirs"))
    with connect(RemoteProducer, live, tokens, f"company:{CORP_A}", chunk=3) as p:
        results = list(p.record_many(reqs))
        again = list(p.record_many(reqs))
    assert [type(r).__name__ for r in results] == ["Receipt"] * 3 + ["ValidationError"] + ["Receipt"] * 3 + ["Forbidden"]
    assert results[3].field == "period" and results[7].code == "forbidden"
    assert [getattr(r, "submission_id", None) for r in again] == [getattr(r, "submission_id", None) for r in results]
    assert len(kiroku.queries.notices(Principal.agency(CHIYODA_ID), limit=1000)) == 6


def test_a_recording_whose_answer_is_lost_is_sent_again_with_the_same_key_and_recorded_once(live, tokens, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    lossy = TimeoutAfterSending("POST", "/v1/submissions")
    with connect(RemoteProducer, live, tokens, f"company:{CORP_A}", transport=lossy, backoff=0.01) as p:
        receipt = p.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())  # no key given: the SDK makes one and keeps it
    assert lossy.sent == 2
    filed = kiroku.queries.filings(Principal.company(CORP_A), CORP_A)
    assert [f.submission_id for f in filed] == [receipt.submission_id]
    assert [n.submission_id for n in kiroku.queries.notices(Principal.agency(CHIYODA_ID))] == [receipt.submission_id]


def test_a_command_that_is_not_idempotent_is_not_sent_twice(live, tokens, kiroku):
    lossy = TimeoutAfterSending("POST", "/v1/grants")
    with connect(RemoteProducer, live, tokens, f"company:{CORP_A}", transport=lossy, backoff=0.01) as p:
        with pytest.raises(Unavailable) as err:
            p.grant("firm:tanaka-tax", ["PAYROLL_REPORT"], ["read"], grant_until(kiroku))
    assert err.value.retriable and lossy.sent == 1
    assert len(kiroku.queries.grants(Principal.company(CORP_A))) == 1


def test_an_unreachable_server_is_unavailable_and_retriable(tokens):
    client = HttpClient("http://127.0.0.1:9", "kk_x", retries=1, backoff=0.01, timeout=2)
    with pytest.raises(Unavailable) as err:
        client.call("GET", "/v1/me")
    assert err.value.retriable


def test_a_rate_limited_sdk_waits_for_retry_after(kiroku, tokens):
    app = create_app(kiroku, tokens, rate=2, burst=1)
    with serve_in_thread(app) as url:
        with connect(RemoteCompanyView, url, tokens, f"company:{CORP_A}") as view:  # /v1/me spends the burst
            started = time.monotonic()
            assert view.grants() == []
            assert time.monotonic() - started >= 0.3


def test_the_agency_views_read_remotely_what_they_read_in_process(live, tokens, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA, OSAKA)
    sub = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1), payroll_line(2,
                                                                                                                  municipality_code=OSAKA)]))
    local = agency(kiroku, CHIYODA_ID)
    with connect(RemoteAgencyView, live, tokens, f"agency:{CHIYODA_ID}") as remote:
        assert remote.agency_id == CHIYODA_ID
        assert remote.notices() == local.notices()
        got, want = remote.snapshot(sub.submission_id), local.snapshot(sub.submission_id)
        assert got.model_dump(exclude={"raw"}) == want.model_dump(exclude={"raw"})
        assert remote.history(sub.submission_id) == local.history(sub.submission_id)
        assert remote.filings(CORP_A) == local.filings(CORP_A)
        assert remote.effective(CORP_A, "PAYROLL_REPORT", "2026").payload == local.effective(CORP_A, "PAYROLL_REPORT", "2026").payload
        out_remote, out_local = io.StringIO(), io.StringIO()
        assert remote.export_csv([sub.submission_id], out_remote) == local.export_csv([sub.submission_id], out_local) == 1
        assert out_remote.getvalue() == out_local.getvalue()
        dsp = remote.issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(CHIYODA), [sub.submission_id])
        assert dsp.based_on == [sub.submission_id]
        assert remote.missing_report() == local.missing_report()
        assert remote.expected_filers("PAYROLL_REPORT", "2026") == local.expected_filers("PAYROLL_REPORT", "2026") == [CORP_A]
        with pytest.raises(ValidationError):
            RemoteCompanyView(remote.http)  # a view needs a token of its kind
    company(kiroku, CORP_B).enroll(CORP_B, "WITHHOLDING_SLIP", "tax-office:01101")
    with connect(RemoteAgencyView, live, tokens, "agency:tax-office:01101") as tax:
        [pending] = tax.pending_enrollments()
        accepted = tax.accept(pending.enrollment_id, assigned_id="0012345678")  # 整理番号1, 10 digits (issue 15)
        assert (accepted.decisions, accepted.assigned_ids) == ({"tax-office:01101": "accepted"}, {"tax-office:01101": "0012345678"})
        from tests.factories import withholding

        receipt = company(kiroku, CORP_B).record(CORP_B, "WITHHOLDING_SLIP", "2026", withholding())
        assert tax.snapshot_bytes(receipt.submission_id) == agency(kiroku, "tax-office:01101").snapshot_bytes(receipt.submission_id)


def test_an_agency_follows_its_feed_by_long_poll_and_by_server_sent_events(live, live_app, tokens, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    a = company(kiroku, CORP_A)
    with connect(RemoteAgencyView, live, tokens, f"agency:{CHIYODA_ID}") as view:
        got: dict[str, list] = {"sse": [], "poll": []}

        def by_sse() -> None:
            for n in view.events(after=0, max_seconds=3):
                got["sse"].append(n)
                if len(got["sse"]) == 2:
                    return

        def by_poll() -> None:
            for n in view.follow(after=0, wait=3):
                got["poll"].append(n)
                if len(got["poll"]) == 2:
                    return

        readers = [threading.Thread(target=by_sse), threading.Thread(target=by_poll)]
        for t in readers:
            t.start()
        poll_until(lambda: live_app.state.bell.waiting >= 2, what="both readers to find the feed empty and wait")
        first = a.record(CORP_A, "PAYROLL_REPORT", "2025", payroll())
        second = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
        for t in readers:
            t.join(timeout=10)
        expected = [first.submission_id, second.submission_id]
        assert [n.submission_id for n in got["sse"]] == expected
        assert [n.submission_id for n in got["poll"]] == expected
        assert [n.seq for n in got["sse"]] == [1, 2]


def test_a_company_and_its_firm_read_remotely(live, tokens, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    with connect(RemoteCompanyView, live, tokens, f"company:{CORP_A}") as mine:
        grant = mine.grant("firm:tanaka-tax", ["PAYROLL_REPORT"], ["submit", "read", "receive_notices"], grant_until(kiroku))
        assert mine.grants() == [grant]
        with connect(RemoteProducer, live, tokens, "firm:tanaka-tax") as firm_producer:
            sub = firm_producer.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
        dsp = agency(kiroku, CHIYODA_ID).issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(CHIYODA),
                                                           [sub.submission_id])
        with connect(RemoteFirmView, live, tokens, "firm:tanaka-tax") as firm:
            assert firm.clients() == [CORP_A]
            assert [f.submission_id for f in firm.filings()] == [sub.submission_id]
            items, cursor = firm.inbox()
            assert [d.disposition_id for d in items] == [dsp.disposition_id]
            assert firm.inbox(cursor) == ([], cursor)
            opened = firm.open_disposition(dsp.disposition_id)
            assert opened.delivered_to == "firm:tanaka-tax"
        assert [d.disposition_id for d in mine.dispositions()] == [dsp.disposition_id]
        assert mine.enrollments() == CompanyView(kiroku, CORP_A).enrollments()
        assert mine.filings() == CompanyView(kiroku, CORP_A).filings()
        assert [r.viewer for r in mine.access_log()] == [r.viewer for r in CompanyView(kiroku, CORP_A).access_log()]
        assert mine.revoke(grant.grant_id).revoked_at is not None
        assert mine.reminders(timedelta(days=400)) == CompanyView(kiroku, CORP_A).reminders(timedelta(days=400))


def test_a_receipt_with_its_inclusion_proof_comes_over_http_and_verifies_offline(live, tokens, kiroku):
    from ledger.transparency.signer import Verifier
    from ledger.transparency.verify import passed, verify_receipt

    with connect(RemoteProducer, live, tokens, f"company:{CORP_A}") as p:
        receipt = p.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
        proof = p.receipt_with_proof(receipt.submission_id)
        with pytest.raises(NotFound):
            p.receipt_with_proof("sub_01JZZZZZZZZZZZZZZZZZZZZZZZ")
    assert proof.submission_id == receipt.submission_id
    assert proof.to_json() == Producer(kiroku, f"company:{CORP_A}").receipt_with_proof(receipt.submission_id).to_json()
    assert passed(verify_receipt(proof.to_json(), [Verifier.parse(kiroku.transparency.verifier_key())]))


def test_the_listening_socket_is_tcp_so_answers_are_not_held_back_by_nagle():
    import socket

    from viewers.http.server import bind

    # asyncio turns TCP_NODELAY on for connections accepted from a socket whose proto is TCP;
    # with proto 0 every small answer waited ~40 ms for the client's delayed ACK.
    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
