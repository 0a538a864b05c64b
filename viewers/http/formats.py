"""Snapshots in the representation the caller asks for: JSON, CSV, Avro, or the exact recorded bytes.

- ``json`` — the decoded payload with personal numbers shown or masked as the reader's basis allows;
- ``csv`` — one row per line the reader may see (the same columns as ``AgencyView.export_csv``),
  safe to open in a spreadsheet (no cell starts a formula: :mod:`ledger.encoding.csv_cells`);
- ``avro`` — an Avro object container file any Avro library opens: the record exactly as stored
  (personal numbers sealed), its writer schema, and the submission's identity in the metadata;
- ``raw`` — the exact payload bytes recorded (Avro single-object encoding): their SHA-256 is the
  receipt's ``payload_digest``, given again in ``Repr-Digest``.

Avro and raw need the whole payload, so they are refused (406) to a reader who sees only some
lines (a municipality reading a salary payment report) and for cancellations, which carry none.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from collections.abc import Callable
from typing import Any

from fastapi import Response

from ledger.domain.model import Snapshot
from ledger.domain.procedures import PROCEDURES
from ledger.encoding.codec import SchemaRegistry
from ledger.encoding.csv_cells import flat_line, safe_row
from ledger.encoding.snapshots import build_snapshot
from ledger.errors import Forbidden, NotAcceptable
from viewers.http.schemas import SnapshotOut

JSON = "application/json"
CSV = "text/csv"
AVRO = "application/avro"
RAW = "application/vnd.kiroku.payload+avro"
MEDIA = {"json": JSON, "csv": CSV, "avro": AVRO, "raw": RAW}
FORMAT_OF_MEDIA = {v: k for k, v in MEDIA.items()}

#: OpenAPI content of a snapshot response.
SNAPSHOT_CONTENT: dict[str, Any] = {
    JSON: {"schema": {"$ref": "#/components/schemas/SnapshotOut"}},
    CSV: {"schema": {"type": "string"}},
    AVRO: {"schema": {"type": "string", "format": "binary"}},
    RAW: {"schema": {"type": "string", "format": "binary"}},
}


#: Formats that carry the recorded bytes, hence every line: refused (406) to a reader of some.
WHOLE = frozenset({"avro", "raw"})


def read_as(fmt: str, read: Callable[[], Snapshot]) -> Snapshot:
    """Run a snapshot read for format ``fmt``; the service's ``partial_view`` refusal (already
    recorded in the access log as denied) answers 406 here, naming the format."""
    try:
        return read()
    except Forbidden as err:
        if err.code != "partial_view":
            raise
        raise NotAcceptable(err.message, field="format", expected="json or csv", got=fmt, code="partial_view") from None


def negotiate(fmt: str | None, accept: str | None) -> str:
    """The format asked for: ``format`` wins; else the first known media type in ``Accept``; else JSON."""
    if fmt:
        return fmt
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        if media in FORMAT_OF_MEDIA:
            return FORMAT_OF_MEDIA[media]
    return "json"


def render(snap: Snapshot, fmt: str, registry: SchemaRegistry) -> Response:
    info = snap.info
    headers = {"X-Kiroku-Payload-Digest": info.payload_digest, "X-Kiroku-Submission": info.submission_id}
    if fmt == "csv":
        return Response(to_csv(snap), media_type=CSV, headers=headers)
    if fmt in ("avro", "raw"):
        if snap.payload is None:
            raise NotAcceptable(f"{info.submission_id} is a cancellation: it carries no payload to give as Avro",
                                field="format", expected="json or csv", got=fmt, code="no_payload")
        if snap.raw is None:
            raise NotAcceptable("you may see only some lines of this submission; the recorded bytes hold them all — ask for json or csv",
                                field="format", expected="json or csv", got=fmt, code="partial_view")
        if fmt == "raw":
            headers["Repr-Digest"] = "sha-256=:" + base64.b64encode(hashlib.sha256(snap.raw).digest()).decode() + ":"
            return Response(snap.raw, media_type=RAW, headers=headers)
        _, container = build_snapshot(registry, snap.raw, {
            "kiroku.submission_id": info.submission_id, "kiroku.corporate_number": info.corporate_number,
            "kiroku.procedure": info.procedure, "kiroku.period": info.period, "kiroku.payload_digest": info.payload_digest,
            "kiroku.position": info.position,
        })
        return Response(container, media_type=AVRO, headers=headers)
    body = SnapshotOut(**snap.model_dump(exclude={"raw"})).model_dump_json()
    return Response(body, media_type=JSON, headers=headers)


def to_csv(snap: Snapshot) -> str:
    """The lines the reader may see, one row each, with the filing's identity on every row; text
    cells a spreadsheet would read as a formula are neutralised (:func:`safe_row`)."""
    out = io.StringIO()
    info = snap.info
    lines = (snap.payload or {}).get("lines") or []
    numbers = snap.visible_lines or list(range(1, len(lines) + 1))
    writer: Any = None
    for number, line in zip(numbers, lines):
        row = {"submission_id": info.submission_id, "corporate_number": info.corporate_number, "procedure": info.procedure,
               "period": info.period, "line": number, **flat_line(PROCEDURES[info.procedure].line, line)}
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(row))
            writer.writeheader()
        writer.writerow(safe_row(row))
    if writer is None:
        csv.writer(out).writerow(["submission_id", "corporate_number", "procedure", "period", "line"])
    return out.getvalue()
