"""KmsKeyService: envelope encryption with AWS KMS (``KIROKU_KEYS=aws-kms://KEY?…``).

URL: ``aws-kms://KEY?region=ap-northeast-1&endpoint=URL&store=s3://BUCKET/PREFIX/&cache_seconds=300``.
``KEY`` is a key id, ``alias/NAME`` or key ARN of a symmetric ENCRYPT_DECRYPT KMS key (the master
key; it never leaves KMS). ``store`` says where wrapped data keys are kept: by default beside the
snapshots, under ``data-keys/`` in the ``KIROKU_OBJECTS`` bucket (``store_endpoint`` and
``store_region`` override the S3 endpoint and region when the store is another bucket).

- **Data keys.** One AES-256 key per scope (company | procedure | period) from ``GenerateDataKey``,
  with encryption context ``{"kiroku:key_id", "kiroku:scope"}`` so a wrapped key unwraps only for
  its own scope (and CloudTrail shows which one). Its ``key_id`` (stored in events) is derived
  from the scope, so every process finds the same key without an index.
- **Where the wrapped key lives, and why S3.** The ``CiphertextBlob`` is written once (``If-None-Match: *``:
  two processes racing for a new scope agree on one key) as a small JSON object
  ``<prefix><key_id>.json``. S3 is already the scale-out deployment's durable store, needs no
  extra service (a DynamoDB table would), and shares the snapshots' region, backups and IAM
  scoping by prefix. It is deliberately *not* the catalog: the catalog is derived from the log and
  may be rebuilt, and losing a data key loses the personal data it sealed. These objects carry no
  Object Lock retention, so they can be destroyed; a bucket whose *default* retention would lock
  them is refused at start-up.
- **Crypto-shredding.** ``destroy`` overwrites the record with a tombstone and then deletes every
  other version of it (on a versioned bucket a plain overwrite would keep the old version, and the
  wrapped key with it). The plaintext was never stored; the master key stays, since it wraps the
  keys of every other scope. Copies outside the bucket (replication, backups) are beyond Kiroku's
  reach: keep ``data-keys/`` out of them or give them a shorter life.
- **Plaintext keys** are cached in process memory only — at most 50,000, each for ``cache_seconds``
  (default 300) — so recording a batch does not call KMS per line; nothing decrypts until a reader
  with a legal basis asks (the service layer decides; masked reads never call ``Decrypt``).
- **Shredding reaches every process's cache.** ``destroy`` rewrites one small marker object,
  ``<prefix>_shredded`` (no ``.json``: it is no key record), after the tombstone. Before serving a
  cached key a process looks at the marker's ETag, at most once every ``revalidate_seconds``
  (default 1: one HEAD a second per busy process, none when idle); when it changed, every cached
  key is forgotten, and a key being unwrapped while it changed is not cached. So a key destroyed by
  ``kiroku retention run`` elsewhere is served from memory at most ``revalidate_seconds`` longer, not
  ``cache_seconds``. The marker holds a time only; on a versioned bucket its old versions pile up
  (a few hundred bytes each), harmless, and may be expired by a lifecycle rule.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError, FlexibleChecksumError
from cachetools import TTLCache

from ledger.adapters.aws_errors import call, client
from ledger.adapters.aws_urls import DEFAULT_KEY_PREFIX, parse_keys_url, parse_objects_url
from ledger.errors import ConfigurationError, IntegrityError, KeyErased, NotFound
from ledger.ports import DataKey

SETTING = "KIROKU_KEYS"


def key_id_for(scope: str) -> str:
    """The stable id of a scope's data key (what events store)."""
    return "kms_" + hashlib.sha256(scope.encode()).hexdigest()[:40]


