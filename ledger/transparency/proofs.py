"""The files a verifier holds: a receipt with its inclusion proof, and a consistency proof.

Both are compact JSON (UTF-8, no insignificant whitespace, fixed keys, canonical base64 as in
C2SP signed notes), parsed strictly — unknown, missing or repeated keys are refused — so that
changing any byte of a file either makes it unreadable or changes a value the verifier checks.

A receipt-with-proof carries the log entry itself (the stored ``Envelope`` bytes, base64): the
verifier recomputes the leaf from it, decodes it, and checks every field of the receipt and the
payload digest against what the ledger actually recorded. The receipt fields are always derived
from the entry by :func:`receipt_fields`, on the server and in the verifier alike.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from ledger.domain.model import JST
from ledger.encoding.events import SUBMISSION_RECORDED, Event
from ledger.errors import IntegrityError
from ledger.ports import Position
from ledger.transparency import merkle

RECEIPT_FORMAT = "kiroku-receipt-proof/1"
CONSISTENCY_FORMAT = "kiroku-consistency-proof/1"

#: The receipt fields a receipt-with-proof carries, in order (all derived from the entry).
RECEIPT_KEYS = (
    "submission_id", "corporate_number", "procedure", "period", "kind", "replaces", "position", "recorded_at",
    "payload_digest", "deadline", "on_time", "line_count", "targets", "unreached",
)
#: The first word of a deadline seal's checkpoint extension line.
SEAL_PREFIX = "kiroku-seal"
_RECEIPT_PROOF_KEYS = ("format", "receipt", "origin", "leaf_index", "tree_size", "leaf_hash", "entry",
                       "inclusion_proof", "checkpoint")
_CONSISTENCY_KEYS = ("format", "origin", "old_size", "new_size", "proof", "old_checkpoint", "new_checkpoint")
#: The largest proof file read (a receipt carries its entry, so the largest payload, base64, and then some).
MAX_FILE_BYTES = 64 * 1024 * 1024
#: The deepest nesting of arrays and objects a proof file may have (a receipt-with-proof has 3).
MAX_DEPTH = 16
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def origin_for(deployment: str, topic: str, partition: int) -> str:
    """The checkpoint origin of one log partition: ``<deployment>/<topic>/<partition>``."""
    return f"{deployment}/{topic}/{partition}"


def seal_line(deadline: datetime, signed: datetime, periods: list[str] | tuple[str, ...]) -> str:
    """The extension line of a seal, e.g. ``kiroku-seal deadline=2027-02-02T00:00:00+09:00 …``."""
    return (f"{SEAL_PREFIX} deadline={deadline.astimezone(JST).isoformat()} "
            f"signed={signed.astimezone(JST).isoformat(timespec='seconds')} sealed={','.join(periods)}")


def parse_seal_line(line: str) -> dict[str, Any] | None:
    """``{"deadline": datetime, "signed": datetime, "sealed": [PROC/period, …]}``, or None if not a seal."""
    words = line.split(" ")
    if words[0] != SEAL_PREFIX:
        return None
    try:
        fields = dict(w.split("=", 1) for w in words[1:])
        return {"deadline": datetime.fromisoformat(fields["deadline"]), "signed": datetime.fromisoformat(fields["signed"]),
                "sealed": fields["sealed"].split(",")}
    except (KeyError, ValueError):
        raise IntegrityError(f"malformed seal line {line!r}", field="extensions", code="seal_line") from None


def timestamp(dt: datetime | None) -> str | None:
    """One spelling per instant: UTC, microseconds, ``Z`` (e.g. ``2027-01-15T00:00:00.000000Z``)."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def b64(data: bytes) -> str:
    """Standard base64 (RFC 4648 §4), as in signed notes."""
    return base64.b64encode(data).decode()


def unb64(text: object, field: str, code: str = "receipt_format") -> bytes:
    """Decode canonical base64 only, so that one value has one spelling."""
    raw = None
    if isinstance(text, str):
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or base64.b64encode(raw).decode() != text:
        raise IntegrityError(f"{field} is not canonical base64", field=field, expected="base64 (RFC 4648 §4)",
                             got=_short(text), code=code)
    return raw


