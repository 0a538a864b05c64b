"""Offline verification: receipts with proofs, snapshot files, checkpoints, consistency proofs —
and, with ``verify_ledger``, a whole deployment's log, trees, checkpoints, seals and snapshots.

Everything but ``verify_ledger`` needs only files and the log's public key (a verifier-key
string, as ``kiroku checkpoint key`` prints it): a checkpoint is trusted when its C2SP signed
note verifies under that key and its origin names the right log (C2SP tlog-checkpoint); an entry
is in the log when its RFC 9162 §2.1.3.2 inclusion proof leads to the signed root; two
checkpoints are one growing log when the §2.1.4.2 consistency proof holds.

Each check yields a :class:`Check` — what was checked, whether it held, and on failure the
expected and the actual value — so a verdict reads as a list and a failure names its cause.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ledger import merkle
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.codec import SchemaRegistry
from ledger.containers import read_container
from ledger.errors import IntegrityError, KirokuError
from ledger.events import DISPOSITION_ISSUED, ENVELOPE, SUBMISSION_RECORDED, EventCodec
from ledger.ports import FILINGS, Position
from ledger.proofs import (
    RECEIPT_KEYS, ConsistencyProof, ReceiptProof, b64, origin_for, parse_seal_line, receipt_fields,
)
from ledger.signer import Verifier


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


def _fail(name: str, message: str, expected: object = None, got: object = None, code: str = "verify") -> Check:
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


def _read_text(value: str | bytes | Path) -> str | bytes:
    return Path(value).read_bytes() if isinstance(value, Path) else value


# -- checkpoints ---------------------------------------------------------------------------------


def _open_signed(name: str, note: str, keys: list[Verifier], origin: str | None
                 ) -> tuple[Checkpoint | None, Verifier | None, Check]:
    try:
        cp, verifier = open_checkpoint(note, keys)
    except KirokuError as err:
        return None, None, Check.failed(name, err)
    if origin is not None and cp.origin != origin:
        return None, verifier, _fail(name, f"the checkpoint is for log {cp.origin!r}, expected {origin!r}", origin, cp.origin,
                                     "checkpoint_origin")
    return cp, verifier, Check(name, True, f"{cp.origin} at {cp.size} leaves, signed by {verifier.key_name}+{verifier.key_id.hex()}")


def _open(name: str, note: str, keys: list[Verifier], origin: str | None) -> tuple[Checkpoint | None, Check]:
    cp, _, check = _open_signed(name, note, keys, origin)
    return cp, check


def verify_checkpoint(note: str | bytes | Path, keys: list[Verifier], origin: str | None = None) -> list[Check]:
    """A checkpoint note's signature (and origin, if given)."""
    text = _read_text(note)
    return [_open("checkpoint", text.decode("utf-8", "replace") if isinstance(text, bytes) else text, keys, origin)[1]]


# -- receipts ------------------------------------------------------------------------------------


def _same(a: object, b: object) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _check_entry(rp: ReceiptProof, position: Position) -> Check:
    """The entry hashes to the leaf, is the recorded submission, and says what the receipt says."""
    name = "entry"
    leaf = merkle.leaf_hash(rp.entry)
    if leaf != rp.leaf_hash:
        return _fail(name, "the entry bytes do not hash to the receipt's leaf hash", b64(rp.leaf_hash), b64(leaf), "leaf_hash")
    try:
        ev = _codec().decode(rp.entry)
        expected = receipt_fields(ev, position)
    except KirokuError as err:
        return Check.failed(name, err)
    except Exception as exc:  # untrusted bytes: any decoding failure is a verdict, not a crash
        return _fail(name, f"the entry is not a readable Kiroku event: {exc}", "an Avro Envelope", type(exc).__name__, "entry_decode")
    for key in RECEIPT_KEYS:
        if not _same(rp.receipt[key], expected[key]):
            return _fail(name, f"receipt field {key} says {rp.receipt[key]!r}, but the recorded entry says {expected[key]!r}",
                         json.dumps(expected[key], ensure_ascii=False), json.dumps(rp.receipt[key], ensure_ascii=False),
                         "receipt_field")
    digest = hashlib.sha256(ev.body["payload"]).hexdigest()
    if digest != ev.body["payload_digest"]:
        return _fail(name, "the recorded payload does not hash to the digest recorded with it",
                     ev.body["payload_digest"], digest, "payload_digest")
    return Check(name, True, f"{SUBMISSION_RECORDED} {expected['submission_id']} ({expected['procedure']} {expected['period']} of "
                             f"{expected['corporate_number']}, recorded {expected['recorded_at']}): every receipt field and the "
                             f"payload SHA-256 {digest[:16]}… match the entry")


