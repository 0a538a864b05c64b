"""kafka-python against a real single-node Kafka 4.x: idempotence, transactions, topic configs."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

from infra.kafka import KafkaCluster

pytestmark = pytest.mark.integration


def create_topic(cluster: KafkaCluster, name: str, partitions: int, configs: dict[str, str] | None = None) -> None:
    admin = cluster.admin_client()
    try:
        admin.create_topics([NewTopic(name, partitions, cluster.replication_factor, topic_configs=configs or {})])
    finally:
        admin.close()


def consume_all(cluster: KafkaCluster, topic: str, expected: int, *, isolation_level: str = "read_uncommitted",
                timeout: float = 30.0) -> list:
    """Every record of ``topic`` from the beginning, polling until ``expected`` arrived or the deadline."""
    consumer = KafkaConsumer(bootstrap_servers=cluster.bootstrap, isolation_level=isolation_level,
                             enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list = []
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def end_offsets(cluster: KafkaCluster, topic: str, isolation_level: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=cluster.bootstrap, isolation_level=isolation_level, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def test_idempotent_producer_delivers_1000_keyed_messages_in_order_per_partition(
    kafka_single: KafkaCluster, topic_name: str
) -> None:
    create_topic(kafka_single, topic_name, partitions=3)
    producer = KafkaProducer(bootstrap_servers=kafka_single.bootstrap, enable_idempotence=True, acks="all",
                             linger_ms=5)
    keys = [f"company-{i:02d}".encode() for i in range(40)]
    futures = [
        producer.send(topic_name, key=keys[n % len(keys)], value=f"{n}".encode())
        for n in range(1000)
    ]
    producer.flush(timeout=30)
    producer.close()
    assert all(f.succeeded() for f in futures)

    records = consume_all(kafka_single, topic_name, 1000)

    assert len(records) == 1000
    partition_of_key: dict[bytes, set[int]] = defaultdict(set)
    by_partition: dict[int, list] = defaultdict(list)
    for record in records:
        partition_of_key[record.key].add(record.partition)
        by_partition[record.partition].append(record)
    assert all(len(parts) == 1 for parts in partition_of_key.values()), "a key landed in two partitions"
    for partition_records in by_partition.values():
        assert [r.offset for r in partition_records] == list(range(len(partition_records)))
        sent_order = [int(r.value) for r in partition_records]
        assert sent_order == sorted(sent_order), "records of a partition came back out of send order"
    assert sorted(int(r.value) for r in records) == list(range(1000))


def test_aborted_transaction_is_invisible_to_a_read_committed_consumer(
    kafka_single: KafkaCluster, topic_name: str
) -> None:
    create_topic(kafka_single, topic_name, partitions=1)
    producer = KafkaProducer(bootstrap_servers=kafka_single.bootstrap, transactional_id=f"tx-{topic_name}")
    producer.init_transactions()
    producer.begin_transaction()
    producer.send(topic_name, key=b"k", value=b"committed-1")
    producer.send(topic_name, key=b"k", value=b"committed-2")
    producer.commit_transaction()
    producer.begin_transaction()
    producer.send(topic_name, key=b"k", value=b"aborted")
    producer.flush()
    producer.abort_transaction()
    producer.begin_transaction()
    producer.send(topic_name, key=b"k", value=b"committed-3")
    producer.commit_transaction()
    producer.close()

    committed = consume_all(kafka_single, topic_name, 3, isolation_level="read_committed")
    everything = consume_all(kafka_single, topic_name, 4, isolation_level="read_uncommitted")

    assert [r.value for r in committed] == [b"committed-1", b"committed-2", b"committed-3"]
    assert b"aborted" in [r.value for r in everything]  # it was written, only hidden
    # The last stable offset is the log end once nothing is open (3 commit/abort markers included).
    assert end_offsets(kafka_single, topic_name, "read_committed") == {0: 7}


def test_topic_created_with_unlimited_retention_describes_those_configs_back(
    kafka_single: KafkaCluster, topic_name: str
) -> None:
    create_topic(kafka_single, topic_name, partitions=1,
                 configs={"retention.ms": "-1", "cleanup.policy": "delete"})
    admin = kafka_single.admin_client()
    try:
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic_name)], config_filter="all"
        )
    finally:
        admin.close()

    configs = described["topic"][topic_name]
    assert configs["retention.ms"]["value"] == "-1"
    assert configs["retention.ms"]["config_source"] == "DYNAMIC_TOPIC_CONFIG"  # the topic's own
    assert configs["cleanup.policy"]["value"] == "delete"
    assert configs["min.insync.replicas"]["value"] == "1"  # single node: the broker default
