"""The embedded adapters pass their ports' contract suites, plus what only they can show."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ledger.adapters.local_keyring import LocalKeyring
from ledger.adapters.local_objects import LocalObjectStore
from ledger.adapters.sqlite_log import SqliteLog
from ledger.encoding.snapshots import content_key
from ledger.errors import IntegrityError
from ledger.ports import FILINGS, LogRecord, ReservingKeyService, ScannableObjectStore, VerifiableLog
from tests.contracts.key_service_contract import KeyServiceContract
from tests.contracts.log_contract import LogContract
from tests.contracts.object_store_contract import ObjectStoreContract

pytestmark = pytest.mark.integration


class TestSqliteLog(LogContract):
    CAPABILITIES = frozenset({VerifiableLog})

    @pytest.fixture
    def make_log(self, tmp_path: Path) -> Iterator[Callable[[], SqliteLog]]:
        opened: list[SqliteLog] = []

        def make() -> SqliteLog:
            opened.append(SqliteLog(tmp_path / "log.db", partitions=4))
            return opened[-1]

        yield make
        for log in opened:
            try:
                log.close()
            except sqlite3.ProgrammingError:
                pass

    def test_the_log_runs_in_wal_mode_with_full_sync(self, log: SqliteLog) -> None:
        assert log._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert log._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: fsync at every commit

    def test_a_damaged_record_is_reported_not_served(self, log: SqliteLog, tmp_path: Path) -> None:
        pos = log.append(FILINGS, [LogRecord(b"7000012050002", b"the exact bytes recorded")])[0]
        with sqlite3.connect(tmp_path / "log.db") as raw:
            raw.execute('UPDATE records SET value = ? WHERE topic = ? AND partition = ? AND "offset" = ?',
                        (b"the exact bytes recordeD", FILINGS, pos.partition, pos.offset))
        with pytest.raises(IntegrityError) as err:
            log.read(FILINGS, pos.partition, pos.offset)
        assert err.value.code == "log_checksum"
        assert err.value.field == str(pos)
        assert log.verify_integrity() == [f"record {pos}: checksum mismatch"]

    def test_appends_by_another_connection_are_seen_at_once(self, log: SqliteLog, tmp_path: Path) -> None:
        other = SqliteLog(tmp_path / "log.db", partitions=4)  # as another process would open it
        try:
            p = log.partition_for(FILINGS, b"k")
            assert log.end_offset(FILINGS, p) == 0  # cached from here on
            other.append(FILINGS, [LogRecord(b"k", b"from elsewhere")])
            assert log.end_offset(FILINGS, p) == 1
            assert log.append(FILINGS, [LogRecord(b"k", b"mine")])[0].offset == 1
            assert other.end_offset(FILINGS, p) == 2
        finally:
            other.close()

    def test_partition_counts_are_fixed_when_the_log_is_created(self, tmp_path: Path) -> None:
        SqliteLog(tmp_path / "log.db", partitions=4).close()
        again = SqliteLog(tmp_path / "log.db", partitions=16)
        try:
            assert again.partitions(FILINGS) == 4
        finally:
            again.close()


class TestLocalObjectStore(ObjectStoreContract):
    CAPABILITIES = frozenset({ScannableObjectStore})

    @pytest.fixture
    def objects(self, tmp_path: Path) -> LocalObjectStore:
        return LocalObjectStore(tmp_path / "objects")

    def test_snapshots_are_read_only_files(self, objects: LocalObjectStore) -> None:
        key = content_key("snapshots", b"x")
        objects.put_immutable(key, b"x")
        assert not os.stat(objects.root / key).st_mode & 0o222

    def test_altered_bytes_are_detected_on_read(self, objects: LocalObjectStore) -> None:
        key = content_key("snapshots", b"original")
        objects.put_immutable(key, b"original")
        path = objects.root / key
        os.chmod(path, 0o600)
        path.write_bytes(b"0riginal")
        with pytest.raises(IntegrityError) as err:
            objects.get(key)
        assert err.value.code == "object_digest"
        assert err.value.field == key


class TestLocalKeyring(KeyServiceContract):
    CAPABILITIES = frozenset({ReservingKeyService})

    @pytest.fixture
    def make_keys(self, tmp_path: Path) -> Callable[[], LocalKeyring]:
        return lambda: LocalKeyring(tmp_path / "keyring")

    def test_the_master_key_is_readable_by_its_owner_only(self, keys: LocalKeyring) -> None:
        assert oct(os.stat(keys.root / "master.key").st_mode & 0o777) == "0o600"
        assert oct(os.stat(keys.root).st_mode & 0o777) == "0o700"

    def test_plaintext_keys_held_in_memory_are_bounded_and_forgotten_ones_are_read_again(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        import ledger.adapters.local_keyring as local_keyring

        monkeypatch.setattr(local_keyring, "CACHED_KEYS", 3)
        keys = LocalKeyring(tmp_path / "small")
        made = [keys.data_key(f"7000012050002|BONUS_PAYMENT|2026-0{month}-25") for month in range(1, 10)]
        assert len(keys._by_scope) == len(keys._by_id) == 3  # the three most recently used
        assert [keys.key_by_id(dk.key_id) for dk in made] == [dk.key for dk in made]  # the rest from keyring.db
        assert keys.data_key("7000012050002|BONUS_PAYMENT|2026-01-25") == made[0]


def test_two_notifiers_on_one_data_directory_never_notify_twice(tmp_path: Path) -> None:
    """A server and a CLI command on the same data directory each run the notifier; the one that
    computed its batch from a stale position must write nothing."""
    from ledger.errors import Conflict
    from ledger.ports import NOTICES

    first = SqliteLog(tmp_path / "log.db")
    second = SqliteLog(tmp_path / "log.db")
    try:
        src = first.append(FILINGS, [LogRecord(b"7000012050002", b"filing")])[0]
        start_seen_by_both = 0
        first.transact("notifier", {(FILINGS, src.partition): src.offset + 1}, [(NOTICES, LogRecord(b"a", b"notice"))],
                       expected={(FILINGS, src.partition): start_seen_by_both})
        ends = {p: second.end_offset(NOTICES, p) for p in range(second.partitions(NOTICES))}
        with pytest.raises(Conflict) as err:
            second.transact("notifier", {(FILINGS, src.partition): src.offset + 1}, [(NOTICES, LogRecord(b"a", b"notice"))],
                            expected={(FILINGS, src.partition): start_seen_by_both})
        assert err.value.code == "group_moved" and err.value.retriable
        assert {p: second.end_offset(NOTICES, p) for p in range(second.partitions(NOTICES))} == ends
    finally:
        first.close()
        second.close()
