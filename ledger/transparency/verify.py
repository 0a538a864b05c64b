"""Offline verification: receipts with proofs, snapshot files, checkpoints, consistency proofs.

Each needs only files and the log's public key (a verifier-key string, as ``kiroku checkpoint
key`` prints it): a checkpoint is trusted when its C2SP signed
note verifies under that key and its origin names the right log (C2SP tlog-checkpoint); an entry
is in the log when its RFC 9162 §2.1.3.2 inclusion proof leads to the signed root; two
checkpoints are one growing log when the §2.1.4.2 consistency proof holds.

Each check yields a :class:`Check` — what was checked, whether it held, and on failure the
expected and the actual value — so a verdict reads as a list and a failure names its cause.
:mod:`ledger.transparency.audit` checks a whole deployment the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ledger.encoding.codec import SchemaRegistry
from ledger.encoding.containers import read_container
from ledger.encoding.events import SUBMISSION_RECORDED, EventCodec
from ledger.errors import IntegrityError, KirokuError
from ledger.ports import Position
from ledger.transparency import merkle
from ledger.transparency.checkpoint import Checkpoint, open_checkpoint
from ledger.transparency.proofs import (
    MAX_FILE_BYTES,
    RECEIPT_KEYS,
    ConsistencyProof,
    ReceiptProof,
    b64,
    origin_for,
    parse_seal_line,
    receipt_fields,
)
from ledger.transparency.signer import Verifier


@dataclass(frozen=True)
class Check:
    """One verification step: ``ok`` is True (held), False (failed) or None (not checked)."""

    name: str
    ok: bool | None
    detail: str
    expected: str | None = None
    got: str | None = None
    code: str | None = None

    @classmethod
    def failed(cls, name: str, err: KirokuError) -> Check:
        got = None if err.got is None else str(err.got)
        return cls(name, False, err.message, err.expected, got, err.code)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None or k == "ok"}


def passed(checks: Iterable[Check]) -> bool:
    """True when nothing failed and something was actually checked."""
    checks = list(checks)
    return all(c.ok is not False for c in checks) and any(c.ok for c in checks)


def fail(name: str, message: str, expected: object = None, got: object = None, code: str = "verify") -> Check:
    """A failed check: what was expected and what was got, as text, with a machine-readable code."""
    return Check(name, False, message, None if expected is None else str(expected), None if got is None else str(got), code)


@lru_cache(maxsize=1)
def _codec() -> EventCodec:
    return EventCodec(SchemaRegistry.load())


def load_keys(values: Iterable[str | Path]) -> list[Verifier]:
    """Verifier keys from strings (``name+id+key``) or files holding one per line."""
    out: list[Verifier] = []
    for value in values:
        try:
            text = Path(value).read_text(encoding="utf-8") if Path(value).is_file() else str(value)
        except OSError:  # not a usable path: take it as the key itself
            text = str(value)
        out.extend(Verifier.parse(line.strip()) for line in text.splitlines() if line.strip())
    return out


#: The largest signed checkpoint note read (a note is a few lines and signatures).
MAX_NOTE_BYTES = 1024 * 1024


def _read_text(value: str | bytes | Path, limit: int = MAX_FILE_BYTES, what: str = "the file") -> str | bytes:
    """A file's bytes (or the text given), refused before reading when larger than ``limit``."""
    size = value.stat().st_size if isinstance(value, Path) else len(value)
    if size > limit:
        raise IntegrityError(f"{what} is too large to be what it claims", field=what, expected=f"at most {limit} bytes",
                             got=f"{size} bytes", code="input_too_large")
    return value.read_bytes() if isinstance(value, Path) else value


def _note_text(value: str | bytes | Path) -> str:
    text = _read_text(value, MAX_NOTE_BYTES, "the checkpoint note")
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text


# -- checkpoints ---------------------------------------------------------------------------------


