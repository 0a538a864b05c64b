"""The ObjectStore port's contract: write once, verify on read, never delete a retained snapshot."""

from __future__ import annotations

import pytest

from ledger.encoding.snapshots import content_key
from ledger.errors import Forbidden, IntegrityError, NotFound
from ledger.ports import ObjectStore, ScannableObjectStore


class ObjectStoreContract:
    """Subclass and provide an ``objects`` fixture, and say which capabilities the adapter has."""

    #: The optional capability protocols (``ledger.ports``) this adapter implements.
    CAPABILITIES: frozenset[type] = frozenset()

    def test_the_adapter_has_exactly_the_capabilities_it_declares(self, objects: ObjectStore) -> None:
        assert {cap for cap in (ScannableObjectStore,) if isinstance(objects, cap)} == set(self.CAPABILITIES)

    def test_a_batch_put_stores_every_object_once_and_refuses_other_bytes(self, objects: ObjectStore) -> None:
        items: list[tuple[str, bytes, int | None]] = [(content_key("snapshots", d), d, 4_102_444_800_000_000)
                                                      for d in (b"batch one", b"batch two", b"batch three")]
        objects.put_many(items)
        objects.put_many(items[:1])  # the same bytes again: a no-op
        assert [objects.get(key) for key, _, _ in items] == [d for _, d, _ in items]
        with pytest.raises(IntegrityError) as err:
            objects.put_many([(items[0][0], b"other bytes", None)])
        assert (err.value.code, err.value.field) == ("object_exists", items[0][0])
        assert objects.get(items[0][0]) == b"batch one"

    def test_a_scannable_store_lists_what_it_holds_and_no_unfinished_writes(self, objects: ObjectStore) -> None:
        if not isinstance(objects, ScannableObjectStore):
            assert ScannableObjectStore not in self.CAPABILITIES
            return
        key = content_key("snapshots", b"listed")
        objects.put_immutable(key, b"listed")
        assert key in objects.keys()
        assert objects.stray_temporaries() == []

    @pytest.fixture
    def objects(self) -> ObjectStore:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    def test_an_object_reads_back_exactly_as_written(self, objects: ObjectStore) -> None:
        data = b"Obj\x01 snapshot bytes"
        key = content_key("snapshots", data)
        objects.put_immutable(key, data, retain_until_us=4_102_444_800_000_000)
        assert objects.exists(key)
        assert objects.get(key) == data

    def test_writing_the_same_bytes_again_is_a_no_op(self, objects: ObjectStore) -> None:
        data = b"same"
        key = content_key("snapshots", data)
        objects.put_immutable(key, data)
        objects.put_immutable(key, data)
        assert objects.get(key) == data

    def test_other_bytes_under_an_existing_key_are_refused(self, objects: ObjectStore) -> None:
        key = "snapshots/named-by-hand.avro"
        objects.put_immutable(key, b"first")
        with pytest.raises(IntegrityError) as err:
            objects.put_immutable(key, b"second")
        assert err.value.code == "object_exists" and err.value.field == key
        assert objects.get(key) == b"first"

    def test_a_missing_object_is_not_found(self, objects: ObjectStore) -> None:
        with pytest.raises(NotFound) as err:
            objects.get(content_key("snapshots", b"never written"))
        assert err.value.code == "object_missing"

    def test_deleting_a_retained_snapshot_is_refused(self, objects: ObjectStore) -> None:
        data = b"keep me"
        key = content_key("snapshots", data)
        objects.put_immutable(key, data, retain_until_us=4_102_444_800_000_000)
        with pytest.raises(Forbidden) as err:
            objects.delete(key)
        assert err.value.code == "retention_locked"
        assert objects.get(key) == data
