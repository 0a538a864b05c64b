"""Corrections and cancellations: chains by submission id within one filing; history, never overwritten."""

from __future__ import annotations

import pytest

from ledger.domain.model import SubmissionKind
from ledger.errors import Conflict, NotFound, ValidationError
from tests.factories import CHIYODA, CORP_A, CORP_B, SAPPORO, payroll, payroll_line, withholding
from tests.integration.helpers import (
    agency,
    catalog_dump,
    company,
    company_view,
    enroll_payroll,
    filing_ends,
    jst,
    municipality,
    request,
)

pytestmark = pytest.mark.integration

CHIYODA_ID = municipality(CHIYODA)


def amounts(snapshot) -> list[int]:
    return [ln["payment_amount"] for ln in snapshot.payload["lines"]]


def record_refused(kiroku, who: str, req, error: type):
    """Record ``req`` as company ``who`` directly through the stream API, expect ``error``, check no trace."""
    ends, dump = filing_ends(kiroku), catalog_dump(kiroku)
    [outcome] = list(company(kiroku, who).record_many([req]))
    assert isinstance(outcome, error), outcome
    assert filing_ends(kiroku) == ends
    assert catalog_dump(kiroku) == dump
    return outcome


def test_a_correction_chain_is_kept_whole_in_order(kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    a = company(kiroku, CORP_A)
    v1 = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, payment_amount=100)]))
    v2 = a.correct(v1.submission_id, payroll([payroll_line(1, payment_amount=200)]))
    v3 = a.correct(v2.submission_id, payroll([payroll_line(1, payment_amount=300)]))
    v4 = a.cancel(v3.submission_id)

    assert (v2.kind, v2.replaces) == (SubmissionKind.CORRECTION, v1.submission_id)
    assert (v4.kind, v4.replaces, v4.line_count) == (SubmissionKind.CANCELLATION, v3.submission_id, 0)
    assert v4.targets == [CHIYODA_ID]  # a cancellation reaches whoever had the submission it cancels

    for view in (company_view(kiroku, CORP_A), agency(kiroku, CHIYODA_ID)):
        chain = view.history(v2.submission_id)
        assert [(h.submission_id, h.version, h.kind, h.replaces) for h in chain] == [
            (v1.submission_id, 1, SubmissionKind.ORIGINAL, None),
            (v2.submission_id, 2, SubmissionKind.CORRECTION, v1.submission_id),
            (v3.submission_id, 3, SubmissionKind.CORRECTION, v2.submission_id),
            (v4.submission_id, 4, SubmissionKind.CANCELLATION, v3.submission_id),
        ]
    # Nothing was overwritten: every version still reads as it was recorded.
    view = company_view(kiroku, CORP_A)
    assert [amounts(view.snapshot(r.submission_id)) for r in (v1, v2, v3)] == [[100], [200], [300]]
    assert view.snapshot(v4.submission_id).payload is None
    assert [(n.kind, n.replaces) for n in agency(kiroku, CHIYODA_ID).notices()] == [
        ("ORIGINAL", None), ("CORRECTION", v1.submission_id), ("CORRECTION", v2.submission_id), ("CANCELLATION", v3.submission_id)]


def test_after_a_cancellation_the_filing_can_be_made_again_as_a_new_original(kiroku):
    a = company(kiroku, CORP_A)
    v1 = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    a.cancel(v1.submission_id)
    v3 = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(9)]))
    assert [h.version for h in company_view(kiroku, CORP_A).history(v3.submission_id)] == [1, 2, 3]
    assert [f.submission_id for f in company_view(kiroku, CORP_A).filings()] == [v3.submission_id]


def test_a_second_original_for_the_same_filing_is_refused_in_favour_of_a_correction(kiroku):
    v1 = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    err = record_refused(kiroku, CORP_A, request(CORP_A, "PAYROLL_REPORT", "2026", payroll()), Conflict)
    assert (err.code, err.field, err.expected) == ("already_filed", "kind", f"CORRECTION replacing {v1.submission_id}")


def test_correcting_another_companys_submission_looks_exactly_like_correcting_a_missing_one(kiroku):
    theirs = company(kiroku, CORP_B).record(CORP_B, "PAYROLL_REPORT", "2026", payroll())
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    other = record_refused(kiroku, CORP_A, request(CORP_A, "PAYROLL_REPORT", "2026", payroll(), kind=SubmissionKind.CORRECTION,
                                                   replaces=theirs.submission_id), NotFound)
    missing = record_refused(kiroku, CORP_A, request(CORP_A, "PAYROLL_REPORT", "2026", payroll(), kind=SubmissionKind.CORRECTION,
                                                     replaces="sub_01JZZZZZZZZZZZZZZZZZZZZZZZ"), NotFound)
    assert (other.code, other.field) == (missing.code, missing.field) == ("not_found", "replaces")
    assert other.message.replace(theirs.submission_id, "X") == missing.message.replace("sub_01JZZZZZZZZZZZZZZZZZZZZZZZ", "X")
    # Through the SDK the prior receipt is not even visible.
    with pytest.raises(NotFound) as err:
        company(kiroku, CORP_A).correct(theirs.submission_id, payroll())
    assert (err.value.code, err.value.field) == ("not_found", "submission_id")
    assert len(company_view(kiroku, CORP_B).history(theirs.submission_id)) == 1


