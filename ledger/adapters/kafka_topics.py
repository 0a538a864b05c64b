"""The ledger's Kafka topics: created at start-up when missing, refused when they could lose history.

DESIGN.md: ``kiroku.filings``, ``kiroku.notices`` and ``kiroku.access`` keep every record forever —
``retention.ms=-1``, ``retention.bytes=-1``, ``cleanup.policy=delete`` (compaction would keep only the
latest record per key and destroy the ledger's history) — and on a cluster they are replicated three
times with ``min.insync.replicas=2``, so an ``acks=all`` write survives the loss of any one broker.
A topic that already exists keeps its partition count (keys keep their partition) but must have
unlimited retention and no compaction; otherwise Kiroku refuses to start, naming the setting.
"""

from __future__ import annotations

import time
from typing import Any

from ledger.adapters.kafka_client import MAX_RECORD_BYTES, KafkaOptions, import_kafka
from ledger.errors import ConfigurationError, KirokuError, Unavailable
from ledger.ports import TOPICS

#: What each setting must be on a ledger topic, and why (for the refusal message).
REQUIRED = {
    "cleanup.policy": ("delete", "compaction keeps only the latest record per key and destroys the ledger's history"),
    "retention.ms": ("-1", "records must be kept for the whole legal retention period, i.e. never expire"),
    "retention.bytes": ("-1", "records must never be deleted to stay under a size limit"),
}


def topic_configs(replication: int) -> dict[str, str]:
    """The configs Kiroku creates its topics with."""
    return {
        "cleanup.policy": "delete",
        "retention.ms": "-1",
        "retention.bytes": "-1",
        "min.insync.replicas": "2" if replication >= 3 else "1",
        "unclean.leader.election.enable": "false",
        "max.message.bytes": str(MAX_RECORD_BYTES),
    }


def ensure_topics(options: KafkaOptions, partitions: int) -> dict[str, int]:
    """Create missing ledger topics, check existing ones; returns each logical topic's partitions."""
    kafka = import_kafka()
    try:
        admin = kafka.KafkaAdminClient(
            bootstrap_servers=list(options.bootstrap), client_id="kiroku-topics",
            bootstrap_timeout_ms=options.timeout_ms, request_timeout_ms=options.timeout_ms,
        )
    except kafka.errors.KafkaError as exc:
        raise _unreachable(options, exc) from exc
    try:
        return _ensure(admin, kafka, options, partitions)
    except kafka.errors.KafkaError as exc:
        raise _unreachable(options, exc) from exc
    finally:
        admin.close()


def _ensure(admin: Any, kafka: Any, options: KafkaOptions, partitions: int) -> dict[str, int]:
    names = {options.prefix + t: t for t in TOPICS}
    brokers = len(admin.describe_cluster()["brokers"])
    replication = options.replication or min(3, brokers)
    if replication > brokers:
        raise ConfigurationError(
            f"KIROKU_LOG asks for replication factor {replication} but the cluster has {brokers} broker(s)",
            field="replication", expected=f"at most {brokers}", got=replication, code="bad_setting")
    found = {t["name"]: t for t in admin.describe_topics(list(names)) if t.get("error_code", 0) == 0}
    missing = [name for name in names if name not in found]
    if missing:
        configs = topic_configs(replication)
        result = admin.create_topics(
            {name: {"num_partitions": partitions, "replication_factor": replication, "configs": configs}
             for name in missing},
            timeout_ms=options.timeout_ms, raise_errors=False)
        for topic in result["topics"]:
            error = kafka.errors.for_code(topic["error_code"])
            if error is not kafka.errors.NoError and error is not kafka.errors.TopicAlreadyExistsError:
                raise ConfigurationError(
                    f"Kafka refused to create topic {topic['name']}: {error.__name__} {topic.get('error_message') or ''}",
                    field="KIROKU_LOG", expected="a topic Kiroku may create", got=error.__name__, code="topic_refused")
        admin.wait_for_topics(list(names), timeout_ms=options.timeout_ms)
        found = described_with_partitions(admin, list(names), options.timeout_ms)
    check_topics(admin, kafka, list(names))
    return {names[name]: len(found[name]["partitions"]) for name in names}


def described_with_partitions(admin: Any, topics: list[str], timeout_ms: int) -> dict[str, Any]:
    """``describe_topics`` until every topic is described with its partitions.

    Right after creation, a broker that has not applied the new topics' metadata yet can describe
    one with no partitions (seen on the 3-node cluster); taken at its word, the log would have had
    zero partitions to route keys to.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        found = {t["name"]: t for t in admin.describe_topics(topics)}
        pending = [name for name in topics
                   if name not in found or found[name].get("error_code", 0) != 0 or not found[name]["partitions"]]
        if not pending:
            return found
        if time.monotonic() > deadline:
            raise Unavailable(
                f"Kafka created topics {', '.join(pending)} but did not describe their partitions within "
                f"{timeout_ms / 1000:g}s; nothing was recorded — retry later",
                field="KIROKU_LOG", expected="topics with partitions", got=", ".join(pending), code="log_unavailable")
        time.sleep(0.05)


def check_topics(admin: Any, kafka: Any, topics: list[str]) -> None:
    """Refuse topics whose retention or cleanup policy could delete ledger records."""
    resources = [kafka.admin.ConfigResource(kafka.admin.ConfigResourceType.TOPIC, name) for name in topics]
    described = admin.describe_configs(resources, config_filter="all")["topic"]
    for name in topics:
        configs = described[name]
        for setting, (wanted, why) in REQUIRED.items():
            value = str(configs[setting]["value"])
            unsafe = "compact" in value if setting == "cleanup.policy" else value != wanted
            if unsafe:
                raise ConfigurationError(
                    f"Kafka topic {name} has {setting}={value}; a ledger topic needs {setting}={wanted}: {why}. "
                    f"Kiroku will not start on it — fix the topic (kafka-configs --alter --add-config {setting}={wanted}) "
                    "or point KIROKU_LOG elsewhere.",
                    field=setting, expected=wanted, got=value, code="unsafe_topic")


def _unreachable(options: KafkaOptions, exc: BaseException) -> KirokuError:
    from ledger.errors import Unavailable

    return Unavailable(
        f"cannot reach the Kafka brokers at {options.servers} ({type(exc).__name__}: {exc})",
        field="KIROKU_LOG", expected="reachable Kafka brokers", got=options.servers, code="log_unavailable")
