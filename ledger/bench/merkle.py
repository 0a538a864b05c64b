"""Benchmark of the verifiable ledger (issue 6 item 7), for ``kiroku bench``: numbers, no assertions.

``bench_merkle(leaves)`` builds a tree of ``leaves`` synthetic entries in a ``SqliteTreeStore``
(as the sequencer does: batches of 5,000, ``synchronous=NORMAL``) and reports

- ``integration_leaves_per_s``: entries hashed and integrated (nodes written) per second;
- ``sequencer_leaves_per_s``: the same through the real ``Sequencer`` reading a ``SqliteLog``
  (on ``min(leaves, sequencer_records)`` records, so the log stays a sensible size);
- inclusion and consistency proof generation p50 / p99 in milliseconds (after 1,000 untimed
  proofs, as on a serving ledger), for random leaves in the full tree and in older published
  sizes, with the most node reads any proof needed next to 2·log2(n) — the cost stays logarithmic.
  Wall-clock percentiles include preemption on a busy machine; ``inclusion_cpu_*`` is the CPU
  time of the same proofs (``time.thread_time_ns``), i.e. what a proof costs.

Run alone: ``python -m ledger.bench.merkle 1000000``.
"""

from __future__ import annotations

import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ledger.transparency import merkle
from ledger.transparency.tree_store import SqliteTreeStore, Tree

BATCH = 5000


def _entries(start: int, end: int, size: int) -> list[bytes]:
    pad = b"\xc3\x01" + b"k" * max(0, size - 10)
    return [pad + i.to_bytes(8, "big") for i in range(start, end)]


def _percentiles(samples_ns: list[int]) -> tuple[float, float]:
    q = statistics.quantiles(samples_ns, n=100, method="inclusive")
    return q[49] / 1e6, q[98] / 1e6


def _sequencer_rate(records: int, entry_bytes: int, where: Path) -> float:
    from ledger.adapters.sqlite_log import SqliteLog
    from ledger.ports import FILINGS, LogRecord
    from ledger.transparency.sequencer import Sequencer

    log = SqliteLog(where / "log.db", partitions=1)
    try:
        for start in range(0, records, BATCH):
            log.append(FILINGS, [LogRecord(b"k", e) for e in _entries(start, min(records, start + BATCH), entry_bytes)])
        seq = Sequencer(log, where / "trees")
        t0 = time.perf_counter()
        while seq.run_once():
            pass
        seconds = time.perf_counter() - t0
        seq.close()
    finally:
        log.close()
    return records / seconds


def bench_merkle(leaves: int, *, proofs: int = 2000, entry_bytes: int = 400, sequencer_records: int = 200_000,
                 directory: str | Path | None = None, seed: int = 6962) -> dict[str, Any]:
    """Integrate ``leaves`` entries, then time ``proofs`` inclusion and consistency proofs."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(dir=directory, prefix="kiroku-merkle-bench-") as tmp:
        where = Path(tmp)
        store = SqliteTreeStore(where / "tree.db", synchronous="NORMAL")
        tree = Tree(store)
        t0 = time.perf_counter()
        for start in range(0, leaves, BATCH):
            tree.append_entries(_entries(start, min(leaves, start + BATCH), entry_bytes))
        integrate_s = time.perf_counter() - t0

        def reads(fn: Any, *args: int) -> int:
            count = 0

            def note(level: int, index: int) -> bytes:
                nonlocal count
                count += 1
                return bytes(32)

            fn(*args, note)
            return count

        cpu: list[int] = []

        def timed(fn: Any, *args: int) -> int:
            t, c = time.perf_counter_ns(), time.thread_time_ns()
            fn(*args)
            cpu.append(time.thread_time_ns() - c)  # CPU time: what the proof costs without preemption
            return time.perf_counter_ns() - t

        for _ in range(min(1000, proofs)):  # steady state, as a serving ledger is: not the first cold reads
            tree.inclusion_proof(rng.randrange(leaves), leaves)
        full, old, cons, most = [], [], [], 0
        for _ in range(proofs):
            # As the ledger serves them: Tree reads a proof's O(log n) nodes in one store call.
            index, size = rng.randrange(leaves), rng.randint(1, leaves)  # an older published size too
            full.append(timed(tree.inclusion_proof, index, leaves))
            old_index = rng.randrange(size)
            old.append(timed(tree.inclusion_proof, old_index, size))
            cons.append(timed(tree.consistency_proof, size, leaves))
            most = max(most, reads(merkle.inclusion_proof, index, leaves), reads(merkle.inclusion_proof, old_index, size),
                       reads(merkle.consistency_proof, size, leaves))
        # The proofs are right, too (not timed).
        root = tree.root()
        for _ in range(20):
            index = rng.randrange(leaves)
            leaf = merkle.leaf_hash(_entries(index, index + 1, entry_bytes)[0])
            merkle.verify_inclusion(leaf, index, leaves, tree.inclusion_proof(index), root)
        db_bytes = sum(p.stat().st_size for p in where.glob("tree.db*"))
        store.close()
        seq_rate = _sequencer_rate(min(leaves, sequencer_records), entry_bytes, where)
    inc50, inc99 = _percentiles(full)
    old50, old99 = _percentiles(old)
    con50, con99 = _percentiles(cons)
    inclusion_cpu = [ns for i, ns in enumerate(cpu) if i % 3 == 0]  # timed in turn: full, old size, consistency
    cpu50, cpu99 = _percentiles(inclusion_cpu)
    return {
        "leaves": leaves,
        "entry_bytes": entry_bytes,
        "integration_seconds": round(integrate_s, 2),
        "integration_leaves_per_s": round(leaves / integrate_s),
        "sequencer_leaves_per_s": round(seq_rate),
        "sequencer_records": min(leaves, sequencer_records),
        "inclusion_p50_ms": round(inc50, 4),
        "inclusion_p99_ms": round(inc99, 4),
        "inclusion_cpu_p50_ms": round(cpu50, 4),
        "inclusion_cpu_p99_ms": round(cpu99, 4),
        "inclusion_old_size_p50_ms": round(old50, 4),
        "inclusion_old_size_p99_ms": round(old99, 4),
        "consistency_p50_ms": round(con50, 4),
        "consistency_p99_ms": round(con99, 4),
        "proof_node_reads_max": most,
        "two_log2_leaves": math.ceil(2 * math.log2(max(2, leaves))),
        "tree_db_mb": round(db_bytes / 2**20, 1),
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    for n in (int(a.replace("_", "")) for a in sys.argv[1:] or ["1000000"]):
        print(json.dumps(bench_merkle(n)), flush=True)
