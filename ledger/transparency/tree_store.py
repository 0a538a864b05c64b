"""Stored Merkle trees: the SQLite and in-memory adapters of the ``TreeStore`` port, and ``Tree``.

A store holds complete-subtree hashes keyed by ``(level, index)`` (see :mod:`ledger.transparency.merkle`)
plus the integrated tree size. Appending n leaves writes fewer than 2n nodes (each leaf, and
each parent the moment its right child completes), so integration is amortized O(1) node
writes per leaf, and any root or proof for any size up to the integrated one is served from
O(log n) node reads — old checkpoints stay provable forever without re-hashing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ledger.errors import Conflict, IntegrityError, Unavailable, ValidationError
from ledger.ports import Node, TreeStore
from ledger.private_files import private_file
from ledger.transparency import merkle

_PLACEHOLDER = bytes(merkle.HASH_SIZE)


def _missing(level: int, index: int) -> IntegrityError:
    return IntegrityError(
        f"Merkle node (level {level}, index {index}) is missing from the tree store",
        field="node", expected=f"({level}, {index})", got=None, code="merkle_node_missing",
    )


def _size_moved(old_size: int, actual: int) -> Conflict:
    return Conflict(
        f"the tree grew to {actual} leaves while this writer expected {old_size}",
        field="size", expected=str(old_size), got=actual, code="tree_size_moved", retriable=True,
    )


class MemoryTreeStore:
    """A TreeStore in a dict: for tests, and for a verifier re-deriving a tree."""

    def __init__(self) -> None:
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._size = 0
        self._lock = threading.Lock()

    def get_node(self, level: int, index: int) -> bytes:
        """See TreeStore.get_node."""
        try:
            return self._nodes[(level, index)]
        except KeyError:
            raise _missing(level, index) from None

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored hashes of ``keys`` that exist (one lookup for a whole proof)."""
        return {k: self._nodes[k] for k in keys if k in self._nodes}

    def put_nodes(self, nodes: Sequence[Node], old_size: int, new_size: int) -> None:
        """See TreeStore.put_nodes."""
        with self._lock:
            if self._size != old_size:
                raise _size_moved(old_size, self._size)
            self._nodes.update(((level, index), h) for level, index, h in nodes)
            self._size = new_size

    def size(self) -> int:
        """See TreeStore.size."""
        return self._size


