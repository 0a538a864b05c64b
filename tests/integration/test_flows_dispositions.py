"""Flow 5 — dispositions (処分通知): issued by an agency, fetched by the company or its agent, arrival recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.errors import Forbidden, NotFound, ValidationError
from tests.factories import CHIYODA, CORP_A, CORP_B, SAPPORO, payroll
from tests.integration.helpers import (
    PENSION_OFFICE,
    TAX_OFFICE,
    agency,
    company,
    company_view,
    corp_number,
    enroll_payroll,
    enroll_to,
    filing_ends,
    firm_view,
    grant_until,
    jst,
    municipality,
    producer,
    special_collection,
    standard_remuneration,
)

pytestmark = pytest.mark.integration

CHIYODA_ID = municipality(CHIYODA)


def filed_payroll(kiroku, corp: str) -> str:
    enroll_payroll(kiroku, corp, CHIYODA)
    return company(kiroku, corp).record(corp, "PAYROLL_REPORT", "2026", payroll()).submission_id


def test_a_municipality_sends_special_collection_amounts_based_on_a_submission(kiroku, clock):
    clock.set(jst(2027, 1, 20))
    sid = filed_payroll(kiroku, CORP_A)
    clock.set(jst(2027, 5, 10, 9, 0))
    issued = agency(kiroku, CHIYODA_ID).issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(n=2),
                                                           based_on=[sid])
    assert (issued.corporate_number, issued.agency_id, issued.kind, issued.period) == (
        CORP_A, CHIYODA_ID, "SPECIAL_COLLECTION_NOTICE", "2027")
    assert (issued.based_on, issued.issued_at, issued.company_seq, issued.delivered_at) == ([sid], jst(2027, 5, 10, 9, 0), 1, None)
    assert issued.title == "特別徴収税額決定通知 2027"

    [listed] = company_view(kiroku, CORP_A).dispositions()
    assert (listed.disposition_id, listed.based_on, listed.delivered_at) == (issued.disposition_id, [sid], None)
    assert company_view(kiroku, CORP_B).dispositions() == []


def test_opening_a_disposition_records_its_arrival_once(kiroku, clock):
    sid = filed_payroll(kiroku, CORP_A)
    issued = agency(kiroku, CHIYODA_ID).issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(),
                                                           based_on=[sid])
    view = company_view(kiroku, CORP_A)
    clock.set(jst(2027, 5, 20, 10, 0))
    opened = view.open_disposition(issued.disposition_id)
    assert (opened.delivered_at, opened.delivered_to) == (jst(2027, 5, 20, 10, 0), f"company:{CORP_A}")
    assert opened.payload["municipality_code"] == CHIYODA
    assert [ln["annual_tax"] for ln in opened.payload["lines"]] == [240_000]

    ends = filing_ends(kiroku)
    clock.advance(timedelta(days=3))
    again = view.open_disposition(issued.disposition_id)
    assert (again.delivered_at, again.delivered_to) == (jst(2027, 5, 20, 10, 0), f"company:{CORP_A}")
    assert filing_ends(kiroku) == ends  # no second arrival event
    assert view.dispositions()[0].delivered_at == jst(2027, 5, 20, 10, 0)
    reads = [(r.viewer, r.action, r.subject) for r in view.access_log() if r.action == "disposition"]
    assert reads == [(f"company:{CORP_A}", "disposition", issued.disposition_id)] * 2


def test_the_issuing_agency_can_reread_its_disposition_without_marking_it_arrived(kiroku):
    sid = filed_payroll(kiroku, CORP_A)
    chiyoda = agency(kiroku, CHIYODA_ID)
    issued = chiyoda.issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(), based_on=[sid])
    assert kiroku.queries.fetch_disposition(chiyoda.principal, issued.disposition_id).delivered_at is None
    assert company_view(kiroku, CORP_A).dispositions()[0].delivered_at is None


def test_a_firm_sees_dispositions_for_all_its_clients_in_one_gap_free_inbox(kiroku, clock):
    for corp in (CORP_A, CORP_B):
        company(kiroku, corp).grant("firm:tanaka-tax", ["PAYROLL_REPORT"], ["receive_notices"], grant_until(kiroku, 400))
    third = corp_number(3)  # granted only read: its dispositions are not the firm's to receive
    company(kiroku, third).grant("firm:tanaka-tax", ["PAYROLL_REPORT"], ["read"], grant_until(kiroku, 400))
    sids = {corp: filed_payroll(kiroku, corp) for corp in (CORP_A, CORP_B, third)}
    chiyoda = agency(kiroku, CHIYODA_ID)
    issue = lambda corp: chiyoda.issue_disposition(corp, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(),  # noqa: E731
                                                   based_on=[sids[corp]]).disposition_id
    first = [issue(CORP_A), issue(CORP_B), issue(third)]

    firm = firm_view(kiroku, "firm:tanaka-tax")
    got, cursor = firm.inbox()
    assert sorted(d.disposition_id for d in got) == sorted(first[:2])
    assert firm.inbox(cursor) == ([], cursor)

    later = [issue(CORP_B), issue(CORP_A), issue(third), issue(CORP_B)]
    got, cursor2 = firm.inbox(cursor)
    assert sorted(d.disposition_id for d in got) == sorted([later[0], later[1], later[3]])
    assert firm.inbox(cursor2)[0] == []

    # Paging one at a time from the start sees each exactly once.
    seen, cur = [], None
    while True:
        page, cur = kiroku.queries.inbox(firm.principal, cur, limit=1)
        if not page:
            break
        seen.extend(d.disposition_id for d in page)
    assert sorted(seen) == sorted([first[0], first[1], later[0], later[1], later[3]])

    # The vendor-style SDK reads the same inbox.
    assert sorted(d.disposition_id for d in producer(kiroku, "firm:tanaka-tax").dispositions()[0]) == sorted(seen)


def test_a_firm_fetching_a_disposition_records_arrival_to_itself(kiroku, clock):
    clock.set(jst(2027, 1, 10))
    company(kiroku, CORP_A).grant("firm:tanaka-tax", ["PAYROLL_REPORT"], ["receive_notices"], grant_until(kiroku, 365))
    sid = filed_payroll(kiroku, CORP_A)
    issued = agency(kiroku, CHIYODA_ID).issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(),
                                                           based_on=[sid])
    clock.set(jst(2027, 5, 15, 8, 0))
    fetched = firm_view(kiroku, "firm:tanaka-tax").open_disposition(issued.disposition_id)
    assert (fetched.delivered_at, fetched.delivered_to) == (jst(2027, 5, 15, 8, 0), "firm:tanaka-tax")
    assert company_view(kiroku, CORP_A).dispositions()[0].delivered_to == "firm:tanaka-tax"


def test_without_a_receive_notices_grant_a_disposition_is_invisible(kiroku):
    company(kiroku, CORP_A).grant("firm:tanaka-tax", ["PAYROLL_REPORT"], ["read", "submit"], grant_until(kiroku))
    sid = filed_payroll(kiroku, CORP_A)
    issued = agency(kiroku, CHIYODA_ID).issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(),
                                                           based_on=[sid])
    for who in ("firm:tanaka-tax", f"company:{CORP_B}"):
        with pytest.raises(NotFound) as err:
            producer(kiroku, who).fetch_disposition(issued.disposition_id)
        with pytest.raises(NotFound) as missing:
            producer(kiroku, who).fetch_disposition("dsp_NOSUCH")
        assert (err.value.code, err.value.field) == ("not_found", "disposition_id")
        assert err.value.message.replace(issued.disposition_id, "X") == missing.value.message.replace("dsp_NOSUCH", "X")
    assert firm_view(kiroku, "firm:tanaka-tax").inbox() == ([], "")
    with pytest.raises(NotFound) as err:
        kiroku.queries.dispositions(firm_view(kiroku, "firm:tanaka-tax").principal, CORP_A)
    assert (err.value.code, err.value.field) == ("not_found", "corporate_number")
    assert company_view(kiroku, CORP_A).dispositions()[0].delivered_at is None


def test_an_agency_of_the_wrong_kind_cannot_issue_or_read_the_disposition(kiroku):
    sid = filed_payroll(kiroku, CORP_A)
    for wrong in (TAX_OFFICE, PENSION_OFFICE):
        with pytest.raises(Forbidden) as err:
            agency(kiroku, wrong).issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(), based_on=[sid])
        assert (err.value.code, err.value.field) == ("forbidden", "principal")
    issued = agency(kiroku, CHIYODA_ID).issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(),
                                                           based_on=[sid])
    for other in (TAX_OFFICE, municipality(SAPPORO)):
        with pytest.raises(NotFound) as err:
            kiroku.queries.fetch_disposition(agency(kiroku, other).principal, issued.disposition_id)
        assert (err.value.code, err.value.field) == ("not_found", "disposition_id")
    with pytest.raises(Forbidden):
        kiroku.commands.issue_disposition(company(kiroku, CORP_A).principal, CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027",
                                          special_collection())


def test_an_agency_issues_only_to_companies_that_filed_to_it_and_based_on_what_it_received(kiroku):
    sid = filed_payroll(kiroku, CORP_A)
    sapporo = agency(kiroku, municipality(SAPPORO))
    with pytest.raises(NotFound) as err:
        sapporo.issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(SAPPORO))
    assert (err.value.code, err.value.field) == ("not_found", "corporate_number")
    enroll_payroll(kiroku, CORP_B, SAPPORO)  # Sapporo accepted B, but never received A's submission
    with pytest.raises(NotFound) as err:
        sapporo.issue_disposition(CORP_B, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(SAPPORO), based_on=["x", sid])
    assert (err.value.code, err.value.field) == ("not_found", "based_on[0]")
    assert company_view(kiroku, CORP_A).dispositions() == [] and company_view(kiroku, CORP_B).dispositions() == []


@pytest.mark.parametrize(("kind", "period", "payload", "code", "field"), [
    ("SPECIAL_COLLECTION", "2027", special_collection(), "unknown_procedure", "kind"),
    ("PAYROLL_REPORT", "2027", special_collection(), "unknown_procedure", "kind"),
    ("SPECIAL_COLLECTION_NOTICE", "2027-05", special_collection(), "invalid_period", "period"),
    ("SPECIAL_COLLECTION_NOTICE", "2027", special_collection("131017"), "check_digit", "municipality_code"),
    ("SPECIAL_COLLECTION_NOTICE", "2027", {**special_collection(), "lines": [{**special_collection()["lines"][0], "annual_tax": -1}]},
     "negative_amount", "lines[1].annual_tax"),
])
def test_a_malformed_disposition_is_refused_naming_the_field(kiroku, kind, period, payload, code, field):
    sid = filed_payroll(kiroku, CORP_A)
    with pytest.raises(ValidationError) as err:
        agency(kiroku, CHIYODA_ID).issue_disposition(CORP_A, kind, period, payload, based_on=[sid])
    assert (err.value.code, err.value.field) == (code, field)


def test_a_pension_office_sends_a_standard_remuneration_decision(kiroku, clock):
    clock.set(jst(2027, 7, 5, 10, 0))  # the 算定基礎届 of 2027 is filed from 1 July 2027
    enroll_to(kiroku, CORP_A, "STANDARD_REMUNERATION", PENSION_OFFICE)
    receipt = company(kiroku, CORP_A).record(CORP_A, "STANDARD_REMUNERATION", "2027", standard_remuneration())
    issued = agency(kiroku, PENSION_OFFICE).issue_disposition(CORP_A, "STANDARD_REMUNERATION_DECISION", "2027", {
        "office_code": "01-イロハ-12345", "effective_from": "2027-09",
        "lines": [{"insured_number": 10, "person": {"name": "鈴木 一郎0"}, "health_grade": 22, "health_amount": 300_000,
                   "pension_grade": 19, "pension_amount": 300_000}],
    }, based_on=[receipt.submission_id])
    opened = company_view(kiroku, CORP_A).open_disposition(issued.disposition_id)
    assert opened.payload["effective_from"] == "2027-09"
    assert (opened.payload["lines"][0]["health_grade"], opened.payload["lines"][0]["pension_grade"]) == (22, 19)
    assert opened.payload["lines"][0]["person"]["name"] == "鈴木 一郎0"  # sealed, and the company it is about reads it
