"""Snapshot objects: a batch becomes durable by one sync; a snapshot torn by a power cut before
that sync is written again by the next projection; any other clash under an existing name is
refused."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from ledger.adapters import local_objects
from ledger.adapters.local_objects import LocalObjectStore
from ledger.encoding.snapshots import content_key
from ledger.errors import IntegrityError

pytestmark = pytest.mark.integration

DATA = b"Obj\x01 a snapshot container"


@pytest.mark.parametrize("torn", [b"", DATA[:7], DATA[:-1] + b"\x00"], ids=["empty", "truncated", "garbled"])
def test_a_torn_content_addressed_object_is_written_again(tmp_path: Path, torn: bytes) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    key = content_key("snapshots", DATA)
    path = tmp_path / "objects" / key
    path.parent.mkdir(parents=True)
    path.write_bytes(torn)  # what a power cut between rename and sync can leave behind
    store.put_many([(key, DATA, None)])
    assert store.get(key) == DATA
    assert not list((tmp_path / "objects").rglob("*.tmp"))


def test_bytes_that_do_not_match_their_name_never_replace_a_stored_object(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    key = content_key("snapshots", DATA)
    store.put_many([(key, DATA, None)])
    with pytest.raises(IntegrityError) as err:
        store.put_many([(key, b"other bytes", None)])
    assert err.value.code == "object_exists" and err.value.field == key
    assert store.get(key) == DATA


def test_an_object_not_named_by_its_digest_is_never_rewritten(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    store.put_many([("checkpoints/latest.txt", b"one", None)])
    with pytest.raises(IntegrityError) as err:
        store.put_many([("checkpoints/latest.txt", b"two", None)])
    assert err.value.code == "object_exists"
    assert (tmp_path / "objects" / "checkpoints/latest.txt").read_bytes() == b"one"


def test_a_batch_is_made_durable_by_one_sync_of_the_filesystem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = local_objects._sync_filesystem
    assert real is not None, "Linux has syncfs(2): ctypes must find it in the C library"
    synced: list[tuple[int, int]] = []

    def recording(fd: int) -> None:
        synced.append((os.fstat(fd).st_dev, os.fstat(fd).st_ino))
        real(fd)

    monkeypatch.setattr(local_objects, "_sync_filesystem", recording)
    store = LocalObjectStore(tmp_path / "objects")
    items = [(content_key("snapshots", DATA + bytes([i])), DATA + bytes([i]), None) for i in range(40)]
    store.put_many(items)
    root = os.stat(tmp_path / "objects")
    assert synced == [(root.st_dev, root.st_ino)]  # once for the batch, on the store's own filesystem
    store.put_many(items)  # all already stored: nothing written, nothing to sync
    assert len(synced) == 1
    for key, data, _ in items:
        assert store.get(key) == data
        assert stat.S_IMODE(os.stat(tmp_path / "objects" / key).st_mode) & 0o222 == 0  # read-only


def test_without_syncfs_every_file_and_folder_is_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_objects, "_sync_filesystem", None)
    fsynced: list[int] = []
    real_fsync = os.fsync

    def recording(fd: int) -> None:
        fsynced.append(os.fstat(fd).st_ino)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    store = LocalObjectStore(tmp_path / "objects")
    items = [(content_key("snapshots", DATA + bytes([i])), DATA + bytes([i]), None) for i in range(5)]
    store.put_many(items)
    paths = [tmp_path / "objects" / key for key, _, _ in items]
    expected = {os.stat(p).st_ino for p in paths} | {os.stat(p.parent).st_ino for p in paths}
    assert sorted(fsynced) == sorted(expected)


def test_sync_filesystem_reports_the_failure_of_the_call() -> None:
    sync = local_objects._sync_filesystem
    assert sync is not None
    with pytest.raises(OSError) as err:
        sync(-1)
    assert err.value.errno == errno.EBADF


def test_a_temporary_file_left_by_a_crashed_process_with_our_pid_is_replaced(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    key = content_key("snapshots", DATA)
    path = tmp_path / "objects" / key
    path.parent.mkdir(parents=True)
    stale = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    stale.write_bytes(b"half of an earlier try")
    stale.chmod(0o440)
    store.put_many([(key, DATA, None)])
    assert store.get(key) == DATA
    assert not stale.exists()
