"""Avro object container files, byte-for-byte reproducible: the snapshots' format.

Section names refer to the Apache Avro 1.11 specification ("Object Container Files").
Record bodies are written and read through :mod:`ledger.encoding.codec`.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any, cast

import fastavro

from ledger.encoding.codec import READ_ERRORS, write_body
from ledger.errors import IntegrityError, ValidationError

_META_SCHEMA = fastavro.parse_schema({"type": "map", "values": "bytes"})


_SCHEMA_JSON: dict[int, tuple[Any, str]] = {}  # id(parsed schema) -> (the schema, kept alive; its JSON)


def _schema_json(parsed_schema: Any) -> str:
    """The writer schema as stored in a container header: fastavro's parsed form with its private
    keys removed and object keys sorted, so the same schema always gives the same bytes (the parsed
    dicts' key order varies from one process to the next). Computed once per parsed schema."""
    hit = _SCHEMA_JSON.get(id(parsed_schema))
    if hit is not None and hit[0] is parsed_schema:
        return hit[1]
    if len(_SCHEMA_JSON) >= 1024:  # schemas are few and long-lived; this only bounds misuse
        _SCHEMA_JSON.clear()
    text = _schema_json_of(parsed_schema)
    _SCHEMA_JSON[id(parsed_schema)] = (parsed_schema, text)
    return text


def _schema_json_of(parsed_schema: Any) -> str:

    def clean(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: clean(v) for k, v in node.items() if not k.startswith("__")}
        if isinstance(node, list):
            return [clean(v) for v in node]
        return node

    return json.dumps(clean(parsed_schema), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def write_container(parsed_schema: Any, records: Iterable[Mapping[str, Any]], metadata: Mapping[str, str]) -> bytes:
    """An Avro object container file (codec null, one block), byte-for-byte the same for the same
    input in any process.

    Written by hand after "Object Container Files": magic, the metadata map, a 16-byte sync
    marker, then blocks of (count, size, data, sync). fastavro's writer would embed the schema in
    a key order that varies between processes, and a content-addressed snapshot must not.
    """
    for key, value in metadata.items():
        if not isinstance(key, str) or key.startswith("avro.") or not isinstance(value, str):
            raise ValidationError(
                f"container metadata {key!r} must be a str key outside the reserved avro.* space, with a str value",
                field=str(key),
                expected="str key not starting with avro., str value",
                got=value,
            )
    rows = list(records)
    body = io.BytesIO()
    for row in rows:
        write_body(body, parsed_schema, row)
    return write_container_body(parsed_schema, body.getvalue(), len(rows), metadata)


def write_container_body(parsed_schema: Any, data: bytes, count: int, metadata: Mapping[str, str]) -> bytes:
    """A container file around ``count`` records already encoded (Avro binary) as ``data``.

    The projector uses this to wrap a recorded payload's exact bytes without decoding them.
    """
    meta = {"avro.codec": b"null", "avro.schema": _schema_json(parsed_schema).encode()}
    meta.update({k: v.encode() for k, v in sorted(metadata.items())})
    header = io.BytesIO()
    header.write(b"Obj\x01")
    fastavro.schemaless_writer(header, _META_SCHEMA, dict(sorted(meta.items())))
    # The sync marker is normally random; we derive it from the content instead (so equal
    # snapshots are equal bytes). A marker that depends on the data cannot be planted inside it.
    marker = hashlib.sha256(header.getvalue() + data).digest()[:16]
    out = io.BytesIO()
    out.write(header.getvalue())
    out.write(marker)
    out.write(_zigzag(count))
    out.write(_zigzag(len(data)))
    out.write(data)
    out.write(marker)
    return out.getvalue()


def _zigzag(n: int) -> bytes:
    """An Avro ``long`` ("Binary Encoding": zig-zag, then base-128 varint)."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        byte = z & 0x7F
        z >>= 7
        if z:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_single_block(data: bytes) -> tuple[dict[str, bytes], bytes, int]:
    """Split a container file of one null-codec block (what ``write_container_body`` makes) into
    (header metadata, the block's raw record bytes, record count) without decoding the records.

    Snapshots are checked this way: their block bytes, behind the writer's single-object header,
    are the exact payload bytes recorded, so the digest is checked on the bytes themselves.
    """
    try:
        view = io.BytesIO(data)
        if view.read(4) != b"Obj\x01":
            raise ValueError("not an Avro object container file")
        # casts: schemaless_reader answers any Avro value; the schema read with fixes which.
        meta = cast(dict[str, bytes], fastavro.schemaless_reader(view, _META_SCHEMA, None))
        marker = view.read(16)
        count = cast(int, fastavro.schemaless_reader(view, "long", None))
        size = cast(int, fastavro.schemaless_reader(view, "long", None))
        body = view.read(size)
        if len(body) != size or view.read(16) != marker or view.read(1):
            raise ValueError("the block is truncated or followed by more data")
    except READ_ERRORS as exc:
        raise IntegrityError(f"container file is truncated or corrupt: {exc}", code="snapshot_shape") from exc
    if meta.get("avro.codec", b"null") != b"null":
        raise IntegrityError("snapshot containers are written with the null codec", code="snapshot_shape")
    return meta, body, count


def read_container(data: bytes | memoryview) -> tuple[dict[str, Any], dict[str, str], list[dict[str, Any]]]:
    """Read a container file into (writer schema, user metadata without avro.* keys, records)."""
    try:
        reader = fastavro.reader(io.BytesIO(data))
        records = list(reader)
    except READ_ERRORS as exc:
        raise IntegrityError(f"container file is truncated or corrupt: {exc}") from exc
    metadata = {k: v for k, v in reader.metadata.items() if not k.startswith("avro.")}
    return reader.writer_schema, metadata, records  # type: ignore[return-value]
