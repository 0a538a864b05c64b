"""Ports: the small interfaces the service layer and processors depend on.

Each port has adapters named after their technology in ``ledger.adapters`` (``sqlite_log``,
``kafka_log``, ``local_objects``, ``s3_objects``, ``local_keyring``, ``kms_keys``); the composition
root (``ledger.bootstrap``) picks them from settings. The domain never imports an adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

#: The ledger's topics (DESIGN.md). Keys give per-company (or per-agency) order.
FILINGS = "kiroku.filings"  # enrollments, submissions, grants, dispositions; key = corporate number
NOTICES = "kiroku.notices"  # submission notices; key = agency id
ACCESS = "kiroku.access"  # read records; key = corporate number
TOPICS = (FILINGS, NOTICES, ACCESS)


@dataclass(frozen=True, slots=True)
class LogRecord:
    """A record to append: the partition is chosen from the key."""

    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Position:
    """Where a record sits in the log."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"

    @classmethod
    def parse(cls, text: str) -> "Position":
        topic, partition, offset = text.rsplit("/", 2)
        return cls(topic, int(partition), int(offset))


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record read back from the log, with its position and the log's timestamp (µs, UTC)."""

    topic: str
    partition: int
    offset: int
    timestamp_us: int
    key: bytes
    value: bytes

    @property
    def position(self) -> Position:
        return Position(self.topic, self.partition, self.offset)


class Log(Protocol):
    """The append-only, partitioned ledger log — the source of truth.

    ``append`` returns only once the records are durable (fsynced locally, or acknowledged by all
    in-sync replicas). ``transact`` is consume-transform-produce in one atomic step: the produced
    records and the consumer group's new positions become visible together or not at all.
    """

    def partitions(self, topic: str) -> int: ...

    def partition_for(self, topic: str, key: bytes) -> int: ...

    def append(self, topic: str, records: Sequence[LogRecord]) -> list[Position]: ...

    def read(self, topic: str, partition: int, offset: int, max_records: int = 1000) -> list[StoredRecord]: ...

    def end_offset(self, topic: str, partition: int) -> int: ...

    def refresh(self) -> None:
        """Forget any cached view of where partitions end: the next reads see every record
        committed before this call. (A read may otherwise miss what another process committed in
        the last few milliseconds, until the next pass; a drain's last pass must not.)"""

    def committed(self, group: str, topic: str, partition: int) -> int: ...

    def transact(
        self,
        group: str,
        consumed: Mapping[tuple[str, int], int],
        produce: Sequence[tuple[str, LogRecord]],
        expected: Mapping[tuple[str, int], int] | None = None,
    ) -> list[Position]:
        """``expected``: the group's positions the output was computed from; if another member
        committed meanwhile, nothing is written and a retriable Conflict is raised (Kafka fences
        stale members by transactional id instead)."""
        ...

    def close(self) -> None: ...


class ObjectStore(Protocol):
    """Write-once storage for immutable snapshot objects, addressed by key."""

    def put_immutable(self, key: str, data: bytes, retain_until_us: int | None = None) -> None:
        """Store ``data`` under ``key`` once. Storing identical bytes again is a no-op; different
        bytes under an existing key raise IntegrityError."""
        ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Always refused for locked snapshots; present so that the refusal is tested."""
        ...


@dataclass(frozen=True, slots=True)
class DataKey:
    """A plaintext data key, held in memory only, and its id in the key service."""

    key_id: str
    key: bytes


class KeyService(Protocol):
    """Envelope encryption: data keys per scope (company and period), wrapped by a master key."""

    def data_key(self, scope: str) -> DataKey:
        """The data key for a scope, created on first use."""
        ...

    def key_by_id(self, key_id: str) -> bytes:
        """Unwrap a data key; raises KeyErased once it was destroyed at the end of retention."""
        ...

    def destroy(self, key_id: str) -> None: ...

    def scopes(self) -> list[tuple[str, str, bool]]:
        """Every (key_id, scope, destroyed) the service holds."""
        ...
