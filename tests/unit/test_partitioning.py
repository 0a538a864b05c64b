"""Kiroku's key → partition function gives the Java client's partitions (Kafka's default partitioner)."""

from __future__ import annotations

import pytest

from ledger.partitioning import partition_for

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("key", "partition"), [
    # dpkp/kafka-python test/test_partitioner.py: "compare with output from Kafka's
    # org.apache.kafka.clients.producer.Partitioner", 1000 partitions.
    (b"", 681), (b"a", 524), (b"ab", 434), (b"abc", 107), (b"123456789", 566), (b"\x00 ", 742),
])
def test_keys_land_where_the_java_client_puts_them(key: bytes, partition: int) -> None:
    assert partition_for(key, 1000) == partition