def test_a_correction_cannot_move_to_another_procedure_or_period(kiroku):
    a = company(kiroku, CORP_A)
    v2025 = a.record(CORP_A, "PAYROLL_REPORT", "2025", payroll())
    a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    a.record(CORP_A, "WITHHOLDING_SLIP", "2025", withholding())
    err = record_refused(kiroku, CORP_A, request(CORP_A, "PAYROLL_REPORT", "2026", payroll(), kind=SubmissionKind.CORRECTION,
                                                 replaces=v2025.submission_id), ValidationError)
    assert (err.code, err.field, err.got) == ("other_filing", "replaces", "PAYROLL_REPORT 2025")
    err = record_refused(kiroku, CORP_A, request(CORP_A, "WITHHOLDING_SLIP", "2025", withholding(), kind=SubmissionKind.CORRECTION,
                                                 replaces=v2025.submission_id), ValidationError)
    assert (err.code, err.field) == ("other_filing", "replaces")
    err = record_refused(kiroku, CORP_A, request(CORP_A, "WITHHOLDING_SLIP", "2025", None, kind=SubmissionKind.CANCELLATION,
                                                 replaces=v2025.submission_id), ValidationError)
    assert (err.code, err.field) == ("other_filing", "replaces")


def test_a_correction_of_a_superseded_version_is_a_stale_replaces_conflict(kiroku):
    a = company(kiroku, CORP_A)
    v1 = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    v2 = a.correct(v1.submission_id, payroll([payroll_line(2)]))
    err = record_refused(kiroku, CORP_A, request(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(3)]),
                                                 kind=SubmissionKind.CORRECTION, replaces=v1.submission_id), Conflict)
    assert (err.code, err.field, err.expected, err.got) == ("stale_replaces", "replaces", v2.submission_id, v1.submission_id)
    err = record_refused(kiroku, CORP_A, request(CORP_A, "PAYROLL_REPORT", "2026", None,
                                                 kind=SubmissionKind.CANCELLATION, replaces=v1.submission_id), Conflict)
    assert (err.code, err.field) == ("stale_replaces", "replaces")


def test_two_corrections_of_the_same_version_in_one_stream_let_only_the_first_through(kiroku):
    a = company(kiroku, CORP_A)
    v1 = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    first, second = list(a.record_many([
        request(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(2)]), kind=SubmissionKind.CORRECTION, replaces=v1.submission_id),
        request(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(3)]), kind=SubmissionKind.CORRECTION, replaces=v1.submission_id),
    ]))
    assert first.replaces == v1.submission_id
    assert (second.code, second.field, second.expected) == ("stale_replaces", "replaces", first.submission_id)


def test_a_cancellation_cannot_be_corrected_or_cancelled_again(kiroku):
    a = company(kiroku, CORP_A)
    v1 = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    v2 = a.cancel(v1.submission_id)
    err = record_refused(kiroku, CORP_A, request(CORP_A, "PAYROLL_REPORT", "2026", payroll(), kind=SubmissionKind.CORRECTION,
                                                 replaces=v2.submission_id), Conflict)
    assert (err.code, err.field) == ("cancelled", "replaces")
    err = record_refused(kiroku, CORP_A, request(CORP_A, "PAYROLL_REPORT", "2026", None, kind=SubmissionKind.CANCELLATION,
                                                 replaces=v2.submission_id), Conflict)
    assert (err.code, err.field) == ("cancelled", "replaces")


@pytest.mark.parametrize(("kind", "replaces", "payload", "code", "field"), [
    (SubmissionKind.ORIGINAL, "sub_X", payroll(), "unexpected_replaces", "replaces"),
    (SubmissionKind.CORRECTION, None, payroll(), "required", "replaces"),
    (SubmissionKind.CANCELLATION, None, None, "required", "replaces"),
    (SubmissionKind.CANCELLATION, "HEAD", payroll(), "unexpected_payload", "payload"),
    (SubmissionKind.CORRECTION, "HEAD", payroll([payroll_line(1, payment_amount=-1)]), "negative_amount", "lines[1].payment_amount"),
])
def test_a_malformed_correction_or_cancellation_is_refused_naming_the_field(kiroku, kind, replaces, payload, code, field):
    head = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    req = request(CORP_A, "PAYROLL_REPORT", "2026", payload, kind=kind, replaces=head.submission_id if replaces == "HEAD" else replaces)
    err = record_refused(kiroku, CORP_A, req, ValidationError)
    assert (err.code, err.field) == (code, field)


