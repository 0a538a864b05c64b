"""kafka-python as Kiroku configures it: the ``kafka://`` URL's options, the lazy import, and the
read stream ``KafkaLog`` serves reads from (:mod:`ledger.adapters.kafka_log` is the adapter).

Its names are public because they are the Kafka adapter family's shared internals:
:mod:`~ledger.adapters.kafka_log` and :mod:`~ledger.adapters.kafka_topics` use them. Nothing
outside ``ledger.adapters.kafka_*`` should."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from ledger.errors import ConfigurationError

log = logging.getLogger(__name__)


def discard_producer(producer: Any, what: str) -> None:
    """Close a producer being thrown away after a failure, never raising: kafka-python's close
    flushes first and can time out on a dead broker, which would hide the error that matters
    (an open transaction of a discarded producer is aborted on the broker's side)."""
    try:
        producer.close(timeout=0)
    except Exception as exc:  # noqa: BLE001 - whatever close says, the producer is gone
        log.warning("closing %s after a failure: %s", what, exc)


#: Largest record Kiroku writes (a payroll report of a very large employer); topics are created
#: with ``max.message.bytes`` set to this, the producer's request limit matches it.
MAX_RECORD_BYTES = 16 * 1024 * 1024
_NAME = re.compile(r"[A-Za-z0-9._-]*")
_OPTIONS = {"prefix", "timeout_ms", "replication"}
#: Records (or bytes) fetched ahead per partition before the reader stops fetching it until
#: they are read: bounds the memory a partition nobody reads at the moment can take.
READ_AHEAD = 2000
READ_AHEAD_BYTES = 8 * 1024 * 1024
#: Read streams (consumers) one log keeps: one per processor reading in the same process.
READ_STREAMS = 3


@dataclass(frozen=True)
class KafkaOptions:
    """What a ``kafka://`` URL says: brokers, namespace, timeouts, replication."""

    bootstrap: tuple[str, ...]
    prefix: str = ""
    timeout_ms: int = 30_000
    replication: int | None = None

    @property
    def servers(self) -> str:
        return ",".join(self.bootstrap)

    @classmethod
    def from_url(cls, url: str) -> KafkaOptions:
        """Parse ``kafka://h:p[,h:p][?prefix=…&timeout_ms=…&replication=…]``, naming what is wrong."""
        def bad(message: str, got: Any, expected: str) -> ConfigurationError:
            return ConfigurationError(f"KIROKU_LOG={url}: {message}", field="KIROKU_LOG", expected=expected,
                                      got=got, code="bad_setting")

        if not url.startswith("kafka://"):
            raise bad("not a kafka:// URL", url, "kafka://HOST:PORT[,HOST:PORT]")
        rest = url.removeprefix("kafka://")
        hosts, _, query = rest.partition("?")
        hosts = hosts.rstrip("/")
        servers = tuple(h.strip() for h in hosts.split(",") if h.strip())
        if not servers:
            raise bad("no broker given", hosts, "kafka://HOST:PORT[,HOST:PORT]")
        for server in servers:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise bad(f"broker {server!r} is not HOST:PORT", server, "HOST:PORT with a port number")
        values = dict(parse_qsl(query, keep_blank_values=True))
        unknown = sorted(set(values) - _OPTIONS)
        if unknown:
            raise bad(f"unknown option {unknown[0]!r}", unknown[0], "one of " + ", ".join(sorted(_OPTIONS)))
        prefix = values.get("prefix", "")
        if not _NAME.fullmatch(prefix) or len(prefix) > 100:
            raise bad("prefix may use only letters, digits, '.', '_' and '-'", prefix, "[A-Za-z0-9._-]{0,100}")
        try:
            timeout_ms = int(values.get("timeout_ms", 30_000))
            replication = int(values["replication"]) if "replication" in values else None
        except ValueError as exc:
            raise bad(f"a number was expected: {exc}", query, "timeout_ms and replication as integers") from exc
        if timeout_ms < 1000:
            raise bad("timeout_ms must be at least 1000", timeout_ms, ">= 1000")
        if replication is not None and not 1 <= replication <= 7:
            raise bad("replication must be between 1 and 7", replication, "1..7")
        return cls(servers, prefix, timeout_ms, replication)


def import_kafka() -> Any:
    """kafka-python, imported on first use so that the embedded deployment never needs it."""
    try:
        import kafka
        import kafka.admin
        import kafka.errors
        import kafka.structs
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigurationError(
            "KIROKU_LOG=kafka://… needs kafka-python: pip install 'kiroku-ledger[kafka]'",
            field="KIROKU_LOG", expected="kafka-python installed", got="not installed", code="adapter_unavailable",
        ) from exc
    return kafka


def quick_metadata(cluster: Any) -> None:
    """Let a new client fetch metadata for a topic right after bootstrap.

    kafka-python 3.0.12 does not pass ``retry_backoff_ms`` on to its ``ClusterMetadata``, which keeps
    the default 100 ms between two metadata requests; the first use of each topic by a new client
    then waits that long. Harmless if the attribute is not there (another version).
    """
    config = getattr(cluster, "config", None)
    if isinstance(config, dict) and "retry_backoff_ms" in config:
        config["retry_backoff_ms"] = 10


class ReadStream:
    """One ``read_committed`` consumer, assigned every partition it has been asked for, with what
    its polls fetched ahead kept per partition until read.

    A caller reading the partitions in turn then costs one fetch for all of them, not a
    reassignment and a round trip per read. A partition's read-ahead is paused past
    :data:`READ_AHEAD` records or :data:`READ_AHEAD_BYTES`, so one nobody reads stays bounded.
    """

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.at: dict[tuple[str, int], int] = {}  # the offset the next read of a partition continues from
        self.buffered: dict[Any, list[Any]] = {}  # fetched, not yet returned, per TopicPartition
        self.used = 0.0

    def start_at(self, tp: Any, key: tuple[str, int], offset: int) -> None:
        if tp not in self.consumer.assignment():
            self.consumer.assign([*self.consumer.assignment(), tp])
            self.at.pop(key, None)
        if self.at.get(key) != offset:  # not where the last read left off: start over there
            self.consumer.seek(tp, offset)
            self.buffered.pop(tp, None)
            self._resume(tp)
            self.at[key] = offset

    def take(self, tp: Any, key: tuple[str, int], max_records: int) -> list[Any]:
        """Up to ``max_records`` buffered records of one partition, in order."""
        buffered = self.buffered.get(tp)
        if not buffered:
            return []
        batch, self.buffered[tp] = buffered[:max_records], buffered[max_records:]
        self.at[key] = batch[-1].offset + 1
        if not self.buffered[tp]:
            self._resume(tp)
        return batch

    def top_up(self, tp: Any, key: tuple[str, int], batch: list[Any], max_records: int, stable_end: int) -> list[Any]:
        """Add further fetches to a read while the partition is known to hold more records.

        One fetch brings at most ~1 MB per partition (the consumer's ``max_partition_fetch_bytes``),
        i.e. ~90 submissions of 100 lines; a processor that is behind then works in batches of
        ``max_records`` (one catalog transaction, one notifier transaction each) instead of one
        fetch's worth — up to :data:`READ_AHEAD_BYTES` a read. It stops where the last known stable
        offset ``stable_end`` is at most one record ahead (a transaction's commit marker, which no
        fetch returns).
        """
        size = sum(len(r.value or b"") for r in batch)
        while len(batch) < max_records and size < READ_AHEAD_BYTES and stable_end - self.at[key] > 1:
            self.fetch()
            more = self.take(tp, key, max_records - len(batch))
            if not more:
                break
            batch += more
            size += sum(len(r.value or b"") for r in more)
        return batch

    def fetch(self) -> None:
        """One poll of every assigned partition; what comes back is buffered per partition."""
        for tp, records in self.consumer.poll(timeout_ms=10, max_records=5000).items():
            buffered = self.buffered.setdefault(tp, [])
            buffered.extend(records)
            if len(buffered) >= READ_AHEAD or sum(len(r.value or b"") for r in buffered) >= READ_AHEAD_BYTES:
                self.consumer.pause(tp)  # enough waiting for a reader that has not come back for them

    def _resume(self, tp: Any) -> None:
        if tp in self.consumer.paused():
            self.consumer.resume(tp)
