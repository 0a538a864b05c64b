"""The verifier's file formats (ledger.transparency.proofs): strict, canonical, and derived from the entry."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.model import JST
from ledger.encoding.codec import SchemaRegistry
from ledger.encoding.events import FILING_VIEWED, Event, EventCodec
from ledger.errors import IntegrityError
from ledger.ports import Position
from ledger.transparency import merkle
from ledger.transparency.proofs import (
    RECEIPT_KEYS,
    ConsistencyProof,
    ReceiptProof,
    origin_for,
    parse_seal_line,
    receipt_fields,
    seal_line,
    timestamp,
    unb64,
)

pytestmark = pytest.mark.unit

RECEIPT = {k: None for k in RECEIPT_KEYS} | {"submission_id": "sub_X", "targets": [], "unreached": [], "line_count": 1}


def _proof(**over) -> ReceiptProof:
    fields = dict(receipt=RECEIPT, origin="kiroku.local/kiroku.filings/0", leaf_index=3, tree_size=9, entry=b"\xc3\x01entry",
                  inclusion_proof=[bytes(range(32)), bytes(32)], checkpoint="note\n\n\u2014 k x\n")
    return ReceiptProof(**(fields | over))


def test_a_receipt_proof_round_trips_through_one_line_of_compact_json() -> None:
    p = _proof()
    text = p.to_json()
    assert text.endswith("}\n") and text.count("\n") == 1 and ": " not in text
    assert ReceiptProof.from_json(text) == p
    assert ReceiptProof.from_json(text.encode()).leaf_hash == merkle.leaf_hash(b"\xc3\x01entry")


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d.update(extra=1), "extra"),
    (lambda d: d.pop("entry"), "entry"),
    (lambda d: d["receipt"].pop("on_time"), "on_time"),
    (lambda d: d.update(leaf_index=True), "leaf_index"),
    (lambda d: d.update(tree_size=-1), "tree_size"),
    (lambda d: d.update(leaf_index="3"), "leaf_index"),
    (lambda d: d.update(format="kiroku-receipt-proof/2"), "format"),
    (lambda d: d.update(inclusion_proof="AAAA"), "inclusion_proof"),
    (lambda d: d.update(receipt=[]), "receipt"),
])
def test_a_receipt_file_with_anything_missing_extra_or_mistyped_is_refused_by_name(change, field) -> None:
    data = json.loads(_proof().to_json())
    change(data)
    with pytest.raises(IntegrityError) as err:
        ReceiptProof.from_json(json.dumps(data))
    assert (err.value.code, err.value.field) == ("receipt_format", field)


def test_a_repeated_key_is_refused_rather_than_silently_taking_the_last() -> None:
    text = _proof().to_json()
    with pytest.raises(IntegrityError) as err:
        ReceiptProof.from_json(text.replace('"leaf_index":3', '"leaf_index":3,"leaf_index":4'))
    assert (err.value.code, err.value.field) == ("receipt_format", "leaf_index")


def test_only_canonical_base64_is_accepted_so_one_hash_has_one_spelling() -> None:
    assert unb64("AAE=", "x") == b"\x00\x01"
    for bad in ("AAF=", "AAE", "AA E=", 17):  # stray padding bits, missing padding, junk, not a string
        with pytest.raises(IntegrityError) as err:
            unb64(bad, "x")
        assert err.value.field == "x"


def test_not_json_and_not_utf8_are_format_errors() -> None:
    for bad in (b"{", b"\xff\xfe", b"[]"):
        with pytest.raises(IntegrityError) as err:
            ReceiptProof.from_json(bad)
        assert err.value.code == "receipt_format"


def test_a_consistency_proof_round_trips_and_is_parsed_strictly() -> None:
    p = ConsistencyProof("o/t/0", 3, 7, [bytes(32)], "a\n", "b\n")
    assert ConsistencyProof.from_json(p.to_json()) == p
    data = json.loads(p.to_json()) | {"new_size": 7.0}
    with pytest.raises(IntegrityError) as err:
        ConsistencyProof.from_json(json.dumps(data))
    assert (err.value.code, err.value.field) == ("consistency_format", "new_size")


def test_timestamps_have_one_spelling_per_instant() -> None:
    at = datetime(2027, 2, 2, 0, 0, tzinfo=JST)
    assert timestamp(at) == timestamp(at.astimezone(UTC)) == "2027-02-01T15:00:00.000000Z"
    assert timestamp(None) is None


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(JST)),
       st.lists(st.sampled_from(["PAYROLL_REPORT/2026", "WITHHOLDING_SLIP/2026", "STANDARD_REMUNERATION/2027"]),
                min_size=1, max_size=3, unique=True))
def test_a_seal_line_states_deadline_signing_time_and_periods_and_reads_back(deadline, periods) -> None:
    deadline = deadline.replace(microsecond=0)
    line = seal_line(deadline, deadline, periods)
    assert line.startswith("kiroku-seal deadline=") and "\n" not in line
    assert parse_seal_line(line) == {"deadline": deadline, "signed": deadline, "sealed": periods}


def test_other_extension_lines_are_not_seals_and_a_broken_seal_line_is_an_error() -> None:
    assert parse_seal_line("example.com/ext something") is None
    with pytest.raises(IntegrityError) as err:
        parse_seal_line("kiroku-seal deadline=yesterday")
    assert err.value.code == "seal_line"


def test_only_a_recorded_submission_has_receipt_fields() -> None:
    codec = EventCodec(SchemaRegistry.load())
    ev = codec.decode(codec.encode(Event(FILING_VIEWED, {
        "access_id": "acc_1", "viewer": "company:7000012050002", "action": "snapshot", "subject": "sub_1",
        "legal_basis": None, "outcome": "ALLOWED", "reason": None}, actor="company:7000012050002")))
    with pytest.raises(IntegrityError) as err:
        receipt_fields(ev, Position("kiroku.access", 0, 0))
    assert (err.value.code, err.value.got) == ("receipt_entry", FILING_VIEWED)


def test_origins_name_deployment_topic_and_partition() -> None:
    assert origin_for("kiroku.example.jp", "kiroku.filings", 3) == "kiroku.example.jp/kiroku.filings/3"
