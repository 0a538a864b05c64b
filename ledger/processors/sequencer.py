"""The sequencer: integrates every log record into one RFC 6962 Merkle tree per topic-partition.

Each record's leaf is its exact stored value bytes — the Avro single-object ``Envelope`` as it
was appended — hashed as ``SHA-256(0x00 ‖ value)`` (RFC 6962 §2.1), so an inclusion proof proves
the very event, not a re-encoding of it. Leaves are integrated in offset order, and the leaf
index *is* the log offset: the SQLite log numbers its records 0, 1, 2… without gaps.

A Kafka log is different: transaction markers (control records) take offsets but are not
entries, and a ``read_committed`` consumer never sees them, so offsets have gaps. Item 1 of the
ledger's verifiability rules wants leaf indices contiguous in log order, skipping anything that
is not an entry; a log with gaps therefore needs an offset → leaf-index map kept next to the
tree. This module refuses gaps loudly (``log_offset_gap``) rather than silently building a tree
whose indices no longer match the offsets printed on receipts.

Nodes live in one ``SqliteTreeStore`` per partition (``<data dir>/trees/<topic>-<p>.db``). The
trees are derived data — a lost tail is re-integrated from the log with identical hashes — so
the stores run with ``synchronous=NORMAL``; the signed checkpoints are what must be durable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ledger import merkle
from ledger.errors import Conflict, IntegrityError
from ledger.ports import TOPICS, Log
from ledger.tree_store import SqliteTreeStore, Tree

#: How many log records one partition integrates per store transaction.
BATCH = 5000


class Sequencer:
    """Keeps a Merkle tree per (topic, partition) up to date with the log."""

    def __init__(self, log: Log, directory: Path, batch: int = BATCH, synchronous: str = "NORMAL") -> None:
        self.log, self.directory, self.batch, self.synchronous = log, Path(directory), batch, synchronous
        self._trees: dict[tuple[str, int], Tree] = {}
        self._stores: list[SqliteTreeStore] = []
        self._sizes: dict[tuple[str, int], int] = {}
        #: Called after every run (checkpoint publication and deadline seals hook in here).
        self.listeners: list[Callable[[], None]] = []

    def path(self, topic: str, partition: int) -> Path:
        """Where the tree of one partition is stored."""
        return self.directory / f"{topic}-{partition}.db"

    def tree(self, topic: str, partition: int) -> Tree:
        """The stored tree of ``topic``/``partition`` (opened on first use)."""
        key = (topic, partition)
        tree = self._trees.get(key)
        if tree is None:
            self.log.partitions(topic)  # an unknown topic is a ConfigurationError naming it
            self.directory.mkdir(parents=True, exist_ok=True)
            store = SqliteTreeStore(self.path(topic, partition), synchronous=self.synchronous)
            self._stores.append(store)
            tree = self._trees[key] = Tree(store)
        return tree

    def partitions(self) -> list[tuple[str, int]]:
        """Every (topic, partition) of the log."""
        return [(t, p) for t in TOPICS for p in range(self.log.partitions(t))]

    def run_once(self) -> int:
        """Integrate what the log holds beyond each tree; returns how many leaves were added."""
        done = sum(self.run_partition(topic, partition) for topic, partition in self.partitions())
        for listener in self.listeners:
            listener()
        return done

    def run_partition(self, topic: str, partition: int) -> int:
        """Integrate up to ``batch`` new records of one partition."""
        key = (topic, partition)
        for _ in range(3):
            size = self._sizes.get(key)
            if size is None:
                if key not in self._trees and not self.path(topic, partition).exists() \
                        and self.log.end_offset(topic, partition) == 0:
                    return 0  # nothing to integrate, and no file to create yet
                size = self.tree(topic, partition).size
            records = self.log.read(topic, partition, size, self.batch)
            if not records:
                self._sizes[key] = size
                return 0
            for i, rec in enumerate(records):
                if rec.offset != size + i:
                    raise IntegrityError(
                        f"{topic}/{partition}: the log skips from offset {size + i - 1} to {rec.offset}; "
                        "leaf indices are log offsets, so a log with gaps (Kafka transaction markers) "
                        "needs an offset-to-leaf map this sequencer does not keep",
                        field=f"{topic}/{partition}", expected=str(size + i), got=rec.offset, code="log_offset_gap",
                    )
            try:
                self._sizes[key] = self.tree(topic, partition).append_leaf_hashes(
                    [merkle.leaf_hash(rec.value) for rec in records], expected_size=size)
            except Conflict:
                # Another process integrated first; its nodes are the same. Re-read the size.
                self._sizes.pop(key, None)
                continue
            return len(records)
        return 0

    def size(self, topic: str, partition: int) -> int:
        """How many leaves of ``topic``/``partition`` are integrated (read from the store)."""
        if (topic, partition) not in self._trees and not self.path(topic, partition).exists():
            return 0
        return self.tree(topic, partition).size

    def close(self) -> None:
        """Close every tree store."""
        for store in self._stores:
            store.close()
        self._stores.clear()
        self._trees.clear()
        self._sizes.clear()
