"""No offline test of a guessed personal number (issue 14, item 2), and validation before conflicts (item 9).

A recorded entry carries its request's fingerprint and its idempotency key, and whoever may read
every line gets the entry with a proof — also a reader barred from personal numbers (they see
them masked). Were the fingerprint an unkeyed hash of the request, such a reader could recompute
it for each candidate 個人番号 (10^11 of them; 番号法 makes the number legally restricted data,
行政手続における特定の個人を識別するための番号の利用等に関する法律 第19条) and confirm the right one.
The fingerprint is an HMAC under a key derived from the scope's data key
(``ledger.service.idempotency``), so it matches no candidate, and it still tells a retry from new data.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime

import pytest

from ledger.bootstrap import open_kiroku
from ledger.domain.identifiers import make_personal_number
from ledger.domain.model import Principal, Receipt, SubmissionRequest
from ledger.encoding.payroll_csv import group_rows, header_mapping, submission_request
from ledger.errors import Conflict, KeyErased, ValidationError
from ledger.service import idempotency
from ledger.service.retention import run_retention
from ledger.service.sealing import MASK, key_scope
from ledger.transparency.proofs import ReceiptProof
from producers import import_payroll_csv
from tests.factories import CHIYODA, CORP_A, CORP_B, payroll, payroll_line, personal
from tests.integration.helpers import company, enroll_payroll, filing_ends, grant_until, producer
from tests.integration.test_flows_csv import EN_HEADER, csv_text, row, write

pytestmark = pytest.mark.integration

FIRM = "firm:tax-office"


def old_request_fingerprint(req: SubmissionRequest) -> str:
    """What ``request_fingerprint`` stored before this change (copied here as the attacker knows it)."""
    canonical = json.dumps(
        {"procedure": req.procedure, "period": req.period, "kind": req.kind.value, "replaces": req.replaces, "payload": req.payload},
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def unkeyed_hashes(req: SubmissionRequest) -> set[str]:
    """Every unkeyed hash a reader could try: the old construction and the new canonical form, bare."""
    return {old_request_fingerprint(req), hashlib.sha256(idempotency.canonical_request(req)).hexdigest(),
            idempotency.legacy_fingerprint(req)}


def with_number(req: SubmissionRequest, number: str) -> SubmissionRequest:
    first = req.payload["lines"][0]
    lines = [{**first, "person": {**first["person"], "personal_number": number}}, *req.payload["lines"][1:]]
    return req.model_copy(update={"payload": {**req.payload, "lines": lines}})


def the_request(key: str = "jan-run-1") -> SubmissionRequest:
    return SubmissionRequest(corporate_number=CORP_A, procedure="PAYROLL_REPORT", period="2026",
                             payload=payroll([payroll_line(1)]), idempotency_key=key)


def proof_as_reader(kiroku, receipt: Receipt) -> ReceiptProof:
    """A tax firm reading every line under a grant without personal numbers gets the proof (and the entry)."""
    firm = producer(kiroku, FIRM)
    assert kiroku.queries.snapshot(firm.principal, receipt.submission_id).payload["lines"][0]["person"]["personal_number"] == MASK
    return firm.receipt_with_proof(receipt.submission_id)


def test_a_reader_of_the_entry_cannot_confirm_a_guessed_personal_number_by_hashing_the_request(kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    company(kiroku, CORP_A).grant(FIRM, ["PAYROLL_REPORT"], ["read"], grant_until(kiroku))
    req = the_request()
    receipt = kiroku.commands.record(Principal.company(CORP_A), req)

    entry = kiroku.codec.decode(proof_as_reader(kiroku, receipt).entry)
    stored = entry.body["request_fingerprint"]
    assert stored.startswith(idempotency.KEYED_V1)
    true_number = req.payload["lines"][0]["person"]["personal_number"]
    candidates = [make_personal_number(f"{n:011d}") for n in range(10_000, 10_050)]
    assert true_number in candidates  # the reader's guesses include the right one
    # The construction of before would have named it: its hash of the true request is the one it stored.
    assert [c for c in candidates if old_request_fingerprint(with_number(req, c)) == old_request_fingerprint(req)] == [true_number]
    # Now no unkeyed hash of any candidate request matches what the entry holds, nor appears in it.
    raw = proof_as_reader(kiroku, receipt).entry.hex()
    for c in candidates:
        for h in unkeyed_hashes(with_number(req, c)):
            assert h != stored and h not in raw
    # And the personal number is not among the entry's bytes in any spelling either.
    assert true_number.encode().hex() not in raw


def test_a_retry_returns_the_original_receipt_and_another_personal_number_under_the_key_conflicts(kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    who = Principal.company(CORP_A)
    req = the_request()
    first = kiroku.commands.record(who, req)
    ends = filing_ends(kiroku)

    assert kiroku.commands.record(who, req) == first
    other = with_number(req, make_personal_number("99999999999"))
    with pytest.raises(Conflict) as err:
        kiroku.commands.record(who, other)
    assert (err.value.code, err.value.field, err.value.expected, err.value.got) == (
        "idempotency_conflict", "idempotency_key", "the same body as the first use of this key", "a different body")
    assert filing_ends(kiroku) == ends


def test_the_fingerprint_is_the_same_after_a_restart_so_a_retry_still_gets_its_receipt(home, clock):
    req = the_request()
    with open_kiroku(home=home, clock=clock) as k:
        first = k.commands.record(Principal.company(CORP_A), req)
        stored = entry_of(k, first)
    with open_kiroku(home=home, clock=clock) as k:
        again = k.commands.record(Principal.company(CORP_A), req)
        assert again == first
        assert k.commands.fingerprints.of(req, key_scope(CORP_A, "PAYROLL_REPORT", "2026")).value == \
            stored.body["request_fingerprint"]


def entry_of(k, receipt: Receipt):
    """The recorded event at the receipt's position, read from the log."""
    topic, partition, offset = receipt.position.rsplit("/", 2)
    [rec] = list(k.log.read(topic, int(partition), int(offset), 1))
    return k.codec.decode(rec.value)