def test_the_version_in_force_is_answered_as_of_any_time(kiroku, clock):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    a = company(kiroku, CORP_A)
    clock.set(jst(2027, 1, 10, 9, 0))
    v1 = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, payment_amount=100)]))
    clock.set(jst(2027, 1, 20, 9, 0))
    v2 = a.correct(v1.submission_id, payroll([payroll_line(1, payment_amount=200)]))
    clock.set(jst(2027, 3, 1, 9, 0))
    v3 = a.cancel(v2.submission_id)
    clock.set(jst(2027, 6, 1, 9, 0))

    chiyoda, view = agency(kiroku, CHIYODA_ID), company_view(kiroku, CORP_A)
    at = lambda *t: chiyoda.effective(CORP_A, "PAYROLL_REPORT", "2026", as_of=jst(*t))  # noqa: E731
    with pytest.raises(NotFound) as before:
        at(2027, 1, 10, 8, 59)
    assert (before.value.code, before.value.field) == ("not_found", "period")
    assert at(2027, 1, 10, 9, 0).info.submission_id == v1.submission_id
    assert amounts(at(2027, 1, 19, 23, 59)) == [100]
    assert at(2027, 1, 20, 9, 0).info.submission_id == v2.submission_id
    assert amounts(at(2027, 2, 28)) == [200]
    with pytest.raises(NotFound) as cancelled:
        at(2027, 3, 1, 9, 0)
    assert (cancelled.value.code, cancelled.value.field) == ("not_found", "period")
    with pytest.raises(NotFound):
        chiyoda.effective(CORP_A, "PAYROLL_REPORT", "2026")  # now

    assert [f.submission_id for f in chiyoda.filings(CORP_A, as_of=jst(2027, 1, 15))] == [v1.submission_id]
    assert [f.submission_id for f in chiyoda.filings(CORP_A, as_of=jst(2027, 2, 15))] == [v2.submission_id]
    assert chiyoda.filings(CORP_A) == []
    assert [f.submission_id for f in view.filings(as_of=jst(2027, 2, 15))] == [v2.submission_id]
    assert view.filings() == []
    assert [h.submission_id for h in view.history(v3.submission_id)] == [v1.submission_id, v2.submission_id, v3.submission_id]


def test_the_version_in_force_follows_a_correction_that_adds_a_municipality(kiroku, clock):
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    a = company(kiroku, CORP_A)
    clock.set(jst(2027, 1, 10))
    v1 = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1)]))
    clock.set(jst(2027, 1, 20))
    v2 = a.correct(v1.submission_id, payroll([payroll_line(1), payroll_line(2, SAPPORO)]))
    sapporo = agency(kiroku, municipality(SAPPORO))
    assert v1.targets == [CHIYODA_ID] and v2.targets == sorted([CHIYODA_ID, municipality(SAPPORO)])
    with pytest.raises(NotFound):
        sapporo.effective(CORP_A, "PAYROLL_REPORT", "2026", as_of=jst(2027, 1, 15))
    snap = sapporo.effective(CORP_A, "PAYROLL_REPORT", "2026", as_of=jst(2027, 1, 25))
    assert (snap.info.submission_id, snap.visible_lines) == (v2.submission_id, [2])
    with pytest.raises(NotFound):  # Sapporo never received the original
        sapporo.snapshot(v1.submission_id)
    assert [h.submission_id for h in sapporo.history(v2.submission_id)] == [v2.submission_id]


def test_an_agency_sees_only_the_versions_of_a_chain_that_were_sent_to_it(kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    a = company(kiroku, CORP_A)
    original = a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1), payroll_line(2, SAPPORO)]))
    moved = a.correct(original.submission_id, payroll([payroll_line(1)]))  # the Sapporo resident's line is gone
    cancelled = a.cancel(moved.submission_id)
    assert cancelled.targets == [municipality(CHIYODA)]
    sapporo = [s.submission_id for s in agency(kiroku, municipality(SAPPORO)).history(original.submission_id)]
    chiyoda = [s.submission_id for s in agency(kiroku, municipality(CHIYODA)).history(original.submission_id)]
    assert sapporo == [original.submission_id]
    assert chiyoda == [original.submission_id, moved.submission_id, cancelled.submission_id]
