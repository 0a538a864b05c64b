"""Issue 6 item 6 — flip one byte in a log entry, a snapshot object, a stored node, a checkpoint's
signature or a receipt: each is detected by the verifier, with the right message."""

from __future__ import annotations

import base64
import json
import sqlite3
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.ports import FILINGS
from ledger.transparency.audit import verify_ledger
from ledger.transparency.signer import Verifier
from ledger.transparency.verify import Check, passed, verify_receipt, verify_snapshot
from tests.factories import CHIYODA, CORP_A, payroll, payroll_line, withholding
from tests.integration.helpers import company, enroll_payroll

pytestmark = pytest.mark.integration

_B64 = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


@dataclass
class Filed:
    home: Path
    key: list[Verifier]
    partition: int
    offset: int  # of the submission the receipt is for
    submission_id: str
    receipt: str  # receipt-with-proof file text
    snapshot: bytes
    snapshot_key: str


@pytest.fixture
def filed(kiroku, clock, home) -> Filed:
    """Five submissions of one company (one partition), checkpoints published, a receipt and its
    snapshot exported — then the deployment is closed, ready to be tampered with."""
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    a = company(kiroku, CORP_A)
    receipts = [a.record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(i) for i in range(3)]))]
    this_year = clock().year
    for year in range(this_year - 6, this_year + 2):  # enough leaves for a tree of several levels, all within 7-year retention
        receipts.append(a.record(CORP_A, "WITHHOLDING_SLIP", str(year), withholding(2)))
    target = receipts[2]
    proof = a.receipt_with_proof(target.submission_id)
    kiroku.transparency.publish()
    snapshot = kiroku.queries.snapshot_file(a.principal, target.submission_id)
    with kiroku.catalog.connect() as conn:
        key = conn.exec_driver_sql("SELECT snapshot_key FROM submissions WHERE submission_id = ?",
                                   (target.submission_id,)).scalar_one()
    _, partition, offset = target.position.split("/")
    verifier = [Verifier.parse(kiroku.transparency.verifier_key())]
    kiroku.close()
    return Filed(home, verifier, int(partition), int(offset), target.submission_id, proof.to_json(), snapshot, key)


def _flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    out = bytearray(data)
    out[index] ^= mask
    return bytes(out)


def _failures(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.ok is False]


def test_an_untampered_deployment_passes_the_ledger_audit(filed, audit) -> None:
    checks = verify_ledger(audit())
    assert passed(checks), _failures(checks)


# -- a log entry -----------------------------------------------------------------------------------

