"""KafkaLog: the scale-out ledger log on Apache Kafka, through kafka-python.

``KIROKU_LOG=kafka://host:port[,host:port…][?prefix=…&timeout_ms=…&replication=…]``

- **Writes** go through one idempotent producer (``enable_idempotence``, ``acks=all``): records
  are keyed (the corporate number for filings) and placed with murmur2 like Kafka's default
  partitioner (``ledger.partitioning``); ``append`` sends a whole batch, flushes, and returns
  positions only once every record was acknowledged by all in-sync replicas. A write the brokers
  do not confirm within ``timeout_ms`` raises :class:`~ledger.errors.Unavailable` (retriable):
  the caller never gets a receipt for it.
- **Transactions** (``transact``, used by the notifier) are real Kafka transactions: begin,
  produce, ``send_offsets_to_transaction``, commit. The transactional id is derived from the
  consumer group and the input partition(s), so a restarted or competing instance of the same
  processor fences the old one and aborts its open transaction (KIP-98 zombie fencing).
  :meth:`KafkaLog.committed` claims that id before reading the position, which makes the position
  it returns stable: nobody else can commit behind it without fencing this instance first.
- **Reads** use ``read_committed`` consumers without a group (up to three read streams, one per
  processor reading in the process), each assigned every partition it was asked for, with its
  fetches buffered per partition. Aborted records and transaction markers are skipped, so offsets in ``kiroku.notices`` have
  gaps: resume from ``last record's offset + 1``, never from a count.
- **Topics** (``kiroku.filings``, ``kiroku.notices``, ``kiroku.access``, each with ``prefix``
  in front) are created at start-up when missing (:mod:`ledger.adapters.kafka_topics`);
  existing ones that could lose history are refused.

Options in the URL query: ``prefix`` (a namespace for topics, consumer groups and
transactional ids — several deployments or tests can share brokers), ``timeout_ms`` (how long a
write or read may wait for the brokers, default 30000), ``replication`` (replication factor for
topics Kiroku creates; default min(3, brokers)).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.adapters.kafka_client import (
    MAX_RECORD_BYTES,
    READ_STREAMS,
    KafkaOptions,
    ReadStream,
    discard_producer,
    import_kafka,
    quick_metadata,
)
from ledger.adapters.kafka_topics import ensure_topics
from ledger.errors import ConfigurationError, Conflict, KirokuError, Unavailable, ValidationError
from ledger.partitioning import partition_for
from ledger.ports import TOPICS, LogRecord, Position, StoredRecord

log = logging.getLogger(__name__)


#: The longest one transactional request (add offsets, commit, abort) may take before the
#: producer is given up and the partition claimed afresh.
TRANSACTION_STEP_MS = 10_000
#: How long a topic's last stable offsets are reused by ``read`` before asking the brokers again.
FRESH_S = 0.05

__all__ = ["KafkaLog", "GroupMembership", "KafkaOptions", "MAX_RECORD_BYTES"]


class KafkaLog:
    """The scale-out ``Log`` adapter. Build it with :meth:`from_url`; ``close`` it when done."""

    def __init__(self, options: KafkaOptions, partitions: int = 4) -> None:
        self.options = options
        self._timeout_s = options.timeout_ms / 1000
        self._lock = threading.RLock()  # guards the reader and the transactional producers
        self._producer: Any = None
        self._reader: Any = None  # asks the brokers for partitions' ends
        self._streams: list[ReadStream] = []  # serve reads (at most READ_STREAMS)
        self._stable: dict[tuple[str, int], int] = {}  # last known last-stable offsets (only grow)
        self._void: dict[tuple[str, int], tuple[int, int]] = {}  # offsets holding no committed record
        self._stable_at: dict[str, float] = {}  # when each topic's stable offsets were last asked
        self._groups: dict[str, Any] = {}  # group -> consumer used to read committed offsets
        self._txn: dict[str, Any] = {}  # transactional id -> producer
        self._committed: dict[tuple[str, str, int], int] = {}  # positions this instance committed
        self._closed = False
        self._partitions = ensure_topics(options, partitions)
        self._producer = self._new_producer()

    @classmethod
    def from_url(cls, url: str, partitions: int) -> KafkaLog:
        """Connect to the brokers a ``kafka://`` URL names; ``partitions`` is for topics created now."""
        return cls(KafkaOptions.from_url(url), partitions)

    # -- names ------------------------------------------------------------------------------------

    def physical(self, topic: str) -> str:
        """The Kafka topic that holds ``topic`` (``prefix`` + name); unknown topics are refused."""
        if topic not in self._partitions:
            raise ConfigurationError(f"unknown topic {topic!r}", field="topic", expected=", ".join(TOPICS), got=topic)
        return self.options.prefix + topic

    def group_id(self, group: str) -> str:
        """The Kafka consumer group that holds a processor's committed positions."""
        return f"{self.options.prefix}kiroku.{group}"

    def transactional_id(self, group: str, consumed: Sequence[tuple[str, int]]) -> str:
        """One transactional id per (group, input partitions): the unit of zombie fencing."""
        parts = ",".join(f"{t}/{p}" for t, p in sorted(consumed)) or "-"
        if len(parts) > 120:
            parts = hashlib.sha256(parts.encode()).hexdigest()[:32]
        return f"{self.group_id(group)}.{parts}"

    # -- clients ------------------------------------------------------------------------------------

    def _common(self) -> dict[str, Any]:
        return {
            "bootstrap_servers": list(self.options.bootstrap),
            "bootstrap_timeout_ms": self.options.timeout_ms,
            "request_timeout_ms": max(1000, min(30_000, self.options.timeout_ms // 2)),
            "reconnect_backoff_max_ms": 1000,
            "retry_backoff_ms": 20,
        }

    def _producer_config(self) -> dict[str, Any]:
        return {
            **self._common(),
            "enable_idempotence": True,
            "acks": "all",
            "linger_ms": 5,  # append() flushes, so a lone record does not wait for it
            "batch_size": 1024 * 1024,
            "max_request_size": MAX_RECORD_BYTES + 64 * 1024,
            "delivery_timeout_ms": self.options.timeout_ms,
            "max_block_ms": self.options.timeout_ms,
            "allow_auto_create_topics": False,
        }

    def _new_producer(self, **extra: Any) -> Any:
        kafka = import_kafka()
        try:
            producer = kafka.KafkaProducer(**self._producer_config(), **extra)
        except kafka.errors.KafkaError as exc:
            raise self._unavailable("connect a producer", exc) from exc
        quick_metadata(getattr(producer, "_metadata", None))
        return producer

    def _consumer(self, **extra: Any) -> Any:
        kafka = import_kafka()
        try:
            consumer = kafka.KafkaConsumer(
                **self._common(), isolation_level="read_committed", enable_auto_commit=False,
                auto_offset_reset="earliest", allow_auto_create_topics=False,
                fetch_max_wait_ms=5, max_poll_records=5000, **extra,
            )
        except kafka.errors.KafkaError as exc:
            raise self._unavailable("connect a consumer", exc) from exc
        quick_metadata(getattr(consumer, "_cluster", None))
        return consumer

    def _unavailable(self, what: str, exc: BaseException) -> KirokuError:
        """Translate a kafka-python error into Kiroku's tree (retriable Unavailable by default)."""
        kafka = import_kafka()
        if isinstance(exc, kafka.errors.MessageSizeTooLargeError):
            return ValidationError(
                f"a record is larger than the ledger accepts ({MAX_RECORD_BYTES} bytes): {exc}",
                field="payload", expected=f"at most {MAX_RECORD_BYTES} bytes", got=str(exc), code="too_large")
        if isinstance(exc, KirokuError):
            return exc
        return Unavailable(
            f"the Kafka brokers at {self.options.servers} could not {what} within {self._timeout_s:g}s "
            f"({type(exc).__name__}: {exc}); nothing was confirmed, so no receipt was given — retry later",
            field="KIROKU_LOG", expected="brokers that acknowledge with acks=all", got=type(exc).__name__,
            code="log_unavailable",
        )

    # -- the Log port ---------------------------------------------------------------------------------

    def partitions(self, topic: str) -> int:
        self.physical(topic)
        return self._partitions[topic]

    def partition_for(self, topic: str, key: bytes) -> int:
        return partition_for(key, self.partitions(topic))

    def append(self, topic: str, records: Sequence[LogRecord]) -> list[Position]:
        """Send every record, flush, and return positions once all were acknowledged (acks=all)."""
        if not records:
            return []
        physical, n = self.physical(topic), self.partitions(topic)
        kafka = import_kafka()
        with self._lock:
            if self._producer is None:
                self._producer = self._new_producer()
            producer = self._producer
        try:
            futures = [producer.send(physical, key=r.key, value=r.value, partition=partition_for(r.key, n))
                       for r in records]
            producer.flush(timeout=self._timeout_s + 5)
            metadata = [f.get(timeout=0) for f in futures]
        except kafka.errors.KafkaError as exc:
            self._stable_at.pop(topic, None)
            # An idempotent producer whose send failed may hold a stale sequence: start a new session.
            self._reset_producer(producer)
            raise self._unavailable("acknowledge the write", exc) from exc
        self._stable_at.pop(topic, None)  # our own records: make read() ask the brokers again
        return [Position(topic, m.partition, m.offset) for m in metadata]

    def _reset_producer(self, producer: Any) -> None:
        with self._lock:
            if self._producer is producer:
                self._producer = None
        discard_producer(producer, "the idempotent producer")

    def read(self, topic: str, partition: int, offset: int, max_records: int = 1000) -> list[StoredRecord]:
        """Committed records from ``offset`` on (aborted ones and transaction markers skipped)."""
        physical = self.physical(topic)
        kafka = import_kafka()
        tp = kafka.TopicPartition(physical, partition)
        key = (topic, partition)
        with self._lock:
            try:
                void_from, void_to = self._void.get(key, (0, 0))
                if void_from <= offset < void_to:
                    offset = void_to  # known to hold only markers or aborted records
                if offset >= self._stable.get(key, 0) and offset >= self._recent_stable_offset(topic, partition):
                    return []
                stream = self._stream_for(tp, key, offset)
                deadline = time.monotonic() + self._timeout_s
                while True:
                    batch = stream.take(tp, key, max_records)
                    if batch:
                        batch = stream.top_up(tp, key, batch, max_records, self._stable.get(key, 0))
                        return [StoredRecord(topic, partition, r.offset, r.timestamp * 1000, r.key or b"", r.value or b"")
                                for r in batch]
                    at = stream.consumer.position(tp)
                    stream.at[key] = at
                    if at >= self._stable[key]:
                        # Only markers or aborted records were left: remember, so that a caller that
                        # asks again from ``offset`` (its position has not moved) costs no fetch.
                        self._void[key] = (offset, at)
                        return []
                    if time.monotonic() > deadline:
                        raise Unavailable(f"no records came back from {physical}/{partition} at offset {at} "
                                          f"within {self._timeout_s:g}s", field="KIROKU_LOG", code="log_unavailable")
                    stream.fetch()
            except kafka.errors.KafkaError as exc:
                self._drop_reader()
                raise self._unavailable("serve a read", exc) from exc

    def _stream_for(self, tp: Any, key: tuple[str, int], offset: int) -> ReadStream:
        """The read stream that left off at ``offset`` in this partition, else a new or the least
        recently used one (which then seeks). In one process the notifier, the projector and the
        sequencer each read every partition at their own pace: each keeps to a stream of its own."""
        matching = [s for s in self._streams if s.at.get(key) == offset]
        if matching:
            stream = max(matching, key=lambda s: s.used)
        elif len(self._streams) < READ_STREAMS:
            stream = ReadStream(self._consumer(group_id=None))
            self._streams.append(stream)
        else:
            stream = min(self._streams, key=lambda s: s.used)
        stream.used = time.monotonic()
        stream.start_at(tp, key, offset)
        return stream

    def _drop_reader(self) -> None:
        for consumer in [self._reader, *(s.consumer for s in self._streams)]:
            if consumer is not None:
                consumer.close(autocommit=False)
        self._reader, self._streams = None, []

    def _stable_offset(self, topic: str, partition: int) -> int:
        """The partition's last stable offset (what a read_committed consumer can reach), asked now."""
        return self._fetch_stable_offsets(topic, [partition])[partition]

    def _recent_stable_offset(self, topic: str, partition: int) -> int:
        """Like :meth:`_stable_offset`, but answered for all of a topic's partitions at once and
        reused for :data:`FRESH_S`; our own writes to the topic make it stale at once.

        Processors poll every partition of every topic after each command; one ListOffsets
        request per topic instead of one per partition keeps that cheap. Records another process
        wrote in the last few milliseconds are seen on the next pass, as with any poll.
        """
        fetched = self._stable_at.get(topic)
        if fetched is None or time.monotonic() - fetched > FRESH_S:
            self._fetch_stable_offsets(topic, range(self._partitions[topic]))
            self._stable_at[topic] = time.monotonic()
        return self._stable[(topic, partition)]

    def _fetch_stable_offsets(self, topic: str, partitions: Any) -> dict[int, int]:
        kafka = import_kafka()
        if self._reader is None:
            self._reader = self._consumer(group_id=None)
        physical = self.physical(topic)
        tps = [kafka.TopicPartition(physical, p) for p in partitions]
        answer = self._reader.end_offsets(tps, timeout_ms=self.options.timeout_ms)
        out = {}
        for tp in tps:
            key = (topic, tp.partition)
            self._stable[key] = out[tp.partition] = max(self._stable.get(key, 0), int(answer[tp]))
        return out

    def refresh(self) -> None:
        """The next read of each topic asks the brokers for its stable offsets again."""
        with self._lock:
            self._stable_at.clear()

    def end_offset(self, topic: str, partition: int) -> int:
        """The last stable offset: one past the last committed record (or transaction marker)."""
        self.physical(topic)
        kafka = import_kafka()
        with self._lock:
            try:
                return self._stable_offset(topic, partition)
            except kafka.errors.KafkaError as exc:
                self._drop_reader()
                raise self._unavailable("report the end of the log", exc) from exc

    def committed(self, group: str, topic: str, partition: int) -> int:
        """The group's committed position, read after claiming the partition's transactional id.

        Claiming (``init_transactions``) fences any other instance of this processor that still
        works on the partition and aborts its open transaction, so the offset returned cannot move
        under us. Positions this instance committed itself are remembered and returned as they are.
        """
        physical = self.physical(topic)
        kafka = import_kafka()
        key = (group, topic, partition)
        with self._lock:
            if key in self._committed:
                return self._committed[key]
            try:
                if self._recent_stable_offset(topic, partition) == 0:
                    return 0  # nothing committed to consume yet, so nothing consumed: no claim needed
                self._transactional(self.transactional_id(group, [(topic, partition)]))
                consumer = self._groups.get(group)
                if consumer is None:
                    consumer = self._groups[group] = self._consumer(group_id=self.group_id(group))
                value = consumer.committed(kafka.TopicPartition(physical, partition), timeout_ms=self.options.timeout_ms)
            except kafka.errors.KafkaError as exc:
                raise self._unavailable("read a consumer group's position", exc) from exc
            self._committed[key] = 0 if value is None else int(value)
            return self._committed[key]

    def _transactional(self, transactional_id: str) -> Any:
        producer = self._txn.get(transactional_id)
        if producer is None:
            producer = self._new_producer(transactional_id=transactional_id, transaction_timeout_ms=20_000)
            try:
                producer.init_transactions()  # fences older instances, aborts their open transaction
            except BaseException:
                discard_producer(producer, transactional_id)
                raise
            self._txn[transactional_id] = producer
        return producer

    def transact(
        self,
        group: str,
        consumed: Mapping[tuple[str, int], int],
        produce: Sequence[tuple[str, LogRecord]],
        expected: Mapping[tuple[str, int], int] | None = None,  # fencing is by transactional id here
    ) -> list[Position]:
        """One Kafka transaction: produce, ``send_offsets_to_transaction``, commit — or nothing.

        A transaction that fails for a passing reason (a broker or the transaction coordinator
        moving, too few in-sync replicas for a moment) is aborted and tried again, with the same
        producer, until ``timeout_ms``: the same producer epoch means that if another instance
        claimed the partition meanwhile, the retry is fenced instead of committing twice.
        """
        targets = [(self.physical(t), self.partitions(t), t, rec) for t, rec in produce]
        offsets = {(self.physical(t), p): off for (t, p), off in consumed.items()}
        kafka = import_kafka()
        transactional_id = self.transactional_id(group, list(consumed))
        deadline = time.monotonic() + self._timeout_s
        with self._lock:
            while True:
                producer = None
                try:
                    producer = self._transactional(transactional_id)
                    metadata = self._one_transaction(producer, group, targets, offsets)
                    break
                except (kafka.errors.KafkaError, _TransactionStuck) as exc:
                    if self._aborted(producer, exc) and time.monotonic() < deadline:
                        log.warning("transaction %s aborted (%s); trying again", transactional_id, exc)
                        time.sleep(0.2)
                        continue
                    self._forget(transactional_id, group, consumed)
                    if isinstance(exc, (kafka.errors.ProducerFencedError, kafka.errors.InvalidProducerEpochError)):
                        raise Conflict(
                            f"another {group} instance took over {sorted(consumed)} (transactional id "
                            f"{transactional_id}); this instance's transaction was fenced and nothing of it was committed",
                            field="group", expected="the only live instance", got=transactional_id,
                            code="fenced", retriable=True) from exc
                    raise self._unavailable("commit a transaction", exc) from exc
            for (t, p), off in consumed.items():
                self._committed[(group, t, p)] = off
        positions = [Position(t, m.partition, m.offset) for t, m in metadata]
        for t, _ in produce:
            self._stable_at.pop(t, None)
        self._await_visible(positions)
        return positions

    def _one_transaction(self, producer: Any, group: str, targets: list[tuple[str, int, str, LogRecord]],
                         offsets: dict[tuple[str, int], int]) -> list[tuple[str, Any]]:
        kafka = import_kafka()
        producer.begin_transaction()
        futures = [(t, producer.send(physical, key=rec.key, value=rec.value, partition=partition_for(rec.key, n)))
                   for physical, n, t, rec in targets]
        manager = producer._transaction_manager
        if offsets:
            self._finish(producer, manager.send_offsets_to_transaction(
                {kafka.TopicPartition(physical, p): kafka.OffsetAndMetadata(off, "", -1)
                 for (physical, p), off in offsets.items()},
                self.group_id(group)), "add the consumed offsets to the transaction")
        self._finish(producer, manager.begin_commit(), "commit the transaction")
        return [(t, f.get(timeout=0)) for t, f in futures]

    def _finish(self, producer: Any, result: Any, what: str) -> None:
        """Wait for a transactional request, at most ``timeout_ms``.

        kafka-python 3.0.12's ``send_offsets_to_transaction`` and ``commit_transaction`` wait
        without a limit — forever when the coordinator died at the wrong moment — so the same
        steps are taken here through its transaction manager, with a deadline.
        """
        producer._sender.wakeup()
        # Short: when the coordinator dies, this producer keeps asking the dead node; a new producer
        # (after a re-claim) finds the new coordinator in a few seconds.
        wait_ms = min(self.options.timeout_ms, TRANSACTION_STEP_MS)
        if not result.wait(timeout_ms=wait_ms):
            raise _TransactionStuck(f"could not {what} within {wait_ms / 1000:g}s")

    def _aborted(self, producer: Any, exc: BaseException) -> bool:
        """Abort the open transaction after a passing error; False if the producer cannot go on.

        A stuck commit is not retried here: whether it committed is unknown, so the caller must
        read its position again (``committed`` re-claims the partition and finds out).
        """
        kafka = import_kafka()
        if producer is None or isinstance(exc, _TransactionStuck) or not getattr(exc, "retriable", False):
            return False
        try:
            self._finish(producer, producer._transaction_manager.begin_abort(), "abort the transaction")
        except kafka.errors.KafkaError:
            return False
        return True

    def _forget(self, transactional_id: str, group: str, consumed: Mapping[tuple[str, int], int]) -> None:
        """After a failed or fenced transaction: drop the producer and what we thought we owned."""
        producer = self._txn.pop(transactional_id, None)
        if producer is not None:
            discard_producer(producer, transactional_id)
        for t, p in consumed:
            self._committed.pop((group, t, p), None)

    def _await_visible(self, positions: Sequence[Position]) -> None:
        """Wait until the commit markers are written, so that read_committed readers see the output.

        The transaction coordinator writes markers after ``commit_transaction`` returns; waiting
        here keeps the embedded semantics (a processor's output is readable when ``transact``
        returns). Gives up silently at the deadline: the data is committed either way.
        """
        last: dict[tuple[str, int], int] = {}
        for pos in positions:
            last[(pos.topic, pos.partition)] = max(last.get((pos.topic, pos.partition), -1), pos.offset)
        deadline = time.monotonic() + self._timeout_s
        for (topic, partition), offset in last.items():
            while self.end_offset(topic, partition) <= offset and time.monotonic() < deadline:
                time.sleep(0.005)

    def membership(self, group: str, topics: Sequence[str], member: str | None = None) -> GroupMembership:
        """Join consumer group ``group`` for ``topics``: Kafka decides which partitions are ours."""
        return GroupMembership(self, group, topics, member)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for producer in [self._producer, *self._txn.values()]:
                if producer is not None:
                    producer.close(timeout=5)
            for consumer in [self._reader, *(s.consumer for s in self._streams), *self._groups.values()]:
                if consumer is not None:
                    consumer.close(autocommit=False)
            self._producer, self._reader, self._streams, self._txn, self._groups = None, None, [], {}, {}


class _TransactionStuck(Exception):
    """A transactional request got no answer in time: the producer's state is unknown, drop it."""


class GroupMembership:
    """This process's share of a processor's partitions, decided by a Kafka consumer group.

    A consumer subscribes to the processor's input topics under ``<group>.members`` only to take
    part in the group's partition assignment; its partitions stay paused, so it fetches nothing —
    the processor reads through the ``Log`` port. Exactly-once does not rest on the assignment:
    during a rebalance two members may briefly both work on a partition, and then the notifier's
    transactional id (one per partition) fences the older one, and the projector's position
    compare-and-set refuses the second batch. ``member`` gives a static membership
    (``group.instance.id``): a restarted process with the same name takes its partitions back at
    once instead of after the dead one's session times out.
    """

    def __init__(self, log: KafkaLog, group: str, topics: Sequence[str], member: str | None = None) -> None:
        kafka = import_kafka()
        self._log = log
        self._logical = {log.physical(t): t for t in topics}
        extra: dict[str, Any] = {"group_id": f"{log.group_id(group)}.members", "session_timeout_ms": 10_000,
                                 "heartbeat_interval_ms": 1_000, "max_poll_interval_ms": 600_000}
        if member:
            extra["group_instance_id"] = member
        self._consumer = log._consumer(**extra)
        try:
            self._consumer.subscribe(list(self._logical))
        except kafka.errors.KafkaError as exc:
            self._consumer.close(autocommit=False)
            raise log._unavailable("join the consumer group", exc) from exc

    def owned(self) -> list[tuple[str, int]] | None:
        """The (topic, partition) pairs assigned to us now; None until the group has assigned any."""
        kafka = import_kafka()
        try:
            stable = self._consumer.group_metadata().state == kafka.structs.MemberState.STABLE
            # Joins and rebalances complete inside poll(); once stable, a zero wait keeps heartbeats going.
            self._consumer.poll(timeout_ms=0 if stable else 200)
            assigned = set(self._consumer.assignment())
            fresh = assigned - set(self._consumer.paused())
            if fresh:
                self._consumer.pause(*fresh)
        except kafka.errors.KafkaError as exc:
            raise self._log._unavailable("take part in the consumer group", exc) from exc
        if not assigned and self._consumer.group_metadata().generation_id < 0:
            return None
        return sorted((self._logical[tp.topic], tp.partition) for tp in assigned if tp.topic in self._logical)

    def close(self) -> None:
        """Leave the group (a dynamic member's partitions move to the others at once)."""
        self._consumer.close(autocommit=False)
