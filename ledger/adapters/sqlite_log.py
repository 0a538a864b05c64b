"""SqliteLog: the embedded ledger log, one SQLite file in WAL mode.

Same model as Kafka: named topics, a fixed number of partitions each, per-partition offsets from
0, keyed records partitioned by murmur2, and consumer-group positions committed atomically with
produced records (``transact``), which is what Kafka transactions give the Kafka adapter.

A record is durable before ``append`` returns: ``synchronous=FULL`` makes SQLite fsync the WAL
at each commit. Each record carries a CRC-32C-style checksum (zlib.crc32 over key and value) so
that a torn or altered row is reported on read instead of served.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from ledger.errors import ConfigurationError, Conflict, IntegrityError, Unavailable
from ledger.partitioning import partition_for
from ledger.ports import TOPICS, LogRecord, Position, StoredRecord
from ledger.private_files import private_sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    topic TEXT PRIMARY KEY,
    partitions INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    timestamp_us INTEGER NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    crc INTEGER NOT NULL,
    PRIMARY KEY (topic, partition, "offset")
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS consumer_offsets (
    grp TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (grp, topic, partition)
) WITHOUT ROWID;
"""


def _crc(key: bytes, value: bytes) -> int:
    return zlib.crc32(value, zlib.crc32(key))


