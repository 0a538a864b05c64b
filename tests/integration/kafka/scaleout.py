"""Helpers for tests of the scale-out deployment: a deployment on the session's services, processor
child processes, and "what does the log hold" probes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.kafka import KafkaCluster
from infra.postgres import PostgresServer
from infra.services import kill_process_group, wait_until
from ledger.bootstrap import Kiroku, open_kiroku
from ledger.encoding.events import FILING_MISSING, NOTICES_ISSUED, SUBMISSION_RECORDED
from ledger.ports import FILINGS, NOTICES, Log
from tests.service_fixtures import kafka_log_url, postgres_schema_url

KIROKU = str(Path(sys.executable).with_name("kiroku"))
REPO = Path(__file__).resolve().parents[3]


@dataclass
class Deployment:
    """One scale-out deployment: a topic prefix on ``cluster``, a schema on ``server``, a home dir."""

    log_url: str
    catalog_url: str
    home: Path

    @classmethod
    def create(cls, cluster: KafkaCluster, server: PostgresServer, home: Path, **log_options: Any) -> Deployment:
        name = f"t{uuid.uuid4().hex[:10]}"
        return cls(kafka_log_url(cluster, name, **log_options), postgres_schema_url(server, name), home)

    def open(self, **overrides: Any) -> Kiroku:
        return open_kiroku(home=self.home, log=self.log_url, catalog=self.catalog_url, **overrides)

    def env(self) -> dict[str, str]:
        """The environment of a ``kiroku`` child process on this deployment (processors out of line)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KIROKU_")}
        env.update(KIROKU_HOME=str(self.home), KIROKU_LOG=self.log_url, KIROKU_CATALOG=self.catalog_url,
                   KIROKU_INLINE_PROCESSING="false")
        return env

    def spawn(self, role: str, member: str | None = None, *, until_idle: bool = False,
              freeze: tuple[str, int, Path] | None = None) -> subprocess.Popen[str]:
        """``kiroku process --role ROLE`` as a child process in its own process group.

        ``freeze=(point, n, flag)`` runs it through ``tests.integration.kafka.freeze``: it stops at
        its nth pass through ``point`` (``kafka-commit``, ``catalog-commit``), and ``flag``
        appears when it has.
        """
        argv = [KIROKU] if freeze is None else [sys.executable, "-m", "tests.integration.kafka.freeze"]
        argv += ["process", "--role", role, "--poll-interval", "0.05"]
        argv += ["--member", member] if member else []
        argv += ["--until-idle"] if until_idle else []
        env = self.env()
        if freeze is not None:
            point, n, flag = freeze
            env.update(FREEZE_AT=f"{point}:{n}", FREEZE_FLAG=str(flag), PYTHONPATH=str(REPO))
        log = (self.home / f"{role}-{member or 'x'}-{uuid.uuid4().hex[:4]}.log")
        self.home.mkdir(parents=True, exist_ok=True)
        with log.open("w") as out:
            return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True)


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL a child we started (its own process group) and reap it."""
    kill_process_group(process.pid, is_alive=lambda: process.poll() is None)
    process.wait(timeout=10)


def stop(process: subprocess.Popen[str], timeout: float = 30) -> int:
    """SIGTERM a child we started and wait for it; returns its exit code."""
    process.terminate()
    return process.wait(timeout=timeout)


def all_records(log: Log, topic: str) -> list[Any]:
    """Every committed record of a topic, partition by partition."""
    out = []
    for partition in range(log.partitions(topic)):
        offset = 0
        while batch := log.read(topic, partition, offset, 5000):
            out.extend(batch)
            offset = batch[-1].offset + 1
    return out


def notice_counts(k: Kiroku) -> Counter[tuple[str, str]]:
    """How many notices the log holds per (filing position, agency): exactly-once means all 1s."""
    counts: Counter[tuple[str, str]] = Counter()
    for rec in all_records(k.log, NOTICES):
        ev = k.codec.decode(rec.value)
        assert ev.type == NOTICES_ISSUED
        for notice in ev.body["notices"]:
            counts[(notice["filing_position"], ev.body["agency_id"])] += 1
    return counts


def expected_notices(k: Kiroku) -> Counter[tuple[str, str]]:
    """One notice per target of every recorded submission in the log."""
    counts: Counter[tuple[str, str]] = Counter()
    for rec in all_records(k.log, FILINGS):
        ev = k.codec.decode(rec.value)
        if ev.type == SUBMISSION_RECORDED:
            for target in ev.body["targets"]:
                counts[(str(rec.position), target["agency_id"])] += 1
        elif ev.type == FILING_MISSING:
            counts[(str(rec.position), ev.body["agency_id"])] += 1
    return counts


def wait(probe: Any, timeout: float, what: str) -> Any:
    """Poll ``probe`` until truthy (no sleeps in tests: a deadline instead)."""
    return wait_until(probe, timeout=timeout, what=what, interval=0.1)
