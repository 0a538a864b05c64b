"""SqliteCheckpointStore: every signed checkpoint and deadline seal, kept forever in one SQLite file.

Rows are only ever inserted (``INSERT OR IGNORE``: Ed25519 signatures are deterministic, so two
processes publishing the same tree size store the same note). ``synchronous=FULL``: unlike the
trees, a published checkpoint cannot be re-derived — its signature time is history.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ledger.errors import Unavailable
from ledger.ports import Published, Seal
from ledger.private_files import private_sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, size INTEGER NOT NULL,
    root BLOB NOT NULL, note TEXT NOT NULL, published_us INTEGER NOT NULL, kind TEXT NOT NULL,
    PRIMARY KEY (topic, partition, size)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seals (
    deadline_us INTEGER NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, size INTEGER NOT NULL,
    root BLOB NOT NULL, note TEXT NOT NULL, sealed_us INTEGER NOT NULL, periods TEXT NOT NULL,
    PRIMARY KEY (deadline_us, topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sealed_periods (
    procedure TEXT NOT NULL, period TEXT NOT NULL, deadline_us INTEGER NOT NULL,
    PRIMARY KEY (procedure, period)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seal_state (
    id INTEGER PRIMARY KEY CHECK (id = 0), sealed_until_us INTEGER NOT NULL
);
"""

_CP = "topic, partition, size, root, note, published_us, kind"
_SEAL = "deadline_us, topic, partition, size, root, note, sealed_us, periods"


def _published(row: tuple) -> Published:
    topic, partition, size, root, note, published_us, kind = row
    return Published(topic, partition, size, bytes(root), note, published_us, kind)


def _seal(row: tuple) -> Seal:
    deadline_us, topic, partition, size, root, note, sealed_us, periods = row
    return Seal(deadline_us, topic, partition, size, bytes(root), note, sealed_us, tuple(periods.split()))


class SqliteCheckpointStore:
    """The embedded ``CheckpointStore`` (``$KIROKU_HOME/checkpoints.db``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            private_sqlite(self.path)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise Unavailable(f"cannot open the checkpoint store at {self.path}: {exc}", field="path",
                              got=str(self.path)) from exc

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise Unavailable(f"cannot read the checkpoint store: {exc}") from exc

    def add(self, cp: Published) -> Published:
        """Store a checkpoint; if one of that size exists, return the stored one."""
        with self._lock:
            try:
                self._db.execute(f"INSERT OR IGNORE INTO checkpoints ({_CP}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 (cp.topic, cp.partition, cp.size, cp.root, cp.note, cp.published_us, cp.kind))
                row = self._db.execute(f"SELECT {_CP} FROM checkpoints WHERE topic = ? AND partition = ? AND size = ?",
                                       (cp.topic, cp.partition, cp.size)).fetchone()
            except sqlite3.Error as exc:
                raise Unavailable(f"cannot write the checkpoint store: {exc}") from exc
        return _published(row)

    def latest(self, topic: str, partition: int) -> Published | None:
        rows = self._query(f"SELECT {_CP} FROM checkpoints WHERE topic = ? AND partition = ? ORDER BY size DESC LIMIT 1",
                           (topic, partition))
        return _published(rows[0]) if rows else None

    def at_size(self, topic: str, partition: int, size: int) -> Published | None:
        rows = self._query(f"SELECT {_CP} FROM checkpoints WHERE topic = ? AND partition = ? AND size = ?",
                           (topic, partition, size))
        return _published(rows[0]) if rows else None

    def checkpoints(self, topic: str | None = None, partition: int | None = None) -> list[Published]:
        where, args = _filter(topic, partition)
        return [_published(r) for r in self._query(
            f"SELECT {_CP} FROM checkpoints {where} ORDER BY topic, partition, size", args)]

    def add_seals(self, seals: list[Seal], sealed_until_us: int) -> None:
        """Record the seals of one deadline and move the sealing position, in one transaction."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(
                        f"INSERT OR IGNORE INTO seals ({_SEAL}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [(s.deadline_us, s.topic, s.partition, s.size, s.root, s.note, s.sealed_us, " ".join(s.periods))
                         for s in seals])
                    self._db.executemany(
                        "INSERT OR IGNORE INTO sealed_periods (procedure, period, deadline_us) VALUES (?, ?, ?)",
                        sorted({(*p.split("/", 1), s.deadline_us) for s in seals for p in s.periods}))
                    self._set_sealed_until(sealed_until_us)
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise Unavailable(f"cannot write the checkpoint store: {exc}") from exc

    def _set_sealed_until(self, us: int) -> None:
        self._db.execute(
            "INSERT INTO seal_state (id, sealed_until_us) VALUES (0, ?) "
            "ON CONFLICT (id) DO UPDATE SET sealed_until_us = max(sealed_until_us, excluded.sealed_until_us)", (us,))

    def set_sealed_until(self, us: int) -> None:
        """Move the sealing position forward (never back)."""
        with self._lock:
            try:
                self._set_sealed_until(us)
            except sqlite3.Error as exc:
                raise Unavailable(f"cannot write the checkpoint store: {exc}") from exc

    def sealed_until(self) -> int | None:
        rows = self._query("SELECT sealed_until_us FROM seal_state WHERE id = 0")
        return rows[0][0] if rows else None

    def seal(self, procedure: str, period: str, topic: str, partition: int) -> Seal | None:
        rows = self._query(
            f"SELECT {', '.join('s.' + c for c in _SEAL.split(', '))} FROM sealed_periods p "
            "JOIN seals s ON s.deadline_us = p.deadline_us WHERE p.procedure = ? AND p.period = ? "
            "AND s.topic = ? AND s.partition = ?", (procedure, period, topic, partition))
        return _seal(rows[0]) if rows else None

    def seals(self, topic: str | None = None, partition: int | None = None) -> list[Seal]:
        where, args = _filter(topic, partition)
        return [_seal(r) for r in self._query(
            f"SELECT {_SEAL} FROM seals {where} ORDER BY deadline_us, topic, partition", args)]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _filter(topic: str | None, partition: int | None) -> tuple[str, tuple]:
    conds: list[str] = []
    args: list[str | int] = []
    if topic is not None:
        conds.append("topic = ?")
        args.append(topic)
    if partition is not None:
        conds.append("partition = ?")
        args.append(partition)
    return ("WHERE " + " AND ".join(conds) if conds else ""), tuple(args)
