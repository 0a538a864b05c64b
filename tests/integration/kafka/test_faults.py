"""Fault tests of the scale-out deployment (issue 4, item 6) on a real 3-node Kafka cluster + PostgreSQL.

- A broker SIGKILLed during a bulk ingest: every receipt given before, during and after is readable
  afterwards, no notice is lost or duplicated, and the restarted broker rejoins every ISR.
- The notifier process SIGKILLed with a transaction open, the projector process SIGKILLed while
  applying a batch: after a restart, no notice and no catalog row is missing or doubled.
- A broker unreachable at record time: a clear retriable error, never a receipt.

Kill points are random (a random amount of progress to wait for, observed by polling); nothing
sleeps for a fixed time. The notifier's kill is made certain to land inside a transaction by a
fault-injection point (``tests/integration/kafka/freeze.py``: it stops just before its first or
second commit) and the broker is asked whether that transaction is open before the SIGKILL —
waiting for a notice record to appear and freezing the process then often came after the commit.
The projector is frozen the same way inside a catalog transaction that has written its batch.
"""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import func, select, text

from infra import kafka as kafka_infra
from infra.kafka import KafkaCluster
from infra.postgres import PostgresServer
from infra.services import wait_until
from ledger.catalog import tables as c
from ledger.encoding.events import SUBMISSION_RECORDED
from ledger.errors import Unavailable
from ledger.ports import FILINGS, NOTICES, Position
from ledger.processors.projector import Projector
from tests.factories import corp, withholding
from tests.integration.helpers import TAX_OFFICE, agency, company, enroll_to
from tests.integration.kafka.scaleout import Deployment, expected_notices, kill, notice_counts, wait
from tests.service_fixtures import postgres_schema_url

pytestmark = pytest.mark.integration

# One filing per company and year: the eight payment years a 源泉徴収票 may be recorded for now (its
# 7-year retention not over, none after next year — ledger.domain.procedures.validate_filing_period).
YEARS = [str(y) for y in range(datetime.now(UTC).year - 6, datetime.now(UTC).year + 2)]


def heal(cluster: KafkaCluster) -> None:
    """Start any node a previous test left dead, and wait until all of them serve."""
    for node in cluster.nodes:
        if not node.alive:
            cluster.restart(node.node_id)
    cluster.wait_ready()


def count(k: Any, table: Any) -> int:
    with k.catalog.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def ledger_isr(cluster: KafkaCluster, prefix: str) -> dict[tuple[str, int], set[int]]:
    admin = cluster.admin_client(request_timeout_ms=5000)
    try:
        topics = [t for t in admin.list_topics() if t.startswith(prefix)]
        return {(t["name"], p["partition_index"]): set(p["isr_nodes"])
                for t in admin.describe_topics(topics) for p in t["partitions"]}
    finally:
        admin.close()


def leader_of(cluster: KafkaCluster, topic: str, partition: int) -> int:
    admin = cluster.admin_client(request_timeout_ms=5000)
    try:
        (described,) = admin.describe_topics([topic])
        return next(p["leader_id"] for p in described["partitions"] if p["partition_index"] == partition)
    finally:
        admin.close()


def ends(cluster: KafkaCluster, topic: str, isolation_level: str) -> dict[int, int]:
    """End offsets as a read_committed (last stable offset) or read_uncommitted (high watermark) reader sees them."""
    consumer = KafkaConsumer(bootstrap_servers=cluster.bootstrap, isolation_level=isolation_level, group_id=None)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def open_transactions_with_writes(k: Any) -> int:
    """Other sessions of the catalog's database inside a transaction that has written something."""
    with k.catalog.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND state = 'idle in transaction' AND backend_xid IS NOT NULL")).scalar_one())


def prefix_of(d: Deployment) -> str:
    return d.log_url.split("prefix=")[1].split("&")[0]


def enroll(d: Deployment, companies: int) -> None:
    """Enroll ``companies`` for WITHHOLDING_SLIP to the tax office, accepted (processed inline)."""
    with d.open() as k:
        for n in range(1, companies + 1):
            enroll_to(k, corp(n), "WITHHOLDING_SLIP", TAX_OFFICE)