class SqliteLog:
    """The embedded ``Log`` adapter (``KIROKU_LOG=sqlite:///path/log.db``)."""

    def __init__(self, path: Path, partitions: int = 4) -> None:
        self.path = Path(path)
        private_sqlite(self.path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        except sqlite3.Error as exc:  # pragma: no cover - depends on the filesystem
            raise Unavailable(f"cannot open the ledger log at {self.path}: {exc}") from exc
        self._lock = threading.RLock()
        self._partitions: dict[str, int] = {}
        self._ends: dict[tuple[str, int], int] = {}
        self._pending_ends: dict[tuple[str, int], int] = {}
        self._data_version = -1
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._ensure_topics(partitions)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise IntegrityError(
                f"the ledger log at {self.path} is damaged ({exc}); Kiroku will not serve from it — restore it "
                "from a backup or a replica", field=str(self.path), code="log_damaged") from exc

    @classmethod
    def from_url(cls, url: str, partitions: int) -> SqliteLog:
        """``sqlite:///relative/path`` or ``sqlite:////absolute/path`` (SQLAlchemy's convention)."""
        return cls(Path(url.removeprefix("sqlite:///")), partitions)

    def _ensure_topics(self, partitions: int) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                existing = dict(self._db.execute("SELECT topic, partitions FROM topics").fetchall())
                for topic in TOPICS:
                    if topic not in existing:
                        self._db.execute("INSERT INTO topics VALUES (?, ?)", (topic, partitions))
                        existing[topic] = partitions
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            # A topic's partition count is fixed at creation (as in Kafka), so keys keep their partition.
            self._partitions = existing

    # -- the Log port ---------------------------------------------------------------------------

    def partitions(self, topic: str) -> int:
        try:
            return self._partitions[topic]
        except KeyError:
            raise ConfigurationError(f"unknown topic {topic!r}", field="topic", expected=", ".join(TOPICS), got=topic) from None

    def partition_for(self, topic: str, key: bytes) -> int:
        return partition_for(key, self.partitions(topic))

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE`` takes the writer lock across processes);
        the cached end offsets follow its outcome."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._committed(False)
                raise
            self._committed(True)

    def append(self, topic: str, records: Sequence[LogRecord]) -> list[Position]:
        if not records:
            return []
        with self._write():
            return self._insert(topic, records)

    def _insert(self, topic: str, records: Sequence[LogRecord]) -> list[Position]:
        n = self.partitions(topic)
        now = time.time_ns() // 1000
        next_offsets: dict[int, int] = {}
        rows = []
        positions = []
        for rec in records:
            p = partition_for(rec.key, n)
            if p not in next_offsets:
                next_offsets[p] = self._end_offset_locked(topic, p)
            off = next_offsets[p]
            next_offsets[p] = off + 1
            rows.append((topic, p, off, now, rec.key, rec.value, _crc(rec.key, rec.value)))
            positions.append(Position(topic, p, off))
        self._db.executemany('INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)', rows)
        self._pending_ends.update({(topic, p): off for p, off in next_offsets.items()})
        return positions

    def _committed(self, ok: bool) -> None:
        """After COMMIT the new ends are known; after ROLLBACK nothing cached can be trusted."""
        if ok:
            self._ends.update(self._pending_ends)
        else:
            self._ends.clear()
        self._pending_ends = {}

    def _end_offset_locked(self, topic: str, partition: int) -> int:
        # End offsets are cached; SQLite's data_version changes exactly when another connection
        # (another process) commits, and then the cache is dropped. Our own commits keep it exact.
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._ends.clear()
            self._data_version = version
        end = self._ends.get((topic, partition))
        if end is None:
            row = self._db.execute(
                'SELECT max("offset") FROM records WHERE topic = ? AND partition = ?', (topic, partition)
            ).fetchone()
            end = self._ends[(topic, partition)] = 0 if row[0] is None else row[0] + 1
        return end

    def read(self, topic: str, partition: int, offset: int, max_records: int = 1000) -> list[StoredRecord]:
        with self._lock:
            rows = self._db.execute(
                'SELECT "offset", timestamp_us, key, value, crc FROM records '
                'WHERE topic = ? AND partition = ? AND "offset" >= ? ORDER BY "offset" LIMIT ?',
                (topic, partition, offset, max_records),
            ).fetchall()
        out = []
        for off, ts, key, value, crc in rows:
            if _crc(key, value) != crc:
                raise IntegrityError(
                    f"ledger record {topic}/{partition}/{off} is damaged: its checksum does not match its bytes",
                    field=f"{topic}/{partition}/{off}", expected=f"crc {crc}", got=f"crc {_crc(key, value)}",
                    code="log_checksum",
                )
            out.append(StoredRecord(topic, partition, off, ts, key, value))
        return out

    def refresh(self) -> None:
        """Nothing to forget: every read checks the database file for other writers' commits."""

    def end_offset(self, topic: str, partition: int) -> int:
        with self._lock:
            return self._end_offset_locked(topic, partition)

    def committed(self, group: str, topic: str, partition: int) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT next_offset FROM consumer_offsets WHERE grp = ? AND topic = ? AND partition = ?",
                (group, topic, partition),
            ).fetchone()
        return 0 if row is None else row[0]

    def transact(
        self,
        group: str,
        consumed: Mapping[tuple[str, int], int],
        produce: Sequence[tuple[str, LogRecord]],
        expected: Mapping[tuple[str, int], int] | None = None,
    ) -> list[Position]:
        positions: list[Position] = []
        with self._write():
            for (t, p), start in (expected or {}).items():
                now = self._db.execute("SELECT next_offset FROM consumer_offsets WHERE grp = ? AND topic = ? AND partition = ?",
                                       (group, t, p)).fetchone()
                if (0 if now is None else now[0]) != start:
                    # Another process consumed these records first: writing ours would repeat its output.
                    raise Conflict(f"consumer group {group} moved on in {t}/{p} meanwhile; this batch is dropped",
                                   field=f"{t}/{p}", expected=str(start), got=str(0 if now is None else now[0]),
                                   code="group_moved", retriable=True)
            by_topic: dict[str, list[LogRecord]] = {}
            for topic, rec in produce:
                by_topic.setdefault(topic, []).append(rec)
            for topic, recs in by_topic.items():
                positions.extend(self._insert(topic, recs))
            self._db.executemany(
                "INSERT INTO consumer_offsets VALUES (?, ?, ?, ?) "
                "ON CONFLICT (grp, topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
                [(group, t, p, off) for (t, p), off in consumed.items()],
            )
        return positions

    def verify_integrity(self) -> list[str]:
        """Problems found by SQLite's own check and by every record's checksum (empty when sound)."""
        with self._lock:
            problems = [r[0] for r in self._db.execute("PRAGMA integrity_check").fetchall() if r[0] != "ok"]
            for topic, partition, off, key, value, crc in self._db.execute(
                'SELECT topic, partition, "offset", key, value, crc FROM records'
            ):
                if _crc(key, value) != crc:
                    problems.append(f"record {topic}/{partition}/{off}: checksum mismatch")
        return problems

    def close(self) -> None:
        with self._lock:
            self._db.close()