def test_an_entry_recorded_with_the_old_unkeyed_fingerprint_still_answers_retries_and_conflicts(kiroku, monkeypatch):
    for corp in (CORP_A, CORP_B):
        company(kiroku, corp).grant("vendor:acme", ["PAYROLL_REPORT"], ["submit"], grant_until(kiroku))
    who = Principal.parse("vendor:acme")
    req = the_request("legacy-run")
    keyed = kiroku.commands.fingerprints.of
    # The entry is written as before keyed fingerprints: the bare SHA-256 of the old canonical form.
    with monkeypatch.context() as m:
        m.setattr(kiroku.commands.fingerprints, "of",
                  lambda r, scope: idempotency.Fingerprint(old_request_fingerprint(r), keyed(r, scope).key_id))
        first = kiroku.commands.record(who, req)
    assert entry_of(kiroku, first).body["request_fingerprint"] == old_request_fingerprint(req)
    ends = filing_ends(kiroku)

    assert kiroku.commands.record(who, req) == first  # answered from the catalog's row
    with pytest.raises(Conflict) as err:
        kiroku.commands.record(who, with_number(req, make_personal_number("99999999999")))
    assert (err.value.code, err.value.field) == ("idempotency_conflict", "idempotency_key")
    with pytest.raises(Conflict) as err:  # the old form did not name the company: it is compared beside it
        kiroku.commands.record(who, req.model_copy(update={"corporate_number": CORP_B}))
    assert (err.value.code, err.value.field) == ("idempotency_conflict", "idempotency_key")
    assert filing_ends(kiroku) == ends


def test_after_crypto_shredding_no_one_can_recompute_the_fingerprint(kiroku):
    req = the_request()
    kiroku.commands.record(Principal.company(CORP_A), req)
    report = run_retention(kiroku.keys, datetime(2040, 1, 1, tzinfo=UTC))
    assert [s.scope for s in report.destroyed] == [key_scope(CORP_A, "PAYROLL_REPORT", "2026")]
    with pytest.raises(KeyErased) as err:
        kiroku.commands.fingerprints.of(req, key_scope(CORP_A, "PAYROLL_REPORT", "2026"))
    assert err.value.code == "erased"


def test_a_cancellation_under_a_key_gets_a_keyed_fingerprint_whose_key_is_durable(home, clock):
    """A cancellation seals nothing; its fingerprint's data key must still be kept (it is the scope's)."""
    who = Principal.company(CORP_A)
    with open_kiroku(home=home, clock=clock) as k:
        original = k.commands.record(who, the_request(key="orig"))
        cancel = SubmissionRequest(corporate_number=CORP_A, procedure="PAYROLL_REPORT", period="2026", kind="CANCELLATION",
                                   replaces=original.submission_id, idempotency_key="cancel-1")
        first = k.commands.record(who, cancel)
    with open_kiroku(home=home, clock=clock) as k:
        assert k.commands.record(who, cancel) == first


# -- the same on Kafka + PostgreSQL (``tests/service_fixtures.py``): other servers, the same fingerprints --------

SCALEOUT = pytest.mark.parametrize("deployment", ["scaleout"], indirect=True)


@SCALEOUT
def test_on_kafka_and_postgresql_a_reader_cannot_confirm_a_guessed_personal_number(kiroku):
    test_a_reader_of_the_entry_cannot_confirm_a_guessed_personal_number_by_hashing_the_request(kiroku)


@SCALEOUT
def test_on_kafka_and_postgresql_a_retry_returns_its_receipt_and_another_number_conflicts(kiroku):
    test_a_retry_returns_the_original_receipt_and_another_personal_number_under_the_key_conflicts(kiroku)


@SCALEOUT
def test_on_kafka_and_postgresql_an_old_unkeyed_fingerprint_still_compares(kiroku, monkeypatch):
    test_an_entry_recorded_with_the_old_unkeyed_fingerprint_still_answers_retries_and_conflicts(kiroku, monkeypatch)


