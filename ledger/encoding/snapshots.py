"""Snapshot objects: one immutable Avro object container file per submission or disposition.

The container holds the payload record exactly as recorded (personal numbers sealed) under its
writer schema, with the submission's identity in the file metadata, so any Avro reader can open
it. Its object key is its own SHA-256, and on read Kiroku re-encodes the record and checks it
against the payload digest in the receipt: a snapshot that no longer matches is never served.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ledger.encoding.codec import SchemaRegistry, split_single
from ledger.encoding.containers import read_single_block, write_container_body
from ledger.errors import IntegrityError
from ledger.ports import ObjectStore


def content_key(prefix: str, data: bytes, suffix: str = ".avro") -> str:
    """The content address of ``data``: ``prefix/ab/<sha256>.avro`` (the key is the bytes' SHA-256)."""
    digest = hashlib.sha256(data).hexdigest()
    # One level of 256 folders: few enough to create once, enough to keep folders small.
    return f"{prefix}/{digest[:2]}/{digest}{suffix}"


def build_snapshot(registry: SchemaRegistry, payload: bytes, meta: dict[str, str]) -> tuple[str, bytes]:
    """The container bytes for a recorded payload (single-object encoded) and its object key."""
    fingerprint, body = split_single(payload)
    writer = registry.by_fingerprint(fingerprint)
    # The container's one block is the recorded body itself: no decoding, the exact bytes.
    data = write_container_body(writer.parsed, bytes(body), 1, {**meta, "kiroku.fingerprint": f"{fingerprint:016x}",
                                                                "kiroku.schema": f"{writer.name}.v{writer.version}"})
    return content_key("snapshots", data), data


def load_snapshot(registry: SchemaRegistry, objects: ObjectStore, key: str, expected_digest: str,
                  reader_version: int | None = None) -> tuple[dict[str, Any], bytes, dict[str, str]]:
    """Read a snapshot, verify it against the receipt's digest, and return (record read as
    ``reader_version`` of its schema — default the latest —, exact payload bytes, metadata)."""
    data = objects.get(key)  # the store checks the content address
    raw_meta, body, count = read_single_block(data)
    meta = {k: v.decode() for k, v in raw_meta.items() if not k.startswith("avro.")}
    if count != 1 or "kiroku.fingerprint" not in meta:
        raise IntegrityError(f"snapshot {key} does not hold exactly one recorded payload", field=key, code="snapshot_shape")
    writer = registry.by_fingerprint(int(meta["kiroku.fingerprint"], 16))
    payload = writer.header + body
    got = hashlib.sha256(payload).hexdigest()
    if got != expected_digest:
        raise IntegrityError(
            f"snapshot {key} does not match the recorded payload digest",
            field=key, expected=expected_digest, got=got, code="snapshot_digest",
        )
    return registry.decode_body(body, writer.name, writer.version, reader_version), payload, meta
