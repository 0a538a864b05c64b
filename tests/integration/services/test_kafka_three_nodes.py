"""A real 3-node Kafka 4.x cluster survives losing one node: acks=all writes go on, the node rejoins."""

from __future__ import annotations

import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from infra.kafka import KafkaCluster
from infra.services import wait_until

pytestmark = pytest.mark.integration


def isr_by_partition(cluster: KafkaCluster, topic: str) -> dict[int, set[int]]:
    admin = cluster.admin_client(request_timeout_ms=5000)
    try:
        (described,) = admin.describe_topics([topic])
    finally:
        admin.close()
    return {p["partition_index"]: set(p["isr_nodes"]) for p in described["partitions"]}


def leaders(cluster: KafkaCluster, topic: str) -> dict[int, int]:
    admin = cluster.admin_client(request_timeout_ms=5000)
    try:
        (described,) = admin.describe_topics([topic])
    finally:
        admin.close()
    return {p["partition_index"]: p["leader_id"] for p in described["partitions"]}


def produce(cluster: KafkaCluster, topic: str, values: range) -> float:
    """Send with acks=all and wait for every acknowledgement; returns the seconds it took."""
    started = time.monotonic()
    producer = KafkaProducer(bootstrap_servers=cluster.bootstrap, acks="all", enable_idempotence=True)
    try:
        futures = [producer.send(topic, key=f"k{v % 10}".encode(), value=str(v).encode()) for v in values]
        producer.flush(timeout=60)
        for future in futures:
            future.get(timeout=0)  # raises the broker's error (e.g. NotEnoughReplicas) if any
    finally:
        producer.close()
    return time.monotonic() - started


def count_records(cluster: KafkaCluster, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=cluster.bootstrap, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def test_acks_all_writes_continue_with_one_of_three_nodes_killed_and_the_node_rejoins_the_isr(
    kafka_cluster: KafkaCluster, topic_name: str
) -> None:
    admin = kafka_cluster.admin_client()
    try:
        admin.create_topics([NewTopic(topic_name, 3, 3, topic_configs={"min.insync.replicas": "2"})])
    finally:
        admin.close()
    all_nodes = {n.node_id for n in kafka_cluster.nodes}
    wait_until(lambda: all(isr == all_nodes for isr in isr_by_partition(kafka_cluster, topic_name).values()),
               timeout=30, what="a fully replicated new topic")
    produce(kafka_cluster, topic_name, range(0, 100))

    victim = leaders(kafka_cluster, topic_name)[0]  # lose a partition leader, not just a follower
    kafka_cluster.kill(victim)
    seconds = produce(kafka_cluster, topic_name, range(100, 200))
    print(f"acks=all produce of 100 records with node {victim} killed took {seconds:.1f}s")

    survivors = all_nodes - {victim}
    wait_until(lambda: all(isr == survivors for isr in isr_by_partition(kafka_cluster, topic_name).values()),
               timeout=30, what=f"node {victim} to leave every ISR")
    assert count_records(kafka_cluster, topic_name) == 200

    restarted = time.monotonic()
    kafka_cluster.restart(victim)
    wait_until(lambda: all(isr == all_nodes for isr in isr_by_partition(kafka_cluster, topic_name).values()),
               timeout=60, what=f"node {victim} to rejoin every ISR")
    print(f"node {victim} restarted and back in every ISR after {time.monotonic() - restarted:.1f}s")
    produce(kafka_cluster, topic_name, range(200, 210))
    assert count_records(kafka_cluster, topic_name) == 210
