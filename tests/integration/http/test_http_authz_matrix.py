"""The authorization matrix: every endpoint × every principal kind × own company / another company /
with, without and with an expired grant — the exact status, every refusal recorded in the owner's
access log, and a refusal that answers exactly as a missing resource would.

One deployment (built once for this module through the service layer) serves every cell; cells
that change something make their own fresh enrollment, grant or filing period, so no cell
depends on another.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from ledger.bootstrap import open_kiroku
from ledger.domain.model import Principal
from ledger.service.principals import TokenStore
from tests.conftest import Clock
from tests.factories import CHIYODA, CORP_A, CORP_B, SAPPORO, corp, payroll
from tests.integration.helpers import company, enroll_payroll, jst, special_collection, wage_ledger
from tests.integration.http.conftest import Api

pytestmark = pytest.mark.integration

TestClient = pytest.importorskip("fastapi.testclient").TestClient

CORP_C = corp(424242)  # a valid corporate number nobody has filed for
LABOUR = "labour-standards-office:0101"
NO_SUCH = "_01JZZZZZZZZZZZZZZZZZZZZZZZ"

#: Who calls, in every relationship to company A that matters.
ACTORS: dict[str, str] = {
    "company_own": f"company:{CORP_A}",
    "company_other": f"company:{CORP_B}",
    "vendor_grant": "vendor:v-granted", "vendor_none": "vendor:v-none", "vendor_expired": "vendor:v-expired",
    "firm_grant": "firm:f-granted", "firm_none": "firm:f-none", "firm_expired": "firm:f-expired",
    "bank_grant": "bank:b-granted", "bank_none": "bank:b-none", "bank_expired": "bank:b-expired",
    "agency_target": f"agency:municipality:{CHIYODA}", "agency_other": f"agency:municipality:{SAPPORO}",
    "operator": "operator:ops",
}
AGENCIES = {"agency_target", "agency_other"}
SUBMITTERS = {"company_own", "vendor_grant", "firm_grant"}  # may submit for A (the bank's grant is read-only)
READERS = SUBMITTERS | {"bank_grant"}  # may read A's data
RECEIVERS = SUBMITTERS  # may receive A's dispositions
SNAPSHOT_READERS = READERS | {"agency_target"}


@dataclass
class World:
    api: Api
    kiroku: Any
    clock: Clock
    sub_a: str
    dsp_a: str
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    months: itertools.count = field(default_factory=lambda: itertools.count(0))

    def fresh(self) -> int:
        return next(self.counter)

    def access_seq(self) -> int:
        from sqlalchemy import func, select

        from ledger.catalog import tables as c

        with self.kiroku.catalog.connect() as conn:
            return conn.execute(select(func.max(c.access_log.c.seq)).where(c.access_log.c.corporate_number == CORP_A)).scalar() or 0

    def denials_since(self, seq: int) -> list[Any]:
        return [r for r in self.kiroku.queries.access_log(Principal.company(CORP_A), CORP_A, after=seq) if r.outcome == "DENIED"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import os

    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("KIROKU_")]:
            mp.delenv(key)
        from viewers.http.app import create_app

        clock = Clock()
        clock.set(jst(2027, 1, 20, 10, 0))
        home = tmp_path_factory.mktemp("authz-matrix")
        k = open_kiroku(home=home, clock=clock)
        tokens = TokenStore.for_home(home, clock)
        enroll_payroll(k, CORP_A, CHIYODA)
        sub_a = company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll()).submission_id
        dsp_a = k.commands.issue_disposition(Principal.agency(f"municipality:{CHIYODA}"), CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027",
                                             special_collection(CHIYODA), [sub_a]).disposition_id
        a = company(k, CORP_A)
        all_actions = ["submit", "read", "receive_notices"]
        procs = ["PAYROLL_REPORT", "WAGE_LEDGER"]
        for kind in ("vendor", "firm"):
            a.grant(f"{kind}:{kind[0]}-granted", procs, all_actions, clock() + timedelta(days=365))
            a.grant(f"{kind}:{kind[0]}-expired", procs, all_actions, clock() + timedelta(hours=1))
        a.grant("bank:b-granted", procs, ["read"], clock() + timedelta(days=365))
        a.grant("bank:b-expired", procs, ["read"], clock() + timedelta(hours=1))
        clock.advance(timedelta(hours=2))  # the *-expired grants are now past their expiry
        app = create_app(k, tokens, rate=0)
        with TestClient(app) as client:
            yield World(Api(client, tokens), k, clock, sub_a, dsp_a)
        tokens.close()
        k.close()


# -- the endpoints ---------------------------------------------------------------------------------------

@dataclass
class Endpoint:
    """How to call an endpoint as an actor, and what each relationship must get."""

    name: str
    call: Callable[[World, Any], Any]
    expect: Callable[[str], int]
    denial_action: str | None = None  # the access-log action a refusal is recorded under (None: nothing of A's)
    same_as_missing: Callable[[World, Any], Any] | None = None  # the same call about something that does not exist
    subject: Callable[[World], str] | None = None  # the id that differs between the two
    check: Callable[[str, Any], None] | None = None  # more about a 2xx answer


def _grant_body() -> dict:
    return {"grantee": "firm:new-firm", "procedures": ["PAYROLL_REPORT"], "actions": ["read"], "expires_at": "2030-01-01T00:00:00+09:00"}


def _fresh_enrollment_of_a(w: World) -> str:
    # WAGE_LEDGER to the labour standards office: a new enrollment each time (the previous one is withdrawn).
    enr = w.kiroku.commands.request_enrollment(Principal.company(CORP_A), CORP_A, "WAGE_LEDGER", LABOUR)
    if enr.withdrawn_at is None and enr.decisions:
        w.kiroku.commands.withdraw_enrollment(Principal.company(CORP_A), enr.enrollment_id)
        enr = w.kiroku.commands.request_enrollment(Principal.company(CORP_A), CORP_A, "WAGE_LEDGER", LABOUR)
    return enr.enrollment_id


def _enrollment_of_fresh_company(w: World) -> str:
    fresh = corp(500_000 + w.fresh())
    return w.kiroku.commands.request_enrollment(Principal.company(fresh), fresh, "PAYROLL_REPORT").enrollment_id


def _fresh_grant_of_a(w: World) -> str:
    return company(w.kiroku, CORP_A).grant("firm:revocable", ["PAYROLL_REPORT"], ["read"], w.clock() + timedelta(days=30)).grant_id


def _submission(corp_number: str, period: str) -> dict:
    return {"corporate_number": corp_number, "procedure": "WAGE_LEDGER", "period": period, "payload": wage_ledger()}


def _period(w: World) -> str:
    """A month not filed yet, inside the window a wage ledger may be recorded for: from two years
    back (its retention is 5 years) to the next year (nothing later may be named)."""
    n = next(w.months)
    assert n < 48, "the matrix ran out of months a WAGE_LEDGER may be filed for"
    return f"{w.clock().year - 2 + n // 12:04d}-{n % 12 + 1:02d}"


def _bulk_item_status(expected: Callable[[str], int]) -> Callable[[str, Any], None]:
    def check(case: str, resp: Any) -> None:
        lines = [json.loads(x) for x in resp.text.splitlines() if x.strip()]
        assert lines[-1]["done"] is True
        assert lines[0]["status"] == expected(case), lines[0]
    return check


def _some_for(allowed: set[str]) -> Callable[[str, Any], None]:
    """The list holds A's items for those allowed to see them, and nothing for anyone else."""
    def check(case: str, resp: Any) -> None:
        body = resp.json()
        items = body["dispositions"] if isinstance(body, dict) else body
        assert (len(items) > 0) == (case in allowed), (case, items)
        assert all(x["corporate_number"] == CORP_A for x in items)
    return check