class KmsKeyService:
    """The scale-out ``KeyService`` adapter: AWS KMS master key, wrapped data keys in S3."""

    def __init__(self, kms: Any, s3: Any, master_key: str, bucket: str, prefix: str = DEFAULT_KEY_PREFIX, *,
                 cache_seconds: float = 300.0, cache_entries: int = 50_000, revalidate_seconds: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.kms, self.s3, self.master_key = kms, s3, master_key
        self.bucket, self.prefix = bucket, prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.cache_seconds = cache_seconds
        # Bounded as well as brief: a January of recording touches millions of scopes. Each plaintext
        # key is forgotten cache_seconds after it was unwrapped (by ``monotonic``), the least recently
        # used first when the cache is full.
        self._cache: TTLCache[str, bytes] = TTLCache(maxsize=cache_entries, ttl=max(cache_seconds, 0.0), timer=monotonic)
        # cachetools' caches are not thread-safe; _lock is held across KMS and S3 calls, so cache hits
        # take a lock of their own instead of waiting behind them.
        self._cache_lock = threading.Lock()
        self._lock = threading.Lock()
        # Shredding elsewhere: the marker's ETag last seen, when to look again, and a generation that
        # moves whenever the cache is cleared for it (a key unwrapped across a move is not cached).
        self.revalidate_seconds, self._monotonic = revalidate_seconds, monotonic
        self._marker_lock = threading.Lock()
        self._marker_seen: str | None = None
        self._next_look = float("-inf")
        self._generation = 0

    @classmethod
    def from_url(cls, url: str, objects_url: str | None = None, **kwargs: Any) -> KmsKeyService:
        """Parse the URL (before any I/O), connect, and check the master key and the key store."""
        parsed = parse_keys_url(url)
        bucket, prefix = parsed.store_bucket, parsed.store_prefix
        store_endpoint, store_region = parsed.store_endpoint, parsed.store_region
        if bucket is None:
            if not (objects_url or "").startswith("s3://"):
                raise ConfigurationError(
                    f"{SETTING} needs somewhere to keep wrapped data keys: add store=s3://BUCKET/PREFIX/ to it, or "
                    f"use an s3:// KIROKU_OBJECTS (keys then live beside the snapshots, under {DEFAULT_KEY_PREFIX})",
                    field=SETTING, expected="store=s3://BUCKET/PREFIX/", got=url, code="bad_setting")
            objects = parse_objects_url(objects_url or "")
            bucket = objects.bucket
            store_endpoint, store_region = store_endpoint or objects.endpoint, store_region or objects.region
        service = cls(client("kms", parsed.region, parsed.endpoint),
                      client("s3", store_region or parsed.region, store_endpoint),
                      parsed.key, bucket, prefix, cache_seconds=parsed.cache_seconds,
                      revalidate_seconds=parsed.revalidate_seconds, **kwargs)
        service.ensure_ready()
        return service

    # -- plumbing -------------------------------------------------------------------------------

    def _kms(self, op: str, action: str, **kwargs: Any) -> Any:
        return call(getattr(self.kms, op), service="KMS", action=action, resource=f"KMS key {self.master_key}",
                    setting=SETTING, **kwargs)

    def _s3(self, op: str, action: str, key: str | None = None, expect: tuple[str, ...] = (), **kwargs: Any) -> Any:
        resource = f"arn:aws:s3:::{self.bucket}" + (f"/{key}" if key else "")
        return call(getattr(self.s3, op), service="S3", action=action, resource=resource, setting=SETTING,
                    expect=expect, Bucket=self.bucket, **({"Key": key} if key else {}), **kwargs)

    def _object_key(self, key_id: str) -> str:
        return f"{self.prefix}{key_id}.json"

    def ensure_ready(self) -> None:
        """The master key must be an enabled symmetric encryption key; the store bucket must exist
        (created, unlocked, if missing) and must not lock new objects by default."""
        meta = self._kms("describe_key", "kms:DescribeKey", KeyId=self.master_key)["KeyMetadata"]
        if meta.get("KeyState") != "Enabled" or meta.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT" \
                or meta.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
            raise ConfigurationError(
                f"KMS key {self.master_key} ({SETTING}) is {meta.get('KeyState')}, {meta.get('KeySpec')}, "
                f"{meta.get('KeyUsage')}: Kiroku needs an enabled symmetric ENCRYPT_DECRYPT key",
                field=SETTING, expected="Enabled SYMMETRIC_DEFAULT ENCRYPT_DECRYPT",
                got=meta.get("KeyState"), code="kms_key_unusable")
        try:
            self._s3("head_bucket", "s3:ListBucket", expect=("404", "NoSuchBucket"))
        except ClientError:
            region = self.s3.meta.region_name
            extra: dict[str, Any] = {}
            if region and region != "us-east-1":
                extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
            try:
                self._s3("create_bucket", "s3:CreateBucket", expect=("BucketAlreadyOwnedByYou",), **extra)
            except ClientError:  # another process created it first
                pass
        try:
            conf = self._s3("get_object_lock_configuration", "s3:GetBucketObjectLockConfiguration",
                            expect=("ObjectLockConfigurationNotFoundError",))
            default = conf.get("ObjectLockConfiguration", {}).get("Rule", {}).get("DefaultRetention")
        except ClientError:
            default = None
        if default:
            raise ConfigurationError(
                f"S3 bucket {self.bucket} locks every new object by default ({default}), so data keys kept there "
                f"could not be destroyed when retention ends: set store=s3://OTHER-BUCKET/PREFIX/ in {SETTING}, "
                f"or remove the bucket's default retention (Kiroku locks each snapshot itself)",
                field=SETTING, expected="a key store without default Object Lock retention", got=str(default),
                code="key_store_locked")

    def _load(self, key_id: str) -> dict[str, Any] | None:
        try:
            resp = self._s3("get_object", "s3:GetObject", self._object_key(key_id), expect=("NoSuchKey", "404"),
                            ChecksumMode="ENABLED")
        except ClientError:
            return None
        try:
            record = json.loads(resp["Body"].read())  # botocore checks the body against its SHA-256
        except (ValueError, FlexibleChecksumError) as exc:
            raise IntegrityError(f"the key record of {key_id} is damaged: {exc}", field=key_id,
                                 code="key_record") from None
        if record.get("key_id") != key_id or key_id_for(record.get("scope", "")) != key_id:
            raise IntegrityError(f"the key record stored for {key_id} names another key or scope", field=key_id,
                                 got=record.get("key_id"), code="key_record")
        return record

    def _put_record(self, record: dict[str, Any], *, once: bool) -> Any:
        body = json.dumps(record, sort_keys=True).encode()
        extra = {"IfNoneMatch": "*"} if once else {}
        return self._s3("put_object", "s3:PutObject", self._object_key(record["key_id"]),
                        expect=("PreconditionFailed",), Body=body, ContentType="application/json",
                        ChecksumAlgorithm="SHA256",
                        ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode(), **extra)

    @staticmethod
    def _context(key_id: str, scope: str) -> dict[str, str]:
        return {"kiroku:key_id": key_id, "kiroku:scope": scope}

    def _unwrap(self, record: dict[str, Any]) -> bytes:
        try:
            resp = self._kms("decrypt", "kms:Decrypt", KeyId=record["kms_key"],
                             CiphertextBlob=base64.b64decode(record["wrapped"]),
                             EncryptionContext=self._context(record["key_id"], record["scope"]))
        except IntegrityError as err:
            raise IntegrityError(
                f"KMS could not unwrap data key {record['key_id']} of {record['scope']} ({err.got}): its stored "
                f"wrapped form was altered, or belongs to another master key or scope",
                field=record["key_id"], got=err.got, code="wrapped_key") from err
        return bytes(resp["Plaintext"])

    @property
    def _marker_key(self) -> str:
        return f"{self.prefix}_shredded"

    def _marker_etag(self) -> str | None:
        try:
            return str(self._s3("head_object", "s3:GetObject", self._marker_key, expect=("404", "NoSuchKey")).get("ETag"))
        except ClientError:
            return None  # nothing was ever shredded here

    def _revalidate(self) -> int:
        """Forget every cached key if any process shredded one since the last look (looked at most
        once every ``revalidate_seconds``); returns the cache's generation."""
        if self._monotonic() < self._next_look:
            return self._generation
        with self._marker_lock:  # other readers wait for this one look rather than serve stale keys
            if self._monotonic() >= self._next_look:
                seen = self._marker_etag()
                if seen != self._marker_seen:
                    with self._cache_lock:
                        self._generation += 1
                        self._cache.clear()
                    self._marker_seen = seen
                self._next_look = self._monotonic() + self.revalidate_seconds
            return self._generation

    def _cached(self, key_id: str) -> bytes | None:
        if self.cache_seconds <= 0:
            return None
        self._revalidate()
        with self._cache_lock:
            return self._cache.get(key_id)  # None once its time is up

    def _remember(self, key_id: str, key: bytes, generation: int) -> bytes:
        if self.cache_seconds > 0:
            with self._cache_lock:
                if generation == self._generation:  # not when a shredding was seen while it was unwrapped
                    self._cache[key_id] = key
        return key

    def _forget(self, key_id: str) -> None:
        with self._cache_lock:
            self._cache.pop(key_id, None)

    @staticmethod
    def _erased(key_id: str, scope: str | None = None) -> KeyErased:
        what = f"the data key for {scope}" if scope else f"data key {key_id}"
        return KeyErased(f"{what} was destroyed at the end of retention", field=scope or "key_id", got=key_id)

    # -- the KeyService port --------------------------------------------------------------------

    def data_key(self, scope: str) -> DataKey:
        key_id = key_id_for(scope)
        cached = self._cached(key_id)
        if cached is not None:
            return DataKey(key_id, cached)
        generation = self._generation
        with self._lock:
            record = self._load(key_id)
            if record is None:
                made = self._kms("generate_data_key", "kms:GenerateDataKey", KeyId=self.master_key, KeySpec="AES_256",
                                 EncryptionContext=self._context(key_id, scope))
                record = {"key_id": key_id, "scope": scope, "kms_key": made["KeyId"],
                          "wrapped": base64.b64encode(made["CiphertextBlob"]).decode(),
                          "created_us": time.time_ns() // 1000, "destroyed_us": None}
                try:
                    self._put_record(record, once=True)
                    return DataKey(key_id, self._remember(key_id, bytes(made["Plaintext"]), generation))
                except ClientError:  # another process stored this scope's key first: use theirs
                    record = self._load(key_id)
                    if record is None:
                        raise IntegrityError(f"the key record of {scope} was refused as existing but cannot be read",
                                             field=scope, code="key_record") from None
            if record["wrapped"] is None:
                raise self._erased(key_id, scope)
            return DataKey(key_id, self._remember(key_id, self._unwrap(record), generation))

    def key_by_id(self, key_id: str) -> bytes:
        cached = self._cached(key_id)
        if cached is not None:
            return cached
        generation = self._generation
        record = self._load(key_id)
        if record is None:
            raise NotFound(f"no data key {key_id} in the key store", field="key_id", got=key_id, code="key_missing")
        if record["wrapped"] is None:
            raise self._erased(key_id)
        return self._remember(key_id, self._unwrap(record), generation)

    def destroy(self, key_id: str) -> None:
        """Crypto-shred: tombstone the record, then delete every other version of it. Safe to repeat."""
        with self._lock:
            self._forget(key_id)
            record = self._load(key_id)
            if record is None:
                raise NotFound(f"no data key {key_id} in the key store", field="key_id", got=key_id, code="key_missing")
            keep = None
            if record["wrapped"] is not None:
                tomb = {**record, "wrapped": None, "destroyed_us": time.time_ns() // 1000}
                keep = self._put_record(tomb, once=False).get("VersionId")
            else:
                keep = self._s3("head_object", "s3:GetObject", self._object_key(key_id)).get("VersionId")
            for version, _ in self.stored_versions(key_id):
                if version != keep and version not in (None, "null"):
                    self._s3("delete_object", "s3:DeleteObjectVersion", self._object_key(key_id), VersionId=version)
            # Tell every other process (after the tombstone, so a look that sees the new marker finds it).
            marker = json.dumps({"shredded_us": time.time_ns() // 1000}).encode()
            self._s3("put_object", "s3:PutObject", self._marker_key, Body=marker, ContentType="application/json")
            with self._cache_lock:  # this process's readers, too: nothing unwrapped meanwhile is kept
                self._generation += 1
                self._cache.pop(key_id, None)

    def scopes(self) -> list[tuple[str, str, bool]]:
        ids: list[str] = []
        token: dict[str, Any] = {}
        while True:
            page = self._s3("list_objects_v2", "s3:ListBucket", Prefix=self.prefix, **token)
            ids += [o["Key"][len(self.prefix):-len(".json")] for o in page.get("Contents", []) if o["Key"].endswith(".json")]
            if not page.get("IsTruncated"):
                break
            token = {"ContinuationToken": page["NextContinuationToken"]}
        with ThreadPoolExecutor(max_workers=8) as pool:
            records = [r for r in pool.map(self._load, ids) if r is not None]
        return sorted(((r["key_id"], r["scope"], r["wrapped"] is None) for r in records), key=lambda t: (t[1], t[0]))

    # -- beyond the port ------------------------------------------------------------------------

    def stored_versions(self, key_id: str) -> list[tuple[str | None, bool]]:
        """Every stored version of a key record as (version id, is a delete marker) — what an audit
        checks after shredding: one tombstone, no version still holding the wrapped key."""
        name, out = self._object_key(key_id), []
        token: dict[str, Any] = {}
        while True:
            page = self._s3("list_object_versions", "s3:ListBucketVersions", Prefix=name, **token)
            out += [(v.get("VersionId"), False) for v in page.get("Versions", []) if v["Key"] == name]
            out += [(v.get("VersionId"), True) for v in page.get("DeleteMarkers", []) if v["Key"] == name]
            if not page.get("IsTruncated"):
                return out
            token = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}

    def clear_cache(self) -> None:
        """Forget every plaintext data key held in memory."""
        with self._cache_lock:
            self._cache.clear()

    def close(self) -> None:
        self.clear_cache()
