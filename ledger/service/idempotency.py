"""Idempotency of recording: a key names one submission; a retry with the same body gets its receipt.

**Scope: the principal.** An idempotency key belongs to the principal that sends it (as Stripe
scopes keys per account): whoever sends a key a second time — for the same company or another —
with the same request gets the original receipt back (a retry after a lost acknowledgement), and
with any other request (another body, period, procedure or company) a Conflict. Two principals
never share a key space, so nobody learns whether someone else used a key.

**The request fingerprint is keyed.** To tell a retry from new data, every ``SubmissionRecorded``
entry stores a fingerprint of its request, and entries are handed to whoever may have a proof of
them. An unkeyed hash of a request holding a personal number (個人番号) would let such a reader
confirm a guessed number offline (10^11 candidates, hashed in minutes), and would outlive the
crypto-shredding of the number itself. So the fingerprint is

    "h1:" + hex(HMAC-SHA256(K, canonical request))
    K = HKDF-Expand(data key of the scope, info="kiroku/request-fingerprint/v1", 32)   (RFC 5869 §2.3)

where the scope is the submission's own (company | procedure | period, as in
:func:`ledger.service.sealing.key_scope`) and its data key is the one that seals the submission's
personal numbers, held by the key service (local keyring or AWS KMS). Why this key:

- it never leaves the deployment, and every server of one deployment finds the same key (after a
  restart, across Kafka writers and PostgreSQL catalogs): the fingerprint stays deterministic;
- it is destroyed with the data it covers: once ``kiroku retention run`` crypto-shreds the scope,
  no one — the operator included — can test a guess against the fingerprint any more;
- it needs nothing new from the key service (no per-company secret to back up beside the master
  key); HKDF-Expand may use the data key as its PRK directly, since it is already a uniformly
  random key (RFC 5869 §3.3), and the ``info`` label keeps the derived key apart from the AES-GCM use.

**Versions.** Entries recorded before this change carry the unkeyed SHA-256 (64 hex digits, no
prefix) of the old canonical form, which did not name the company. They still compare: a stored
fingerprint is read by its prefix (``h1:`` keyed, none: the legacy hash, recomputed only for that
comparison and never stored again). Those old entries cannot be rewritten (the log is immutable).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from ledger.domain.model import SubmissionRequest
from ledger.encoding.echo import redact, shown
from ledger.errors import Conflict
from ledger.ports import KeyService, ReservingKeyService

#: The prefix of a keyed (HMAC-SHA256) fingerprint, version 1.
KEYED_V1 = "h1:"
#: HKDF ``info``: what the derived key is for.
_INFO = b"kiroku/request-fingerprint/v1"


def _canonical(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()


def canonical_request(req: SubmissionRequest) -> bytes:
    """The request as the fingerprint covers it: company, procedure, period, kind, replaces, payload."""
    return _canonical({"corporate_number": req.corporate_number, "procedure": req.procedure, "period": req.period,
                       "kind": req.kind.value, "replaces": req.replaces, "payload": req.payload})


def legacy_fingerprint(req: SubmissionRequest) -> str:
    """The unkeyed SHA-256 entries recorded before keyed fingerprints carry (compared, never stored)."""
    return hashlib.sha256(_canonical({"procedure": req.procedure, "period": req.period, "kind": req.kind.value,
                                      "replaces": req.replaces, "payload": req.payload})).hexdigest()


def fingerprint_key(data_key: bytes) -> bytes:
    """HKDF-Expand (RFC 5869 §2.3) of a scope's data key to the key of its request fingerprints.

    One output block: T(1) = HMAC-SHA256(PRK, info ‖ 0x01), the PRK being the data key itself."""
    return hmac.new(data_key, _INFO + b"\x01", hashlib.sha256).digest()


def keyed_fingerprint(key: bytes, req: SubmissionRequest) -> str:
    """``h1:`` and the HMAC-SHA256 of the canonical request under a fingerprint key."""
    return KEYED_V1 + hmac.new(key, canonical_request(req), hashlib.sha256).hexdigest()


def same_request(stored: str, fingerprint: str, req: SubmissionRequest) -> bool:
    """Whether a recorded fingerprint (keyed, or legacy unkeyed) is that of ``req`` (whose keyed
    fingerprint is ``fingerprint``). The caller compares the company too: the legacy form lacks it."""
    if stored.startswith(KEYED_V1):
        return hmac.compare_digest(stored, fingerprint)
    return hmac.compare_digest(stored, legacy_fingerprint(req))


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A request's keyed fingerprint and the id of the data key it was derived from."""

    value: str
    key_id: str


class Fingerprints:
    """Keyed request fingerprints through the key service (one derivation per request).

    Nothing is cached here: the key service's own caches are the ones invalidated when a key is
    destroyed (also by another process), so a shredded scope stops fingerprinting at once.
    """

    def __init__(self, keys: KeyService) -> None:
        self.keys = keys
        self._reserving: ReservingKeyService | None = keys if isinstance(keys, ReservingKeyService) else None

    def of(self, req: SubmissionRequest, scope: str) -> Fingerprint:
        """The fingerprint of ``req``, keyed by ``scope``'s data key. Where the key service can, a
        new data key is only reserved: the caller persists ``key_id`` before appending. Raises
        KeyErased once the scope was crypto-shredded."""
        dk = self._reserving.reserve(scope) if self._reserving is not None else self.keys.data_key(scope)
        return Fingerprint(keyed_fingerprint(fingerprint_key(dk.key), req), dk.key_id)


def key_conflict(key: str) -> Conflict:
    """The refusal of a key already used for another request (the key is quoted only where it
    cannot hold a personal number: a client may have made it of anything)."""
    quoted = redact(str(shown(key, "idempotency_key")))
    return Conflict(
        f"idempotency key {quoted!r} was already used for a different submission (a key is yours across every "
        "company you file for); use a new key for new data",
        field="idempotency_key", expected="the same body as the first use of this key", got="a different body",
        code="idempotency_conflict",
    )