def receipt_fields(ev: Event, position: Position) -> dict[str, Any]:
    """The receipt of a ``SubmissionRecorded`` event at ``position``, as plain JSON values."""
    if ev.type != SUBMISSION_RECORDED:
        raise IntegrityError(f"the log entry is a {ev.type} event, not a recorded submission",
                             field="entry", expected=SUBMISSION_RECORDED, got=ev.type, code="receipt_entry")
    b = ev.body
    return {
        "submission_id": b["submission_id"], "corporate_number": ev.corporate_number or "", "procedure": b["procedure"],
        "period": b["period"], "kind": b["kind"], "replaces": b["replaces"], "position": str(position),
        "recorded_at": timestamp(ev.time), "payload_digest": b["payload_digest"], "deadline": timestamp(b["deadline"]),
        "on_time": b["on_time"], "line_count": b["line_count"], "targets": [t["agency_id"] for t in b["targets"]],
        "unreached": list(b["unreached"]),
    }


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


def _loads(text: str | bytes, what: str, code: str) -> dict[str, Any]:
    def no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise IntegrityError(f"{what} repeats the key {k!r}", field=k, code=code)
            out[k] = v
        return out

    if len(text) > MAX_FILE_BYTES:
        raise IntegrityError(f"{what} is too large to be a Kiroku proof file", field=what, expected=f"at most {MAX_FILE_BYTES} bytes",
                             got=f"{len(text)} bytes", code="input_too_large")
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        _bounded_depth(text, what)
        data = json.loads(text, object_pairs_hook=no_repeats)
    except RecursionError:  # the depth bound above should make this unreachable; a verdict all the same
        raise IntegrityError(f"{what} nests too deeply", field=what, expected=f"at most {MAX_DEPTH} levels",
                             code="input_too_deep") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise IntegrityError(f"{what} is not valid JSON: {exc}", field=what, expected="JSON", code=code) from exc
    if not isinstance(data, dict):
        raise IntegrityError(f"{what} must be a JSON object", field=what, got=type(data).__name__, code=code)
    return data


