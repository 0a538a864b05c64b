"""Receipts and idempotency: a retry gets the original receipt; a reused key with other data is a conflict."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.domain.model import Receipt, SubmissionKind
from ledger.errors import Conflict, Forbidden, ValidationError
from tests.factories import CHIYODA, CORP_A, CORP_B, payroll, payroll_line
from tests.integration.helpers import (
    catalog_dump,
    company,
    company_view,
    enroll_payroll,
    filing_ends,
    grant_until,
    log_ends,
    producer,
    request,
)

pytestmark = pytest.mark.integration


def test_recording_again_with_the_same_key_and_body_returns_the_original_receipt_and_appends_nothing(kiroku, clock):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    a = company(kiroku, CORP_A)
    first = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll(), idempotency_key="run-2027-01")
    ends, dump = log_ends(kiroku), catalog_dump(kiroku)

    clock.advance(timedelta(minutes=5))  # the retry comes later
    again = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll(), idempotency_key="run-2027-01")

    assert again == first
    assert log_ends(kiroku) == ends
    assert catalog_dump(kiroku) == dump
    assert len(company_view(kiroku, CORP_A).history(first.submission_id)) == 1


def test_the_same_key_with_a_different_body_is_a_conflict_and_records_nothing(kiroku):
    a = company(kiroku, CORP_A)
    first = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll(), idempotency_key="run-1")
    ends, dump = log_ends(kiroku), catalog_dump(kiroku)

    with pytest.raises(Conflict) as err:
        a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, payment_amount=1)]), idempotency_key="run-1")
    assert (err.value.code, err.value.field) == ("idempotency_conflict", "idempotency_key")
    assert err.value.retriable is False
    with pytest.raises(Conflict) as err:  # another period under the same key is other data too
        a.record(CORP_A, "PAYROLL_REPORT", "2025", payroll(), idempotency_key="run-1")
    assert (err.value.code, err.value.field) == ("idempotency_conflict", "idempotency_key")

    assert log_ends(kiroku) == ends
    assert catalog_dump(kiroku) == dump
    assert [f.submission_id for f in company_view(kiroku, CORP_A).filings()] == [first.submission_id]


def test_a_retried_correction_returns_its_receipt_instead_of_a_stale_replaces_conflict(kiroku):
    a = company(kiroku, CORP_A)
    original = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    fixed = a.correct(original.submission_id, payroll([payroll_line(1, payment_amount=42)]), idempotency_key="fix-1")
    ends = filing_ends(kiroku)  # the SDK reads the prior receipt first, and that read is logged
    assert a.correct(original.submission_id, payroll([payroll_line(1, payment_amount=42)]), idempotency_key="fix-1") == fixed
    assert filing_ends(kiroku) == ends


def test_within_one_batch_a_repeated_key_and_body_is_recorded_once_with_one_receipt(kiroku):
    a = company(kiroku, CORP_A)
    before = log_ends(kiroku)
    results = list(a.record_many([
        request(CORP_A, "PAYROLL_REPORT", "2026", payroll(), key="k1"),
        request(CORP_A, "PAYROLL_REPORT", "2026", payroll(), key="k1"),
        request(CORP_A, "PAYROLL_REPORT", "2025", payroll(), key="k2"),
    ]))
    assert all(isinstance(r, Receipt) for r in results)
    assert results[0] == results[1]
    assert results[2].submission_id != results[0].submission_id
    assert [f.period for f in company_view(kiroku, CORP_A).filings()] == ["2025", "2026"]
    filings = [(t, p) for (t, p) in before if t == "kiroku.filings"]
    assert sum(kiroku.log.end_offset(t, p) - before[(t, p)] for t, p in filings) == 2


def test_within_one_batch_a_repeated_key_with_another_body_is_a_conflict_for_the_second_only(kiroku):
    a = company(kiroku, CORP_A)
    results = list(a.record_many([
        request(CORP_A, "PAYROLL_REPORT", "2026", payroll(), key="k1"),
        request(CORP_A, "PAYROLL_REPORT", "2025", payroll(), key="k1"),
    ]))
    assert isinstance(results[0], Receipt)
    assert isinstance(results[1], Conflict)
    assert (results[1].code, results[1].field) == ("idempotency_conflict", "idempotency_key")
    assert [f.submission_id for f in company_view(kiroku, CORP_A).filings()] == [results[0].submission_id]


def test_a_key_repeated_across_batches_of_one_stream_is_still_recorded_once(kiroku):
    a = company(kiroku, CORP_A)
    results = list(a.record_many([request(CORP_A, "PAYROLL_REPORT", "2026", payroll(), key="k1")] * 3, batch_size=1))
    assert results[0] == results[1] == results[2]
    assert len(company_view(kiroku, CORP_A).history(results[0].submission_id)) == 1


def test_a_key_is_the_principals_own_so_reusing_it_for_another_company_is_a_conflict(kiroku):
    """Keys are scoped per principal (the one that sends them), as Stripe scopes them per account:
    a vendor's key names one submission across all its client companies."""
    vendor = producer(kiroku, "vendor:acme-payroll")
    for corp in (CORP_A, CORP_B):
        company(kiroku, corp).grant("vendor:acme-payroll", ["PAYROLL_REPORT"], ["submit", "read"], grant_until(kiroku))
    ra = vendor.record(CORP_A, "PAYROLL_REPORT", "2026", payroll(), idempotency_key="jan-run")
    ends = filing_ends(kiroku)
    with pytest.raises(Conflict) as err:
        vendor.record(CORP_B, "PAYROLL_REPORT", "2026", payroll(), idempotency_key="jan-run")
    assert (err.value.code, err.value.field, err.value.expected, err.value.got) == (
        "idempotency_conflict", "idempotency_key", "the same body as the first use of this key", "a different body")
    assert filing_ends(kiroku) == ends
    assert company_view(kiroku, CORP_B).filings() == []
    assert vendor.record(CORP_A, "PAYROLL_REPORT", "2026", payroll(), idempotency_key="jan-run") == ra  # still a retry


