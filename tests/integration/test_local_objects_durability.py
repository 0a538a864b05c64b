"""A snapshot torn by a power cut before its sync is written again by the next projection; any
other clash under an existing name is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.adapters.local_objects import LocalObjectStore, content_key
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
