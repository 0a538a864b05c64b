"""Audit of a whole deployment: every partition's Merkle tree re-derived from the log and compared
with the stored nodes, every published checkpoint and seal; each seal holding exactly what was
recorded before its deadline; every snapshot object against the digest in its log entry.

Unlike :mod:`ledger.transparency.verify` (artefacts and a public key), this reads the deployment itself — its
log, tree files, catalog and object store — through a :class:`~ledger.bootstrap.Kiroku` opened
without inline processing. ``kiroku verify --ledger`` runs it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ledger.encoding.events import DISPOSITION_ISSUED, ENVELOPE, SUBMISSION_RECORDED
from ledger.errors import KirokuError
from ledger.ports import FILINGS
from ledger.transparency import merkle
from ledger.transparency.proofs import b64
from ledger.transparency.signer import Verifier
from ledger.transparency.verify import Check, fail, open_note


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
        head, check = open_note(f"{origin} {label}", note, keys, origin)
        if head is None:
            checks.append(check)
        elif head.size != size:
            checks.append(fail(check.name, f"the stored note of {label} claims {head.size} leaves", size, head.size, "checkpoint_size"))
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
        checks.append(fail(f"{origin} {label}", f"the {label} of {origin} claims {size} leaves, the log holds {n} entries",
                            f"<= {n}", size, "checkpoint_size"))
    if stored_size > n:
        checks.append(fail(name, f"the stored tree claims {stored_size} leaves, the log holds {n} entries", n, stored_size,
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
        return [fail(f"{origin} {label}", f"the signed {label} of {origin} has root {b64(signed)}, but the log's first "
                                           f"{size} entries give {b64(root)}", b64(root), b64(signed), "checkpoint_root")]
    return []


def _node_mismatch(topic: str, partition: int, level: int, index: int, stored: bytes | None, derived: bytes) -> Check:
    got = "missing" if stored is None else stored.hex()
    return fail(f"tree {topic}/{partition}", f"stored Merkle node (level {level}, index {index}) of {topic}/{partition} is "
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
            return [fail(f"tree {topic}/{partition}", f"stored Merkle node (level {level}, index {count}) of "
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
            out.append(fail(label, f"the entries around the deadline cannot be read: {exc}", None, type(exc).__name__,
                             "seal_unreadable"))
            continue
        if want is None:
            out.append(Check(label, None, "not checked: the tree is not integrated that far"))
        elif want != seal.size:
            out.append(fail(label, f"the {label} holds {seal.size} entries, but {want} were recorded before the deadline",
                             want, seal.size, "seal_size"))
    return out


def _snapshot_checks(k: Any) -> list[Check]:
    """Every submission's and disposition's snapshot object matches the digest in its log entry."""
    from sqlalchemy import select

    from ledger.catalog import tables as c
    from ledger.encoding.snapshots import load_snapshot

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
                    out.append(fail(f"entry {rec.position}", f"log entry {rec.position} is not a readable event: {exc}",
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
                    out.append(fail(f"snapshot of {ident}", f"the catalog knows no snapshot of {ident}", "a snapshot key", None,
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
