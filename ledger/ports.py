"""Ports: the small interfaces the service layer, the processors and the notary depend on.

Log, ObjectStore, KeyService, CheckpointStore, TreeStore and Signer. Each has adapters named
after their technology (``ledger.adapters``: ``sqlite_log``, ``kafka_log``, ``local_objects``,
``s3_objects``, ``local_keyring``, ``kms_keys``, ``sqlite_checkpoints``; the tree stores and the
local signer sit beside the Merkle code in ``ledger.transparency``); the composition root
(``ledger.bootstrap``) picks them from settings. The domain never imports an adapter.

What only some adapters can do is declared as a narrow capability protocol below its port
(``ReservingKeyService``, ``ScannableObjectStore``, ``GroupLog``, ``VerifiableLog``), checked with
``isinstance`` where it is used, and covered by the contract suites against every adapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ledger.domain.model import from_us

#: The ledger's topics. Keys give per-company (or per-agency) order.
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
    def parse(cls, text: str) -> Position:
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


@runtime_checkable
class GroupLog(Log, Protocol):
    """A log whose consumer groups share out partitions among members (Kafka)."""

    def membership(self, group: str, topics: Sequence[str], member: str | None = None) -> Any:
        """Join ``group`` for ``topics`` (as static member ``member``); the returned membership
        says which partitions this member owns, and is closed to leave."""
        ...


@runtime_checkable
class VerifiableLog(Log, Protocol):
    """A log that can check every stored record against its checksum (the embedded SQLite log)."""

    def verify_integrity(self) -> list[str]:
        """Every problem found, as a sentence; empty when every byte checks out."""
        ...


class ObjectStore(Protocol):
    """Write-once storage for immutable snapshot objects, addressed by key."""

    def put_immutable(self, key: str, data: bytes, retain_until_us: int | None = None) -> None:
        """Store ``data`` under ``key`` once. Storing identical bytes again is a no-op; different
        bytes under an existing key raise IntegrityError."""
        ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def put_many(self, items: list[tuple[str, bytes, int | None]]) -> None:
        """``put_immutable`` for each (key, data, retain-until µs), durable together when this
        returns (one filesystem sync, or concurrent uploads): a projector batch's snapshots."""
        ...

    def delete(self, key: str) -> None:
        """Always refused for locked snapshots; present so that the refusal is tested."""
        ...


@runtime_checkable
class ScannableObjectStore(ObjectStore, Protocol):
    """An object store that can list what it holds and what a crash left half-written (local)."""

    def keys(self) -> list[str]:
        """Every stored key."""
        ...

    def stray_temporaries(self) -> list[Path]:
        """Unfinished writes a crash left behind (never served; safe to remove)."""
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

    def close(self) -> None: ...


@runtime_checkable
class ReservingKeyService(KeyService, Protocol):
    """A key service that can hand out a new data key before making it durable, so that a
    batch's new keys are persisted together, once, before its submissions are appended."""

    def reserve(self, scope: str) -> DataKey:
        """The scope's data key; a new one is usable at once but not yet durable."""
        ...

    def persist(self, key_ids: set[str]) -> None:
        """Make the reserved keys among ``key_ids`` durable (before anything sealed with them is appended)."""
        ...


# -- the transparency log's ports -------------------------------------------------------------------

@dataclass(frozen=True)
class Published:
    """A published checkpoint of one partition: its size, root and signed note."""

    topic: str
    partition: int
    size: int
    root: bytes
    note: str
    published_us: int
    kind: str  # periodic | on-demand

    @property
    def published_at(self) -> datetime:
        return from_us(self.published_us)


@dataclass(frozen=True)
class Seal:
    """The checkpoint of one partition at a deadline: everything recorded before it."""

    deadline_us: int
    topic: str
    partition: int
    size: int
    root: bytes
    note: str
    sealed_us: int
    periods: tuple[str, ...]

    @property
    def deadline(self) -> datetime:
        return from_us(self.deadline_us)

    @property
    def sealed_at(self) -> datetime:
        return from_us(self.sealed_us)


class CheckpointStore(Protocol):
    """Where published checkpoints and seals are kept forever (insert-only)."""

    def add(self, cp: Published) -> Published: ...
    def latest(self, topic: str, partition: int) -> Published | None: ...
    def at_size(self, topic: str, partition: int, size: int) -> Published | None: ...
    def checkpoints(self, topic: str | None = None, partition: int | None = None) -> list[Published]: ...
    def add_seals(self, seals: list[Seal], sealed_until_us: int) -> None: ...
    def set_sealed_until(self, us: int) -> None: ...
    def sealed_until(self) -> int | None: ...
    def seal(self, procedure: str, period: str, topic: str, partition: int) -> Seal | None: ...
    def seals(self, topic: str | None = None, partition: int | None = None) -> list[Seal]: ...
    def close(self) -> None: ...



Node = tuple[int, int, bytes]
"""(level, index, hash) of a complete Merkle subtree."""


class TreeStore(Protocol):
    """Where a Merkle tree's complete-subtree hashes and its integrated size live."""

    def get_node(self, level: int, index: int) -> bytes:
        """The hash of complete subtree (level, index); IntegrityError if it is missing."""
        ...

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The hashes of several complete subtrees in one read (those present)."""
        ...

    def put_nodes(self, nodes: Sequence[Node], old_size: int, new_size: int) -> None:
        """Atomically store ``nodes`` and move the size from ``old_size`` to ``new_size``.

        Raises Conflict if the stored size is no longer ``old_size`` (another writer won).
        """
        ...

    def size(self) -> int:
        """The number of integrated leaves."""
        ...


class Signer(Protocol):
    """Something that signs notes under a C2SP key name (a local key file; an HSM or KMS key could be another)."""

    @property
    def key_name(self) -> str:
        """The signed-note key name."""
        ...

    @property
    def public_key_bytes(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        ...

    @property
    def key_id(self) -> bytes:
        """The 4-byte signed-note key ID."""
        ...

    def sign(self, msg: bytes) -> bytes:
        """A 64-byte Ed25519 signature of ``msg``."""
        ...

    def verifier_key(self) -> str:
        """The public verifier-key string to publish."""
        ...