def verify_receipt(receipt: str | bytes | Path, keys: list[Verifier], checkpoint: str | bytes | Path | None = None,
                   origin: str | None = None) -> list[Check]:
    """A receipt-with-proof file: checkpoint signature and origin, entry, inclusion, deadline seal.

    ``checkpoint`` replaces the note embedded in the receipt (it must be of the same tree size);
    ``origin`` replaces the expected origin ``<key name>/<topic>/<partition>``.
    """
    try:
        rp = ReceiptProof.from_json(_read_text(receipt))
        position = Position.parse(str(rp.receipt["position"]))
    except KirokuError as err:
        return [Check.failed("receipt file", err)]
    except ValueError:
        return [_fail("receipt file", "the receipt's position is not topic/partition/offset", "kiroku.filings/0/17",
                      rp.receipt["position"], "receipt_format")]
    checks = [Check("receipt file", True, f"receipt of {rp.submission_id} at {position}: leaf {rp.leaf_index} "
                                          f"of a tree of {rp.tree_size}, {len(rp.inclusion_proof)} proof hashes")]
    note = _read_text(checkpoint) if checkpoint is not None else rp.checkpoint
    note = note.decode("utf-8", "replace") if isinstance(note, bytes) else note
    cp, verifier, check = _open_signed("checkpoint signature", note, keys, None)
    checks.append(check)
    if cp is not None and verifier is not None:
        want = origin or origin_for(verifier.key_name, position.topic, position.partition)
        if cp.origin != want:
            checks.append(_fail("checkpoint origin", f"the checkpoint is for log {cp.origin!r}, but the receipt is in {want!r}",
                                want, cp.origin, "checkpoint_origin"))
        elif rp.origin != cp.origin:
            checks.append(_fail("checkpoint origin", f"the receipt names log {rp.origin!r}, its checkpoint {cp.origin!r}",
                                cp.origin, rp.origin, "checkpoint_origin"))
        else:
            checks.append(Check("checkpoint origin", True, f"{cp.origin} is the log the receipt's position names"))
    checks.append(_check_entry(rp, position))
    if cp is None:
        checks.append(Check("inclusion", None, "not checked: the checkpoint is not trusted"))
        return checks
    if rp.tree_size != cp.size:
        checks.append(_fail("inclusion", f"the proof is for a tree of {rp.tree_size} leaves, the checkpoint has {cp.size}",
                            cp.size, rp.tree_size, "tree_size"))
        return checks
    try:
        merkle.verify_inclusion(merkle.leaf_hash(rp.entry), rp.leaf_index, cp.size, rp.inclusion_proof, cp.root_hash)
        checks.append(Check("inclusion", True, f"leaf {rp.leaf_index} leads to the signed root of {cp.size} leaves "
                                               "(RFC 9162 §2.1.3.2)"))
    except KirokuError as err:
        checks.append(Check.failed("inclusion", err))
        return checks
    checks.extend(_seal_check(cp, rp))
    return checks


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
            return [_fail("deadline seal", f"the seal of the {filing} deadline {when} covers the entry's position, but the "
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
    data = snapshot.read_bytes() if isinstance(snapshot, Path) else snapshot
    rp: ReceiptProof | None = None
    if receipt is not None:
        try:
            rp = receipt if isinstance(receipt, ReceiptProof) else ReceiptProof.from_json(_read_text(receipt))
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
        return [_fail("snapshot file", f"the snapshot cannot be read: {exc}", "an Avro container", type(exc).__name__,
                      "snapshot_format")]
    checks.append(Check("snapshot file", True, f"one {writer.name} v{writer.version} record; the sync marker matches the content"))
    got = hashlib.sha256(writer.header + block).hexdigest()
    if digest is None:
        checks.append(Check("snapshot payload", None, f"SHA-256 {got}; no receipt or digest given to compare with"))
    elif got != digest:
        checks.append(_fail("snapshot payload", "the snapshot's payload does not hash to the receipt's payload digest",
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
            checks.append(_fail("snapshot metadata", f"the snapshot's {key} is {meta.get(key)!r}, expected {value!r}",
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
        cp = ConsistencyProof.from_json(_read_text(proof))
    except KirokuError as err:
        return [Check.failed("consistency file", err)]
    checks = [Check("consistency file", True, f"{cp.origin}: from {cp.old_size} to {cp.new_size} leaves, {len(cp.proof)} hashes")]
    heads = []
    for label, given, embedded, size in (("old checkpoint", old, cp.old_checkpoint, cp.old_size),
                                          ("new checkpoint", new, cp.new_checkpoint, cp.new_size)):
        text = _read_text(given) if given is not None else embedded
        head, check = _open(label, text.decode("utf-8", "replace") if isinstance(text, bytes) else text, keys, cp.origin)
        if head is not None and head.size != size:
            # Two statements in the order the tuple assignment ran them (mypy saw head as None in head.size).
            check = _fail(label, f"the {label} has {head.size} leaves, the proof is for {size}", size, head.size,
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


# -- the whole ledger ----------------------------------------------------------------------------


def _stored_nodes(path: Path, level: int) -> Iterator[tuple[int, bytes]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        yield from ((i, bytes(h)) for i, h in db.execute("SELECT idx, hash FROM nodes WHERE level = ? ORDER BY idx", (level,)))
    finally:
        db.close()


def _stored_size(path: Path) -> int:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT size FROM tree_size WHERE id = 0").fetchone()[0])
    finally:
        db.close()


def _partition_checks(k: Any, topic: str, partition: int, keys: list[Verifier]) -> list[Check]:
    t = k.transparency
    name = f"tree {topic}/{partition}"
    origin = t.origin(topic, partition)
    published = [(cp.size, cp.note, f"checkpoint {cp.size}") for cp in t.store.checkpoints(topic, partition)]
    published += [(s.size, s.note, f"seal {s.deadline.isoformat()}") for s in t.store.seals(topic, partition)]
    checks, heads = [], []
    for size, note, label in published:
        head, check = _open(f"{origin} {label}", note, keys, origin)
        if head is None:
            checks.append(check)
        elif head.size != size:
            checks.append(_fail(check.name, f"the stored note of {label} claims {head.size} leaves", size, head.size, "checkpoint_size"))
        else:
            heads.append((size, head.root_hash, label))
    heads.sort()
    path = t.sequencer.path(topic, partition)
    stored_size = _stored_size(path) if path.exists() else 0
    stored = _stored_nodes(path, 0) if path.exists() else iter(())
    stack: list[tuple[int, bytes]] = []
    n, pending, nodes_ok = 0, list(heads), True
    try:
        offset = 0
        while records := k.log.read(topic, partition, offset, 5000):
            for rec in records:
                leaf = merkle.leaf_hash(rec.value)
                if nodes_ok and n < stored_size:
                    index, node = next(stored, (None, None))
                    if index != n or node != leaf:
                        checks.append(_node_mismatch(topic, partition, 0, n, node, leaf))
                        nodes_ok = False  # report the first; go on comparing the checkpoints with the log
                height, cur = 0, leaf
                while stack and stack[-1][0] == height:
                    cur = merkle.node_hash(stack.pop()[1], cur)
                    height += 1
                stack.append((height, cur))
                n += 1
                while pending and pending[0][0] == n:
                    checks.extend(_compare_root(origin, pending.pop(0), _fold(stack)))
            offset = records[-1].offset + 1
    except KirokuError as err:
        checks.append(Check.failed(name, err))
        return checks
    finally:
        close = getattr(stored, "close", None)
        if close:
            close()
    while pending and pending[0][0] == 0:
        checks.extend(_compare_root(origin, pending.pop(0), merkle.EMPTY_ROOT))
    for size, _, label in pending:
        checks.append(_fail(f"{origin} {label}", f"the {label} of {origin} claims {size} leaves, the log holds {n} entries",
                            f"<= {n}", size, "checkpoint_size"))
    if stored_size > n:
        checks.append(_fail(name, f"the stored tree claims {stored_size} leaves, the log holds {n} entries", n, stored_size,
                            "tree_size"))
    elif path.exists() and nodes_ok:
        checks.extend(_check_upper_levels(path, topic, partition, stored_size))
    if not any(c.ok is False for c in checks):
        checks.append(Check(name, True, f"{n} entries; the stored tree ({stored_size} leaves) and {len(heads)} signed "
                                        "checkpoint(s) and seal(s) match the log"))
    return checks


def _fold(stack: list[tuple[int, bytes]]) -> bytes:
    acc = stack[-1][1]
    for _, h in reversed(stack[:-1]):
        acc = merkle.node_hash(h, acc)
    return acc


def _compare_root(origin: str, head: tuple[int, bytes, str], root: bytes) -> list[Check]:
    size, signed, label = head
    if signed != root:
        return [_fail(f"{origin} {label}", f"the signed {label} of {origin} has root {b64(signed)}, but the log's first "
                                           f"{size} entries give {b64(root)}", b64(root), b64(signed), "checkpoint_root")]
    return []


def _node_mismatch(topic: str, partition: int, level: int, index: int, stored: bytes | None, derived: bytes) -> Check:
    got = "missing" if stored is None else stored.hex()
    return _fail(f"tree {topic}/{partition}", f"stored Merkle node (level {level}, index {index}) of {topic}/{partition} is "
                                              f"{got[:16]}…, but the log's entries give {derived.hex()[:16]}…",
                 derived.hex(), got, "tree_node")


def _check_upper_levels(path: Path, topic: str, partition: int, size: int) -> list[Check]:
    """Each stored node above the leaves is the hash of its two stored children (which, by
    induction from the leaves checked against the log, are right)."""
    level = 1
    while size >> level:
        children = _stored_nodes(path, level - 1)
        count = 0
        for expected_index, (index, node) in enumerate(_stored_nodes(path, level)):
            (_, left), (_, right) = next(children), next(children)
            derived = merkle.node_hash(left, right)
            if index != expected_index or node != derived:
                return [_node_mismatch(topic, partition, level, expected_index, node, derived)]
            count += 1
        if count < size >> level:
            return [_fail(f"tree {topic}/{partition}", f"stored Merkle node (level {level}, index {count}) of "
                                                       f"{topic}/{partition} is missing", f"{size >> level} nodes", count,
                          "tree_node")]
        level += 1
    return []


def _seal_checks(k: Any) -> list[Check]:
    t, out = k.transparency, []
    for seal in t.store.seals():
        label = f"seal {seal.deadline.isoformat()} of {seal.topic}/{seal.partition}"
        try:
            want = t.size_at(seal.topic, seal.partition, seal.deadline)
        except Exception as exc:  # an unreadable entry on the way: the trees' checks name it
            out.append(_fail(label, f"the entries around the deadline cannot be read: {exc}", None, type(exc).__name__,
                             "seal_unreadable"))
            continue
        if want is None:
            out.append(Check(label, None, "not checked: the tree is not integrated that far"))
        elif want != seal.size:
            out.append(_fail(label, f"the {label} holds {seal.size} entries, but {want} were recorded before the deadline",
                             want, seal.size, "seal_size"))
    return out


def _snapshot_checks(k: Any) -> list[Check]:
    """Every submission's and disposition's snapshot object matches the digest in its log entry."""
    from sqlalchemy import select

    from ledger import catalog as c
    from ledger.snapshots import load_snapshot

    registry, out, seen = k.registry, [], 0
    for partition in range(k.log.partitions(FILINGS)):
        offset = 0
        while True:
            try:
                records = k.log.read(FILINGS, partition, offset, 2000)
            except KirokuError as err:  # a damaged record: the tree's check names it; skip the partition
                out.append(Check.failed(f"snapshots of {FILINGS}/{partition}", err))
                break
            if not records:
                break
            wanted: dict[str, str] = {}
            for rec in records:
                try:
                    env = registry.decode_as(rec.value, ENVELOPE)
                    kind = env["type"].rsplit(".", 1)[-1]
                    body = registry.decode(env["body"])[1] if kind in (SUBMISSION_RECORDED, DISPOSITION_ISSUED) else {}
                except Exception as exc:  # an altered entry: say which, and go on with the others
                    out.append(_fail(f"entry {rec.position}", f"log entry {rec.position} is not a readable event: {exc}",
                                     "an Avro Envelope", type(exc).__name__, "entry_decode"))
                    continue
                if body.get("payload"):
                    wanted[body.get("submission_id") or body["disposition_id"]] = body["payload_digest"]
            offset = records[-1].offset + 1
            if not wanted:
                continue
            with k.catalog.connect() as conn:
                keys = dict(conn.execute(select(c.submissions.c.submission_id, c.submissions.c.snapshot_key)
                                         .where(c.submissions.c.submission_id.in_(list(wanted)))).all())
                keys.update(conn.execute(select(c.dispositions.c.disposition_id, c.dispositions.c.snapshot_key)
                                         .where(c.dispositions.c.disposition_id.in_(list(wanted)))).all())
            for ident, digest in wanted.items():
                seen += 1
                if ident not in keys:
                    out.append(_fail(f"snapshot of {ident}", f"the catalog knows no snapshot of {ident}", "a snapshot key", None,
                                     "snapshot_missing"))
                    continue
                try:
                    load_snapshot(registry, k.objects, keys[ident], digest)
                except KirokuError as err:
                    out.append(Check.failed(f"snapshot of {ident}", err))
    bad = sum(1 for c in out if c.ok is False)
    out.append(Check("snapshots", bad == 0, f"{seen - bad} of {seen} snapshot objects match the digests recorded in the log"))
    return out


def verify_ledger(k: Any, keys: list[Verifier] | None = None, *, snapshots: bool = True) -> list[Check]:
    """Re-derive every partition's tree from the log and compare it with the stored nodes, every
    published checkpoint and seal; check each seal holds exactly what was recorded before its
    deadline, and (``snapshots``) every snapshot object against its entry's digest.

    ``k`` is a Kiroku opened without inline processing, so that verifying changes nothing.
    """
    keys = keys or [Verifier.parse(k.transparency.verifier_key())]
    checks: list[Check] = []
    for topic, partition in k.transparency.sequencer.partitions():
        checks.extend(_partition_checks(k, topic, partition, keys))
    checks.extend(_seal_checks(k))
    if snapshots:
        checks.extend(_snapshot_checks(k))
    return checks