class SqliteTreeStore:
    """A TreeStore in one SQLite file (WAL): ``nodes(level, idx, hash)`` WITHOUT ROWID."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValidationError("unknown SQLite synchronous mode", field="synchronous",
                                  expected="OFF, NORMAL, FULL or EXTRA", got=synchronous)
        self._lock = threading.Lock()
        try:
            # Autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE.
            if str(path) != ":memory:":
                private_file(Path(path))  # 0600, whatever the umask (SQLite's -wal/-shm follow it)
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(
                """
                CREATE TABLE IF NOT EXISTS nodes (
                    level INTEGER NOT NULL,
                    idx   INTEGER NOT NULL,
                    hash  BLOB    NOT NULL,
                    PRIMARY KEY (level, idx)
                ) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS tree_size (
                    id   INTEGER PRIMARY KEY CHECK (id = 0),
                    size INTEGER NOT NULL
                );
                INSERT OR IGNORE INTO tree_size (id, size) VALUES (0, 0);
                """
            )
        except sqlite3.Error as exc:
            raise Unavailable(f"cannot open the Merkle tree store at {path}: {exc}",
                              field="path", got=str(path)) from exc

    def get_node(self, level: int, index: int) -> bytes:
        """See TreeStore.get_node."""
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, index)
                ).fetchone()
            except sqlite3.Error as exc:
                raise Unavailable(f"cannot read the Merkle tree store: {exc}") from exc
        if row is None:
            raise _missing(level, index)
        return bytes(row[0])

    def get_nodes(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored hashes of ``keys`` that exist, in one query per 200 keys (a proof's worth)."""
        found: dict[tuple[int, int], bytes] = {}
        keys = list(dict.fromkeys(keys))
        with self._lock:
            try:
                for at in range(0, len(keys), 200):
                    chunk = keys[at : at + 200]
                    sql = " UNION ALL ".join(["SELECT level, idx, hash FROM nodes WHERE level = ? AND idx = ?"] * len(chunk))
                    rows = self._db.execute(sql, [v for key in chunk for v in key]).fetchall()
                    found.update(((level, idx), bytes(h)) for level, idx, h in rows)
            except sqlite3.Error as exc:
                raise Unavailable(f"cannot read the Merkle tree store: {exc}") from exc
        return found

    def put_nodes(self, nodes: Sequence[Node], old_size: int, new_size: int) -> None:
        """See TreeStore.put_nodes (one IMMEDIATE transaction)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    (actual,) = self._db.execute("SELECT size FROM tree_size WHERE id = 0").fetchone()
                    if actual != old_size:
                        raise _size_moved(old_size, actual)
                    # Plain INSERT: a node is written once; a duplicate means a broken writer.
                    self._db.executemany("INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
                    self._db.execute("UPDATE tree_size SET size = ? WHERE id = 0", (new_size,))
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError as exc:
                raise IntegrityError(f"a Merkle node was written twice: {exc}",
                                     code="merkle_node_duplicate") from exc
            except sqlite3.Error as exc:
                raise Unavailable(f"cannot write the Merkle tree store: {exc}") from exc

    def size(self) -> int:
        """See TreeStore.size."""
        with self._lock:
            try:
                (size,) = self._db.execute("SELECT size FROM tree_size WHERE id = 0").fetchone()
            except sqlite3.Error as exc:
                raise Unavailable(f"cannot read the Merkle tree store: {exc}") from exc
        return int(size)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()


class Tree:
    """An append-only RFC 6962 Merkle tree over a TreeStore.

    Keeps the right border (one perfect-subtree hash per set bit of the size) in memory so
    appending needs no reads; it is reloaded from the store if another writer moved the size.
    """

    def __init__(self, store: TreeStore) -> None:
        self.store = store
        self._size = -1
        self._border: list[tuple[int, bytes]] = []  # (level, hash), highest level first

    def _sync(self) -> int:
        size = self.store.size()
        if size != self._size:
            nodes = merkle.perfect_subtrees(0, size)
            self._border = [(level, self.store.get_node(level, index)) for level, index in nodes]
            self._size = size
        return size

    @property
    def size(self) -> int:
        """The number of integrated leaves (read from the store)."""
        return self.store.size()

    def append_leaf_hashes(self, hashes: Iterable[bytes], expected_size: int | None = None) -> int:
        """Integrate leaf hashes in one store transaction; returns the new size.

        With ``expected_size``, the leaves are appended only at that size: if another writer
        moved the tree meanwhile, Conflict is raised instead of appending them after its leaves.
        """
        size = old_size = self._sync()
        if expected_size is not None and size != expected_size:
            raise _size_moved(expected_size, size)
        border = list(self._border)
        nodes: list[Node] = []
        for h in hashes:
            if not isinstance(h, bytes) or len(h) != merkle.HASH_SIZE:
                raise ValidationError(
                    f"leaf {size} is not a {merkle.HASH_SIZE}-byte hash",
                    field=f"hashes[{size - old_size}]",
                    expected=f"{merkle.HASH_SIZE} bytes",
                    got=len(h) if isinstance(h, bytes) else type(h).__name__,
                    code="invalid_hash",
                )
            nodes.append((0, size, h))
            index, level, cur = size, 0, h
            # Binary-counter carry: each completed right child completes its parent.
            while index & 1:
                cur = merkle.node_hash(border.pop()[1], cur)
                index >>= 1
                level += 1
                nodes.append((level, index, cur))
            border.append((level, cur))
            size += 1
        if size == old_size:
            return size
        self.store.put_nodes(nodes, old_size, size)
        self._size, self._border = size, border
        return size

    def append_entries(self, entries: Iterable[bytes]) -> int:
        """Integrate raw entries (hashed as RFC 6962 leaves); returns the new size."""
        return self.append_leaf_hashes(merkle.leaf_hash(e) for e in entries)

    def _check_size(self, size: int | None) -> int:
        current = self.store.size()
        if size is None:
            return current
        if not 0 <= size <= current:
            raise ValidationError(
                f"tree size {size} is not available; {current} leaves are integrated",
                field="size", expected=f"0 <= size <= {current}", got=size, code="out_of_range",
            )
        return size

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all integrated leaves)."""
        size = self._check_size(size)
        if size == self._size:
            acc: bytes | None = None
            for _, h in reversed(self._border):
                acc = h if acc is None else merkle.node_hash(h, acc)
            return merkle.EMPTY_ROOT if acc is None else acc
        return merkle.tree_root(size, self.store.get_node)

    def _prefetched(self, proof: Callable[..., list[bytes]], *args: int) -> list[bytes]:
        """Run a proof function reading its O(log n) nodes in one store call.

        Which nodes a proof reads depends only on the index and sizes, never on the hashes, so a
        dry run with placeholder hashes lists them; missing ones still raise from ``get_node``.
        """
        wanted: list[tuple[int, int]] = []

        def note(level: int, index: int) -> bytes:
            wanted.append((level, index))
            return _PLACEHOLDER

        proof(*args, note)
        found = self.store.get_nodes(wanted)
        return proof(*args, lambda level, index: found.get((level, index)) or self.store.get_node(level, index))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path of leaf ``index`` in the tree of ``size`` leaves (RFC 6962 §2.1.1)."""
        return self._prefetched(merkle.inclusion_proof, index, self._check_size(size))

    def consistency_proof(self, m: int, n: int | None = None) -> list[bytes]:
        """Proof that the tree of ``m`` leaves is a prefix of the one of ``n`` (RFC 6962 §2.1.2)."""
        return self._prefetched(merkle.consistency_proof, m, self._check_size(n))