def _open_signed(name: str, note: str, keys: list[Verifier], origin: str | None
                 ) -> tuple[Checkpoint | None, Verifier | None, Check]:
    try:
        cp, verifier = open_checkpoint(note, keys)
    except KirokuError as err:
        return None, None, Check.failed(name, err)
    if origin is not None and cp.origin != origin:
        return None, verifier, fail(name, f"the checkpoint is for log {cp.origin!r}, expected {origin!r}", origin, cp.origin,
                                     "checkpoint_origin")
    return cp, verifier, Check(name, True, f"{cp.origin} at {cp.size} leaves, signed by {verifier.key_name}+{verifier.key_id.hex()}")


def open_note(name: str, note: str, keys: list[Verifier], origin: str | None) -> tuple[Checkpoint | None, Check]:
    """A checkpoint's signed note opened under ``keys`` (and ``origin``): the checkpoint, or None, and the check."""
    cp, _, check = _open_signed(name, note, keys, origin)
    return cp, check


def verify_checkpoint(note: str | bytes | Path, keys: list[Verifier], origin: str | None = None) -> list[Check]:
    """A checkpoint note's signature (and origin, if given)."""
    try:
        text = _note_text(note)
    except KirokuError as err:
        return [Check.failed("checkpoint", err)]
    return [open_note("checkpoint", text, keys, origin)[1]]


# -- receipts ------------------------------------------------------------------------------------


def _same(a: object, b: object) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _check_entry(rp: ReceiptProof, position: Position) -> Check:
    """The entry hashes to the leaf, is the recorded submission, and says what the receipt says."""
    name = "entry"
    leaf = merkle.leaf_hash(rp.entry)
    if leaf != rp.leaf_hash:
        return fail(name, "the entry bytes do not hash to the receipt's leaf hash", b64(rp.leaf_hash), b64(leaf), "leaf_hash")
    try:
        ev = _codec().decode(rp.entry)
        expected = receipt_fields(ev, position)
    except KirokuError as err:
        return Check.failed(name, err)
    except Exception as exc:  # untrusted bytes: any decoding failure is a verdict, not a crash
        return fail(name, f"the entry is not a readable Kiroku event: {exc}", "an Avro Envelope", type(exc).__name__, "entry_decode")
    for key in RECEIPT_KEYS:
        if not _same(rp.receipt[key], expected[key]):
            return fail(name, f"receipt field {key} says {rp.receipt[key]!r}, but the recorded entry says {expected[key]!r}",
                         json.dumps(expected[key], ensure_ascii=False), json.dumps(rp.receipt[key], ensure_ascii=False),
                         "receipt_field")
    digest = hashlib.sha256(ev.body["payload"]).hexdigest()
    if digest != ev.body["payload_digest"]:
        return fail(name, "the recorded payload does not hash to the digest recorded with it",
                     ev.body["payload_digest"], digest, "payload_digest")
    return Check(name, True, f"{SUBMISSION_RECORDED} {expected['submission_id']} ({expected['procedure']} {expected['period']} of "
                             f"{expected['corporate_number']}, recorded {expected['recorded_at']}): every receipt field and the "
                             f"payload SHA-256 {digest[:16]}… match the entry")


