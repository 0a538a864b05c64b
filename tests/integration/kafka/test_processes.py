"""The notifier and the projector as separate processes (``kiroku process``) in consumer groups."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from infra.kafka import KafkaCluster
from infra.postgres import PostgresServer
from ledger.adapters import kafka_log
from ledger.catalog import tables as c
from ledger.processors.standalone import ProcessorLoop
from tests.factories import CHIYODA, SAPPORO, corp, payroll, payroll_line, withholding
from tests.integration.helpers import TAX_OFFICE, agency, company, enroll_payroll, enroll_to, municipality
from tests.integration.kafka.scaleout import Deployment, expected_notices, notice_counts, stop, wait

pytestmark = pytest.mark.integration


def count(k, table) -> int:  # type: ignore[no-untyped-def]
    with k.catalog.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_two_notifiers_and_two_projectors_as_processes_notify_and_project_every_filing_once(
    kafka_single: KafkaCluster, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    d = Deployment.create(kafka_single, postgres_server, tmp_path / "home")
    with d.open() as k:  # enrollments decided and projected inline
        enroll_payroll(k, corp(1), CHIYODA, SAPPORO)
        for n in range(2, 12):
            enroll_to(k, corp(n), "WITHHOLDING_SLIP", TAX_OFFICE)
    with d.open(inline_processing=False) as k:  # a service process that leaves processing to others
        receipts = [company(k, corp(1)).record(corp(1), "PAYROLL_REPORT", "2026", payroll([payroll_line(1), payroll_line(2, SAPPORO)]))]
        receipts += [company(k, corp(n)).record(corp(n), "WITHHOLDING_SLIP", "2026", withholding()) for n in range(2, 12)]
        assert count(k, c.submissions) == 0  # nothing derived yet

    processes = [d.spawn("notifier", "n1"), d.spawn("notifier", "n2"), d.spawn("projector", "p1"), d.spawn("projector", "p2")]
    try:
        with d.open(inline_processing=False) as k:
            wait(lambda: count(k, c.submissions) == len(receipts) and count(k, c.notices) == 12, 60,
                 "the processes to notify and project every filing")
            feed = agency(k, TAX_OFFICE).notices()
            assert [n.seq for n in feed] == list(range(1, 11))
            assert sorted(n.submission_id for n in feed) == sorted(r.submission_id for r in receipts[1:])
            assert [n.lines for n in agency(k, municipality(SAPPORO)).notices()] == [[2]]
            assert notice_counts(k) == expected_notices(k)  # each notice exactly once in the log
    finally:
        codes = [stop(p) for p in processes]
    assert codes == [0, 0, 0, 0], [p.args for p in processes]


def test_a_drain_processes_what_another_process_committed_just_before_it(
    kafka_single: KafkaCluster, postgres_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads reuse a partition's end offset for a few ms; a drain's last pass asks again first."""
    monkeypatch.setattr(kafka_log, "FRESH_S", 3600.0)  # here a cached end offset never expires by itself
    d = Deployment.create(kafka_single, postgres_server, tmp_path / "home")
    with d.open() as k:
        enroll_payroll(k, corp(1), CHIYODA)
    with d.open(inline_processing=False) as worker, d.open(inline_processing=False) as recorder:
        loop = ProcessorLoop(worker, "notifier", member="drain-test")
        try:
            wait(lambda: loop.run_once() is not None, 60, "the notifier's partitions to be assigned")
            loop.run(until_idle=True)  # caught up: its view of where the filings end is now cached
            before = loop.progress.processed
            company(recorder, corp(1)).record(corp(1), "PAYROLL_REPORT", "2026", payroll([payroll_line(1)]))
            loop.request_drain()
            loop.run()
            assert loop.progress.processed == before + 1
        finally:
            loop.close()