def only(allowed: set[str], ok: int, otherwise: int) -> Callable[[str], int]:
    return lambda case: ok if case in allowed else otherwise


ENDPOINTS = [
    Endpoint("record", lambda w, c: c.post("/v1/submissions", json=_submission(CORP_A, _period(w)),
                                           headers={"Idempotency-Key": f"m{w.fresh()}"}),
             only(SUBMITTERS, 201, 403), "submit",
             lambda w, c: c.post("/v1/submissions", json=_submission(CORP_C, "2026-01"), headers={"Idempotency-Key": f"m{w.fresh()}"}),
             subject=lambda w: CORP_A),
    Endpoint("bulk record", lambda w, c: c.post("/v1/submissions/bulk", headers={"Content-Type": "application/x-ndjson"},
                                                content=json.dumps({**_submission(CORP_A, _period(w)),
                                                                    "idempotency_key": f"b{w.fresh()}"})),
             lambda case: 200, "submit", check=_bulk_item_status(only(SUBMITTERS, 201, 403))),
    Endpoint("snapshot", lambda w, c: c.get(f"/v1/submissions/{w.sub_a}"), only(SNAPSHOT_READERS, 200, 404), "snapshot",
             lambda w, c: c.get(f"/v1/submissions/sub{NO_SUCH}"), lambda w: w.sub_a),
    Endpoint("snapshot as CSV", lambda w, c: c.get(f"/v1/submissions/{w.sub_a}", params={"format": "csv"}),
             only(SNAPSHOT_READERS, 200, 404), "snapshot",
             lambda w, c: c.get(f"/v1/submissions/sub{NO_SUCH}", params={"format": "csv"}), lambda w: w.sub_a),
    Endpoint("receipt", lambda w, c: c.get(f"/v1/submissions/{w.sub_a}/receipt"), only(SNAPSHOT_READERS | {"operator"}, 200, 404),
             "receipt",
             lambda w, c: c.get(f"/v1/submissions/sub{NO_SUCH}/receipt"), lambda w: w.sub_a),
    Endpoint("history", lambda w, c: c.get(f"/v1/submissions/{w.sub_a}/history"), only(SNAPSHOT_READERS, 200, 404), "history",
             lambda w, c: c.get(f"/v1/submissions/sub{NO_SUCH}/history"), lambda w: w.sub_a),
    Endpoint("effective", lambda w, c: c.get(f"/v1/filings/{CORP_A}/PAYROLL_REPORT/2026"), only(SNAPSHOT_READERS, 200, 404), "effective",
             lambda w, c: c.get(f"/v1/filings/{CORP_C}/PAYROLL_REPORT/2026"), lambda w: CORP_A),
    Endpoint("filings", lambda w, c: c.get("/v1/filings", params={"corporate_number": CORP_A, "procedure": "PAYROLL_REPORT"}),
             only(set(ACTORS) - {"operator"}, 200, 403), check=_some_for(SNAPSHOT_READERS)),
    Endpoint("enroll", lambda w, c: c.post("/v1/enrollments", json={"corporate_number": CORP_A, "procedure": "WAGE_LEDGER",
                                                                    "agency_id": LABOUR}),
             only(SUBMITTERS, 201, 403), "submit",
             lambda w, c: c.post("/v1/enrollments", json={"corporate_number": CORP_C, "procedure": "WAGE_LEDGER", "agency_id": LABOUR}),
             lambda w: CORP_A),
    Endpoint("enrollments", lambda w, c: c.get("/v1/enrollments", params={"corporate_number": CORP_A}), only(READERS, 200, 404),
             "enrollments",
             lambda w, c: c.get("/v1/enrollments", params={"corporate_number": CORP_C}), lambda w: CORP_A),
    Endpoint("pending enrollments", lambda w, c: c.get("/v1/enrollments/pending"), only(AGENCIES, 200, 403)),
    Endpoint("accept", lambda w, c: c.post(f"/v1/enrollments/{_enrollment_of_fresh_company(w)}/accept"), only(AGENCIES, 200, 403)),
    Endpoint("reject", lambda w, c: c.post(f"/v1/enrollments/{_enrollment_of_fresh_company(w)}/reject", json={"reason": "対象外"}),
             only(AGENCIES, 200, 403)),
    Endpoint("withdraw", lambda w, c: c.post(f"/v1/enrollments/{_fresh_enrollment_of_a(w)}/withdraw"), only(SUBMITTERS, 200, 404), "submit",
             lambda w, c: c.post(f"/v1/enrollments/enr{NO_SUCH}/withdraw"), subject=None),
    Endpoint("policy", lambda w, c: c.put("/v1/policies/PAYROLL_REPORT", json={"accept_all": False}), only(AGENCIES, 204, 403)),
    Endpoint("issue disposition", lambda w, c: c.post("/v1/dispositions", json={
        "corporate_number": CORP_A, "kind": "SPECIAL_COLLECTION_NOTICE", "period": "2027", "payload": special_collection(CHIYODA)}),
             lambda case: {"agency_target": 201, "agency_other": 404}.get(case, 403), "issue",
             lambda w, c: c.post("/v1/dispositions", json={"corporate_number": CORP_C, "kind": "SPECIAL_COLLECTION_NOTICE",
                                                           "period": "2027",
                                                           "payload": special_collection(CHIYODA)}), lambda w: CORP_A),
    Endpoint("open disposition", lambda w, c: c.get(f"/v1/dispositions/{w.dsp_a}"), only(RECEIVERS | {"agency_target"}, 200, 404),
             "disposition", lambda w, c: c.get(f"/v1/dispositions/dsp{NO_SUCH}"), lambda w: w.dsp_a),
    Endpoint("company dispositions", lambda w, c: c.get(f"/v1/companies/{CORP_A}/dispositions"), only(RECEIVERS, 200, 404), "dispositions",
             lambda w, c: c.get(f"/v1/companies/{CORP_C}/dispositions"), lambda w: CORP_A),
    Endpoint("inbox", lambda w, c: c.get("/v1/dispositions"), lambda case: 200, check=_some_for(RECEIVERS)),
    Endpoint("issue grant", lambda w, c: c.post("/v1/grants", json=_grant_body()), only({"company_own", "company_other"}, 201, 403)),
    Endpoint("revoke grant", lambda w, c: c.post(f"/v1/grants/{_fresh_grant_of_a(w)}/revoke"), only({"company_own"}, 200, 404), "revoke",
             lambda w, c: c.post(f"/v1/grants/grt{NO_SUCH}/revoke"), subject=None),
    Endpoint("grants", lambda w, c: c.get("/v1/grants"), lambda case: 200),
    Endpoint("access log", lambda w, c: c.get(f"/v1/companies/{CORP_A}/access-log"), only({"company_own"}, 200, 404), "access_log",
             lambda w, c: c.get(f"/v1/companies/{CORP_C}/access-log"), lambda w: CORP_A),
    Endpoint("reminders", lambda w, c: c.get(f"/v1/companies/{CORP_A}/reminders"), only(READERS, 200, 404), "reminders",
             lambda w, c: c.get(f"/v1/companies/{CORP_C}/reminders"), lambda w: CORP_A),
    Endpoint("notices", lambda w, c: c.get("/v1/notices"), only(AGENCIES, 200, 403)),
    Endpoint("notice stream", lambda w, c: c.get("/v1/notices/stream", params={"max_seconds": 0}), only(AGENCIES, 200, 403)),
    Endpoint("missing filings", lambda w, c: c.get("/v1/missing-filings"), only(AGENCIES, 200, 403)),
    Endpoint("expected filers", lambda w, c: c.get("/v1/expected-filers", params={"procedure": "PAYROLL_REPORT", "period": "2026"}),
             only(AGENCIES, 200, 403)),
    Endpoint("me", lambda w, c: c.get("/v1/me"), lambda case: 200),
]