def verify_receipt(receipt: str | bytes | Path, keys: list[Verifier], checkpoint: str | bytes | Path | None = None,
                   origin: str | None = None, strict_offsets: bool = False) -> list[Check]:
    """A receipt-with-proof file: checkpoint signature and origin, entry, inclusion, position, deadline seal.

    ``checkpoint`` replaces the note embedded in the receipt (it must be of the same tree size);
    ``origin`` replaces the expected origin ``<key name>/<topic>/<partition>``; ``strict_offsets``
    says the log has no offset gaps (the embedded log), so the position's offset must be the leaf index.
    """
    try:
        rp = ReceiptProof.from_json(_read_text(receipt, what="the receipt file"))
        position = Position.parse(str(rp.receipt["position"]))
    except KirokuError as err:
        return [Check.failed("receipt file", err)]
    except ValueError:
        return [fail("receipt file", "the receipt's position is not topic/partition/offset", "kiroku.filings/0/17",
                      rp.receipt["position"], "receipt_format")]
    checks = [Check("receipt file", True, f"receipt of {rp.submission_id} at {position}: leaf {rp.leaf_index} "
                                          f"of a tree of {rp.tree_size}, {len(rp.inclusion_proof)} proof hashes")]
    try:
        note = _note_text(checkpoint) if checkpoint is not None else rp.checkpoint
    except KirokuError as err:
        return [*checks, Check.failed("checkpoint signature", err)]
    cp, verifier, check = _open_signed("checkpoint signature", note, keys, None)
    checks.append(check)
    if cp is not None and verifier is not None:
        want = origin or origin_for(verifier.key_name, position.topic, position.partition)
        if cp.origin != want:
            checks.append(fail("checkpoint origin", f"the checkpoint is for log {cp.origin!r}, but the receipt is in {want!r}",
                                want, cp.origin, "checkpoint_origin"))
        elif rp.origin != cp.origin:
            checks.append(fail("checkpoint origin", f"the receipt names log {rp.origin!r}, its checkpoint {cp.origin!r}",
                                cp.origin, rp.origin, "checkpoint_origin"))
        else:
            checks.append(Check("checkpoint origin", True, f"{cp.origin} is the log the receipt's position names"))
    checks.append(_check_entry(rp, position))
    if cp is None:
        checks.append(Check("inclusion", None, "not checked: the checkpoint is not trusted"))
        return checks
    if rp.tree_size != cp.size:
        checks.append(fail("inclusion", f"the proof is for a tree of {rp.tree_size} leaves, the checkpoint has {cp.size}",
                            cp.size, rp.tree_size, "tree_size"))
        return checks
    try:
        merkle.verify_inclusion(merkle.leaf_hash(rp.entry), rp.leaf_index, cp.size, rp.inclusion_proof, cp.root_hash)
        checks.append(Check("inclusion", True, f"leaf {rp.leaf_index} leads to the signed root of {cp.size} leaves "
                                               "(RFC 9162 §2.1.3.2)"))
    except KirokuError as err:
        checks.append(Check.failed("inclusion", err))
        return checks
    checks.append(_check_position(rp, position, strict_offsets))
    checks.extend(_seal_check(cp, rp))
    return checks


def _check_position(rp: ReceiptProof, position: Position, strict: bool) -> Check:
    """The receipt's ``position`` against what the proof establishes: its topic and partition are
    the log's the origin names, and its offset is one the proven leaf index can be at.

    The entry's bytes do not hold their own offset, and a receipt's ``position`` is not signed, so
    the offset is bound only through the leaf index the inclusion proof just proved. Leaf *i* is
    the *i*-th entry of the partition: on the embedded log offsets have no gaps and the offset *is*
    the leaf index; on Kafka, transaction markers take offsets too, so the offset may exceed the
    leaf index (the sequencer's offset map says by how much) but never fall below it. So: below the
    leaf index is always refused; equal is verified; above is refused with ``strict`` (the
    verifier knows the log has no gaps) and otherwise reported as not checked.
    """
    name = "position"
    suffix = f"/{position.topic}/{position.partition}"
    if not rp.origin.endswith(suffix):
        return fail(name, f"the receipt's position {position} is not in the log its proof is for, {rp.origin!r}",
                    f"a position in {rp.origin}", str(position), "receipt_position")
    if position.offset < rp.leaf_index or (strict and position.offset != rp.leaf_index):
        want = f"offset {rp.leaf_index}" if strict else f"offset >= {rp.leaf_index}"
        return fail(name, f"the receipt's position {position} cannot hold entry {rp.leaf_index} of {rp.origin}: "
                          "an entry's offset is never below its leaf index, and equals it on a log without gaps",
                    want, f"offset {position.offset}", "receipt_position")
    if position.offset == rp.leaf_index:
        return Check(name, True, f"offset {position.offset} is leaf {rp.leaf_index}, as the inclusion proof places it")
    return Check(name, None, f"offset {position.offset} is above leaf {rp.leaf_index}: possible on Kafka, whose transaction "
                             "markers take offsets, but not bound by the proof (--gapless refuses it)")