def record_backlog(d: Deployment, companies: int, years: list[str]) -> int:
    """Record a filing per company and year, leaving the processing to processor processes."""
    with d.open(inline_processing=False) as k:
        for year in years:
            for n in range(1, companies + 1):
                company(k, corp(n)).record(corp(n), "WITHHOLDING_SLIP", year, withholding())
    return companies * len(years)


@pytest.fixture
def cluster(kafka_cluster: KafkaCluster) -> KafkaCluster:
    heal(kafka_cluster)
    return kafka_cluster


# -- a broker dies during a bulk ingest -------------------------------------------------------------------


def test_a_broker_killed_during_bulk_ingest_loses_no_receipt_and_no_notice_and_rejoins(
    cluster: KafkaCluster, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    d = Deployment.create(cluster, postgres_server, tmp_path / "home", timeout_ms=60000)
    companies = 8  # 64 filings, so the kill (after 5 to 30) comes in the middle of the ingest
    with d.open() as k:
        for n in range(1, companies + 1):
            enroll_to(k, corp(n), "WITHHOLDING_SLIP", TAX_OFFICE)
        victim = leader_of(cluster, f"{prefix_of(d)}{FILINGS}", k.log.partition_for(FILINGS, corp(1).encode()))
        receipts: list[Any] = []
        kill_after = random.randint(5, 30)
        killed = threading.Event()
        at_kill: list[int] = []  # how many receipts had been given when the broker was gone

        def killer() -> None:  # concurrent with the ingest, so a write can be in flight when it dies
            wait_until(lambda: len(receipts) >= kill_after, timeout=120, what=f"{kill_after} receipts before the kill",
                       interval=0.002)
            cluster.kill(victim)
            at_kill.append(len(receipts))
            killed.set()

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        for year in YEARS:
            for n in range(1, companies + 1):
                receipts.append(company(k, corp(n)).record(corp(n), "WITHHOLDING_SLIP", year, withholding()))
        thread.join(60)
        assert killed.is_set() and not cluster.node(victim).alive
        during = len(receipts) - at_kill[0]  # receipts issued after the broker was dead

        cluster.restart(victim)
        wait(lambda: all(isr == {1, 2, 3} for isr in ledger_isr(cluster, prefix_of(d)).values()), 90,
             "the restarted broker to rejoin the ISR of every ledger partition")

        for receipt in receipts:
            pos = Position.parse(str(receipt.position))
            (stored,) = k.log.read(pos.topic, pos.partition, pos.offset, 1)
            event = k.codec.decode(stored.value)
            assert event.type == SUBMISSION_RECORDED and event.body["submission_id"] == receipt.submission_id
        assert during > 0
        assert set(notice_counts(k).values()) == {1} and notice_counts(k) == expected_notices(k)
        assert count(k, c.submissions) == len(receipts) == companies * len(YEARS)
        feed = agency(k, TAX_OFFICE).notices(limit=1000)
        assert [n.seq for n in feed] == list(range(1, len(receipts) + 1))


# -- processors die -------------------------------------------------------------------------------------


def test_the_notifier_killed_mid_transaction_and_the_projector_mid_batch_resume_without_loss_or_duplicates(
    cluster: KafkaCluster, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    d = Deployment.create(cluster, postgres_server, tmp_path / "home")
    enroll(d, companies=20)
    filings = record_backlog(d, companies=20, years=YEARS[:2])
    notices_topic = f"{prefix_of(d)}{NOTICES}"

    def transaction_open() -> bool:  # last stable offset behind the high watermark somewhere
        stable, high = ends(cluster, notices_topic, "read_committed"), ends(cluster, notices_topic, "read_uncommitted")
        return any(stable[p] < high[p] for p in high)

    # The notifier, frozen just before its first or second commit (its notices produced, its
    # offsets added to the transaction), is SIGKILLed once the broker shows the transaction open.
    flag = tmp_path / "frozen"
    notifier = d.spawn("notifier", "notifier-1", freeze=("kafka-commit", random.randint(1, 2), flag))
    try:
        wait(lambda: flag.exists() or notifier.poll() is not None, 60, "the notifier to reach its commit")
        assert notifier.poll() is None, f"the notifier exited ({notifier.returncode}) before its commit"
        wait(transaction_open, 30, "the frozen transaction's notices on the broker, uncommitted")
    finally:
        kill(notifier)
    assert transaction_open()  # the kill left it open: the restarted notifier must fence and abort it

    # The projector, frozen just before it moves its position in kiroku.filings (its first or
    # second batch there: rows written, snapshots stored, nothing committed), is SIGKILLed while
    # PostgreSQL shows its transaction open with writes.
    flag = tmp_path / "projector-frozen"
    projector = d.spawn("projector", "projector-1", freeze=("catalog-commit", random.randint(1, 2), flag))
    with d.open(inline_processing=False) as k:
        try:
            wait(lambda: flag.exists() or projector.poll() is not None, 60, "the projector to reach its commit")
            assert projector.poll() is None, f"the projector exited ({projector.returncode}) before its commit"
            assert open_transactions_with_writes(k) == 1
        finally:
            kill(projector)
        wait(lambda: open_transactions_with_writes(k) == 0, 30, "PostgreSQL to roll the killed batch back")
        assert count(k, c.submissions) < filings  # the frozen batch's rows are not there

    # Restarted under the same names, both finish the work: nothing lost, nothing twice.
    notifier = d.spawn("notifier", "notifier-1", until_idle=True)
    assert notifier.wait(120) == 0
    projector = d.spawn("projector", "projector-1", until_idle=True)
    assert projector.wait(120) == 0
    with d.open(inline_processing=False) as k:
        counts = notice_counts(k)
        assert counts == expected_notices(k) and set(counts.values()) == {1} and len(counts) == filings
        assert count(k, c.submissions) == filings and count(k, c.notices) == filings
        # The catalog is exactly what one uninterrupted projector derives from the log.
        fresh = c.Catalog(postgres_schema_url(postgres_server, f"r{prefix_of(d).rstrip('.')}"))
        try:
            rebuilt = Projector(k.log, fresh, k.codec, k.registry, k.objects)
            while rebuilt.run_once():
                pass
            assert dict(fresh.dump()) == dict(k.catalog.dump())
        finally:
            fresh.close()


# -- a broker is unreachable ------------------------------------------------------------------------------


def test_a_broker_unreachable_at_record_time_gives_a_retriable_error_and_never_a_receipt(
    kafka_jars: Path, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    broker = kafka_infra.start_single(tmp_path / "kafka")
    try:
        d = Deployment.create(broker, postgres_server, tmp_path / "home", timeout_ms=3000)
        with d.open() as k:
            enroll_to(k, corp(1), "WITHHOLDING_SLIP", TAX_OFFICE)
            before = count(k, c.submissions)
            broker.kill(1)
            with pytest.raises(Unavailable) as err:
                company(k, corp(1)).record(corp(1), "WITHHOLDING_SLIP", "2026", withholding(), idempotency_key="run-1")
            assert err.value.retriable and err.value.code == "log_unavailable" and err.value.field == "KIROKU_LOG"
            assert "no receipt" in err.value.message
            broker.restart(1)
            receipt = company(k, corp(1)).record(corp(1), "WITHHOLDING_SLIP", "2026", withholding(), idempotency_key="run-1")
            assert count(k, c.submissions) == before + 1  # the retry recorded it once; the failed call left nothing
            pos = Position.parse(str(receipt.position))
            assert k.codec.decode(k.log.read(FILINGS, pos.partition, pos.offset, 1)[0].value).body["submission_id"] == receipt.submission_id
    finally:
        broker.stop()


def test_on_the_cluster_ledger_topics_get_three_replicas_and_two_must_acknowledge(cluster: KafkaCluster) -> None:
    from ledger.adapters.kafka_log import KafkaLog
    from tests.integration.kafka.test_topics import describe
    from tests.service_fixtures import delete_topics, kafka_log_url

    prefix = f"rf{uuid.uuid4().hex[:8]}"
    KafkaLog.from_url(kafka_log_url(cluster, prefix), partitions=2).close()
    try:
        for partitions, replication, configs in describe(cluster, prefix).values():
            assert (partitions, replication, configs["min.insync.replicas"]) == (2, 3, "2")
            assert (configs["retention.ms"], configs["cleanup.policy"]) == ("-1", "delete")
    finally:
        delete_topics(cluster, prefix)
