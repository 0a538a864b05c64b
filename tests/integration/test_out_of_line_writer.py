"""A writer whose processing runs out of line (scale-out) sees its own appends before the
projector has applied them: retries, corrections and cancellations decide as if inline."""

from __future__ import annotations

import pytest

from ledger.bootstrap import open_kiroku
from ledger.domain.model import Principal, SubmissionKind, SubmissionRequest
from ledger.errors import Conflict
from ledger.ports import FILINGS
from tests.factories import CHIYODA, CORP_A, SAPPORO, payroll, payroll_line
from tests.integration.helpers import agency, enroll_payroll, municipality

pytestmark = pytest.mark.integration

ME = Principal.company(CORP_A)


def request(payload: dict | None, kind: SubmissionKind = SubmissionKind.ORIGINAL, replaces: str | None = None,
            key: str | None = None) -> SubmissionRequest:
    return SubmissionRequest(corporate_number=CORP_A, procedure="PAYROLL_REPORT", period="2026", payload=payload,
                             kind=kind, replaces=replaces, idempotency_key=key)


def filings(k) -> int:
    return sum(k.log.end_offset(FILINGS, p) for p in range(k.log.partitions(FILINGS)))


@pytest.fixture
def writer(home, clock):
    with open_kiroku(home=home, clock=clock) as k:
        enroll_payroll(k, CORP_A, CHIYODA, SAPPORO)
    with open_kiroku(home=home, clock=clock, inline_processing=False) as k:
        yield k


def test_a_retry_before_the_projector_ran_gets_the_original_receipt_and_records_nothing(writer):
    first = writer.commands.record(ME, request(payroll([payroll_line(1, CHIYODA)]), key="jan-run-1"))
    before = filings(writer)
    again = writer.commands.record(ME, request(payroll([payroll_line(1, CHIYODA)]), key="jan-run-1"))
    assert (again.submission_id, again.position) == (first.submission_id, first.position)
    assert filings(writer) == before
    with pytest.raises(Conflict) as err:  # the same key with other data is a mistake, not a retry
        writer.commands.record(ME, request(payroll([payroll_line(2, SAPPORO)]), key="jan-run-1"))
    assert err.value.field == "idempotency_key"


def test_a_second_original_before_the_projector_ran_is_refused_as_already_filed(writer):
    first = writer.commands.record(ME, request(payroll([payroll_line(1, CHIYODA)])))
    with pytest.raises(Conflict) as err:
        writer.commands.record(ME, request(payroll([payroll_line(1, CHIYODA)])))
    assert err.value.code == "already_filed" and err.value.expected == f"CORRECTION replacing {first.submission_id}"


def test_corrections_and_cancellations_of_unprojected_submissions_decide_as_if_inline(writer):
    original = writer.commands.record(ME, request(payroll([payroll_line(1, CHIYODA), payroll_line(2, SAPPORO)])))
    correction = writer.commands.record(ME, request(payroll([payroll_line(1, SAPPORO)]), SubmissionKind.CORRECTION,
                                                    original.submission_id))
    assert correction.targets == [municipality(SAPPORO)]
    with pytest.raises(Conflict) as err:  # the original is no longer the latest, even unprojected
        writer.commands.record(ME, request(None, SubmissionKind.CANCELLATION, original.submission_id))
    assert err.value.code == "stale_replaces" and err.value.expected == correction.submission_id
    cancellation = writer.commands.record(ME, request(None, SubmissionKind.CANCELLATION, correction.submission_id))
    assert cancellation.targets == correction.targets  # from the unprojected correction's own routing

    assert len(writer.commands.recent) == 3
    writer.processors.catch_up()
    with pytest.raises(Conflict) as err:  # now decided on the catalog: the correction was cancelled
        writer.commands.record(ME, request(None, SubmissionKind.CANCELLATION, correction.submission_id))
    assert err.value.code == "stale_replaces" and err.value.expected == cancellation.submission_id
    assert len(writer.commands.recent) == 0  # forgotten once the projector applied them
    feed = agency(writer, municipality(SAPPORO)).notices()
    assert [n.submission_id for n in feed] == [original.submission_id, correction.submission_id, cancellation.submission_id]