def _alter_log_entry(home: Path, partition: int, offset: int, *, fix_checksum: bool) -> None:
    db = sqlite3.connect(home / "log.db")
    key, value = db.execute('SELECT key, value FROM records WHERE topic = ? AND partition = ? AND "offset" = ?',
                            (FILINGS, partition, offset)).fetchone()
    value = _flip(value, len(value) // 2)
    crc = zlib.crc32(value, zlib.crc32(key))
    sets = "value = ?, crc = ?" if fix_checksum else "value = ?"
    db.execute(f'UPDATE records SET {sets} WHERE topic = ? AND partition = ? AND "offset" = ?',
               (value, crc, FILINGS, partition, offset) if fix_checksum else (value, FILINGS, partition, offset))
    db.commit()
    db.close()


def test_a_flipped_byte_in_a_log_entry_is_caught_by_the_records_checksum(filed, audit) -> None:
    _alter_log_entry(filed.home, filed.partition, filed.offset, fix_checksum=False)
    failed = _failures(verify_ledger(audit()))
    assert failed and failed[0].name == f"tree {FILINGS}/{filed.partition}"
    assert failed[0].code == "log_checksum"
    assert f"{FILINGS}/{filed.partition}/{filed.offset} is damaged" in failed[0].detail


def test_a_log_entry_altered_with_a_matching_checksum_no_longer_matches_the_tree_or_the_signed_checkpoints(filed, audit) -> None:
    _alter_log_entry(filed.home, filed.partition, filed.offset, fix_checksum=True)
    failed = _failures(verify_ledger(audit()))
    by_code = {c.code: c for c in failed}
    node = by_code["tree_node"]
    assert f"stored Merkle node (level 0, index {filed.offset}) of {FILINGS}/{filed.partition}" in node.detail
    assert node.expected != node.got
    root = by_code["checkpoint_root"]
    assert root.name.startswith(f"kiroku.local/{FILINGS}/{filed.partition} checkpoint ")
    assert "but the log's first" in root.detail and root.expected != root.got
    # The receipt handed out before still verifies on its own: it carries the entry as recorded,
    # and the signed checkpoint it holds is what convicts the altered log.
    assert passed(verify_receipt(filed.receipt, filed.key))


# -- a snapshot object -----------------------------------------------------------------------------

def test_a_flipped_byte_in_a_snapshot_object_is_detected(filed, audit) -> None:
    path = filed.home / "objects" / filed.snapshot_key
    data = path.read_bytes()
    assert data == filed.snapshot
    altered = _flip(data, len(data) - 40)  # inside the payload block
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    path.write_bytes(altered)
    # Offline: the exported copy, altered the same way, no longer checks against the receipt.
    [layout] = verify_snapshot(altered, filed.receipt)
    assert (layout.name, layout.ok, layout.code) == ("snapshot file", False, "snapshot_marker")
    assert "bytes were changed" in layout.detail
    # The audit reads the stored object and names the submission.
    failed = _failures(verify_ledger(audit()))
    assert failed[0].name == f"snapshot of {filed.submission_id}"
    assert failed[0].code == "object_digest" and "altered" in failed[0].detail
    assert failed[-1].name == "snapshots" and "8 of 9 snapshot objects" in failed[-1].detail


def test_a_snapshot_whose_payload_changed_under_a_recomputed_marker_fails_on_its_digest(filed) -> None:
    """A forger who rebuilds the container around altered payload bytes still meets the digest."""
    from ledger.encoding.codec import SchemaRegistry
    from ledger.encoding.containers import read_container, write_container_body
    from ledger.transparency.verify import _container_block

    block = _container_block(filed.snapshot)
    schema, meta, _ = read_container(filed.snapshot)
    registry = SchemaRegistry.load()
    writer = registry.by_fingerprint(int(meta["kiroku.fingerprint"], 16))
    at = block.index("丸の内1-1".encode()) + len("丸の内".encode())  # the employer's address: still a valid string
    forged = write_container_body(writer.parsed, block[:at] + b"2" + block[at + 1 :], 1, meta)
    checks = verify_snapshot(forged, filed.receipt)
    digest = next(c for c in checks if c.name == "snapshot payload")
    assert (digest.ok, digest.code) == (False, "snapshot_digest")
    assert digest.expected == json.loads(filed.receipt)["receipt"]["payload_digest"] != digest.got


# -- a stored node ---------------------------------------------------------------------------------

@pytest.mark.parametrize("level", [0, 1])
def test_a_flipped_byte_in_a_stored_tree_node_is_detected(filed, audit, level) -> None:
    index = (filed.offset >> level) ^ 1  # a sibling on the receipt's audit path
    db = sqlite3.connect(filed.home / "trees" / f"{FILINGS}-{filed.partition}.db")
    (h,) = db.execute("SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, index)).fetchone()
    db.execute("UPDATE nodes SET hash = ? WHERE level = ? AND idx = ?", (_flip(h, 7), level, index))
    db.commit()
    db.close()
    k = audit()
    [failed] = _failures(verify_ledger(k))
    assert failed.code == "tree_node"
    assert f"stored Merkle node (level {level}, index {index}) of {FILINGS}/{filed.partition}" in failed.detail
    assert (failed.expected, failed.got) == (h.hex(), _flip(h, 7).hex())
    # A proof served from the altered node does not lead to the signed root.
    proof = k.transparency.receipt_with_proof(company(k, CORP_A).principal, filed.submission_id)
    inclusion = next(c for c in verify_receipt(proof.to_json(), filed.key) if c.name == "inclusion")
    assert (inclusion.ok, inclusion.code) == (False, "inclusion_proof")
    assert "leads to root" in inclusion.detail


# -- a checkpoint's signature ----------------------------------------------------------------------

def _flip_in_signature(note: str) -> str:
    head, _, sig_line = note.rstrip("\n").rpartition("\n")
    prefix, blob = sig_line.rsplit(" ", 1)
    raw = bytearray(blob.encode())
    i = next(i for i in range(10, len(raw)) if raw[i] ^ 1 in _B64 and raw[i] != ord("="))
    raw[i] ^= 1
    return f"{head}\n{prefix} {raw.decode()}\n"


def test_a_flipped_byte_in_a_checkpoint_signature_is_detected(filed, audit, tmp_path) -> None:
    note = json.loads(filed.receipt)["checkpoint"]
    (tmp_path / "checkpoint.note").write_text(_flip_in_signature(note), encoding="utf-8")
    checks = verify_receipt(filed.receipt, filed.key, checkpoint=tmp_path / "checkpoint.note")
    sig = next(c for c in checks if c.name == "checkpoint signature")
    assert (sig.ok, sig.code) == (False, "signature")
    assert "does not verify: the note was altered" in sig.detail
    # The same flip in the stored copy is caught by the audit.
    db = sqlite3.connect(filed.home / "checkpoints.db")
    size, stored = db.execute("SELECT size, note FROM checkpoints WHERE topic = ? AND partition = ? ORDER BY size DESC",
                              (FILINGS, filed.partition)).fetchone()
    db.execute("UPDATE checkpoints SET note = ? WHERE topic = ? AND partition = ? AND size = ?",
               (_flip_in_signature(stored), FILINGS, filed.partition, size))
    db.commit()
    db.close()
    [failed] = _failures(verify_ledger(audit()))
    assert failed.name == f"kiroku.local/{FILINGS}/{filed.partition} checkpoint {size}"
    assert failed.code == "signature"


# -- a receipt -------------------------------------------------------------------------------------

def _alter_receipt(text: str, anchor: str, skip: int = 0) -> str:
    """Flip one byte of the value right after ``anchor`` so that it stays well-formed."""
    start = text.index(anchor) + len(anchor) + skip
    for i in range(start, len(text)):
        c = text[i]
        for repl in ("0123456789abcdef" if c in "0123456789abcdef" else "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"):
            if repl != c and (ord(repl) ^ ord(c)) and (c.isalnum()):
                return text[:i] + repl + text[i + 1 :]
    raise AssertionError(anchor)


@pytest.mark.parametrize(("anchor", "skip", "check", "code", "says"), [
    ('"payload_digest":"', 3, "entry", "receipt_field", "receipt field payload_digest says"),
    ('"line_count":', 0, "entry", "receipt_field", "receipt field line_count says"),
    ('"recorded_at":"', 15, "entry", "receipt_field", "receipt field recorded_at says"),
    ('"corporate_number":"', 4, "entry", "receipt_field", "receipt field corporate_number says"),
    ('"entry":"', 40, "receipt file", "receipt_format", ""),  # re-checked below: either unreadable or another leaf
    ('"inclusion_proof":["', 5, "inclusion", "inclusion_proof", "leads to root"),
    ("<root>", 3, "checkpoint signature", "signature", "does not verify"),  # the signed root hash
])
def test_a_flipped_byte_in_a_receipt_is_detected_with_the_right_message(filed, anchor, skip, check, code, says) -> None:
    if anchor == "<root>":
        anchor = json.loads(filed.receipt)["checkpoint"].split("\n")[2][:8]
    altered = _alter_receipt(filed.receipt, anchor, skip)
    assert len(altered) == len(filed.receipt) and altered != filed.receipt
    failed = _failures(verify_receipt(altered, filed.key))
    assert failed, f"{anchor} change went unnoticed"
    if anchor == '"entry":"':
        # Base64 may become non-canonical (unreadable file) or decode to other bytes (another leaf).
        assert (failed[0].name, failed[0].code) in {("receipt file", "receipt_format"), ("entry", "leaf_hash")}
        return
    assert (failed[0].name, failed[0].code) == (check, code)
    assert says in failed[0].detail


def test_a_receipt_whose_leaf_index_was_changed_fails_inclusion(filed) -> None:
    data = json.loads(filed.receipt)
    data["leaf_index"] += 1
    failed = _failures(verify_receipt(json.dumps(data, ensure_ascii=False), filed.key))
    assert (failed[0].name, failed[0].code) == ("inclusion", "inclusion_proof")


def test_a_receipt_with_an_entry_and_leaf_hash_swapped_consistently_is_still_caught(filed) -> None:
    """Replace the entry by another one and recompute its leaf hash: the receipt fields (or the
    proof) no longer match."""
    from ledger.transparency import merkle

    data = json.loads(filed.receipt)
    entry = _flip(base64.b64decode(data["entry"]), 60)
    data["entry"], data["leaf_hash"] = base64.b64encode(entry).decode(), base64.b64encode(merkle.leaf_hash(entry)).decode()
    failed = _failures(verify_receipt(json.dumps(data, ensure_ascii=False), filed.key))
    assert {c.name for c in failed} >= {"inclusion"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_changing_any_single_byte_of_a_receipt_file_fails_verification(filed, data) -> None:
    raw = filed.receipt.encode()
    index = data.draw(st.integers(0, len(raw) - 2), label="byte")  # the final newline is insignificant whitespace
    mask = data.draw(st.integers(1, 255), label="xor")
    assert not passed(verify_receipt(_flip(raw, index, mask), filed.key))
