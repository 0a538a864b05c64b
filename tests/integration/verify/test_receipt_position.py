"""A receipt's ``position`` is bound to the leaf index its inclusion proof proves, and every file
the verifier reads is bounded in size and depth (a verdict, never a RecursionError)."""

from __future__ import annotations

import json

import pytest

from ledger.transparency.proofs import MAX_DEPTH, ConsistencyProof, ReceiptProof
from ledger.transparency.signer import Verifier
from ledger.transparency.verify import Check, passed, verify_consistency, verify_receipt, verify_snapshot
from tests.factories import CHIYODA, CORP_A, payroll, withholding
from tests.integration.helpers import company, enroll_payroll

pytestmark = pytest.mark.integration


@pytest.fixture
def receipt(kiroku) -> tuple[dict, list[Verifier]]:
    """A receipt-with-proof of the fourth of four submissions of one company, as parsed JSON."""
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    a = company(kiroku, CORP_A)
    a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    for year in ("2023", "2024", "2025"):
        last = a.record(CORP_A, "WITHHOLDING_SLIP", year, withholding(2))
    text = a.receipt_with_proof(last.submission_id).to_json()
    key = [Verifier.parse(kiroku.transparency.verifier_key())]
    return json.loads(text), key


def _with_position(data: dict, **change: int) -> str:
    topic, partition, offset = data["receipt"]["position"].rsplit("/", 2)
    parts = {"partition": int(partition), "offset": int(offset), **change}
    altered = {**data, "receipt": {**data["receipt"], "position": f"{topic}/{parts['partition']}/{parts['offset']}"}}
    return json.dumps(altered, ensure_ascii=False)


def _failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.ok is False]


def test_the_untouched_receipts_offset_is_its_leaf_index_and_verifies_even_with_gapless(receipt) -> None:
    data, key = receipt
    checks = verify_receipt(json.dumps(data, ensure_ascii=False), key, strict_offsets=True)
    assert passed(checks), checks
    [position] = [c for c in checks if c.name == "position"]
    assert position.ok is True and data["receipt"]["position"].endswith(f"/{data['leaf_index']}")


def test_a_receipt_whose_offset_was_lowered_is_refused_naming_the_position_check(receipt) -> None:
    data, key = receipt
    assert data["leaf_index"] >= 3
    [failed] = _failed(verify_receipt(_with_position(data, offset=1), key))
    assert (failed.name, failed.code) == ("position", "receipt_position")
    assert (failed.expected, failed.got) == (f"offset >= {data['leaf_index']}", "offset 1")


def test_a_raised_offset_is_not_checked_by_default_and_refused_on_a_gapless_log(receipt) -> None:
    data, key = receipt
    text = _with_position(data, offset=data["leaf_index"] + 26)
    [position] = [c for c in verify_receipt(text, key) if c.name == "position"]
    assert position.ok is None and "not bound by the proof" in position.detail
    [failed] = _failed(verify_receipt(text, key, strict_offsets=True))
    assert (failed.name, failed.code, failed.expected) == ("position", "receipt_position", f"offset {data['leaf_index']}")


def test_a_receipt_moved_to_another_partition_is_refused(receipt) -> None:
    data, key = receipt
    partition = int(data["receipt"]["position"].rsplit("/", 2)[1])
    failed = _failed(verify_receipt(_with_position(data, partition=partition + 1), key, origin=data["origin"]))
    assert [(c.name, c.code) for c in failed] == [("position", "receipt_position")]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_deeply_nested_json_is_refused_as_too_deep_not_a_recursion_error(depth) -> None:
    text = "[" * depth + "]" * depth
    [failed] = verify_receipt(text, [])
    assert (failed.name, failed.code) == ("receipt file", "input_too_deep")
    [failed] = verify_consistency(text, [])
    assert (failed.name, failed.code) == ("consistency file", "input_too_deep")
    with pytest.raises(Exception) as info:
        ReceiptProof.from_json('{"a":' * depth + "1" + "}" * depth)
    assert getattr(info.value, "code", None) == "input_too_deep"
    with pytest.raises(Exception) as info:
        ConsistencyProof.from_json(text.encode())
    assert getattr(info.value, "code", None) == "input_too_deep"


def test_brackets_inside_strings_do_not_count_towards_the_depth() -> None:
    text = json.dumps({"format": "[" * 1000 + "{" * 1000})
    [failed] = verify_receipt(text, [])
    assert failed.code == "receipt_format"  # read, then refused for what it says, not for its depth


def test_over_large_files_are_refused_before_they_are_read(tmp_path, monkeypatch) -> None:
    import ledger.transparency.verify as verify

    monkeypatch.setattr(verify, "MAX_NOTE_BYTES", 10)
    big = tmp_path / "big.note"
    big.write_text("x" * 11)
    [failed] = verify.verify_checkpoint(big, [])
    assert (failed.name, failed.code, failed.got) == ("checkpoint", "input_too_large", "11 bytes")
    snapshot = tmp_path / "big.avro"
    snapshot.write_bytes(b"x")
    monkeypatch.setattr(verify, "MAX_FILE_BYTES", 0)
    monkeypatch.setattr(verify._read_text, "__defaults__", (0, "the file"))
    [failed] = verify_snapshot(snapshot)
    assert (failed.name, failed.code) == ("snapshot file", "input_too_large")