def _seal_check(cp: Checkpoint, rp: ReceiptProof) -> list[Check]:
    for ext in cp.extensions:
        try:
            seal = parse_seal_line(ext)
        except KirokuError as err:
            return [Check.failed("deadline seal", err)]
        if seal is None:
            continue
        filing = f"{rp.receipt['procedure']}/{rp.receipt['period']}"
        when = seal["deadline"].isoformat()
        if filing in seal["sealed"] and rp.receipt["on_time"] is False:
            return [fail("deadline seal", f"the seal of the {filing} deadline {when} covers the entry's position, but the "
                                           "entry itself was recorded after the deadline", "on_time true", "on_time false",
                          "late_entry")]
        if filing in seal["sealed"]:
            return [Check("deadline seal", True, f"recorded before the {filing} deadline {when}: the seal signed "
                                                 f"{seal['signed'].isoformat()} holds it")]
        return [Check("deadline seal", None, f"the seal is for {', '.join(seal['sealed'])} (deadline {when}), not {filing}; "
                                             f"it shows the entry was recorded before {when}")]
    return []


# -- snapshots -----------------------------------------------------------------------------------


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return (result >> 1) ^ -(result & 1), pos


def _container_block(data: bytes) -> bytes:
    """The one data block of a Kiroku snapshot, after checking its content-derived sync marker."""
    if not data.startswith(b"Obj\x01") or len(data) < 36:
        raise IntegrityError("the snapshot is not an Avro object container file", expected="Obj\\x01 …",
                             got=data[:4].hex(), code="snapshot_format")
    marker = data[-16:]
    at = data.find(marker)
    try:
        count, pos = _varint(data, at + 16)
        size, pos = _varint(data, pos)
    except ValueError:
        raise IntegrityError("the snapshot's block header is damaged", code="snapshot_format") from None
    block = data[pos:-16]
    if at < 4 or count != 1 or size != len(block):
        raise IntegrityError("the snapshot's layout is damaged: expected one block of one record",
                             expected="1 record", got=f"{count} record(s), {len(block)} of {size} bytes", code="snapshot_format")
    want = hashlib.sha256(data[:at] + block).digest()[:16]
    if want != marker:
        raise IntegrityError("the snapshot's sync marker no longer matches its content: bytes were changed",
                             expected=want.hex(), got=marker.hex(), code="snapshot_marker")
    return block


