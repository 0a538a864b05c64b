"""Topics just created are used only once described with their partitions: a broker that has not
applied the new metadata yet describes them with none (seen on the 3-node cluster in CI, where it
left the log with zero partitions to route keys to)."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.adapters.kafka_topics import described_with_partitions
from ledger.errors import Unavailable


class Answers:
    """kafka-python's ``KafkaAdminClient.describe_topics`` as the test scripts it: one answer per call."""

    def __init__(self, *answers: list[dict[str, Any]]) -> None:
        self.answers, self.calls = list(answers), 0

    def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]


def topic(name: str, partitions: int, error_code: int = 0) -> dict[str, Any]:
    return {"name": name, "error_code": error_code, "partitions": [{"partition": p} for p in range(partitions)]}


def test_a_topic_described_without_partitions_is_asked_about_again() -> None:
    admin = Answers([topic("a", 4), topic("b", 0)], [topic("a", 4), topic("b", 0, error_code=3)], [topic("a", 4), topic("b", 4)])
    found = described_with_partitions(admin, ["a", "b"], timeout_ms=10_000)
    assert admin.calls == 3
    assert {name: len(t["partitions"]) for name, t in found.items()} == {"a": 4, "b": 4}


def test_topics_that_never_show_partitions_give_a_retriable_error_naming_them() -> None:
    admin = Answers([topic("a", 4), topic("b", 0)])
    with pytest.raises(Unavailable) as err:
        described_with_partitions(admin, ["a", "b"], timeout_ms=200)
    assert (err.value.field, err.value.got, err.value.code, err.value.retriable) == ("KIROKU_LOG", "b", "log_unavailable", True)
    assert "did not describe their partitions within 0.2s" in err.value.message