def test_two_principals_acting_for_one_company_each_have_their_own_keys(kiroku):
    vendor = producer(kiroku, "vendor:acme-payroll")
    company(kiroku, CORP_A).grant("vendor:acme-payroll", ["PAYROLL_REPORT", "WITHHOLDING_SLIP"], ["submit", "read"],
                                  grant_until(kiroku))
    mine = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll(), idempotency_key="run-1")
    theirs = vendor.record(CORP_A, "PAYROLL_REPORT", "2025", payroll(), idempotency_key="run-1")
    assert mine.submission_id != theirs.submission_id
    assert vendor.record(CORP_A, "PAYROLL_REPORT", "2025", payroll(), idempotency_key="run-1") == theirs


@pytest.mark.parametrize("key", ["", "   ", "x" * 201])
def test_a_malformed_idempotency_key_is_refused(kiroku, key):
    ends = log_ends(kiroku)
    with pytest.raises(ValidationError) as err:
        company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll(), idempotency_key=key)
    assert (err.value.code, err.value.field) == ("invalid_idempotency_key", "idempotency_key")
    assert log_ends(kiroku) == ends


def test_replaying_another_callers_key_without_rights_reveals_nothing(kiroku):
    a = company(kiroku, CORP_A)
    a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll(), idempotency_key="run-1")
    stranger = producer(kiroku, "vendor:stranger")
    with pytest.raises(Forbidden) as same_body:
        stranger.record(CORP_A, "PAYROLL_REPORT", "2026", payroll(), idempotency_key="run-1")
    with pytest.raises(Forbidden) as other_body:
        stranger.record(CORP_A, "PAYROLL_REPORT", "2025", payroll(), idempotency_key="run-1")
    with pytest.raises(Forbidden) as unused_key:
        stranger.record(CORP_A, "PAYROLL_REPORT", "2025", payroll(), idempotency_key="never-used")
    assert same_body.value.code == other_body.value.code == unused_key.value.code == "forbidden"
    assert same_body.value.field == other_body.value.field == unused_key.value.field == "corporate_number"


def test_the_receipt_can_be_fetched_again_by_its_submission_id(kiroku):
    a = company(kiroku, CORP_A)
    receipt = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll(), idempotency_key="run-1")
    assert a.receipt(receipt.submission_id) == receipt
    assert receipt.kind is SubmissionKind.ORIGINAL


def test_a_retry_after_a_lost_acknowledgement_returns_the_original_receipt_not_a_second_record(kiroku):
    """The append landed but its caller never heard back (a timeout), so nothing was derived from it
    yet; the caller's retry with the same key must get the original receipt, not a second record."""
    from ledger.domain.model import Principal, SubmissionRequest
    from tests.factories import CORP_A, payroll

    req = SubmissionRequest(corporate_number=CORP_A, procedure="PAYROLL_REPORT", period="2026", payload=payroll(),
                            idempotency_key="jan-run-1")
    catch_up = kiroku.commands.after_append
    kiroku.commands.after_append = lambda: None  # the append returns, its processing never ran
    first = kiroku.commands.record(Principal.company(CORP_A), req)
    kiroku.commands.after_append = catch_up
    again = kiroku.commands.record(Principal.company(CORP_A), req)
    assert again.submission_id == first.submission_id
    assert sum(kiroku.log.end_offset("kiroku.filings", p) for p in range(kiroku.log.partitions("kiroku.filings"))) == 1
