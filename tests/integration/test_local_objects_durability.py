"""The order of a snapshot batch's durable writes: no object appears under its final name before
its bytes are synced, and the directory entries are synced after the renames."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import ledger.adapters.local_objects as local_objects
from ledger.adapters.local_objects import LocalObjectStore, content_key

pytestmark = pytest.mark.integration


def test_each_object_is_synced_before_it_is_renamed_into_place_and_directories_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = local_objects._fsync_path, os.replace

    def fsync(path: Path) -> None:
        events.append(("fsync", str(path)))
        real_fsync(path)

    def replace(src: str | Path, dst: str | Path) -> None:
        events.append(("rename", str(src)))
        events.append(("named", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(local_objects, "_fsync_path", fsync)
    monkeypatch.setattr(local_objects.os, "replace", replace)
    items = [(content_key("snapshots", data), data, None) for data in (b"one", b"two", b"three")]
    store.put_many(items)

    order = {event: i for i, event in enumerate(events)}
    for key, data, _ in items:
        final = tmp_path / "objects" / key
        assert final.read_bytes() == data
        renamed = [src for kind, src in events if kind == "rename" and Path(src).name.startswith(f".{final.name}.")]
        assert len(renamed) == 1
        assert order[("fsync", renamed[0])] < order[("rename", renamed[0])]  # bytes durable before the name
        assert order[("named", str(final))] < order[("fsync", str(final.parent))]  # the entry synced after
    assert not list((tmp_path / "objects").rglob("*.tmp"))
