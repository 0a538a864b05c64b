"""The Log contract on KafkaLog against a real single-node Kafka 4.x (the session's shared broker)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from infra.kafka import KafkaCluster
from ledger.adapters.kafka_log import KafkaLog
from ledger.ports import GroupLog, Log
from tests.contracts.log_contract import LogContract
from tests.service_fixtures import delete_topics, kafka_log_url

pytestmark = pytest.mark.integration


class TestKafkaLog(LogContract):
    CAPABILITIES = frozenset({GroupLog})

    @pytest.fixture
    def make_log(self, kafka_single: KafkaCluster) -> Iterator[Callable[[], Log]]:
        prefix = f"contract{uuid.uuid4().hex[:8]}"
        opened: list[KafkaLog] = []

        def make() -> Log:
            opened.append(KafkaLog.from_url(kafka_log_url(kafka_single, prefix), partitions=4))
            return opened[-1]

        yield make
        for log in opened:
            log.close()
        delete_topics(kafka_single, prefix)