def _bounded_depth(text: str, what: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` before parsing: json.loads recurses once per
    level, and a hostile file of a few hundred kilobytes would otherwise end in RecursionError."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_DEPTH:
                raise IntegrityError(f"{what} nests arrays and objects too deeply to be a Kiroku proof file", field=what,
                                     expected=f"at most {MAX_DEPTH} levels", got=f"more than {MAX_DEPTH}", code="input_too_deep")


def _exact_keys(data: dict[str, Any], keys: tuple[str, ...], what: str, code: str) -> None:
    missing = [k for k in keys if k not in data]
    extra = sorted(k for k in data if k not in keys)
    if missing or extra:
        # cast: the only items that are not text are empty lists, and filter(None, …) drops those.
        raise IntegrityError(
            f"{what} has " + "; ".join(cast("Iterable[str]", filter(None, [missing and f"missing keys {missing}",
                                                                           extra and f"unknown keys {extra}"]))),
            field=(missing or extra)[0], expected=", ".join(keys), got=", ".join(data), code=code,
        )


def _int(value: object, field: str, code: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise IntegrityError(f"{field} must be a non-negative integer", field=field, expected="an integer >= 0",
                             got=_short(value), code=code)
    return value


def _str(value: object, field: str, code: str) -> str:
    if not isinstance(value, str):
        raise IntegrityError(f"{field} must be a string", field=field, got=_short(value), code=code)
    return value


def _hashes(value: object, field: str, code: str) -> list[bytes]:
    if not isinstance(value, list):
        raise IntegrityError(f"{field} must be a list of base64 hashes", field=field, got=_short(value), code=code)
    return [unb64(h, f"{field}[{i}]", code) for i, h in enumerate(value)]


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class ReceiptProof:
    """A receipt completed with its entry and its inclusion proof against a signed checkpoint."""

    receipt: dict[str, Any]
    origin: str
    leaf_index: int
    tree_size: int
    entry: bytes
    inclusion_proof: list[bytes]
    checkpoint: str
    leaf_hash: bytes = b""

    def __post_init__(self) -> None:
        if not self.leaf_hash:
            object.__setattr__(self, "leaf_hash", merkle.leaf_hash(self.entry))

    @property
    def submission_id(self) -> str:
        return str(self.receipt.get("submission_id"))

    def to_json(self) -> str:
        """The file's text: one line of compact JSON."""
        return _dumps({
            "format": RECEIPT_FORMAT, "receipt": {k: self.receipt[k] for k in RECEIPT_KEYS}, "origin": self.origin,
            "leaf_index": self.leaf_index, "tree_size": self.tree_size, "leaf_hash": b64(self.leaf_hash),
            "entry": b64(self.entry), "inclusion_proof": [b64(h) for h in self.inclusion_proof], "checkpoint": self.checkpoint,
        })

    @classmethod
    def from_json(cls, text: str | bytes) -> ReceiptProof:
        """Parse a receipt-with-proof file strictly; IntegrityError(code="receipt_format") otherwise."""
        code = "receipt_format"
        data = _loads(text, "the receipt file", code)
        _exact_keys(data, _RECEIPT_PROOF_KEYS, "the receipt file", code)
        if data["format"] != RECEIPT_FORMAT:
            raise IntegrityError("not a Kiroku receipt-with-proof file", field="format", expected=RECEIPT_FORMAT,
                                 got=_short(data["format"]), code=code)
        receipt = data["receipt"]
        if not isinstance(receipt, dict):
            raise IntegrityError("receipt must be a JSON object", field="receipt", got=_short(receipt), code=code)
        _exact_keys(receipt, RECEIPT_KEYS, "the receipt", code)
        return cls(
            receipt=receipt, origin=_str(data["origin"], "origin", code), leaf_index=_int(data["leaf_index"], "leaf_index", code),
            tree_size=_int(data["tree_size"], "tree_size", code), entry=unb64(data["entry"], "entry", code),
            inclusion_proof=_hashes(data["inclusion_proof"], "inclusion_proof", code),
            checkpoint=_str(data["checkpoint"], "checkpoint", code), leaf_hash=unb64(data["leaf_hash"], "leaf_hash", code),
        )


@dataclass(frozen=True)
class ConsistencyProof:
    """PROOF(old_size, D[new_size]) between two published checkpoints of one log, with both notes."""

    origin: str
    old_size: int
    new_size: int
    proof: list[bytes]
    old_checkpoint: str
    new_checkpoint: str

    def to_json(self) -> str:
        """The file's text: one line of compact JSON."""
        return _dumps({
            "format": CONSISTENCY_FORMAT, "origin": self.origin, "old_size": self.old_size, "new_size": self.new_size,
            "proof": [b64(h) for h in self.proof], "old_checkpoint": self.old_checkpoint, "new_checkpoint": self.new_checkpoint,
        })

    @classmethod
    def from_json(cls, text: str | bytes) -> ConsistencyProof:
        """Parse a consistency-proof file strictly; IntegrityError(code="consistency_format") otherwise."""
        code = "consistency_format"
        data = _loads(text, "the consistency proof file", code)
        _exact_keys(data, _CONSISTENCY_KEYS, "the consistency proof file", code)
        if data["format"] != CONSISTENCY_FORMAT:
            raise IntegrityError("not a Kiroku consistency-proof file", field="format", expected=CONSISTENCY_FORMAT,
                                 got=_short(data["format"]), code=code)
        return cls(
            origin=_str(data["origin"], "origin", code), old_size=_int(data["old_size"], "old_size", code),
            new_size=_int(data["new_size"], "new_size", code), proof=_hashes(data["proof"], "proof", code),
            old_checkpoint=_str(data["old_checkpoint"], "old_checkpoint", code),
            new_checkpoint=_str(data["new_checkpoint"], "new_checkpoint", code),
        )
