"""Idempotency of recording: a key names one submission; a retry with the same body gets its receipt.

Within one company an idempotency key is used once: the same key with the same request returns
the original receipt (a retry after a lost acknowledgement), with another request a Conflict.
"""

from __future__ import annotations

import hashlib
import json

from ledger.domain.model import SubmissionRequest
from ledger.errors import Conflict


def request_fingerprint(req: SubmissionRequest) -> str:
    """SHA-256 of the canonical request: tells a retry from a different body under one key."""
    canonical = json.dumps(
        {"procedure": req.procedure, "period": req.period, "kind": req.kind.value, "replaces": req.replaces, "payload": req.payload},
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def key_conflict(key: str) -> Conflict:
    """The refusal of a key already used for another request."""
    return Conflict(
        f"idempotency key {key!r} was already used for a different submission; use a new key for new data",
        field="idempotency_key", expected="the same body as the first use of this key", got="a different body",
        code="idempotency_conflict",
    )
