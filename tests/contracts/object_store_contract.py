"""The ObjectStore port's contract: write once, verify on read, never delete a retained snapshot."""

from __future__ import annotations

import pytest

from ledger.adapters.local_objects import content_key
from ledger.errors import Forbidden, IntegrityError, NotFound
from ledger.ports import ObjectStore


class ObjectStoreContract:
    """Subclass and provide an ``objects`` fixture."""

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
