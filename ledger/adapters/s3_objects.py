"""S3ObjectStore: write-once snapshots in S3 under Object Lock (``KIROKU_OBJECTS=s3://bucket?…``).

URL: ``s3://BUCKET?region=ap-northeast-1&endpoint=URL&part_mb=16&multipart_mb=64&create=true``;
only the bucket is required. Credentials come from boto3's usual chain, never from the URL.

- **The bucket.** At start-up Kiroku creates the bucket if it is missing (Object Lock on, which also
  turns versioning on) and refuses to run on a bucket without versioning or without Object Lock,
  naming ``KIROKU_OBJECTS``.
- **Write once, locked.** Each object is written with ``If-None-Match: *`` (S3 refuses a second
  writer of the key), Object Lock mode COMPLIANCE and retain-until = recorded time + the
  procedure's retention: until then no one, not even the account root, can delete or alter that
  version. Writing identical bytes again is a no-op (at most extending the retention); other bytes
  under the same key are refused.
- **Checksums both ways.** Every write sends ``x-amz-checksum-sha256`` (per part for multipart
  uploads), which S3 verifies on receipt; every read asks for it back (botocore verifies the body
  against it) and Kiroku re-hashes the bytes against the content address in the key (or, for keys
  that are not content addresses, the SHA-256 recorded in the object's metadata). A mismatch
  raises IntegrityError; such bytes are never served.
- **Large objects** (``multipart_mb`` and above; 64 MiB by default) go up as a multipart upload of
  ``part_mb`` parts, one part in memory at a time; ``put_stream`` and ``get_to`` move objects of any
  size between files and S3 with memory bounded by one part / one read chunk.
- **Versions.** A plain DELETE on a versioned bucket only stacks a delete marker on top of the
  locked version; Kiroku still finds and serves that version (verified as always).
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError

from ledger.adapters.aws_errors import DEFAULT_MAX_ATTEMPTS, call, client, is_retriable, translate
from ledger.adapters.aws_urls import parse_objects_url
from ledger.errors import ConfigurationError, Forbidden, IntegrityError, NotFound, Unavailable

log = logging.getLogger(__name__)

SETTING = "KIROKU_OBJECTS"
MIB = 1024 * 1024
MIN_PART = 5 * MIB  # S3's smallest part (all but the last)
CHUNK = 1 * MIB  # read size when streaming a download
LOCK_MODE = "COMPLIANCE"


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def content_name(key: str) -> str | None:
    """The SHA-256 hex a content-addressed key is named after (``…/<sha256>.avro``), else None."""
    name = key.rsplit("/", 1)[-1].split(".", 1)[0]
    if len(name) == 64 and all(c in "0123456789abcdef" for c in name):
        return name
    return None


class S3ObjectStore:
    """The scale-out ``ObjectStore`` adapter: S3 with Object Lock (COMPLIANCE)."""

    def __init__(self, s3: Any, bucket: str, *, part_size: int = 16 * MIB, multipart_threshold: int = 64 * MIB,
                 now: Callable[[], datetime] | None = None, setting: str = SETTING) -> None:
        if part_size < MIN_PART:
            raise ConfigurationError(f"{setting}: parts must be at least 5 MiB (S3's minimum)", field=setting,
                                     expected="part_mb ≥ 5", got=part_size // MIB, code="bad_setting")
        self.s3, self.bucket = s3, bucket
        self.part_size, self.multipart_threshold = part_size, max(multipart_threshold, part_size)
        self.setting = setting
        # S3's clock, not the service's: Object Lock compares retain-until with real time.
        self._now = now or (lambda: datetime.now(UTC))

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> S3ObjectStore:
        """Parse the URL (before any I/O), connect, and check or create the bucket."""
        parsed = parse_objects_url(url)
        store = cls(client("s3", parsed.region, parsed.endpoint), parsed.bucket, part_size=parsed.part_mb * MIB,
                    multipart_threshold=parsed.multipart_mb * MIB, **kwargs)
        store.ensure_bucket(create=parsed.create, region=parsed.region)
        return store

    # -- plumbing -------------------------------------------------------------------------------

    def _call(self, op: str, action: str, key: str | None = None, expect: tuple[str, ...] = (), **kwargs: Any) -> Any:
        resource = f"arn:aws:s3:::{self.bucket}" + (f"/{key}" if key is not None else "")
        return call(getattr(self.s3, op), service="S3", action=action, resource=resource, setting=self.setting,
                    expect=expect, Bucket=self.bucket, **kwargs)

    def ensure_bucket(self, *, create: bool = True, region: str | None = None) -> None:
        """Create the bucket (Object Lock on) if missing; refuse one without versioning or Object Lock."""
        try:
            self._call("head_bucket", "s3:ListBucket", expect=("404", "NoSuchBucket"))
        except ClientError as exc:  # the bucket does not exist
            if not create:
                raise ConfigurationError(
                    f"S3 bucket {self.bucket} ({SETTING}) does not exist; create it with versioning and Object Lock",
                    field=self.setting, expected="an existing bucket", got=self.bucket, code="bucket_missing") from exc
            region = region or self.s3.meta.region_name
            extra: dict[str, Any] = {}
            if region and region != "us-east-1":
                extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
            try:
                self._call("create_bucket", "s3:CreateBucket", expect=("BucketAlreadyOwnedByYou",),
                           ObjectLockEnabledForBucket=True, **extra)
            except ClientError:  # another process created it first; it is checked below like any other
                pass
        status = self._call("get_bucket_versioning", "s3:GetBucketVersioning").get("Status") or "never enabled"
        if status != "Enabled":
            raise ConfigurationError(
                f"S3 bucket {self.bucket} ({self.setting}) has versioning {status}: snapshots need a bucket with "
                f"versioning and Object Lock enabled. Enable both on it, or point {self.setting} at a bucket "
                f"created with --object-lock-enabled-for-bucket",
                field=self.setting, expected="versioning Enabled and Object Lock Enabled", got=f"versioning {status}",
                code="bucket_not_locked")
        try:
            lock = self._call("get_object_lock_configuration", "s3:GetBucketObjectLockConfiguration",
                              expect=("ObjectLockConfigurationNotFoundError",))
            enabled = lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
        except ClientError:  # ObjectLockConfigurationNotFoundError
            enabled = None
        if enabled != "Enabled":
            raise ConfigurationError(
                f"S3 bucket {self.bucket} ({self.setting}) does not have Object Lock enabled: snapshots must be "
                f"locked (COMPLIANCE) for their legal retention. Enable Object Lock on it, or point "
                f"{self.setting} at a bucket created with --object-lock-enabled-for-bucket",
                field=self.setting, expected="Object Lock Enabled", got=f"Object Lock {enabled or 'not configured'}",
                code="bucket_not_locked")

    def _retention(self, retain_until_us: int | None) -> dict[str, Any]:
        """Object Lock headers for a write, or none when there is nothing left to retain."""
        if retain_until_us is None:
            return {}
        # Round up to the second: a lock must never end earlier than asked.
        until = datetime.fromtimestamp(-(-retain_until_us // 1_000_000), tz=UTC)
        if until <= self._now() + timedelta(seconds=60):
            # AWS refuses a retain-until date in the past; an object whose retention has already
            # ended (e.g. replaying an old log into a new bucket) is stored without a lock.
            return {}
        return {"ObjectLockMode": LOCK_MODE, "ObjectLockRetainUntilDate": until}

    def _head(self, key: str, version: str | None = None) -> tuple[dict[str, Any] | None, bool]:
        """The current version's headers (or the given version's), or None — and whether a delete
        marker is what S3 found on top."""
        extra = {"VersionId": version} if version else {}
        try:
            return self._call("head_object", "s3:GetObject", key, expect=("404", "NoSuchKey", "NoSuchVersion"),
                              Key=key, ChecksumMode="ENABLED", **extra), False
        except ClientError as exc:
            headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            return None, headers.get("x-amz-delete-marker") == "true"

    def _hidden_version(self, key: str) -> str | None:
        """The newest real version of ``key`` under a delete marker (a plain DELETE on a versioned
        bucket only stacks a marker on top: the locked snapshot is still there)."""
        listing = self._call("list_object_versions", "s3:ListBucketVersions", key, Prefix=key, MaxKeys=100)
        versions = [v for v in listing.get("Versions", []) if v["Key"] == key]
        versions.sort(key=lambda v: v["LastModified"], reverse=True)
        return versions[0]["VersionId"] if versions else None

    def _find(self, key: str) -> tuple[dict[str, Any], str | None] | None:
        """Headers of the version to serve and its id (None means "the current one"), or None if absent."""
        head, marked = self._head(key)
        if head is not None:
            return head, None
        version = self._hidden_version(key) if marked else None
        if version is None:
            return None
        log.warning("snapshot %s is hidden by a delete marker; serving its retained version %s", key, version)
        head, _ = self._head(key, version)
        return (head, version) if head is not None else None

    @staticmethod
    def _expected_sha256(key: str, head: dict[str, Any]) -> str | None:
        return content_name(key) or head.get("Metadata", {}).get("sha256")

    def _check(self, key: str, head: dict[str, Any], got: str) -> None:
        expected = self._expected_sha256(key, head)
        if expected is not None and got != expected:
            raise IntegrityError(
                f"snapshot object {key} (version {head.get('VersionId')}) is damaged or was altered: its bytes no "
                f"longer match their digest. The version Kiroku wrote stays locked in the bucket; an operator can "
                f"list its versions to restore it",
                field=key, expected=expected, got=got, code="object_digest")

    # -- the ObjectStore port -------------------------------------------------------------------

    def put_immutable(self, key: str, data: bytes, retain_until_us: int | None = None) -> None:
        digest = hashlib.sha256(data).digest()
        if self._existing_is(key, digest.hex(), len(data), retain_until_us):
            return
        if len(data) >= self.multipart_threshold:
            parts = (memoryview(data)[i:i + self.part_size] for i in range(0, len(data), self.part_size))
            self._put_multipart(key, parts, digest.hex(), retain_until_us)
        else:
            self._put_single(key, data, digest, retain_until_us)

    def put_many(self, items: list[tuple[str, bytes, int | None]]) -> None:
        """Store a projector batch's snapshots, several requests in flight at once (S3 latency,
        not bandwidth, bounds one-at-a-time writes). Returns once every object is stored."""
        if len(items) <= 1:
            for key, data, retain in items:
                self.put_immutable(key, data, retain)
            return
        with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
            for done in [pool.submit(self.put_immutable, key, data, retain) for key, data, retain in items]:
                done.result()  # re-raises the first failure

    def get(self, key: str) -> bytes:
        out = io.BytesIO()
        self.get_to(key, out)
        return out.getvalue()

    def exists(self, key: str) -> bool:
        return self._find(key) is not None

    def delete(self, key: str) -> None:
        """Always refused: snapshots are never deleted by Kiroku, and S3 Object Lock (COMPLIANCE)
        would refuse it anyway until their retain-until date."""
        found = self._find(key)
        if found is None:
            raise NotFound(f"snapshot object {key} is missing from the object store", field=key, code="object_missing")
        head, _ = found
        until = head.get("ObjectLockRetainUntilDate")
        mode = head.get("ObjectLockMode")
        lock = f"under S3 Object Lock ({mode}) until {until:%Y-%m-%d %H:%M:%S %Z}" if until else "a retained snapshot"
        raise Forbidden(
            f"snapshot {key} is {lock}; snapshots are kept for their legal retention and cannot be deleted or overwritten",
            field=key, expected="no deletion before the retention ends", got=str(until) if until else None,
            code="retention_locked")

    # -- beyond the port: streaming and lock status ----------------------------------------------

    def put_stream(self, key: str, source: IO[bytes], retain_until_us: int | None = None,
                   sha256_hex: str | None = None) -> None:
        """Upload from a binary file object with one part in memory at a time.

        The SHA-256 must be known before the upload starts (it is recorded with the object): it is
        the content address in ``key``, ``sha256_hex``, or — for a seekable source — a first pass."""
        expected = sha256_hex or content_name(key)
        if expected is None:
            if not source.seekable():
                raise IntegrityError(f"put_stream({key}) needs sha256_hex for a non-seekable source that is not content-addressed",
                                     field=key, code="object_digest")
            start, h = source.tell(), hashlib.sha256()
            for chunk in iter(lambda: source.read(CHUNK), b""):
                h.update(chunk)
            expected = h.hexdigest()
            source.seek(start)
        if self._existing_is(key, expected, None, retain_until_us):
            return
        parts = iter(lambda: source.read(self.part_size), b"")
        self._put_multipart(key, parts, expected, retain_until_us)

    def get_to(self, key: str, sink: IO[bytes]) -> int:
        """Stream the object into ``sink`` in 1 MiB chunks, verifying as it goes; returns its size.

        One GET in the common case (no HEAD first). botocore retries the GET itself; a body that
        breaks off while it is read (which botocore does not retry) is fetched again from the start,
        the sink rewound, up to as many times as a request is tried. On an IntegrityError the bytes
        already written to ``sink`` must be discarded."""
        start = sink.tell() if sink.seekable() else None
        attempts = self.s3.meta.config.retries.get("total_max_attempts") or DEFAULT_MAX_ATTEMPTS
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                if start is None:
                    raise Unavailable(f"the download of {key} was interrupted and its sink cannot be rewound",
                                      field=key, code="unavailable")
                sink.seek(start)
                sink.truncate()
            resp = self._open(key)
            try:
                size, got = self._copy(key, resp, sink)
            except BotoCoreError as exc:
                if not is_retriable(exc) or attempt == attempts:
                    raise translate(exc, service="S3", action="s3:GetObject", resource=f"arn:aws:s3:::{self.bucket}/{key}",
                                    setting=self.setting, attempts=attempt) from exc
                log.warning("the download of %s broke off (%s); fetching it again", key, type(exc).__name__)
                continue
            self._check(key, resp, got)
            return size
        raise AssertionError("unreachable")  # pragma: no cover

    def _open(self, key: str) -> dict[str, Any]:
        """GET the version Kiroku serves for ``key``; NotFound if there is none."""
        try:
            return self._call("get_object", "s3:GetObject", key, expect=("NoSuchKey", "404"), Key=key,
                              ChecksumMode="ENABLED")
        except ClientError:
            # Missing, or hidden by a delete marker? (S3 says so on GET too; moto only on HEAD.)
            found = self._find(key)
            if found is None:
                raise NotFound(f"snapshot object {key} is missing from the object store", field=key,
                               code="object_missing") from None
            version: dict[str, Any] = {"VersionId": found[1]} if found[1] else {}  # none: written meanwhile
            return self._call("get_object", "s3:GetObject", key, Key=key, ChecksumMode="ENABLED", **version)

    @staticmethod
    def _copy(key: str, resp: dict[str, Any], sink: IO[bytes]) -> tuple[int, str]:
        """Copy a GET's body into ``sink``; its size and SHA-256 (hex)."""
        h, size = hashlib.sha256(), 0
        try:
            for chunk in resp["Body"].iter_chunks(CHUNK):
                h.update(chunk)
                size += len(chunk)
                sink.write(chunk)
        except FlexibleChecksumError as exc:
            # botocore compared the body with the x-amz-checksum-sha256 S3 stored at write time.
            raise IntegrityError(
                f"snapshot object {key} does not match the checksum S3 recorded when it was written: {exc}",
                field=key, code="object_checksum") from None
        return size, h.hexdigest()

    def lock_status(self, key: str) -> tuple[str | None, datetime | None]:
        """(Object Lock mode, retain-until) of the version Kiroku serves for ``key``."""
        found = self._find(key)
        if found is None:
            raise NotFound(f"snapshot object {key} is missing from the object store", field=key, code="object_missing")
        return found[0].get("ObjectLockMode"), found[0].get("ObjectLockRetainUntilDate")

    # -- writing --------------------------------------------------------------------------------

    def _existing_is(self, key: str, sha256_hex: str, size: int | None, retain_until_us: int | None) -> bool:
        """True if ``key`` already holds these bytes (retention extended if asked); raises if other bytes."""
        found = self._find(key)
        if found is None:
            return False
        head, version = found
        same = head.get("Metadata", {}).get("sha256") == sha256_hex and (size is None or head.get("ContentLength") == size)
        if not same:
            raise IntegrityError(
                f"snapshot object {key} already exists with other bytes; snapshots are written once",
                field=key, expected=head.get("Metadata", {}).get("sha256"), got=sha256_hex, code="object_exists")
        self._extend(key, head, version, retain_until_us)
        return True

    def _extend(self, key: str, head: dict[str, Any], version: str | None, retain_until_us: int | None) -> None:
        """Lengthen the lock of an existing version when a later retain-until is asked for.

        Never shortens: in COMPLIANCE mode S3 refuses to shorten a retention period (AWS S3 user
        guide, "Object Lock" → retention modes). moto does not enforce that rule — its
        put_object_retention simply overwrites the date — so Kiroku must not rely on it, and only
        ever asks for later dates."""
        wanted = self._retention(retain_until_us)
        if not wanted:
            return
        current = head.get("ObjectLockRetainUntilDate")
        if current is not None and current >= wanted["ObjectLockRetainUntilDate"]:
            return
        self._call("put_object_retention", "s3:PutObjectRetention", key, Key=key,
                   VersionId=version or head["VersionId"],
                   Retention={"Mode": LOCK_MODE, "RetainUntilDate": wanted["ObjectLockRetainUntilDate"]})

    def _refused_as_existing(self, key: str, sha256_hex: str, size: int | None, retain_until_us: int | None) -> None:
        """Another writer won the race for ``key`` (If-None-Match: *): same bytes is fine, others not."""
        if not self._existing_is(key, sha256_hex, size, retain_until_us):
            raise IntegrityError(f"snapshot object {key} was refused as existing but cannot be found",
                                 field=key, code="object_exists")

    def _put_single(self, key: str, data: bytes, digest: bytes, retain_until_us: int | None) -> None:
        # S3 checks x-amz-checksum-sha256 against the bytes it received and refuses a mismatch
        # (BadDigest); moto stores whatever it is sent, so Kiroku verifies again on every read.
        try:
            self._call("put_object", "s3:PutObject", key, expect=("PreconditionFailed",), Key=key, Body=data,
                       ChecksumAlgorithm="SHA256", ChecksumSHA256=_b64(digest), IfNoneMatch="*",
                       Metadata={"sha256": digest.hex()}, **self._retention(retain_until_us))
        except ClientError:  # PreconditionFailed: another writer stored the key first
            self._refused_as_existing(key, digest.hex(), len(data), retain_until_us)

    def _put_multipart(self, key: str, parts: Iterator[Any], sha256_hex: str, retain_until_us: int | None) -> None:
        lock = self._retention(retain_until_us)
        upload = self._call("create_multipart_upload", "s3:PutObject", key, Key=key, ChecksumAlgorithm="SHA256",
                            Metadata={"sha256": sha256_hex}, **lock)["UploadId"]
        done: list[dict[str, Any]] = []
        whole = hashlib.sha256()
        size = 0
        try:
            for number, part in enumerate(parts, start=1):
                whole.update(part)
                size += len(part)
                checksum = _b64(hashlib.sha256(part).digest())
                body = part if isinstance(part, bytes) else part.tobytes()  # one part at a time
                resp = self._call("upload_part", "s3:PutObject", key, Key=key, UploadId=upload, PartNumber=number,
                                  Body=body, ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum)
                del body
                done.append({"PartNumber": number, "ETag": resp["ETag"], "ChecksumSHA256": checksum})
            if whole.hexdigest() != sha256_hex:
                raise IntegrityError(f"the bytes streamed for {key} do not hash to its expected SHA-256",
                                     field=key, expected=sha256_hex, got=whole.hexdigest(), code="object_digest")
            result = self._call("complete_multipart_upload", "s3:PutObject", key, expect=("PreconditionFailed",),
                                Key=key, UploadId=upload, MultipartUpload={"Parts": done}, IfNoneMatch="*")
        except BaseException as exc:
            try:
                self._call("abort_multipart_upload", "s3:AbortMultipartUpload", key, Key=key, UploadId=upload)
            except Exception:  # the upload's parts expire under a lifecycle rule (README)
                log.warning("could not abort multipart upload %s of %s", upload, key)
            if isinstance(exc, ClientError):  # PreconditionFailed: someone else wrote the key
                self._refused_as_existing(key, sha256_hex, size, retain_until_us)
                return
            raise
        if lock:
            # AWS applies the lock given at CreateMultipartUpload; moto ignores it there, so check the
            # written version and set the (same, never shorter) retention when it is missing.
            head, _ = self._head(key, result.get("VersionId"))
            if head is not None and head.get("ObjectLockRetainUntilDate") is None:
                self._call("put_object_retention", "s3:PutObjectRetention", key, Key=key, VersionId=head["VersionId"],
                           Retention={"Mode": LOCK_MODE, "RetainUntilDate": lock["ObjectLockRetainUntilDate"]})
