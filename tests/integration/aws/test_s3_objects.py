"""S3ObjectStore: the ObjectStore contract on S3 (moto in-process and moto's server over HTTP),
Object Lock COMPLIANCE per snapshot, write-once, checksums both ways, and the bucket it insists on."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.aws.support import REGION, require

require("moto")
require("boto3")

from botocore.exceptions import ClientError  # noqa: E402

from ledger.adapters.s3_objects import MIB, S3ObjectStore  # noqa: E402
from ledger.bootstrap import open_kiroku  # noqa: E402
from ledger.encoding.snapshots import content_key  # noqa: E402
from ledger.errors import ConfigurationError, Forbidden, IntegrityError, NotFound  # noqa: E402
from tests.contracts.object_store_contract import ObjectStoreContract  # noqa: E402
from tests.integration.aws.conftest import boto, unique_bucket  # noqa: E402

pytestmark = pytest.mark.integration

YEAR_2100_US = 4_102_444_800_000_000


def in_a_year_us() -> int:
    return int((datetime.now(UTC) + timedelta(days=365)).timestamp() * 1_000_000)


def sha_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def sent_headers(store: S3ObjectStore, operation: str) -> list[dict[str, str]]:
    """Collect the HTTP headers of every ``operation`` request the store's client sends."""
    seen: list[dict[str, str]] = []

    def record(request: Any, **_: Any) -> None:
        seen.append({k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()})

    store.s3.meta.events.register(f"before-send.s3.{operation}", record)
    return seen


class TestS3ObjectStoreInProcess(ObjectStoreContract):
    """The contract, with moto intercepting botocore in-process."""

    @pytest.fixture
    def objects(self, in_process_aws: None) -> S3ObjectStore:
        return S3ObjectStore.from_url(f"s3://{unique_bucket()}?region={REGION}")