def verify_snapshot(snapshot: bytes | Path, receipt: str | bytes | Path | ReceiptProof | None = None,
                    digest: str | None = None) -> list[Check]:
    """A snapshot file against a receipt (or a bare payload digest): layout, payload SHA-256, metadata."""
    try:
        raw = _read_text(snapshot, what="the snapshot file")
    except KirokuError as err:
        return [Check.failed("snapshot file", err)]
    data = raw.encode() if isinstance(raw, str) else raw
    rp: ReceiptProof | None = None
    if receipt is not None:
        try:
            rp = receipt if isinstance(receipt, ReceiptProof) else ReceiptProof.from_json(_read_text(receipt, what="the receipt file"))
        except KirokuError as err:
            return [Check.failed("receipt file", err)]
        digest = str(rp.receipt["payload_digest"])
    checks = []
    try:
        block = _container_block(data)
        _, meta, records = read_container(data)
        registry = _codec().registry
        writer = registry.by_fingerprint(int(meta.get("kiroku.fingerprint", "0"), 16))
        registry.decode_body(block, writer.name, writer.version, reader_version=writer.version)
    except KirokuError as err:
        return [Check.failed("snapshot file", err)]
    except Exception as exc:
        return [fail("snapshot file", f"the snapshot cannot be read: {exc}", "an Avro container", type(exc).__name__,
                      "snapshot_format")]
    checks.append(Check("snapshot file", True, f"one {writer.name} v{writer.version} record; the sync marker matches the content"))
    got = hashlib.sha256(writer.header + block).hexdigest()
    if digest is None:
        checks.append(Check("snapshot payload", None, f"SHA-256 {got}; no receipt or digest given to compare with"))
    elif got != digest:
        checks.append(fail("snapshot payload", "the snapshot's payload does not hash to the receipt's payload digest",
                            digest, got, "snapshot_digest"))
    else:
        checks.append(Check("snapshot payload", True, f"payload SHA-256 {got} is the receipt's digest"))
    want = {"kiroku.fingerprint": f"{writer.fingerprint:016x}", "kiroku.schema": f"{writer.name}.v{writer.version}"}
    if digest is not None:
        want["kiroku.payload_digest"] = digest
    if rp is not None:
        r = rp.receipt
        want.update({"kiroku.submission_id": r["submission_id"], "kiroku.corporate_number": r["corporate_number"],
                     "kiroku.procedure": r["procedure"], "kiroku.period": r["period"], "kiroku.position": r["position"]})
    for key, value in want.items():
        if meta.get(key) != value:
            checks.append(fail("snapshot metadata", f"the snapshot's {key} is {meta.get(key)!r}, expected {value!r}",
                                value, meta.get(key), "snapshot_metadata"))
            break
    else:
        checks.append(Check("snapshot metadata", True, f"{', '.join(k.removeprefix('kiroku.') for k in want)} as expected"))
    return checks


# -- consistency ---------------------------------------------------------------------------------


def verify_consistency(proof: str | bytes | Path, keys: list[Verifier], old: str | bytes | Path | None = None,
                       new: str | bytes | Path | None = None) -> list[Check]:
    """Two checkpoints of one log and the consistency proof between them (notes default to the file's)."""
    try:
        cp = ConsistencyProof.from_json(_read_text(proof, what="the consistency proof file"))
    except KirokuError as err:
        return [Check.failed("consistency file", err)]
    checks = [Check("consistency file", True, f"{cp.origin}: from {cp.old_size} to {cp.new_size} leaves, {len(cp.proof)} hashes")]
    heads: list[Checkpoint | None] = []
    for label, given, embedded, size in (("old checkpoint", old, cp.old_checkpoint, cp.old_size),
                                          ("new checkpoint", new, cp.new_checkpoint, cp.new_size)):
        try:
            text = _note_text(given) if given is not None else embedded
        except KirokuError as err:
            checks.append(Check.failed(label, err))
            heads.append(None)
            continue
        head, check = open_note(label, text, keys, cp.origin)
        if head is not None and head.size != size:
            # Two statements in the order the tuple assignment ran them (mypy saw head as None in head.size).
            check = fail(label, f"the {label} has {head.size} leaves, the proof is for {size}", size, head.size,
                          "tree_size")
            head = None
        checks.append(check)
        heads.append(head)
    if None in heads:
        checks.append(Check("consistency", None, "not checked: a checkpoint is not trusted"))
        return checks
    assert heads[0] is not None and heads[1] is not None  # None is not in heads
    try:
        merkle.verify_consistency(cp.old_size, cp.new_size, cp.proof, heads[0].root_hash, heads[1].root_hash)
        checks.append(Check("consistency", True, f"the tree of {cp.new_size} leaves extends the tree of {cp.old_size} "
                                                 "(RFC 9162 §2.1.4.2)"))
    except KirokuError as err:
        checks.append(Check.failed("consistency", err))
    return checks
