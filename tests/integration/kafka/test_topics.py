"""Kiroku's Kafka topics (issue 4, item 2): created at start-up when missing, refused when they could lose history."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from infra.kafka import KafkaCluster
from ledger.adapters.kafka_log import KafkaLog
from ledger.adapters.kafka_topics import topic_configs
from ledger.bootstrap import open_kiroku
from ledger.errors import ConfigurationError, Unavailable
from ledger.ports import ACCESS, FILINGS, NOTICES, TOPICS
from tests.service_fixtures import delete_topics, kafka_log_url

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix(kafka_single: KafkaCluster) -> Iterator[str]:
    name = f"topics{uuid.uuid4().hex[:8]}"
    yield name
    delete_topics(kafka_single, name)


def describe(cluster: KafkaCluster, prefix: str) -> dict[str, tuple[int, int, dict[str, str]]]:
    """Per ledger topic: (partitions, replication factor, configs)."""
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = cluster.admin_client()
    try:
        names = [f"{prefix}.{t}" for t in TOPICS]
        topics = {t["name"]: t for t in admin.describe_topics(names)}
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names], config_filter="all")
    finally:
        admin.close()
    return {name.removeprefix(f"{prefix}."): (len(topics[name]["partitions"]), len(topics[name]["partitions"][0]["replica_nodes"]),
                                              {k: v["value"] for k, v in configs["topic"][name].items()})
            for name in names}


def create(cluster: KafkaCluster, name: str, partitions: int, configs: dict[str, str]) -> None:
    admin = cluster.admin_client()
    try:
        admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 1, "configs": configs}})
        admin.wait_for_topics([name])
    finally:
        admin.close()


def test_missing_ledger_topics_are_created_with_unlimited_retention_and_no_compaction(
    kafka_single: KafkaCluster, prefix: str
) -> None:
    log = KafkaLog.from_url(kafka_log_url(kafka_single, prefix), partitions=3)
    log.close()
    described = describe(kafka_single, prefix)
    assert set(described) == set(TOPICS)
    for partitions, replication, configs in described.values():
        assert (partitions, replication) == (3, 1)  # a single broker: replication factor min(3, brokers)
        assert configs["retention.ms"] == "-1" and configs["retention.bytes"] == "-1"
        assert configs["cleanup.policy"] == "delete" and configs["min.insync.replicas"] == "1"


def test_an_existing_topic_keeps_its_partition_count_and_the_missing_ones_are_added(
    kafka_single: KafkaCluster, prefix: str
) -> None:
    create(kafka_single, f"{prefix}.{FILINGS}", 2, topic_configs(1))
    log = KafkaLog.from_url(kafka_log_url(kafka_single, prefix), partitions=5)
    try:
        assert (log.partitions(FILINGS), log.partitions(NOTICES), log.partitions(ACCESS)) == (2, 5, 5)
    finally:
        log.close()


@pytest.mark.parametrize("setting, value", [
    ("cleanup.policy", "compact"),
    ("cleanup.policy", "compact,delete"),
    ("retention.ms", "604800000"),
    ("retention.bytes", "1073741824"),
])
def test_kiroku_refuses_to_start_on_a_ledger_topic_that_could_lose_history_naming_the_setting(
    kafka_single: KafkaCluster, prefix: str, tmp_path: object, setting: str, value: str
) -> None:
    create(kafka_single, f"{prefix}.{NOTICES}", 4, {**topic_configs(1), setting: value})
    with pytest.raises(ConfigurationError) as err:
        open_kiroku(home=tmp_path, log=kafka_log_url(kafka_single, prefix))
    assert err.value.code == "unsafe_topic" and err.value.field == setting and err.value.got == value
    assert f"{prefix}.{NOTICES}" in err.value.message and f"{setting}={value}" in err.value.message


def test_brokers_unreachable_at_start_up_are_a_retriable_error_naming_the_setting(tmp_path: object) -> None:
    from infra.services import free_port

    with pytest.raises(Unavailable) as err:
        KafkaLog.from_url(f"kafka://127.0.0.1:{free_port()}?timeout_ms=1500", partitions=4)
    assert err.value.retriable and err.value.field == "KIROKU_LOG" and err.value.code == "log_unavailable"
