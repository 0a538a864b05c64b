"""The web pages (issue 16) over the same service layer as the API: signing in with a one-time link,
sessions in HttpOnly/Secure/SameSite cookies, CSRF and same-origin checks on every form, a strict CSP,
Japanese by default — and each page's reads recorded in the company's access log with the person."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from ledger.service.staff import StaffStore
from tests.factories import CHIYODA, CORP_A, CORP_B, SAPPORO, payroll, payroll_line
from tests.integration.helpers import company, company_view, enroll_payroll, municipality
from tests.integration.http.web import SITE
from tests.integration.http.web import sign_in as web_sign_in

pytestmark = pytest.mark.integration

CHIYODA_ID, SAPPORO_ID = municipality(CHIYODA), municipality(SAPPORO)









def sign_in(web: TestClient, staff: StaffStore, principal: str, person: str = "山田 花子") -> str:
    return web_sign_in(web, staff, principal, person)

def csrf(page_text: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page_text).group(1)


def test_a_person_signs_in_with_the_link_and_the_cookie_is_httponly_secure_samesite_strict(web, staff):
    account, link = staff.invite(f"agency:{CHIYODA_ID}", "山田 花子")
    answer = web.post("/web/invite", data={"invite": link}, headers={"Origin": SITE}, follow_redirects=False)
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("__Host-kiroku_session=ses_")
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert attribute.lower() in cookie.lower()
    assert "domain=" not in cookie.lower()
    home = web.get("/web/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (303, "/web/agency/notices")
    assert web.post("/web/invite", data={"invite": link}, headers={"Origin": SITE}).status_code == 400  # used once


def test_opening_the_link_uses_nothing_only_the_button_does(web, staff):
    """A mail scanner that fetches the link (GET) must not sign anyone in or use the link up."""
    _, link = staff.invite(f"agency:{CHIYODA_ID}", "山田 花子")
    for _ in range(3):
        assert web.get(f"/web/invite/{link}").status_code == 200
    assert "set-cookie" not in web.get(f"/web/invite/{link}").headers
    staff.redeem(link)


def test_every_page_is_sent_with_a_strict_csp_and_no_caching_and_no_referrer(web, staff):
    sign_in(web, staff, f"agency:{CHIYODA_ID}")
    for path in ("/web/sign-in", "/web/agency/notices", "/web/agency/missing"):
        page = web.get(path)
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
        assert (page.headers["x-frame-options"], page.headers["referrer-policy"], page.headers["cache-control"]) == (
            "DENY", "same-origin", "no-store")
        assert '<html lang="ja">' in page.text and "<script" not in page.text


def test_a_form_without_its_csrf_token_or_from_another_origin_is_refused(web, staff):
    sign_in(web, staff, f"agency:{CHIYODA_ID}")
    token = csrf(web.get("/web/agency/notices").text)
    assert web.post("/web/sign-out", data={"csrf": "0" * 64}, headers={"Origin": SITE}).status_code == 403
    assert web.post("/web/sign-out", data={"csrf": token}, headers={"Origin": "https://evil.example"}).status_code == 403
    assert web.post("/web/sign-out", data={"csrf": token}).status_code == 403  # no Origin at all
    assert web.get("/web/agency/notices").status_code == 200  # still signed in
    out = web.post("/web/sign-out", data={"csrf": token}, headers={"Origin": SITE}, follow_redirects=False)
    assert out.status_code == 303
    again = web.get("/web/agency/notices", follow_redirects=False)
    assert (again.status_code, again.headers["location"]) == (303, "/web/sign-in?why=signed_out")


def test_disabling_the_account_signs_the_person_out_at_the_next_request(web, staff):
    staff_id = sign_in(web, staff, f"agency:{CHIYODA_ID}")
    assert web.get("/web/agency/notices").status_code == 200
    staff.disable(staff_id)
    page = web.get("/web/agency/notices")
    assert page.url.path == "/web/sign-in" and "無効" in page.text


def test_the_agency_sees_its_notices_and_its_residents_lines_and_the_read_names_the_person(kiroku, web, staff):
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll(
        lines=[payroll_line(1, CHIYODA), payroll_line(2, SAPPORO, name="<script>alert(1)</script>")]))
    kiroku.processors.catch_up()
    staff_id = sign_in(web, staff, f"agency:{CHIYODA_ID}")
    inbox = web.get("/web/agency/notices")
    assert receipt.submission_id in inbox.text and "給与支払報告書" in inbox.text and "新着: 1 件" in inbox.text
    assert "新着: 0 件" in web.get("/web/agency/notices").text  # seen now
    page = web.get(f"/web/agency/submissions/{receipt.submission_id}")
    assert page.status_code == 200 and "E0001" in page.text and "E0002" not in page.text  # 札幌's resident is not 千代田's
    assert "<script>alert" not in page.text
    kiroku.processors.catch_up()
    reads = [r for r in company_view(kiroku, CORP_A).access_log() if r.viewer == f"agency:{CHIYODA_ID}"]
    assert {(r.action, r.person) for r in reads} >= {("snapshot", staff_id)}


def test_pages_answer_another_agencys_filing_as_missing_exactly_as_the_api_does(kiroku, web, staff, api):
    enroll_payroll(kiroku, CORP_B, SAPPORO)
    theirs = company(kiroku, CORP_B).record(CORP_B, "PAYROLL_REPORT", "2026", payroll(lines=[payroll_line(1, SAPPORO)]))
    kiroku.processors.catch_up()
    sign_in(web, staff, f"agency:{CHIYODA_ID}")
    page = web.get(f"/web/agency/submissions/{theirs.submission_id}")
    missing = web.get("/web/agency/submissions/sub_01JZZZZZZZZZZZZZZZZZZZZZZZ")
    assert page.status_code == missing.status_code == 404 and page.text == missing.text
    assert api.as_(f"agency:{CHIYODA_ID}").get(f"/v1/submissions/{theirs.submission_id}").status_code == 404
    kiroku.processors.catch_up()
    denied = [r for r in company_view(kiroku, CORP_B).access_log() if r.outcome == "DENIED"]
    assert len(denied) == 2 and denied[0].person is not None and denied[1].person is None  # the page's names the person


def test_a_company_page_is_not_an_agencys_and_the_english_switch_is_remembered(kiroku, web, staff):
    sign_in(web, staff, f"agency:{CHIYODA_ID}")
    assert web.get("/web/company").status_code == 404
    english = web.get("/web/agency/notices?lang=en")
    assert '<html lang="en">' in english.text and "Notices" in english.text
    assert '<html lang="en">' in web.get("/web/agency/missing").text


def test_the_company_sees_its_filings_and_who_read_them_by_name(kiroku, web, staff):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    kiroku.processors.catch_up()
    sign_in(web, staff, f"agency:{CHIYODA_ID}", "山田 花子")
    web.get(f"/web/agency/submissions/{receipt.submission_id}")
    web.cookies.clear()
    sign_in(web, staff, f"company:{CORP_A}", "経理 一郎")
    home = web.get("/web/company")
    assert receipt.submission_id in home.text and "給与支払報告書" in home.text
    kiroku.processors.catch_up()
    log = web.get("/web/company/access")
    assert "山田 花子" in log.text and f"agency:{CHIYODA_ID}" in log.text


def test_a_filter_too_long_is_refused_naming_it(web, staff):
    sign_in(web, staff, f"agency:{CHIYODA_ID}")
    page = web.get("/web/agency/notices", params={"company": "1" * 65})
    assert page.status_code == 422 and "company" in page.text


def test_the_company_grants_a_firm_and_revokes_it_and_the_firm_sees_it_at_once(kiroku, web, staff, clock):
    sign_in(web, staff, f"company:{CORP_A}", "経理 一郎")
    page = web.get("/web/company/grants")
    form = {"csrf": csrf_for(page.text, "grant"), "grantee": "firm:tanaka-zeirishi", "procedures": ["PAYROLL_REPORT"],
            "actions": ["read", "receive_notices"], "expires": "2027-03-31"}
    assert web.post("/web/company/grants", data={**form, "csrf": "0" * 64}, headers={"Origin": SITE}).status_code == 403
    assert company_view(kiroku, CORP_A).grants() == []  # the refused form recorded nothing
    done = web.post("/web/company/grants", data=form, headers={"Origin": SITE})
    assert done.status_code == 200 and "firm:tanaka-zeirishi" in done.text and "委任を登録しました" in done.text
    [grant] = company_view(kiroku, CORP_A).grants()
    assert (grant.grantee, grant.procedures, sorted(grant.actions)) == ("firm:tanaka-zeirishi", ["PAYROLL_REPORT"],
                                                                         ["read", "receive_notices"])
    web.cookies.clear()
    sign_in(web, staff, "firm:tanaka-zeirishi", "田中 税理士")
    assert CORP_A in web.get("/web/firm").text
    web.cookies.clear()
    sign_in(web, staff, f"company:{CORP_A}", "経理 一郎")
    page = web.get("/web/company/grants")
    revoked = web.post(f"/web/company/grants/{grant.grant_id}/revoke", data={"csrf": csrf_for(page.text, "revoke")},
                       headers={"Origin": SITE})
    assert revoked.status_code == 200 and "取り消しました" in revoked.text
    assert company_view(kiroku, CORP_A).grants()[0].revoked_at is not None


def test_a_disposition_arrives_when_the_company_first_opens_it_and_the_firm_sees_it_in_its_inbox(kiroku, web, staff):
    from tests.integration.helpers import agency, grant_until, special_collection

    enroll_payroll(kiroku, CORP_A, CHIYODA)
    company(kiroku, CORP_A).grant("firm:tanaka-zeirishi", ["PAYROLL_REPORT"], ["receive_notices"], grant_until(kiroku))
    issued = agency(kiroku, CHIYODA_ID).issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection())
    kiroku.processors.catch_up()
    sign_in(web, staff, "firm:tanaka-zeirishi", "田中 税理士")
    assert issued.disposition_id in web.get("/web/firm/inbox").text
    web.cookies.clear()
    staff_id = sign_in(web, staff, f"company:{CORP_A}", "経理 一郎")
    listed = web.get("/web/company/dispositions")
    assert issued.disposition_id in listed.text
    opened = web.get(f"/web/company/dispositions/{issued.disposition_id}")
    assert opened.status_code == 200 and "到達日時" in opened.text
    kiroku.processors.catch_up()
    [d] = company_view(kiroku, CORP_A).dispositions()
    assert d.delivered_at is not None
    reads = [r for r in company_view(kiroku, CORP_A).access_log() if r.subject == issued.disposition_id]
    assert reads and all(r.person == staff_id for r in reads if r.viewer == f"company:{CORP_A}")
    assert "提出先" in web.get("/web/company/enrollments").text


def test_every_page_of_every_kind_of_user_refuses_the_other_kinds(web, staff):
    """Same rules as the API: a page of one kind of user answers another kind as not found."""
    pages = {"agency": ["/web/agency/notices", "/web/agency/missing"],
             "company": ["/web/company", "/web/company/access", "/web/company/grants", "/web/company/dispositions",
                         "/web/company/enrollments"],
             "firm": ["/web/firm", "/web/firm/inbox"]}
    who = {"agency": f"agency:{CHIYODA_ID}", "company": f"company:{CORP_A}", "firm": "firm:tanaka-zeirishi"}
    for kind, principal in who.items():
        web.cookies.clear()
        sign_in(web, staff, principal, "担当 者")
        for other, paths in pages.items():
            for path in paths:
                assert web.get(path).status_code == (200 if other == kind else 404), (kind, path)


def csrf_for(page_text: str, form: str) -> str:
    """The CSRF token of the form posting to ``form``'s action on a page."""
    action = {"grant": r'/web/company/grants"', "revoke": r'/revoke"'}[form]
    match = re.search(action + r'[^>]*>\s*<input type="hidden" name="csrf" value="([0-9a-f]+)"', page_text)
    assert match is not None, f"no {form} form on the page"
    return match.group(1)


def test_a_value_of_the_wrong_shape_is_an_html_page_naming_the_field_never_the_value(web, staff):
    sign_in(web, staff, f"agency:{CHIYODA_ID}")
    page = web.get("/web/agency/notices", params={"after": "<b>x</b>"})
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "after" in page.text and "<b>x</b>" not in page.text and "&lt;b&gt;" not in page.text
