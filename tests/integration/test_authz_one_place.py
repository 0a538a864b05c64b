"""Authorization in one place: each path to the same data is checked by the same rule, and recorded.

Each test here failed before every principal check moved into ``ledger/service/authz.py``.
"""

from __future__ import annotations

import pytest

from ledger.domain.model import Principal
from ledger.errors import Forbidden, NotFound
from tests.factories import CHIYODA, CORP_A, CORP_B, SAPPORO, payroll, payroll_line, withholding
from tests.integration.helpers import (
    TAX_OFFICE,
    agency,
    company,
    company_view,
    enroll_payroll,
    enroll_to,
    filing_ends,
    firm_view,
    grant_until,
    log_ends,
    municipality,
    producer,
    special_collection,
)

pytestmark = pytest.mark.integration

CHIYODA_ID = municipality(CHIYODA)
SAPPORO_ID = municipality(SAPPORO)


def last_access(kiroku, corp: str):
    return company_view(kiroku, corp).access_log()[-1]


# -- the in-process SDK answers as the remote one ------------------------------------------------------

def test_the_in_process_producer_lists_enrollments_only_under_a_grant(kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    with pytest.raises(NotFound) as err:
        producer(kiroku, "vendor:stranger").enrollments(CORP_A)
    assert (err.value.code, err.value.field, err.value.got) == ("not_found", "corporate_number", CORP_A)
    denied = last_access(kiroku, CORP_A)
    assert (denied.viewer, denied.action, denied.outcome) == ("vendor:stranger", "enrollments", "DENIED")
    company(kiroku, CORP_A).grant("vendor:acme", ["PAYROLL_REPORT"], ["submit"], grant_until(kiroku))
    assert [e.procedure for e in producer(kiroku, "vendor:acme").enrollments(CORP_A)] == ["PAYROLL_REPORT"]
    assert [e.procedure for e in company_view(kiroku, CORP_A).enrollments()] == ["PAYROLL_REPORT"]


# -- a proof carries the whole entry --------------------------------------------------------------------

def test_a_submit_only_grantee_gets_no_proof_of_what_someone_else_recorded(kiroku):
    enroll_to(kiroku, CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    theirs = company(kiroku, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding())
    company(kiroku, CORP_A).grant("vendor:acme", ["WITHHOLDING_SLIP"], ["submit"], grant_until(kiroku))
    acme = producer(kiroku, "vendor:acme")
    assert acme.receipt(theirs.submission_id).payload_digest == theirs.payload_digest  # the receipt: metadata only
    with pytest.raises(NotFound) as err:
        acme.receipt_with_proof(theirs.submission_id)
    assert (err.value.code, err.value.field, err.value.got) == ("not_found", "submission_id", theirs.submission_id)
    denied = last_access(kiroku, CORP_A)
    assert (denied.viewer, denied.action, denied.outcome) == ("vendor:acme", "proof", "DENIED")


def test_a_submit_only_grantee_gets_the_proof_of_its_own_recording(kiroku):
    enroll_to(kiroku, CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    company(kiroku, CORP_A).grant("vendor:acme", ["WITHHOLDING_SLIP"], ["submit"], grant_until(kiroku))
    mine = producer(kiroku, "vendor:acme").record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding())
    proof = producer(kiroku, "vendor:acme").receipt_with_proof(mine.submission_id)
    assert proof.receipt["submission_id"] == mine.submission_id and proof.entry
    allowed = last_access(kiroku, CORP_A)
    assert (allowed.viewer, allowed.action, allowed.outcome) == ("vendor:acme", "proof", "ALLOWED")


def test_a_municipality_that_sees_some_lines_gets_no_proof_and_no_whole_snapshot(kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    r = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, CHIYODA), payroll_line(2, SAPPORO)]))
    chiyoda = Principal.agency(CHIYODA_ID)
    with pytest.raises(NotFound):
        kiroku.transparency.receipt_with_proof(chiyoda, r.submission_id)
    with pytest.raises(Forbidden) as err:
        kiroku.queries.snapshot(chiyoda, r.submission_id, whole=True)
    assert (err.value.code, err.value.field) == ("partial_view", "submission_id")
    refused = last_access(kiroku, CORP_A)
    assert (refused.viewer, refused.action, refused.outcome) == (chiyoda.id, "snapshot", "DENIED")
    assert "every line" in (refused.reason or "")
    assert kiroku.queries.snapshot(chiyoda, r.submission_id).visible_lines == [1]