def _blank(value: Any, *ids: str) -> Any:
    """The answer with the ids asked about (the real one and the missing one) blanked out."""
    if isinstance(value, str):
        for i in (*ids, CORP_C):
            if i:
                value = value.replace(i, "<id>")
        return re.sub(r"[a-z]{3}" + NO_SUCH, "<id>", value)
    if isinstance(value, dict):
        return {k: _blank(v, *ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v, *ids) for v in value]
    return value


@pytest.mark.parametrize("case", list(ACTORS))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_each_endpoint_answers_each_principal_exactly_as_its_rights_say(world: World, endpoint: Endpoint, case: str) -> None:
    caller = world.api.as_(ACTORS[case])
    before = world.access_seq()
    resp = endpoint.call(world, caller)
    expected = endpoint.expect(case)
    assert resp.status_code == expected, (endpoint.name, case, resp.text[:500])
    if resp.status_code >= 400:
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["status"] == expected
    denied = resp.status_code in (403, 404) or (endpoint.check is not None and resp.status_code == 200 and endpoint.name == "bulk record"
                                                and case not in SUBMITTERS)
    if endpoint.denial_action and denied:
        refusals = [r for r in world.denials_since(before) if r.viewer == ACTORS[case]]
        assert [r.action for r in refusals] == [endpoint.denial_action], (endpoint.name, case, refusals)
    if resp.status_code < 300 and endpoint.check:
        endpoint.check(case, resp)
    if endpoint.same_as_missing and resp.status_code in (403, 404):
        missing = endpoint.same_as_missing(world, caller)
        assert missing.status_code == resp.status_code
        subject = endpoint.subject(world) if endpoint.subject else str(resp.json().get("got"))
        assert _blank(resp.json(), subject) == _blank(missing.json(), subject), (endpoint.name, case)


