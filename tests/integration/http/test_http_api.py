"""The HTTP API as a client sees it: recording with idempotency keys, problems, limits, tokens,
snapshots in every format, the notice feed (long-poll and SSE), bulk uploads, the OpenAPI document."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from datetime import timedelta

import fastavro
import pytest

from ledger.domain.model import Principal
from tests.factories import CHIYODA, CORP_A, CORP_B, OSAKA, payroll, payroll_line, withholding
from tests.integration.helpers import enroll_payroll, grant_until, poll_until
from viewers.http.app import create_app

pytestmark = pytest.mark.integration

A = f"company:{CORP_A}"
CHIYODA_ID = f"agency:municipality:{CHIYODA}"


def submission(period: str = "2026", payload: dict | None = None, corp: str = CORP_A, **extra) -> dict:
    return {"corporate_number": corp, "procedure": "PAYROLL_REPORT", "period": period, "payload": payload or payroll(), **extra}


def record(caller, body: dict, key: str):
    return caller.post("/v1/submissions", json=body, headers={"Idempotency-Key": key})


# -- recording and idempotency ------------------------------------------------------------------------

def test_the_same_key_and_body_returns_the_original_receipt_and_another_body_conflicts(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    a = api.as_(A)
    first = record(a, submission(), "run-1")
    again = record(a, submission(), "run-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert first.json()["targets"] == [f"municipality:{CHIYODA}"]
    other = record(a, submission(payload=payroll(name="別の会社")), "run-1")
    assert other.status_code == 409
    problem = other.json()
    assert (problem["code"], problem["field"], problem["in"]) == ("idempotency_conflict", "/idempotency_key", "header")
    assert other.headers["content-type"] == "application/problem+json"
    assert a.get(f"/v1/submissions/{first.json()['submission_id']}/receipt").json() == first.json()


def test_recording_requires_an_idempotency_key(api):
    resp = api.as_(A).post("/v1/submissions", json=submission())
    assert resp.status_code == 422
    assert (resp.json()["field"], resp.json()["in"]) == ("/Idempotency-Key", "header")


def test_a_correction_and_a_cancellation_make_a_history(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    a = api.as_(A)
    original = record(a, submission(), "o").json()
    corrected = record(a, submission(payload=payroll([payroll_line(1, payment_amount=6_000_000)]), kind="CORRECTION",
                                     replaces=original["submission_id"]), "c").json()
    stale = record(a, submission(kind="CORRECTION", replaces=original["submission_id"]), "c2")
    assert stale.status_code == 409 and stale.json()["code"] == "stale_replaces"
    cancelled = record(a, {**submission(kind="CANCELLATION", replaces=corrected["submission_id"]), "payload": None}, "x").json()
    chain = a.get(f"/v1/submissions/{original['submission_id']}/history").json()
    assert [(h["kind"], h["version"]) for h in chain] == [("ORIGINAL", 1), ("CORRECTION", 2), ("CANCELLATION", 3)]
    assert cancelled["replaces"] == corrected["submission_id"]
    in_force = a.get(f"/v1/filings/{CORP_A}/PAYROLL_REPORT/2026", params={"as_of": corrected["recorded_at"]}).json()
    assert in_force["info"]["submission_id"] == corrected["submission_id"]
    assert a.get(f"/v1/filings/{CORP_A}/PAYROLL_REPORT/2026").status_code == 404  # cancelled: nothing in force now


# -- problems -----------------------------------------------------------------------------------------

def test_a_payload_problem_points_at_the_offending_value_with_a_json_pointer(api):
    bad = payroll([payroll_line(1), payroll_line(2, payment_amount="many", municipality_code="131017")])
    resp = record(api.as_(A), submission(payload=bad), "bad")
    assert resp.status_code == 422
    problem = resp.json()
    assert problem["type"] == f"urn:kiroku:problem:{problem['code']}" and problem["status"] == 422
    pointers = {e["field"]: e for e in problem["errors"]}
    assert set(pointers) == {"/payload/lines/1/municipality_code", "/payload/lines/1/payment_amount"}
    amount = pointers["/payload/lines/1/payment_amount"]
    assert (amount["code"], amount["got"]) == ("invalid_amount", "many") and amount["expected"]


def test_a_misspelt_field_in_the_employer_is_refused_with_its_pointer_not_dropped(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    payload = payroll()
    payload["employer"] = {**payload["employer"], "adress": "東京都千代田区"}
    resp = record(api.as_(A), submission(payload=payload), "misspelt")
    assert (resp.status_code, resp.json()["code"], resp.json()["field"]) == (422, "unknown_field", "/payload/employer/adress")
    assert kiroku.queries.filings(Principal.company(CORP_A)) == []  # nothing recorded


def test_a_personal_number_is_never_echoed_in_a_problem(api):
    secret = "123456789019"  # a wrong check digit
    resp = record(api.as_(A), submission(payload=payroll([payroll_line(1, personal_number=secret)])), "pn")
    assert resp.status_code == 422
    assert secret not in resp.text and resp.json()["field"] == "/payload/lines/0/person/personal_number"


def test_malformed_json_and_unknown_fields_are_the_callers_fault(api):
    a = api.as_(A)
    broken = a.post("/v1/submissions", content=b'{"corporate_number": ', headers={"Idempotency-Key": "j",
                                                                                  "Content-Type": "application/json"})
    assert broken.status_code == 422 and broken.json()["code"] == "malformed_json"
    extra = record(a, {**submission(), "surprise": 1}, "j2")
    assert (extra.status_code, extra.json()["field"]) == (422, "/surprise")
    naive = a.get("/v1/filings", params={"as_of": "2027-01-01T00:00:00"})
    assert (naive.status_code, naive.json()["field"], naive.json()["in"]) == (422, "/as_of", "query")
    huge = a.get("/v1/notices", params={"after": 2**70})
    assert huge.status_code == 422


def test_a_body_over_the_limit_is_refused_before_it_is_read(kiroku, tokens):
    from fastapi.testclient import TestClient

    _, token = tokens.add(A)
    app = create_app(kiroku, tokens, max_body=1000, rate=0)
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {token}", "Idempotency-Key": "big", "Content-Type": "application/json"}
        declared = client.post("/v1/submissions", content=b"{" + b" " * 2000 + b"}", headers=auth)
        assert declared.status_code == 413 and declared.json()["code"] == "too_large"

        def chunks():  # no Content-Length: the limit trips while the body streams in
            for _ in range(100):
                yield b" " * 100

        streamed = client.post("/v1/submissions", content=chunks(), headers=auth)
        assert streamed.status_code == 413 and streamed.json()["code"] == "too_large"
        # anonymous oversized bodies are refused as too large too, before any token is looked at
        assert client.post("/v1/submissions", content=b"x" * 2000, headers={"Content-Type": "application/json"}).status_code == 413


def test_a_live_server_answers_413_without_waiting_for_the_rest_of_the_body(kiroku, tokens):
    """Over a real socket: the server refuses while most of the body was never sent."""
    import socket
    from urllib.parse import urlparse

    from viewers.http.server import serve_in_thread

    _, token = tokens.add(A)
    with serve_in_thread(create_app(kiroku, tokens, max_body=1000, rate=0)) as url:
        where = urlparse(url)

        def exchange(head: str, body: bytes) -> bytes:
            with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
                sock.sendall(head.encode() + body)  # and never the rest
                answer = b""
                while b"\r\n\r\n" not in answer:
                    answer += sock.recv(65536)
                return answer

        base = (f"POST /v1/submissions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                "Idempotency-Key: k\r\nContent-Type: application/json\r\n")
        declared = exchange(base + "Content-Length: 104857600\r\n\r\n", b"{")  # 100 MiB announced, 1 byte sent
        assert declared.startswith(b"HTTP/1.1 413")
        chunked = exchange(base + "Transfer-Encoding: chunked\r\n\r\n", b"".join(b"200\r\n" + b" " * 512 + b"\r\n" for _ in range(4)))
        assert chunked.startswith(b"HTTP/1.1 413")  # 2 KiB of an endless body sent


def test_a_principal_over_its_rate_limit_gets_429_with_retry_after(kiroku, tokens):
    from fastapi.testclient import TestClient

    _, token_a = tokens.add(A)
    _, token_b = tokens.add(f"company:{CORP_B}")
    app = create_app(kiroku, tokens, rate=0.5, burst=3)
    with TestClient(app) as client:
        statuses = [client.get("/v1/me", headers={"Authorization": f"Bearer {token_a}"}).status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
        limited = client.get("/v1/me", headers={"Authorization": f"Bearer {token_a}"})
        assert limited.json()["code"] == "rate_limited" and limited.json()["retriable"] is True
        assert int(limited.headers["Retry-After"]) >= 1
        assert client.get("/v1/me", headers={"Authorization": f"Bearer {token_b}"}).status_code == 200  # per principal
        assert client.get("/health").status_code == 200


# -- tokens -------------------------------------------------------------------------------------------

def test_tokens_are_stored_only_as_hashes_and_revocation_and_expiry_give_401(api, tokens, clock, home):
    info, token = tokens.add(A, label="payroll system", expires_at=clock() + timedelta(days=1))
    assert token.startswith("kk_") and len(token) > 40
    assert token.encode() not in (home / "principals.db").read_bytes()
    auth = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/v1/me", headers=auth).json() == {"principal": A, "kind": "company", "name": CORP_A}
    clock.advance(timedelta(days=2))
    expired = api.client.get("/v1/me", headers=auth)
    assert (expired.status_code, expired.json()["code"]) == (401, "token_expired")
    clock.advance(timedelta(days=-2))
    tokens.revoke(info.token_id)
    revoked = api.client.get("/v1/me", headers=auth)
    assert (revoked.status_code, revoked.json()["code"]) == (401, "token_revoked")
    assert revoked.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    unknown = api.client.get("/v1/me", headers={"Authorization": "Bearer kk_" + "A" * 43})
    assert (unknown.status_code, unknown.json()["code"]) == (401, "invalid_token")
    assert api.client.get("/v1/me", headers={"Authorization": "Basic eDp5"}).status_code == 401


# -- snapshots ----------------------------------------------------------------------------------------

def test_a_snapshot_comes_as_json_csv_avro_or_the_exact_recorded_bytes(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    a = api.as_(A)
    receipt = record(a, submission(payload=payroll([payroll_line(1), payroll_line(2)])), "s").json()
    sid = receipt["submission_id"]
    as_json = a.get(f"/v1/submissions/{sid}").json()
    assert as_json["personal_numbers"] == "shown" and len(as_json["payload"]["lines"]) == 2
    rows = a.get(f"/v1/submissions/{sid}", params={"format": "csv"}).text.splitlines()
    assert rows[0].startswith("submission_id,corporate_number,procedure,period,line,") and len(rows) == 3
    raw = a.get(f"/v1/submissions/{sid}", params={"format": "raw"})
    assert hashlib.sha256(raw.content).hexdigest() == receipt["payload_digest"] == raw.headers["X-Kiroku-Payload-Digest"]
    assert raw.content[:2] == b"\xc3\x01"  # Avro single-object encoding
    avro = a.get(f"/v1/submissions/{sid}", headers={"Accept": "application/avro"})
    assert avro.headers["content-type"] == "application/avro"
    reader = fastavro.reader(io.BytesIO(avro.content))
    [rec] = list(reader)
    assert len(rec["lines"]) == 2 and reader.metadata["kiroku.submission_id"] == sid


def test_a_municipality_gets_only_its_residents_lines_and_never_the_whole_recording(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA, OSAKA)
    sid = record(api.as_(A), submission(payload=payroll([payroll_line(1), payroll_line(2, municipality_code=OSAKA)])),
                 "m").json()["submission_id"]
    chiyoda = api.as_(CHIYODA_ID)
    snap = chiyoda.get(f"/v1/submissions/{sid}").json()
    assert snap["visible_lines"] == [1] and len(snap["payload"]["lines"]) == 1
    assert len(chiyoda.get(f"/v1/submissions/{sid}", params={"format": "csv"}).text.splitlines()) == 2
    for fmt in ("raw", "avro"):
        refused = chiyoda.get(f"/v1/submissions/{sid}", params={"format": fmt})
        assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (406, "partial_view", "/format")
        # The refusal is what the company's access log records, not an allowed read.
        last = kiroku.queries.access_log(Principal.company(CORP_A), CORP_A)[-1]
        assert (last.viewer, last.action, last.outcome) == (CHIYODA_ID, "snapshot", "DENIED")


def test_filings_are_queried_by_company_procedure_period_range_and_time(api, kiroku, clock):
    from tests.integration.helpers import jst

    enroll_payroll(kiroku, CORP_A, CHIYODA)
    a = api.as_(A)
    clock.set(jst(2026, 1, 10, 9, 0))
    record(a, submission("2024"), "y24")
    clock.set(jst(2027, 1, 10, 9, 0))
    record(a, submission("2025"), "y25")
    record(a, submission("2026"), "y26")
    chiyoda = api.as_(CHIYODA_ID)
    got = chiyoda.get("/v1/filings", params={"corporate_number": CORP_A, "period_from": "2025", "period_to": "2026"}).json()
    assert [f["period"] for f in got] == ["2025", "2026"]
    earlier = chiyoda.get("/v1/filings", params={"procedure": "PAYROLL_REPORT", "as_of": "2026-06-01T00:00:00+09:00"}).json()
    assert [f["period"] for f in earlier] == ["2024"]


# -- notices ------------------------------------------------------------------------------------------

def test_the_notice_feed_long_polls_until_a_notice_arrives(api, app, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    chiyoda, a = api.as_(CHIYODA_ID), api.as_(A)
    started = time.monotonic()
    empty = chiyoda.get("/v1/notices", params={"after": 0, "wait": 0.3}).json()
    assert empty == {"notices": [], "last_seq": 0} and time.monotonic() - started >= 0.3

    result: dict = {}

    def poll() -> None:
        result["page"] = chiyoda.get("/v1/notices", params={"after": 0, "wait": 2}).json()
        result["at"] = time.monotonic()

    waiter = threading.Thread(target=poll)
    waiter.start()
    poll_until(lambda: app.state.bell.waiting >= 1, what="the reader to find the feed empty and wait")
    recorded_at = time.monotonic()
    receipt = record(a, submission(), "lp").json()
    waiter.join(timeout=10)
    assert [n["submission_id"] for n in result["page"]["notices"]] == [receipt["submission_id"]]
    assert result["page"]["last_seq"] == 1
    assert result["at"] - recorded_at < 1.5  # woken by the recording, not by the end of the wait


def test_the_sse_stream_sends_each_notice_once_in_order_and_resumes_from_last_event_id(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    a = api.as_(A)
    ids = [record(a, submission(str(y)), f"sse{y}").json()["submission_id"] for y in (2024, 2025, 2026)]
    chiyoda = api.as_(CHIYODA_ID)
    body = chiyoda.get("/v1/notices/stream", params={"max_seconds": 0.2}).text
    assert body.startswith("retry: ")
    events = [e for e in body.split("\n\n") if e.startswith("id: ")]
    assert [e.splitlines()[0] for e in events] == ["id: 1", "id: 2", "id: 3"]
    assert [json.loads(e.splitlines()[2][6:])["submission_id"] for e in events] == ids
    resumed = chiyoda.get("/v1/notices/stream", params={"max_seconds": 0.2}, headers={"Last-Event-ID": "2"}).text
    assert [e.splitlines()[0] for e in resumed.split("\n\n") if e.startswith("id: ")] == ["id: 3"]
    bad = chiyoda.get("/v1/notices/stream", headers={"Last-Event-ID": "yesterday"})
    assert (bad.status_code, bad.json()["field"]) == (422, "/Last-Event-ID")


# -- bulk ---------------------------------------------------------------------------------------------

def _ndjson(items: list[dict]) -> bytes:
    return "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items).encode()


def test_a_bulk_ndjson_upload_answers_one_line_per_item_in_order_and_is_safe_to_send_again(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    items = [{**submission(str(y)), "idempotency_key": f"bulk-{y}"} for y in (2020, 2021, 2022)]
    items.insert(1, {**submission("2023", payload=payroll([payroll_line(1, payment_amount=-1)])), "idempotency_key": "bulk-bad"})
    items.append({**submission("2024", corp=CORP_B), "idempotency_key": "bulk-theirs"})

    def send():
        resp = api.as_(A).post("/v1/submissions/bulk", content=_ndjson(items) + b"not json\n",
                               headers={"Content-Type": "application/x-ndjson"})
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/x-ndjson")
        return [json.loads(line) for line in resp.text.splitlines()]

    first = send()
    assert [(x.get("item"), x.get("status")) for x in first[:-1]] == [(1, 201), (2, 422), (3, 201), (4, 201), (5, 403), (6, 422)]
    assert first[1]["problem"]["field"] == "/payload/lines/0/payment_amount"
    assert first[4]["problem"]["code"] == "forbidden"
    assert first[-1] == {"done": True, "items": 6, "recorded": 3, "replayed": 0, "failed": 3}
    again = send()
    assert [x.get("receipt") for x in again] == [x.get("receipt") for x in first]  # the original receipts, nothing twice
    notices = kiroku.queries.notices(Principal.agency(f"municipality:{CHIYODA}"))
    assert len(notices) == 3


def test_a_bulk_csv_upload_answers_per_company_year_with_rows_and_columns(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    header = ("法人番号,年分,事業者名,事業者所在地,市区町村コード,受給者番号,氏名,生年月日,個人番号,住所,支払金額,"
              "給与所得控除後の金額,所得控除の額の合計額,源泉徴収税額,社会保険料等の金額\n")
    def row(corp: str, year: str, n: int, amount: object = 5_000_000) -> str:
        line = payroll_line(n)["person"]  # each employee with their own 個人番号
        return (f"{corp},{year},株式会社記録,東京都千代田区丸の内1-1,{CHIYODA},E{n:04d},{line['name']},{line['birth_date']},"
                f"{line['personal_number']},{line['address']},{amount},3560000,1200000,120000,700000\n")

    body = ("\ufeff" + header + row(CORP_A, "2025", 1) + row(CORP_A, "2025", 2) + row(CORP_A, "2026", 1, "abc")).encode()
    resp = api.as_(A).post("/v1/submissions/bulk", content=body, headers={"Content-Type": "text/csv; charset=utf-8"})
    results = [json.loads(x) for x in resp.text.splitlines()]
    assert results[0]["status"] == 201 and results[0]["rows"] == [2, 3] and results[0]["receipt"]["line_count"] == 2
    assert results[1]["status"] == 422 and results[1]["rows"] == [4, 4]
    assert results[1]["problem"]["locations"][0]["row"] == 4 and results[1]["problem"]["locations"][0]["column"] == "payment_amount"
    assert results[-1] == {"done": True, "items": 2, "recorded": 1, "replayed": 0, "failed": 1}


def test_a_bulk_upload_in_another_format_is_refused(api):
    resp = api.as_(A).post("/v1/submissions/bulk", content=b"<xml/>", headers={"Content-Type": "application/xml"})
    assert (resp.status_code, resp.json()["code"]) == (415, "unsupported_media_type")


# -- the rest of the flows ----------------------------------------------------------------------------

def test_enrollment_grants_dispositions_and_the_access_log_over_http(api, kiroku):
    a, chiyoda, firm = api.as_(A), api.as_(CHIYODA_ID), api.as_("firm:tanaka-tax")
    enr = a.post("/v1/enrollments", json={"corporate_number": CORP_A, "procedure": "PAYROLL_REPORT"}).json()
    assert [e["enrollment_id"] for e in chiyoda.get("/v1/enrollments/pending").json()] == [enr["enrollment_id"]]
    assert chiyoda.post(f"/v1/enrollments/{enr['enrollment_id']}/accept").json()["decisions"] == {f"municipality:{CHIYODA}": "accepted"}
    grant = a.post("/v1/grants", json={"grantee": "firm:tanaka-tax", "procedures": ["PAYROLL_REPORT"],
                                       "actions": ["submit", "read", "receive_notices"],
                                       "expires_at": grant_until(kiroku).isoformat()}).json()
    receipt = record(firm, submission(), "firm-1").json()
    assert receipt["targets"] == [f"municipality:{CHIYODA}"]
    dsp = chiyoda.post("/v1/dispositions", json={"corporate_number": CORP_A, "kind": "SPECIAL_COLLECTION_NOTICE", "period": "2027",
                                                 "payload": {"municipality_code": CHIYODA, "lines": [
                                                     {"person": {"name": "山田 太郎1"}, "employee_number": "E0001",
                                                      "line_ref": 1, "annual_tax": 240000,
                                                      "june_amount": 21100, "monthly_amount": 19900}]},
                                                 "based_on": [receipt["submission_id"]]})
    assert dsp.status_code == 201
    inbox = firm.get("/v1/dispositions").json()
    assert [d["disposition_id"] for d in inbox["dispositions"]] == [dsp.json()["disposition_id"]]
    opened = firm.get(f"/v1/dispositions/{dsp.json()['disposition_id']}").json()
    assert opened["delivered_to"] == "firm:tanaka-tax" and opened["payload"]["lines"][0]["annual_tax"] == 240000
    assert firm.get("/v1/dispositions", params={"cursor": inbox["cursor"]}).json()["dispositions"] == []
    assert a.post(f"/v1/grants/{grant['grant_id']}/revoke", json={"reason": "契約終了"}).json()["revoked_at"]
    assert firm.get(f"/v1/submissions/{receipt['submission_id']}").status_code == 404  # revocation is immediate
    log = a.get(f"/v1/companies/{CORP_A}/access-log").json()
    assert {"ALLOWED", "DENIED"} <= {r["outcome"] for r in log}
    assert any(r["viewer"] == "firm:tanaka-tax" and r["outcome"] == "DENIED" and r["action"] == "snapshot" for r in log)


def test_an_agency_accepts_over_http_with_the_identifier_it_assigned_and_bonus_months_are_enrolled(api, kiroku):
    """Issue 15: ``assigned_id`` on the accept route (指定番号: digits, at most 10 —
    https://www.city.owariasahi.lg.jp/page/50232.html), ``bonus_months`` on the enrollment (賞与支払予定月),
    ``reached_no_agency`` on a receipt no agency got."""
    a, chiyoda = api.as_(A), api.as_(CHIYODA_ID)
    enr = a.post("/v1/enrollments", json={"corporate_number": CORP_A, "procedure": "PAYROLL_REPORT"}).json()
    bad = chiyoda.post(f"/v1/enrollments/{enr['enrollment_id']}/accept", json={"assigned_id": "12-34"})
    assert bad.status_code == 422
    assert (bad.json()["code"], bad.json()["field"]) == ("invalid_assigned_id", "/assigned_id")
    unknown = chiyoda.post(f"/v1/enrollments/{enr['enrollment_id']}/accept", json={"assigned": "1"})
    assert unknown.status_code == 422
    ok = chiyoda.post(f"/v1/enrollments/{enr['enrollment_id']}/accept", json={"assigned_id": "12345678"})
    assert ok.status_code == 200 and ok.json()["assigned_ids"] == {f"municipality:{CHIYODA}": "12345678"}
    receipt = record(a, submission(), "run-1").json()
    assert receipt["reached_no_agency"] is False
    [notice] = chiyoda.get("/v1/notices").json()["notices"]
    assert notice["assigned_id"] == "12345678"

    bonus = a.post("/v1/enrollments", json={"corporate_number": CORP_A, "procedure": "BONUS_PAYMENT",
                                            "agency_id": "pension-office:0101", "bonus_months": [6, 12]})
    assert bonus.status_code == 201 and bonus.json()["bonus_months"] == [6, 12]
    unreached = record(a, {"corporate_number": CORP_A, "procedure": "WITHHOLDING_SLIP", "period": "2026",
                           "payload": withholding()}, "run-2").json()
    assert (unreached["targets"], unreached["reached_no_agency"]) == ([], True)


def test_the_committed_openapi_document_is_the_one_the_app_serves(api):
    from viewers.http.openapi import DEFAULT, render

    served = api.client.get("/openapi.json").json()
    assert DEFAULT.is_file(), "docs/openapi.json is missing: run  python -m viewers.http.openapi"
    committed = json.loads(DEFAULT.read_text(encoding="utf-8"))
    assert committed == json.loads(render()) == served, \
        "docs/openapi.json is out of date: run  python -m viewers.http.openapi  and commit the result"


def test_every_operation_with_a_body_documents_the_answers_a_body_can_get(api):
    """A body sent as text/plain is 415, one that stalls is 408, one too large 413 (issue 14, items 3 and 9):
    the OpenAPI document promises each wherever a body is taken, and nowhere a body is not."""
    doc = api.client.get("/openapi.json").json()
    with_body = [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items() if "requestBody" in op]
    assert len(with_body) >= 8
    for path, method, op in with_body:
        assert {"408", "413", "415", "422"} <= set(op["responses"]), (method, path, sorted(op["responses"]))
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if "requestBody" not in op:
                assert not {"408", "415"} & set(op["responses"]), (method, path)


@pytest.mark.parametrize(("params", "code", "field"), [
    ({"procedure": "PAYROL_REPORT"}, "unknown_procedure", "procedure"),
    ({"procedure": "PAYROLL_REPORT", "period": "2026-13"}, "invalid_period", "period"),
    ({"period": "-2585"}, "invalid_period", "period"),
])
def test_a_misspelt_missing_filings_filter_is_refused_not_answered_with_an_empty_report(api, params, code, field):
    """Bad input gets a clear error: an agency clerk who mistypes the procedure learns it, instead of
    reading "nothing is missing"."""
    resp = api.as_("agency:municipality:131016").get("/v1/missing-filings", params=params)
    assert (resp.status_code, resp.json()["code"], resp.json()["field"]) == (422, code, f"/{field}")