class TestS3ObjectStoreOverHttp(ObjectStoreContract):
    """The contract, over HTTP against moto's standalone server on a loopback port."""

    @pytest.fixture
    def objects(self, moto_endpoint: str) -> S3ObjectStore:
        return S3ObjectStore.from_url(f"s3://{unique_bucket()}?region={REGION}&endpoint={moto_endpoint}")

    def test_each_snapshot_is_locked_in_compliance_mode_until_its_own_retain_until_date(self, objects: S3ObjectStore,
                                                                                        moto_endpoint: str) -> None:
        s3 = boto("s3", moto_endpoint)
        soon, later = in_a_year_us(), YEAR_2100_US + 123_456
        a, b = b"snapshot a", b"snapshot b"
        objects.put_immutable(content_key("snapshots", a), a, retain_until_us=soon)
        objects.put_immutable(content_key("snapshots", b), b, retain_until_us=later)
        for data, until_us in ((a, soon), (b, later)):
            head = s3.head_object(Bucket=objects.bucket, Key=content_key("snapshots", data))
            assert head["ObjectLockMode"] == "COMPLIANCE"
            # Rounded up to the second: a lock never ends before the retention asked for.
            assert head["ObjectLockRetainUntilDate"].timestamp() == -(-until_us // 1_000_000)
        assert objects.lock_status(content_key("snapshots", b))[0] == "COMPLIANCE"

    def test_the_checksum_is_sent_with_every_write(self, objects: S3ObjectStore) -> None:
        headers = sent_headers(objects, "PutObject")
        data = b"checksummed snapshot"
        objects.put_immutable(content_key("snapshots", data), data, retain_until_us=in_a_year_us())
        [sent] = headers
        assert sent["x-amz-checksum-sha256"] == sha_b64(data)
        assert sent["x-amz-sdk-checksum-algorithm"] == "SHA256"
        assert sent["If-None-Match"] == "*"  # S3 itself refuses a second writer of the key

    def test_a_locked_snapshot_survives_delete_and_overwrite_attempts(self, objects: S3ObjectStore, moto_endpoint: str) -> None:
        s3 = boto("s3", moto_endpoint)
        data = b"the recorded snapshot"
        key = content_key("snapshots", data)
        objects.put_immutable(key, data, retain_until_us=in_a_year_us())
        original = s3.head_object(Bucket=objects.bucket, Key=key)["VersionId"]

        # Through Kiroku: refused and reported, naming the key.
        with pytest.raises(Forbidden) as err:
            objects.delete(key)
        assert (err.value.code, err.value.field) == ("retention_locked", key)
        assert "COMPLIANCE" in err.value.message
        with pytest.raises(IntegrityError) as err:
            objects.put_immutable(key, b"other bytes", retain_until_us=in_a_year_us())
        assert (err.value.code, err.value.field) == ("object_exists", key)

        # Behind Kiroku's back: S3 refuses to delete the locked version…
        with pytest.raises(ClientError) as denied:
            s3.delete_object(Bucket=objects.bucket, Key=key, VersionId=original)
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        # …a plain DELETE only stacks a delete marker, and Kiroku still serves the locked version.
        s3.delete_object(Bucket=objects.bucket, Key=key)
        assert objects.exists(key) and objects.get(key) == data
        with pytest.raises(Forbidden):
            objects.delete(key)
        # An overwrite makes a new version: detected, never served; the locked original is intact.
        s3.put_object(Bucket=objects.bucket, Key=key, Body=b"forged bytes")
        with pytest.raises(IntegrityError) as err:
            objects.get(key)
        assert (err.value.code, err.value.field) == ("object_digest", key)
        kept = s3.get_object(Bucket=objects.bucket, Key=key, VersionId=original)
        assert kept["Body"].read() == data and kept["ObjectLockMode"] == "COMPLIANCE"

    def test_bytes_that_no_longer_match_their_name_are_detected_not_served(self, objects: S3ObjectStore, moto_endpoint: str) -> None:
        data = b"original snapshot"
        key = content_key("snapshots", data)
        objects.put_immutable(key, data, retain_until_us=in_a_year_us())
        forged = b"0riginal snapshot"
        boto("s3", moto_endpoint).put_object(Bucket=objects.bucket, Key=key, Body=forged, ChecksumAlgorithm="SHA256",
                                             ChecksumSHA256=sha_b64(forged), Metadata={"sha256": hashlib.sha256(data).hexdigest()})
        with pytest.raises(IntegrityError) as err:
            objects.get(key)
        assert err.value.code == "object_digest" and err.value.field == key
        assert err.value.expected == hashlib.sha256(data).hexdigest() and err.value.got == hashlib.sha256(forged).hexdigest()
        with pytest.raises(IntegrityError):
            objects.get_to(key, io.BytesIO())

    def test_bytes_that_do_not_match_the_checksum_s3_recorded_are_refused_on_read(self, objects: S3ObjectStore, moto_endpoint: str) -> None:
        # Real S3 refuses such a PUT (BadDigest); moto stores it, which lets this test play bit rot.
        key = "snapshots/named-by-hand.avro"
        boto("s3", moto_endpoint).put_object(Bucket=objects.bucket, Key=key, Body=b"rotted", ChecksumAlgorithm="SHA256",
                                             ChecksumSHA256=sha_b64(b"written"))
        with pytest.raises(IntegrityError) as err:
            objects.get(key)
        assert (err.value.code, err.value.field) == ("object_checksum", key)

    def test_writing_again_may_extend_a_lock_but_never_asks_to_shorten_it(self, objects: S3ObjectStore, moto_endpoint: str) -> None:
        # In COMPLIANCE mode AWS refuses to shorten a retention period; moto does not enforce
        # that rule (its put_object_retention overwrites the date), so this test checks that
        # Kiroku never asks, rather than relying on moto to refuse.
        s3 = boto("s3", moto_endpoint)
        data = b"kept"
        key = content_key("snapshots", data)
        first = in_a_year_us()
        objects.put_immutable(key, data, retain_until_us=first)
        retention_calls = sent_headers(objects, "PutObjectRetention")
        objects.put_immutable(key, data, retain_until_us=first - 86_400_000_000)
        assert retention_calls == []
        assert s3.head_object(Bucket=objects.bucket, Key=key)["ObjectLockRetainUntilDate"].timestamp() == -(-first // 1_000_000)
        objects.put_immutable(key, data, retain_until_us=YEAR_2100_US)
        assert len(retention_calls) == 1
        assert s3.head_object(Bucket=objects.bucket, Key=key)["ObjectLockRetainUntilDate"].timestamp() == YEAR_2100_US // 1_000_000

    def test_an_object_whose_retention_already_ended_is_stored_without_a_lock(self, objects: S3ObjectStore, moto_endpoint: str) -> None:
        # AWS refuses retain-until dates in the past (e.g. when an old log is replayed into a new bucket).
        data = b"from a replayed old log"
        key = content_key("snapshots", data)
        objects.put_immutable(key, data, retain_until_us=1_000_000)
        assert "ObjectLockMode" not in boto("s3", moto_endpoint).head_object(Bucket=objects.bucket, Key=key)
        with pytest.raises(Forbidden):  # Kiroku still never deletes a snapshot
            objects.delete(key)

    def test_deleting_a_missing_object_is_not_found(self, objects: S3ObjectStore) -> None:
        with pytest.raises(NotFound) as err:
            objects.delete(content_key("snapshots", b"never"))
        assert err.value.code == "object_missing"


# -- large objects --------------------------------------------------------------------------------

@pytest.fixture
def small_parts(moto_endpoint: str) -> S3ObjectStore:
    """Multipart from 5 MiB up, in 5 MiB parts (S3's minimum), so large-object paths run on small data."""
    return S3ObjectStore.from_url(f"s3://{unique_bucket()}?region={REGION}&endpoint={moto_endpoint}&part_mb=5&multipart_mb=5")


def test_a_large_snapshot_goes_up_in_checksummed_parts_and_is_locked(small_parts: S3ObjectStore, moto_endpoint: str) -> None:
    data = bytes(range(256)) * (12 * MIB // 256) + b"tail"
    key = content_key("snapshots", data)
    parts = sent_headers(small_parts, "UploadPart")
    small_parts.put_immutable(key, data, retain_until_us=in_a_year_us())
    assert len(parts) == 3
    chunks = [data[i:i + 5 * MIB] for i in range(0, len(data), 5 * MIB)]
    assert [p["x-amz-checksum-sha256"] for p in parts] == [sha_b64(c) for c in chunks]
    head = boto("s3", moto_endpoint).head_object(Bucket=small_parts.bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ContentLength"] == len(data)
    assert small_parts.get(key) == data
    sink = io.BytesIO()
    assert small_parts.get_to(key, sink) == len(data) and sink.getvalue() == data
    small_parts.put_immutable(key, data)  # identical bytes again: a no-op


def test_a_stream_is_uploaded_without_being_read_whole(small_parts: S3ObjectStore) -> None:
    data = b"\x01\x02" * (6 * MIB)
    key = content_key("snapshots", data)
    small_parts.put_stream(key, io.BytesIO(data), retain_until_us=in_a_year_us())
    assert small_parts.get(key) == data
    named = "exports/by-name.bin"  # not a content address: the SHA-256 comes from a first pass
    small_parts.put_stream(named, io.BytesIO(data))
    assert small_parts.get(named) == data
    with pytest.raises(IntegrityError) as err:  # a stream that does not hash to its name is aborted
        small_parts.put_stream(content_key("snapshots", b"something else"), io.BytesIO(data))
    assert err.value.code == "object_digest"
    assert not small_parts.exists(content_key("snapshots", b"something else"))


# -- the bucket Kiroku insists on -------------------------------------------------------------------

def test_a_missing_bucket_is_created_with_versioning_and_object_lock(moto_endpoint: str) -> None:
    bucket = unique_bucket()
    S3ObjectStore.from_url(f"s3://{bucket}?region={REGION}&endpoint={moto_endpoint}")
    s3 = boto("s3", moto_endpoint)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"


def test_a_missing_bucket_is_refused_when_kiroku_may_not_create_it(moto_endpoint: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        S3ObjectStore.from_url(f"s3://{unique_bucket()}?region={REGION}&endpoint={moto_endpoint}&create=false")
    assert (err.value.code, err.value.field) == ("bucket_missing", "KIROKU_OBJECTS")


def _plain_bucket(endpoint: str, versioning: bool) -> str:
    bucket = unique_bucket()
    s3 = boto("s3", endpoint)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    if versioning:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


@pytest.mark.parametrize("versioning, missing", [(False, "versioning"), (True, "Object Lock")])
def test_a_bucket_without_versioning_or_object_lock_is_refused_at_start_naming_the_setting(
        moto_endpoint: str, home: Any, clock: Any, monkeypatch: pytest.MonkeyPatch, versioning: bool, missing: str) -> None:
    bucket = _plain_bucket(moto_endpoint, versioning)
    for key in [k for k in __import__("os").environ if k.startswith("KIROKU_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("KIROKU_OBJECTS", f"s3://{bucket}?region={REGION}&endpoint={moto_endpoint}")
    with pytest.raises(ConfigurationError) as err:
        open_kiroku(home=home, clock=clock)
    assert (err.value.code, err.value.field) == ("bucket_not_locked", "KIROKU_OBJECTS")
    assert missing in err.value.message and "KIROKU_OBJECTS" in err.value.message and bucket in err.value.message


@pytest.fixture
def stubbed() -> Iterator[tuple[S3ObjectStore, Any]]:
    """A store whose client answers from a botocore Stubber (no network), and the stubber."""
    from botocore.stub import Stubber

    from ledger.adapters.aws_errors import client

    store = S3ObjectStore(client("s3", REGION, None), "kiroku-stubbed")
    with Stubber(store.s3) as stub:
        yield store, stub


def test_a_snapshot_stored_by_a_racing_writer_is_accepted_when_it_holds_the_same_bytes(stubbed: tuple[S3ObjectStore, Any]) -> None:
    store, stub = stubbed
    data = b"raced"
    key = content_key("snapshots", data)
    stub.add_client_error("head_object", service_error_code="404", http_status_code=404)
    stub.add_client_error("put_object", service_error_code="PreconditionFailed", http_status_code=412)
    stub.add_response("head_object", {"VersionId": "v1", "ContentLength": len(data),
                                      "Metadata": {"sha256": hashlib.sha256(data).hexdigest()}})
    store.put_immutable(key, data)  # the other writer's object is the same: nothing to do
    stub.assert_no_pending_responses()
