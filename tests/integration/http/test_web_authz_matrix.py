"""The authorization matrix through the pages (issue 16, item 7): the pages that read company A's data, walked by
every kind of principal in every relationship to A that matters — A itself and another company, firms and vendors
with, without and with an expired grant, a bank, the agency A's filing reached and another agency — each answered
as the HTTP API answers the same read (200 where the API gives 200, 404 exactly where it gives 404), and each
refused read recorded in A's access log with the person who tried it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from ledger.domain.model import Principal
from ledger.service.staff import StaffStore
from tests.factories import CHIYODA, CORP_A, CORP_B, SAPPORO, payroll
from tests.integration.helpers import company, enroll_payroll, municipality, special_collection
from tests.integration.http.conftest import Api
from viewers.http.app import create_app

pytestmark = pytest.mark.integration

SITE = "https://testserver"
ACTORS = {
    "company_own": f"company:{CORP_A}", "company_other": f"company:{CORP_B}",
    "firm_grant": "firm:f-granted", "firm_none": "firm:f-none", "firm_expired": "firm:f-expired",
    "vendor_grant": "vendor:v-granted", "vendor_none": "vendor:v-none",
    "bank_grant": "bank:b-granted",
    "agency_target": f"agency:{municipality(CHIYODA)}", "agency_other": f"agency:{municipality(SAPPORO)}",
}
#: page → (the API call reading the same thing, the actors whose page answers 200)
PAGES = {
    "agency snapshot": ("/web/agency/submissions/{sub}", "/v1/submissions/{sub}", {"agency_target"}),
    "agency export": ("/web/agency/submissions/{sub}/export?format=csv", "/v1/submissions/{sub}?format=csv", {"agency_target"}),
    "company receipt": ("/web/company/receipts/{sub}", "/v1/submissions/{sub}/receipt", {"company_own"}),
    "company disposition": ("/web/company/dispositions/{dsp}", "/v1/dispositions/{dsp}", {"company_own"}),
    "firm disposition": ("/web/firm/dispositions/{dsp}", "/v1/dispositions/{dsp}", {"firm_grant", "vendor_grant"}),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[tuple[TestClient, StaffStore, Api, str, str, object]]:
    import os

    from ledger.bootstrap import open_kiroku
    from ledger.service.principals import TokenStore
    from tests.conftest import Clock
    from tests.integration.helpers import jst

    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("KIROKU_")]:
            mp.delenv(key)
        clock = Clock()
        clock.set(jst(2027, 1, 20, 10, 0))
        home = tmp_path_factory.mktemp("web-authz")
        k = open_kiroku(home=home, clock=clock)
        tokens, staff = TokenStore.for_home(home, clock), StaffStore.for_home(home, clock)
        enroll_payroll(k, CORP_A, CHIYODA)
        sub = company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll()).submission_id
        dsp = k.commands.issue_disposition(Principal.agency(municipality(CHIYODA)), CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027",
                                           special_collection(CHIYODA), [sub]).disposition_id
        a = company(k, CORP_A)
        rights = ["submit", "read", "receive_notices"]
        a.grant("firm:f-granted", ["PAYROLL_REPORT"], rights, clock() + timedelta(days=365))
        a.grant("vendor:v-granted", ["PAYROLL_REPORT"], rights, clock() + timedelta(days=365))
        a.grant("firm:f-expired", ["PAYROLL_REPORT"], rights, clock() + timedelta(hours=1))
        a.grant("bank:b-granted", ["PAYROLL_REPORT"], ["read"], clock() + timedelta(days=365))
        clock.advance(timedelta(hours=2))
        k.processors.catch_up()
        with TestClient(create_app(k, tokens, staff=staff, rate=0), base_url=SITE) as client:
            yield client, staff, Api(client, tokens), sub, dsp, k
        staff.close()
        tokens.close()
        k.close()


def page_as(client: TestClient, staff: StaffStore, principal: str, path: str) -> tuple[int, str]:
    account, link = staff.invite(principal, "担当 者")
    client.cookies.clear()
    assert client.post("/web/invite", data={"invite": link}, headers={"Origin": SITE}, follow_redirects=False).status_code == 303
    answer = client.get(path)
    client.cookies.clear()
    return answer.status_code, account.staff_id


@pytest.mark.parametrize("page", sorted(PAGES))
@pytest.mark.parametrize("actor", sorted(ACTORS))
def test_each_page_answers_each_actor_as_the_api_does_and_records_refusals_with_the_person(world, page, actor):
    client, staff, api, sub, dsp, kiroku = world
    web_path, api_path, allowed = PAGES[page]
    principal = ACTORS[actor]
    before = {r.access_id for r in kiroku.queries.access_log(Principal.company(CORP_A), CORP_A)}
    status, staff_id = page_as(client, staff, principal, web_path.format(sub=sub, dsp=dsp))
    assert status == (200 if actor in allowed else 404), (page, actor)
    api_status = api.as_(principal).get(api_path.format(sub=sub, dsp=dsp)).status_code
    kind_of_page = web_path.split("/")[2]
    if kind_of_page == principal.split(":")[0] or (kind_of_page == "firm" and principal.startswith(("firm:", "vendor:"))):
        assert status == api_status, (page, actor, status, api_status)  # a page for this kind of user: the API's answer
    kiroku.processors.catch_up()
    new = [r for r in kiroku.queries.access_log(Principal.company(CORP_A), CORP_A) if r.access_id not in before]
    mine = [r for r in new if r.person == staff_id]
    if status == 404 and kind_of_page in (principal.split(":")[0], "firm" if principal.startswith(("firm:", "vendor:")) else ""):
        assert mine and all(r.outcome == "DENIED" and r.viewer == principal for r in mine), (page, actor)
    if status == 200:
        assert mine and all(r.outcome == "ALLOWED" for r in mine), (page, actor)
