"""The sequencer: integrates every log record into one RFC 6962 Merkle tree per topic-partition.

Each record's leaf is its exact stored value bytes — the Avro single-object ``Envelope`` as it
was appended — hashed as ``SHA-256(0x00 ‖ value)`` (RFC 6962 §2.1), so an inclusion proof proves
the very event, not a re-encoding of it. Leaves are integrated in offset order and their indices
are contiguous: leaf *i* is the *i*-th entry of the partition.

In the SQLite log, offsets are 0, 1, 2… without gaps, so the leaf index *is* the log offset. A
Kafka log is different: transaction markers (control records, written by the notifier's
consume-transform-produce transactions) take offsets but are not entries, and a
``read_committed`` reader never sees them. The sequencer therefore keeps the offsets where the
log skipped ahead, as segments ``(first leaf, first offset)`` in ``trees/offsets.db`` (written
before the leaves they describe, so a crash never leaves a leaf without its offset). No gap, no
segment: with the SQLite log that file is never created and ``leaf = offset``.

Nodes live in one ``SqliteTreeStore`` per partition (``<data dir>/trees/<topic>-<p>.db``). The
trees are derived data — a lost tail is re-integrated from the log with identical hashes — so
the stores run with ``synchronous=NORMAL``; the signed checkpoints are what must be durable.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from ledger.errors import Conflict, Unavailable
from ledger.ports import TOPICS, Log
from ledger.transparency import merkle
from ledger.transparency.tree_store import SqliteTreeStore, Tree

#: How many log records one partition integrates per store transaction.
BATCH = 5000


class OffsetSegments:
    """Where a partition's offsets jump: rows ``(first_leaf, first_offset)``; none means leaf = offset."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _conn(self, create: bool) -> sqlite3.Connection | None:
        if self._db is None and (create or self.path.exists()):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS segments (topic TEXT NOT NULL, partition INTEGER NOT NULL, "
                    "first_leaf INTEGER NOT NULL, first_offset INTEGER NOT NULL, "
                    "PRIMARY KEY (topic, partition, first_leaf)) WITHOUT ROWID")
            except sqlite3.Error as exc:
                raise Unavailable(f"cannot open the offset map at {self.path}: {exc}") from exc
        return self._db

    def _one(self, sql: str, args: tuple) -> tuple | None:
        with self._lock:
            db = self._conn(create=False)
            return None if db is None else db.execute(sql, args).fetchone()

    def add(self, topic: str, partition: int, rows: list[tuple[int, int]]) -> None:
        """Record that leaf ``first_leaf`` is at ``first_offset`` (and the following ones after it)."""
        with self._lock:
            db = self._conn(create=True)
            assert db is not None
            db.executemany("INSERT OR IGNORE INTO segments VALUES (?, ?, ?, ?)", [(topic, partition, *r) for r in rows])

    def offset_of(self, topic: str, partition: int, leaf: int) -> int:
        """The log offset of leaf ``leaf`` (or where it will be read from, if not yet integrated)."""
        row = self._one("SELECT first_leaf, first_offset FROM segments WHERE topic = ? AND partition = ? "
                        "AND first_leaf <= ? ORDER BY first_leaf DESC LIMIT 1", (topic, partition, leaf))
        return leaf if row is None else row[1] + leaf - row[0]

    def leaves_before(self, topic: str, partition: int, offset: int) -> int:
        """How many entries lie below ``offset`` (among those integrated)."""
        row = self._one("SELECT first_leaf, first_offset FROM segments WHERE topic = ? AND partition = ? "
                        "AND first_offset < ? ORDER BY first_offset DESC LIMIT 1", (topic, partition, offset))
        first_leaf, first_offset = row or (0, 0)
        after = self._one("SELECT first_leaf FROM segments WHERE topic = ? AND partition = ? AND first_leaf > ? "
                          "ORDER BY first_leaf LIMIT 1", (topic, partition, first_leaf))
        leaves = first_leaf + offset - first_offset
        return leaves if after is None else min(leaves, after[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


class Sequencer:
    """Keeps a Merkle tree per (topic, partition) up to date with the log."""

    def __init__(self, log: Log, directory: Path, batch: int = BATCH, synchronous: str = "NORMAL",
                 listeners: Sequence[Callable[[], None]] = ()) -> None:
        self.log, self.directory, self.batch, self.synchronous = log, Path(directory), batch, synchronous
        self.segments = OffsetSegments(self.directory / "offsets.db")
        self._trees: dict[tuple[str, int], Tree] = {}
        self._stores: list[SqliteTreeStore] = []
        self._sizes: dict[tuple[str, int], int] = {}  # integrated leaves
        self._next: dict[tuple[str, int], int] = {}  # the next log offset to read
        self._opening = threading.Lock()
        #: Called after every run (checkpoint publication and deadline seals hook in here).
        self.listeners: tuple[Callable[[], None], ...] = tuple(listeners)

    def path(self, topic: str, partition: int) -> Path:
        """Where the tree of one partition is stored."""
        return self.directory / f"{topic}-{partition}.db"

    def tree(self, topic: str, partition: int) -> Tree:
        """The stored tree of ``topic``/``partition`` (opened on first use)."""
        key = (topic, partition)
        tree = self._trees.get(key)
        if tree is None:
            with self._opening:  # readers (proofs) and the sequencer may ask at once
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
        # Partitions whose log end is not past what was integrated have nothing new (a hint: the
        # careful check is in run_partition).
        done = sum(self.run_partition(topic, partition) for topic, partition in self.partitions()
                   if (topic, partition) not in self._next or self.log.end_offset(topic, partition) > self._next[(topic, partition)])
        self.after_pass()
        return done

    def after_pass(self) -> None:
        """Tell the listeners a pass is over (a loop driving ``run_partition`` itself calls this)."""
        for listener in self.listeners:
            listener()

    def _load(self, key: tuple[str, int]) -> tuple[int, int] | None:
        if key not in self._sizes:
            # Nothing to integrate, and no file to create yet? A read says so as cheaply as the log
            # can (on Kafka, from end offsets refreshed at most every few ms, where end_offset
            # would ask the broker on every pass over an empty partition).
            if key not in self._trees and not self.path(*key).exists() and not self.log.read(*key, 0, 1):
                return None
            size = self.tree(*key).size
            self._sizes[key], self._next[key] = size, self.segments.offset_of(*key, size)
        return self._sizes[key], self._next[key]

    def run_partition(self, topic: str, partition: int) -> int:
        """Integrate up to ``batch`` new records of one partition; returns how many."""
        key = (topic, partition)
        for _ in range(3):
            loaded = self._load(key)
            if loaded is None:
                return 0
            size, offset = loaded
            records = self.log.read(topic, partition, offset, self.batch)
            if not records:
                return 0
            jumps = []
            for i, rec in enumerate(records):
                if rec.offset != offset:
                    jumps.append((size + i, rec.offset))  # a gap: markers are not entries
                offset = rec.offset + 1
            if jumps:
                self.segments.add(topic, partition, jumps)
            try:
                self._sizes[key] = self.tree(topic, partition).append_leaf_hashes(
                    [merkle.leaf_hash(rec.value) for rec in records], expected_size=size)
            except Conflict:
                # Another process integrated first; its nodes are the same. Reload and go on.
                self._sizes.pop(key, None)
                continue
            self._next[key] = offset
            return len(records)
        return 0

    def integrated(self) -> dict[tuple[str, int], int]:
        """The integrated size of every partition this sequencer has loaded (no store reads)."""
        return dict(self._sizes)

    def size(self, topic: str, partition: int) -> int:
        """How many leaves of ``topic``/``partition`` are integrated."""
        loaded = self._load((topic, partition))
        return 0 if loaded is None else loaded[0]

    def leaf_index(self, topic: str, partition: int, offset: int) -> int | None:
        """The leaf of the entry at ``offset``, or None while it is not integrated."""
        loaded = self._load((topic, partition))
        if loaded is None or offset >= loaded[1]:
            return None
        return self.segments.leaves_before(topic, partition, offset)

    def leaves_before(self, topic: str, partition: int, offset: int) -> int | None:
        """How many entries lie below ``offset``; None unless all of them are integrated."""
        loaded = self._load((topic, partition))
        if loaded is None:
            return 0 if offset <= 0 else None
        if offset > loaded[1]:
            return None
        return self.segments.leaves_before(topic, partition, offset)

    def close(self) -> None:
        """Close every tree store and the offset map."""
        for store in self._stores:
            store.close()
        self._stores.clear()
        self._trees.clear()
        self._sizes.clear()
        self._next.clear()
        self.segments.close()