# -- dispositions follow the grant's procedures ---------------------------------------------------------

def test_a_notice_right_for_withholding_slips_does_not_open_a_special_collection_notice(kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    sid = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll()).submission_id
    company(kiroku, CORP_A).grant("firm:tanaka-tax", ["WITHHOLDING_SLIP"], ["receive_notices", "read"], grant_until(kiroku))
    issued = agency(kiroku, CHIYODA_ID).issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(),
                                                           based_on=[sid])
    firm = producer(kiroku, "firm:tanaka-tax")
    with pytest.raises(NotFound) as err:
        firm.fetch_disposition(issued.disposition_id)
    assert (err.value.code, err.value.field, err.value.got) == ("not_found", "disposition_id", issued.disposition_id)
    assert company_view(kiroku, CORP_A).dispositions()[0].delivered_at is None  # no arrival (到達) was recorded
    items, _ = firm_view(kiroku, "firm:tanaka-tax").inbox()
    assert items == []
    assert kiroku.queries.dispositions(firm.principal, CORP_A) == []
    # A grant of the procedure the notice answers (給与支払報告書) covers it.
    company(kiroku, CORP_A).grant("firm:sato-tax", ["PAYROLL_REPORT"], ["receive_notices"], grant_until(kiroku))
    assert producer(kiroku, "firm:sato-tax").fetch_disposition(issued.disposition_id).delivered_to == "firm:sato-tax"


def test_a_municipality_cannot_issue_a_notice_in_another_municipalitys_name(kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    sid = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll()).submission_id
    before = filing_ends(kiroku)
    with pytest.raises(Forbidden) as err:
        agency(kiroku, CHIYODA_ID).issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(SAPPORO),
                                                     based_on=[sid])
    assert (err.value.code, err.value.field, err.value.expected, err.value.got) == (
        "not_your_municipality", "municipality_code", CHIYODA, SAPPORO)
    assert filing_ends(kiroku) == before  # nothing issued
    refused = last_access(kiroku, CORP_A)
    assert (refused.viewer, refused.action, refused.outcome) == (Principal.agency(CHIYODA_ID).id, "issue", "DENIED")
    assert company_view(kiroku, CORP_A).dispositions() == []


# -- every read of company data is recorded ------------------------------------------------------------

def test_reads_of_enrollments_reminders_grants_and_the_inbox_are_recorded(kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    sid = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll()).submission_id
    company(kiroku, CORP_A).grant("firm:tanaka-tax", ["PAYROLL_REPORT"], ["read", "receive_notices"], grant_until(kiroku))
    agency(kiroku, CHIYODA_ID).issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(), based_on=[sid])
    firm = firm_view(kiroku, "firm:tanaka-tax")
    ends = log_ends(kiroku)
    firm.kiroku.queries.enrollments(firm.principal, CORP_A)
    firm.kiroku.queries.reminders(firm.principal, CORP_A)
    firm.grants()
    firm.inbox()
    actions = [(r.viewer, r.action, r.outcome) for r in company_view(kiroku, CORP_A).access_log()[-4:]]
    assert actions == [("firm:tanaka-tax", a, "ALLOWED") for a in ("enrollments", "reminders", "grants", "inbox")]
    assert log_ends(kiroku) != ends
    assert company_view(kiroku, CORP_B).access_log() == []  # nothing about A's data lands in B's log
