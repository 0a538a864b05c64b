"""The notifier and the projector as separate processes (``kiroku process``) in consumer groups."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from infra.kafka import KafkaCluster
from infra.postgres import PostgresServer
from ledger import catalog as c
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
