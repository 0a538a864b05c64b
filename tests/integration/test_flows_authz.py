"""Authorization in the service layer: companies, grants, agencies, the operator — and the access log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ledger.catalog import tables as c
from ledger.domain.model import Principal
from ledger.domain.procedures import DEEMED
from ledger.errors import Forbidden, NotFound, ValidationError
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
    jst,
    municipality,
    producer,
    request,
)

pytestmark = pytest.mark.integration

CHIYODA_ID = municipality(CHIYODA)
NO_SUCH = "sub_01JZZZZZZZZZZZZZZZZZZZZZZZ"


def shape(err: NotFound, subject: str) -> dict:
    """The error as the caller sees it, with the id it asked about blanked out."""
    return {k: (v.replace(subject, "<id>") if isinstance(v, str) else v) for k, v in err.to_dict().items()}


def test_another_companys_submission_answers_exactly_like_a_missing_one(kiroku):
    theirs = company(kiroku, CORP_B).record(CORP_B, "PAYROLL_REPORT", "2026", payroll())
    a = company_view(kiroku, CORP_A)
    with pytest.raises(NotFound) as other:
        a.snapshot(theirs.submission_id)
    with pytest.raises(NotFound) as missing:
        a.snapshot(NO_SUCH)
    assert (other.value.code, other.value.field) == ("not_found", "submission_id")
    assert shape(other.value, theirs.submission_id) == shape(missing.value, NO_SUCH)
    assert type(other.value) is type(missing.value)
    for read in (a.history, company(kiroku, CORP_A).receipt):
        with pytest.raises(NotFound) as other:
            read(theirs.submission_id)
        with pytest.raises(NotFound) as missing:
            read(NO_SUCH)
        assert shape(other.value, theirs.submission_id) == shape(missing.value, NO_SUCH)
    assert a.filings() == [] and kiroku.queries.filings(a.principal, CORP_B) == []


def test_a_denied_read_is_recorded_in_the_owners_access_log(kiroku, clock):
    clock.set(jst(2027, 1, 20, 10, 0))
    theirs = company(kiroku, CORP_B).record(CORP_B, "PAYROLL_REPORT", "2026", payroll())
    with pytest.raises(NotFound):
        company_view(kiroku, CORP_A).snapshot(theirs.submission_id)
    [denied] = [r for r in company_view(kiroku, CORP_B).access_log() if r.outcome == "DENIED"]
    assert (denied.viewer, denied.action, denied.subject, denied.legal_basis) == (
        f"company:{CORP_A}", "snapshot", theirs.submission_id, None)
    assert denied.at == clock()
    assert company_view(kiroku, CORP_A).access_log() == []  # nothing about B's data lands in A's log


def test_the_access_log_is_the_companys_own(kiroku):
    company(kiroku, CORP_A).grant("firm:tanaka-tax", ["PAYROLL_REPORT"], ["read", "submit", "receive_notices"], grant_until(kiroku))
    for who in (Principal.company(CORP_B), Principal.firm("tanaka-tax"), Principal.agency(CHIYODA_ID), Principal.operator()):
        with pytest.raises(NotFound) as err:
            kiroku.queries.access_log(who, CORP_A)
        assert (err.value.code, err.value.field) == ("not_found", "corporate_number")


def test_a_vendor_records_for_a_company_only_under_a_submit_grant_for_the_procedure(kiroku):
    vendor = producer(kiroku, "vendor:acme-payroll")
    ends = filing_ends(kiroku)
    with pytest.raises(Forbidden) as err:
        vendor.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    assert (err.value.code, err.value.field) == ("forbidden", "corporate_number")
    assert filing_ends(kiroku) == ends

    a = company(kiroku, CORP_A)
    a.grant("vendor:acme-payroll", ["PAYROLL_REPORT"], ["read"], grant_until(kiroku))
    a.grant("vendor:acme-payroll", ["WITHHOLDING_SLIP"], ["submit"], grant_until(kiroku))
    with pytest.raises(Forbidden) as err:  # read is not submit; WITHHOLDING_SLIP is not PAYROLL_REPORT
        vendor.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    assert (err.value.code, err.value.field) == ("forbidden", "corporate_number")

    grant = a.grant("vendor:acme-payroll", ["PAYROLL_REPORT"], ["submit"], grant_until(kiroku))
    receipt = vendor.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    [info] = company_view(kiroku, CORP_A).filings()
    assert (info.submission_id, info.recorded_by) == (receipt.submission_id, "vendor:acme-payroll")
    with kiroku.catalog.connect() as conn:  # the grant used is kept with the submission
        used = conn.execute(select(c.submissions.c.grant_id).where(c.submissions.c.submission_id == receipt.submission_id)).scalar()
    assert used == grant.grant_id
    with pytest.raises(Forbidden):  # a grant from A gives nothing over B
        vendor.record(CORP_B, "PAYROLL_REPORT", "2026", payroll())


def test_an_expired_grant_stops_working_at_its_expiry(kiroku, clock):
    a = company(kiroku, CORP_A)
    receipt = a.record(CORP_A, "PAYROLL_REPORT", "2025", payroll())
    grant = a.grant("firm:tanaka-tax", ["PAYROLL_REPORT"], ["submit", "read"], clock() + timedelta(days=1))
    firm, view = producer(kiroku, "firm:tanaka-tax"), firm_view(kiroku, "firm:tanaka-tax")
    assert view.snapshot(receipt.submission_id).info.submission_id == receipt.submission_id
    assert view.clients() == [CORP_A]

    clock.set(grant.expires_at)
    with pytest.raises(Forbidden) as err:
        firm.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    assert (err.value.code, err.value.field) == ("forbidden", "corporate_number")
    with pytest.raises(NotFound) as err:
        view.snapshot(receipt.submission_id)
    assert (err.value.code, err.value.field) == ("not_found", "submission_id")
    assert view.clients() == [] and view.filings() == []


def test_a_revoked_grant_stops_working_immediately(kiroku):
    a = company(kiroku, CORP_A)
    receipt = a.record(CORP_A, "PAYROLL_REPORT", "2025", payroll())
    grant = a.grant("firm:tanaka-tax", ["PAYROLL_REPORT"], ["submit", "read"], grant_until(kiroku))
    firm, view = producer(kiroku, "firm:tanaka-tax"), firm_view(kiroku, "firm:tanaka-tax")
    firm.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())

    revoked = a.revoke(grant.grant_id, "顧問契約終了")
    assert revoked.revoked_at is not None
    with pytest.raises(Forbidden):
        firm.record(CORP_A, "PAYROLL_REPORT", "2024", payroll())
    with pytest.raises(NotFound):
        view.snapshot(receipt.submission_id)
    assert view.filings() == []


def test_only_the_granting_company_revokes_its_grant(kiroku):
    grant = company(kiroku, CORP_A).grant("firm:tanaka-tax", ["PAYROLL_REPORT"], ["read"], grant_until(kiroku))
    for who in ("company:" + CORP_B, "firm:tanaka-tax"):
        with pytest.raises(NotFound) as err:
            producer(kiroku, who).revoke(grant.grant_id)
        assert (err.value.code, err.value.field) == ("not_found", "grant_id")
    assert company_view(kiroku, CORP_A).grants()[0].revoked_at is None


@pytest.mark.parametrize(("grantee", "procedures", "actions", "days", "code", "field"), [
    ("agency:municipality:131016", ["PAYROLL_REPORT"], ["read"], 30, "invalid_grantee", "grantee"),
    ("firm:x", [], ["read"], 30, "required", "procedures"),
    ("firm:x", ["PAYROLL"], ["read"], 30, "unknown_procedure", "procedures[0]"),
    ("firm:x", ["PAYROLL_REPORT"], ["delete"], 30, "invalid_action", "actions[0]"),
    ("firm:x", ["PAYROLL_REPORT"], [], 30, "required", "actions"),
    ("firm:x", ["PAYROLL_REPORT"], ["read"], -1, "invalid_expiry", "expires_at"),
])
def test_a_malformed_grant_is_refused_naming_the_field(kiroku, grantee, procedures, actions, days, code, field):
    with pytest.raises(ValidationError) as err:
        company(kiroku, CORP_A).grant(grantee, procedures, actions, kiroku.queries.clock() + timedelta(days=days))
    assert (err.value.code, err.value.field) == (code, field)


def test_only_a_company_grants_rights(kiroku):
    with pytest.raises(Forbidden) as err:
        producer(kiroku, "firm:tanaka-tax").grant("firm:other", ["PAYROLL_REPORT"], ["read"], grant_until(kiroku))
    assert (err.value.code, err.value.field) == ("forbidden", "principal")


def test_an_agency_that_is_not_a_target_cannot_read_the_submission(kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    enroll_to(kiroku, CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    # 2025: before the 給与支払報告書 also counted as the 源泉徴収票 (procedures.DEEMED), the tax office is no target
    lines = [payroll_line(1, CHIYODA), payroll_line(2, SAPPORO)]
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2025", payroll(lines))
    for outsider in (municipality(SAPPORO), "tax-office:01102", TAX_OFFICE):
        view = agency(kiroku, outsider)
        with pytest.raises(NotFound) as other:
            view.snapshot(receipt.submission_id)
        with pytest.raises(NotFound) as missing:
            view.snapshot(NO_SUCH)
        assert shape(other.value, receipt.submission_id) == shape(missing.value, NO_SUCH)
        with pytest.raises(NotFound):
            view.effective(CORP_A, "PAYROLL_REPORT", "2025")
        with pytest.raises(NotFound):
            view.history(receipt.submission_id)
        assert view.filings(CORP_A) == [] and view.filings() == []
    denied = [(r.viewer, r.outcome) for r in company_view(kiroku, CORP_A).access_log() if r.action == "snapshot"]
    assert (f"agency:{municipality(SAPPORO)}", "DENIED") in denied


def test_the_operator_cannot_read_payloads(kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    op = Principal.operator()
    with pytest.raises(NotFound) as err:
        kiroku.queries.snapshot(op, receipt.submission_id)
    assert (err.value.code, err.value.field) == ("not_found", "submission_id")
    with pytest.raises(NotFound):
        kiroku.queries.effective(op, CORP_A, "PAYROLL_REPORT", "2026")
    with pytest.raises(Forbidden) as err:
        kiroku.queries.filings(op, CORP_A)
    assert (err.value.code, err.value.field) == ("forbidden", "principal")
    # It can see the receipt (metadata, no payload) to run the platform.
    assert kiroku.queries.receipt(op, receipt.submission_id).payload_digest == receipt.payload_digest
    with pytest.raises(Forbidden):
        kiroku.commands.record(op, request(CORP_A, "PAYROLL_REPORT", "2025", payroll()))


def test_every_allowed_read_is_in_the_companys_access_log_with_viewer_action_and_basis(kiroku, clock):
    clock.set(jst(2027, 1, 20, 10, 0))
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    enroll_to(kiroku, CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    a = company(kiroku, CORP_A)
    grant = a.grant("firm:tanaka-tax", ["PAYROLL_REPORT"], ["read"], grant_until(kiroku))
    pr = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    wr = a.record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding())
    view = company_view(kiroku, CORP_A)
    start = view.access_log()[-1].seq if view.access_log() else 0

    chiyoda, tax, firm = agency(kiroku, CHIYODA_ID), agency(kiroku, TAX_OFFICE), firm_view(kiroku, "firm:tanaka-tax")
    chiyoda.snapshot(pr.submission_id)
    chiyoda.effective(CORP_A, "PAYROLL_REPORT", "2026")
    chiyoda.history(pr.submission_id)
    tax.filings(CORP_A)
    firm.snapshot(pr.submission_id)
    view.snapshot(wr.submission_id)
    a.receipt(pr.submission_id)

    payroll_basis = "地方税法第317条の6 (給与支払報告書の提出)"
    log = view.access_log(after=start)
    assert [(r.viewer, r.action, r.subject, r.legal_basis, r.outcome) for r in log] == [
        (f"agency:{CHIYODA_ID}", "snapshot", pr.submission_id, payroll_basis, "ALLOWED"),
        (f"agency:{CHIYODA_ID}", "effective", f"PAYROLL_REPORT 2026 as of {clock().isoformat()}", payroll_basis, "ALLOWED"),
        (f"agency:{CHIYODA_ID}", "history", pr.submission_id, payroll_basis, "ALLOWED"),
        # From payment year 2026 the 給与支払報告書 is the 源泉徴収票 too (procedures.DEEMED, E10).
        (f"agency:{TAX_OFFICE}", "query", pr.submission_id, DEEMED["PAYROLL_REPORT"].legal_basis, "ALLOWED"),
        (f"agency:{TAX_OFFICE}", "query", wr.submission_id, "所得税法第226条 (源泉徴収票の提出)", "ALLOWED"),
        ("firm:tanaka-tax", "snapshot", pr.submission_id, f"grant {grant.grant_id}", "ALLOWED"),
        (f"company:{CORP_A}", "snapshot", wr.submission_id, "own data (本人)", "ALLOWED"),
        (f"company:{CORP_A}", "receipt", pr.submission_id, "own data (本人)", "ALLOWED"),
    ]
    assert [r.seq for r in log] == list(range(start + 1, start + 9))
    assert all(r.at == clock() for r in log)


def test_a_vendor_with_only_a_submit_grant_fetches_receipts_and_corrects_but_cannot_read_payloads(kiroku):
    company(kiroku, CORP_A).grant("vendor:acme-payroll", ["PAYROLL_REPORT"], ["submit"], grant_until(kiroku))
    vendor = producer(kiroku, "vendor:acme-payroll")
    receipt = vendor.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    assert vendor.receipt(receipt.submission_id) == receipt
    fixed = vendor.correct(receipt.submission_id, payroll([payroll_line(1, payment_amount=7)]))
    cancelled = vendor.cancel(fixed.submission_id)
    assert (fixed.replaces, cancelled.replaces) == (receipt.submission_id, fixed.submission_id)
    with pytest.raises(NotFound) as err:
        firm_view(kiroku, "vendor:acme-payroll").snapshot(receipt.submission_id)
    assert (err.value.code, err.value.field) == ("not_found", "submission_id")
    with pytest.raises(NotFound):  # and a submit grant for one procedure gives no receipts of another
        vendor.receipt(company(kiroku, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding()).submission_id)


def test_the_operators_receipt_reads_are_in_the_companys_access_log(kiroku):
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    kiroku.queries.receipt(Principal.operator(), receipt.submission_id)
    last = company_view(kiroku, CORP_A).access_log()[-1]
    assert (last.viewer, last.action, last.subject, last.outcome) == ("operator:operator", "receipt", receipt.submission_id, "ALLOWED")
    assert last.legal_basis == "platform operation (receipt metadata, no payload)"
    with pytest.raises(NotFound) as err:
        kiroku.queries.receipt(Principal.operator(), NO_SUCH)
    assert (err.value.code, err.value.field) == ("not_found", "submission_id")


def test_a_refused_submission_attempt_is_recorded_where_the_company_sees_it_and_records_no_filing(kiroku):
    vendor = producer(kiroku, "vendor:stranger")
    ends = filing_ends(kiroku)
    with pytest.raises(Forbidden):
        vendor.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    assert filing_ends(kiroku) == ends
    [entry] = company_view(kiroku, CORP_A).access_log()
    assert (entry.viewer, entry.action, entry.subject, entry.outcome) == ("vendor:stranger", "submit", "PAYROLL_REPORT 2026", "DENIED")
    assert "no active grant covering submit of PAYROLL_REPORT" in entry.reason
