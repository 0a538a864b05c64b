"""Crash safety: a receipt once printed survives SIGKILL at any moment, and nothing half-done shows.

A child process records continuously and prints each receipt as it gets it; the test kills it
with SIGKILL at random moments — mid-append, mid-snapshot, mid-catch-up — many times, restarting
it each time, then checks the ledger as a whole.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select as sql_select

from ledger.bootstrap import open_kiroku
from ledger.catalog import tables as c
from ledger.catalog.tables import Catalog
from ledger.encoding.snapshots import load_snapshot
from ledger.processors.projector import Projector

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, random, sys
from datetime import datetime, timedelta, timezone
from ledger.bootstrap import open_kiroku
from ledger.catalog import reads
from ledger.bench.population import make_companies, municipalities, payroll
from ledger.domain.model import Principal, SubmissionRequest

home, seed, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# "inline": processing runs inside each record call (the embedded default); "deferred": the child
# appends, prints its receipts, then announces and runs the catch-up itself — so the parent can
# aim a kill at snapshot writing and catalog projection.
k = open_kiroku(home=home, inline_processing=(mode == "inline"))
k.processors.catch_up()
companies = make_companies(60, 30)
vendor = Principal.parse("vendor:crash")
for code in municipalities():
    agency = Principal.agency("municipality:" + code)
    with k.catalog.connect() as conn:
        if not reads.policy_accepts(conn, agency.name, "PAYROLL_REPORT"):
            k.commands.set_policy(agency, "PAYROLL_REPORT", True)
for co in companies:
    if not k.queries.grants(Principal.company(co.corporate_number)):
        k.commands.issue_grant(Principal.company(co.corporate_number), "vendor:crash", ["PAYROLL_REPORT", "WAGE_LEDGER"],
                               ["submit", "read"], datetime.now(timezone.utc) + timedelta(days=30))
        k.processors.catch_up()
        k.commands.request_enrollment(vendor, co.corporate_number, "PAYROLL_REPORT")
k.processors.catch_up()
print("ready", flush=True)
rng = random.Random(seed)
n = 0
while True:
    batch = []
    for _ in range(rng.choice([1, 1, 5, 20])):
        n += 1
        co = rng.choice(companies)
        period = str(2000 + (seed * 1000 + n) % 90)  # distinct filings across runs
        batch.append(SubmissionRequest(corporate_number=co.corporate_number, procedure="PAYROLL_REPORT",
                                       period=period, payload=payroll(co), idempotency_key=f"crash-{seed}-{n}"))
    for r in k.commands.record_many(vendor, batch, batch_size=50):
        if hasattr(r, "submission_id"):
            print(json.dumps({"id": r.submission_id, "digest": r.payload_digest, "position": r.position,
                              "targets": r.targets}), flush=True)
    if mode == "deferred":
        print("catching-up", flush=True)
        k.processors.catch_up()
"""


def _run_and_kill(home: Path, seed: int, rng: random.Random, receipts: list[dict], mode: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env = {k: v for k, v in env.items() if not k.startswith("KIROKU_")}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(home), str(seed), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=ROOT)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        ready = proc.stdout.readline()
        assert ready.strip() == b"ready", (ready, proc.stderr.read() if proc.stderr else b"")
        want = rng.randint(1, 40)
        got = 0
        while got < want and time.monotonic() < deadline:
            # Kill after a random number of receipts, at whatever point the child has reached.
            ready_fds, _, _ = select.select([proc.stdout], [], [], 5)
            if not ready_fds:
                break
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith(b"{"):
                receipts.append(json.loads(line))
                got += 1
            elif mode == "deferred" and got >= want // 2:
                break  # the child has just started catching up: kill it in the middle of that
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        # Let the child run on for a random moment so the kill lands anywhere in its cycle:
        # deciding, appending, writing snapshots or catching up.
        select.select([], [], [], rng.uniform(0, 0.25 if mode == "inline" else 0.03))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        # Whatever the child printed before it died was a receipt it had been given.
        for line in proc.stdout.read().splitlines():
            if line.startswith(b"{"):
                receipts.append(json.loads(line))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _processing_was_cut_short(home: Path) -> bool:
    """Whether the killed child left records its processors had not derived yet (read without
    opening the deployment, which would catch up)."""
    from ledger.adapters.sqlite_log import SqliteLog

    log = SqliteLog(home / "log.db")
    cat = Catalog(f"sqlite:///{home / 'catalog.db'}")
    try:
        with cat.connect() as conn:
            return any(log.end_offset(t, p) > cat.position(conn, "projector", t, p)
                       for t in ("kiroku.filings", "kiroku.notices") for p in range(log.partitions(t)))
    finally:
        log.close()
        cat.close()


def test_every_printed_receipt_survives_sigkill_and_nothing_half_written_is_visible(tmp_path: Path) -> None:
    home = tmp_path / "home"
    rng = random.Random(20270131)
    receipts: list[dict] = []
    interrupted = 0
    for round_ in range(12):
        _run_and_kill(home, round_, rng, receipts, "inline" if round_ % 2 else "deferred")
        interrupted += _processing_was_cut_short(home)
    assert len(receipts) >= 12
    print(f"rounds that cut processing short: {interrupted} of 12")
    # The kills landed in the middle of processing too (the log was ahead of what was derived).
    assert interrupted >= 1

    with open_kiroku(home=home) as k:  # a restart: catches up whatever the crashes left
        with k.catalog.connect() as conn:
            rows = {r["submission_id"]: dict(r) for r in conn.execute(sql_select(c.submissions)).mappings()}
            notices = conn.execute(sql_select(c.notices.c.agency_id, c.notices.c.seq, c.notices.c.submission_id)).all()
        # 1. Every receipt printed before a kill is in the ledger, with the same digest and position.
        for r in receipts:
            row = rows[r["id"]]
            assert row["payload_digest"] == r["digest"]
            assert f"{row['topic']}/{row['partition']}/{row['offset']}" == r["position"]
        # 2. Nothing half-written: every submission in the log is in the catalog, and every
        #    catalog snapshot exists and matches its digest.
        in_log = 0
        for p in range(k.log.partitions("kiroku.filings")):
            for rec in k.log.read("kiroku.filings", p, 0, 1_000_000):
                ev = k.codec.decode(rec.value)
                if ev.type == "SubmissionRecorded":
                    in_log += 1
                    assert ev.body["submission_id"] in rows
        assert in_log == len(rows)
        for row in rows.values():
            load_snapshot(k.registry, k.objects, row["snapshot_key"], row["payload_digest"])
        # A snapshot write cut short leaves only a temporary file, which the restart cleared away.
        assert list(Path(home, "objects").rglob(".*.tmp")) == []
        # 3. Notices: exactly one per (agency, submission target), each feed numbered 1..n.
        per_target = Counter((a, s) for a, _, s in notices)
        expected = Counter((t["agency_id"], sid) for sid, row in rows.items() for t in c.loads(row["targets"]))
        assert per_target == expected
        by_agency: dict[str, list[int]] = {}
        for agency, seq, _ in notices:
            by_agency.setdefault(agency, []).append(seq)
        for seqs in by_agency.values():
            assert sorted(seqs) == list(range(1, len(seqs) + 1))
        # 4. Replaying the log gives exactly the live catalog.
        rebuilt = Catalog(f"sqlite:///{tmp_path / 'replayed.db'}")
        projector = Projector(k.log, rebuilt, k.codec, k.registry, k.objects)
        while projector.run_once():
            pass
        assert dict(rebuilt.dump()) == dict(k.catalog.dump())
        rebuilt.close()