def test_every_endpoint_refuses_a_call_without_a_token(world: World) -> None:
    for route in world.api.client.app.routes:
        for method in getattr(route, "methods", set()) - {"HEAD"}:
            path = route.path.replace("{", "").replace("}", "")
            if path in ("/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"):
                continue
            resp = world.api.client.request(method, path)
            assert resp.status_code == 401, (method, path)
            assert resp.json()["code"] == "unauthenticated" and resp.headers["www-authenticate"].startswith("Bearer")


def test_an_agency_an_enrollment_is_not_addressed_to_gets_not_found_and_is_recorded(world: World) -> None:
    enrollment = _fresh_enrollment_of_a(world)  # addressed to the labour standards office only
    before = world.access_seq()
    caller = world.api.as_(ACTORS["agency_target"])
    resp = caller.post(f"/v1/enrollments/{enrollment}/accept")
    missing = caller.post(f"/v1/enrollments/enr{NO_SUCH}/accept")
    assert (resp.status_code, missing.status_code) == (404, 404)
    assert _blank(resp.json(), enrollment) == _blank(missing.json(), enrollment)
    assert [r.action for r in world.denials_since(before)] == ["decide"]
    labour = world.api.as_(f"agency:{LABOUR}")
    assert labour.post(f"/v1/enrollments/{enrollment}/accept").json()["decisions"] == {LABOUR: "accepted"}