# -- item 9: the body's own errors win over conflicts with what is recorded ----------------------------------

NEGATIVE = ("negative_amount", "lines[1].payment_amount", "an amount in whole yen ≥ 0", -1)


def test_an_invalid_body_for_an_already_filed_period_gets_the_field_error_not_a_conflict(kiroku):
    a = company(kiroku, CORP_A)
    a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    bad = payroll([payroll_line(1, payment_amount=-1)])
    for key in (None, "bad-1"):
        with pytest.raises(ValidationError) as err:
            a.record(CORP_A, "PAYROLL_REPORT", "2026", bad, idempotency_key=key)
        assert (err.value.code, err.value.field, err.value.expected, err.value.got) == NEGATIVE
    with pytest.raises(Conflict) as conflict:  # a valid body still hears that the period is filed
        a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, payment_amount=5)]))
    assert (conflict.value.code, conflict.value.field) == ("already_filed", "kind")


def test_an_invalid_body_under_a_key_used_for_another_request_gets_the_field_error(kiroku):
    a = company(kiroku, CORP_A)
    a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll(), idempotency_key="run-1")
    with pytest.raises(ValidationError) as err:
        a.record(CORP_A, "PAYROLL_REPORT", "2025", payroll([payroll_line(1, payment_amount=-1)]), idempotency_key="run-1")
    assert (err.value.code, err.value.field, err.value.expected, err.value.got) == NEGATIVE


def test_a_correction_with_an_invalid_body_gets_the_field_error_before_its_replaces_is_looked_at(kiroku):
    a = company(kiroku, CORP_A)
    with pytest.raises(ValidationError) as err:
        kiroku.commands.record(a.principal, SubmissionRequest(
            corporate_number=CORP_A, procedure="PAYROLL_REPORT", period="2026", kind="CORRECTION", replaces="sub_nothing",
            payload=payroll([payroll_line(1, payment_amount=-1)])))
    assert (err.value.code, err.value.field, err.value.expected, err.value.got) == NEGATIVE


# -- the CSV importer's keys ----------------------------------------------------------------------------------

def test_a_csv_imports_keys_reveal_no_personal_number_yet_a_changed_number_is_no_retry(kiroku, tmp_path):
    company(kiroku, CORP_A).grant("vendor:acme-payroll", ["PAYROLL_REPORT"], ["submit", "read"], grant_until(kiroku))
    vendor = producer(kiroku, "vendor:acme-payroll")
    path = write(tmp_path / "a.csv", csv_text(EN_HEADER, [row(CORP_A, 1)]), bom=False)
    first = import_payroll_csv(vendor, path)
    [receipt] = first.receipts
    entry = kiroku.codec.decode(vendor.receipt_with_proof(receipt.submission_id).entry)
    key = entry.body["idempotency_key"]
    # The key is the same for any person in the row (number, name): no guess can be tested against it.
    for n in range(10):
        cells = {"person.personal_number": personal(n), "person.name": f"佐藤 {n}"}
        guess = csv.DictReader(io.StringIO(csv_text(EN_HEADER, [row(CORP_A, 1, **cells)])))
        assert submission_request(next(group_rows(guess, header_mapping(guess.fieldnames)))).idempotency_key == key
    ends = filing_ends(kiroku)
    assert import_payroll_csv(vendor, path).receipts == [receipt]  # the same file: the same receipt
    changed = write(tmp_path / "b.csv", csv_text(EN_HEADER, [row(CORP_A, 1, **{"person.personal_number": personal(7)})]), bom=False)
    again = import_payroll_csv(vendor, changed)  # another number under the same key: a conflict, never the old receipt
    assert (again.receipts, [(e["row"], e["code"], e["field"]) for e in again.errors]) == (
        [], [(2, "idempotency_conflict", "idempotency_key")])
    assert filing_ends(kiroku) == ends


def test_a_key_made_of_a_personal_number_is_never_repeated_in_the_refusal(kiroku):
    """A client may build its keys of anything; errors never carry a personal number (item 7's rule)."""
    number = make_personal_number("12345678901")
    a = company(kiroku, CORP_A)
    a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll(), idempotency_key=f"emp-{number}")
    with pytest.raises(Conflict) as err:
        a.record(CORP_A, "PAYROLL_REPORT", "2025", payroll(), idempotency_key=f"emp-{number}")
    assert err.value.code == "idempotency_conflict" and number not in str(err.value.to_dict())
    with pytest.raises(ValidationError) as bad:
        a.record(CORP_A, "PAYROLL_REPORT", "2025", payroll(), idempotency_key=number * 17)
    assert (bad.value.code, bad.value.got) == ("invalid_idempotency_key", "204 characters (not shown)")
    assert number not in str(bad.value.to_dict())
    with pytest.raises(ValidationError) as bad:
        a.record(CORP_A, "PAYROLL_REPORT", "2025", payroll(), idempotency_key=f"x-{number}" + " " * 190)
    assert number not in str(bad.value.to_dict())
