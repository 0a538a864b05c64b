"""Field-level sealing of personal numbers (個人番号) with AES-256-GCM under per-scope data keys.

A payload's sensitive fields are replaced by ``nonce(12) ‖ ciphertext ‖ tag`` before encoding, with
the submission id and field path as associated data, so a sealed value cannot be moved to another
line or submission unnoticed. The data key belongs to a scope (company, procedure, period), so
destroying it at the end of that period's retention erases exactly that personal data.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from cachetools import LRUCache
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger import accelerator
from ledger.domain.procedures import Procedure
from ledger.encoding.codec import SchemaRegistry
from ledger.encoding.payload_forms import (
    PERSON_SCHEMA,
    PERSON_VERSION,
    erased_person,
    map_personal_numbers,
    to_domain,
    to_stored,
    v1_person,
)
from ledger.errors import IntegrityError, KeyErased
from ledger.ports import KeyService, ReservingKeyService

MASK = "************"
ERASED = "[erased at end of retention]"


def key_scope(corporate_number: str, procedure: str, period: str) -> str:
    return f"{corporate_number}|{procedure}|{period}"


def seal_lines(lines: list[dict[str, Any]], fields: tuple[str, ...], encrypt: Callable[[bytes, bytes, bytes], bytes],
               prefix: bytes, submission_id: bytes) -> list[dict[str, Any]]:
    """Copies of ``lines`` with each of their ``fields`` sealed: the sealing layout, which ``unseal`` reads.

    The k-th sealed value of a submission (counting line by line, in ``fields`` order, from 1) is
    ``nonce ‖ encrypt(nonce, UTF-8 text, aad)``, where ``nonce`` (12 bytes) is the submission's 8
    random bytes ``prefix`` then k as 4 bytes big-endian — GCM needs a nonce used once per key —
    and the associated data is ``<submission id>/lines[<n>].<field>`` with n the 1-based line.
    ``ledger/_hotpath.c`` has its compiled twin, which writes the same bytes.
    """
    if len(prefix) != 8:
        raise ValueError("the nonce prefix is 8 bytes")
    sealed_lines, counter = [], 0
    for number, line in enumerate(lines, start=1):
        if type(line) is not dict:
            raise TypeError(f"line {number} is a {type(line).__name__}, not a dict")
        sealed = dict(line)
        for name in fields:
            if name not in sealed:
                raise KeyError(f"line {number} has no {name!r}")
            if type(sealed[name]) is not str:
                raise TypeError(f"line {number}: {name!r} is a {type(sealed[name]).__name__}, not text")
            counter += 1
            if counter > 0xFFFF_FFFF:
                raise OverflowError("more than 2**32 - 1 sealed fields in one submission")
            nonce = prefix + counter.to_bytes(4, "big")
            aad = b"%s/lines[%d].%s" % (submission_id, number, name.encode())
            sealed[name] = nonce + encrypt(nonce, sealed[name].encode(), aad)
        sealed_lines.append(sealed)
    return sealed_lines


# Compiled where it is built: a national January seals tens of millions of personal numbers.
_seal_lines = accelerator.seal_lines or seal_lines


class Sealer:
    """Seals and unseals a procedure's sensitive fields through the KeyService: under v1 each
    personal number alone, from the v2 forms on each line's whole ``person`` (``registry`` encodes
    it as a ``kiroku.payloads.Person`` before it is sealed)."""

    def __init__(self, keys: KeyService, registry: SchemaRegistry | None = None) -> None:
        self.keys = keys
        self.registry = registry
        # Decided once: an isinstance check against a runtime_checkable protocol walks its members
        # (~10 µs), too much to repeat for every submission of a January.
        self._reserving: ReservingKeyService | None = keys if isinstance(keys, ReservingKeyService) else None
        # One AESGCM per recently used data key (bounded: a January touches millions of scopes). The
        # cache is not thread-safe and the service records and reads from several threads.
        self._aead: LRUCache[str, AESGCM] = LRUCache(4096)
        self._lock = threading.Lock()

    def _cipher(self, key_id: str, key: bytes) -> AESGCM:
        with self._lock:
            aead = self._aead.get(key_id)
            if aead is None:
                aead = self._aead[key_id] = AESGCM(key)
            return aead

    def persist(self, key_ids: set[str]) -> None:
        """Make the keys reserved for a batch durable before its submissions are appended."""
        if self._reserving is not None and key_ids:
            self._reserving.persist(key_ids)

    def seal(self, proc: Procedure, payload: dict[str, Any], scope: str, submission_id: str) -> tuple[dict[str, Any], str | None]:
        """The stored form of ``payload`` and the id of the data key used (None if nothing sensitive)."""
        if not proc.sensitive_fields:
            return payload, None
        # Where the key service can, a new key is only reserved here and made durable (with the
        # whole batch's keys) just before the submissions are appended: see Commands._record_batch.
        dk = self._reserving.reserve(scope) if self._reserving is not None else self.keys.data_key(scope)
        aead = self._cipher(dk.key_id, dk.key)
        # GCM needs a unique nonce per key: 8 random bytes per submission and a 4-byte counter.
        if proc.version >= 2:
            lines = self._seal_persons(proc, payload["lines"], aead.encrypt, os.urandom(8), submission_id.encode())
        else:
            lines = _seal_lines(payload["lines"], proc.sensitive_fields, aead.encrypt, os.urandom(8), submission_id.encode())
        return {**payload, "lines": lines}, dk.key_id

    def _registry(self) -> SchemaRegistry:
        if self.registry is None:
            raise AssertionError("a Sealer for v2 forms is built with the schema registry")  # a wiring bug, not bad input
        return self.registry

    def _seal_persons(self, proc: Procedure, lines: list[dict[str, Any]], encrypt: Callable[[bytes, bytes, bytes], bytes],
                      prefix: bytes, submission_id: bytes) -> list[dict[str, Any]]:
        """Each line's stored v2 form: its person (Avro binary of kiroku.payloads.Person) sealed in one
        AES-GCM operation — nonce ``prefix ‖ line number`` (4 bytes), associated data
        ``<submission id>/lines[<n>].person`` — and the v1 fields it replaces written empty."""
        registry = self._registry()
        if len(lines) > 0xFFFF_FFFF:
            raise OverflowError("more than 2**32 - 1 lines in one submission")
        out = []
        for number, line in enumerate(lines, start=1):
            body = registry.encode_body(PERSON_SCHEMA, line["person"], version=PERSON_VERSION)
            nonce = prefix + number.to_bytes(4, "big")
            sealed = nonce + encrypt(nonce, body, b"%s/lines[%d].person" % (submission_id, number))
            out.append(to_stored(registry, proc, line, sealed))
        return out

    def unseal(
        self, proc: Procedure, stored: dict[str, Any], key_id: str | None, submission_id: str, reveal: bool,
        only_lines: list[int] | None = None,
    ) -> tuple[dict[str, Any], str]:
        """The domain form for a reader: personal numbers shown (``reveal``), masked, or erased.

        Returns the payload — only the 1-based ``only_lines`` when given, so nothing else is even
        decrypted — and one of ``shown``, ``masked``, ``erased`` (``none`` when the procedure has no
        sensitive fields).
        """
        if only_lines is not None:
            wanted = set(only_lines)
            numbered = [(n, ln) for n, ln in enumerate(stored["lines"], start=1) if n in wanted]
        else:
            numbered = list(enumerate(stored["lines"], start=1))
        if proc.version >= 2:
            return self._unseal_persons(proc, stored, key_id, submission_id, reveal, numbered)
        if not proc.sensitive_fields or key_id is None:
            return {**stored, "lines": [ln for _, ln in numbered]}, "none"
        aead = self._key(key_id) if reveal else None
        status = "masked" if not reveal else "erased" if aead is None else "shown"
        sid = submission_id.encode()
        lines = []
        for number, line in numbered:
            out = dict(line)
            for name in proc.sensitive_fields:
                if aead is None:
                    out[name] = ERASED if status == "erased" else MASK
                    continue
                out[name] = self._open(aead, line[name], sid, number, name, submission_id).decode()
            lines.append(out)
        return {**stored, "lines": lines}, status

    def _unseal_persons(self, proc: Procedure, stored: dict[str, Any], key_id: str | None, submission_id: str, reveal: bool,
                        numbered: list[tuple[int, dict[str, Any]]]) -> tuple[dict[str, Any], str]:
        """The v2 domain form of lines read as v2, written under v2 (a sealed person) or under v1 (a
        person in the clear fields, its personal number sealed alone): every person's personal
        numbers shown (``reveal``) or masked; the whole person erased once its key is destroyed."""
        aead = self._key(key_id) if key_id is not None else None
        status = "none" if key_id is None else "erased" if aead is None else "shown" if reveal else "masked"
        sid = submission_id.encode()
        lines = []
        for number, line in numbered:
            blob = line.get("person")
            if blob is not None:
                if aead is None:
                    person = erased_person(ERASED)
                else:
                    person = self._registry().decode_body(self._open(aead, blob, sid, number, "person", submission_id),
                                                          PERSON_SCHEMA, PERSON_VERSION)
            else:  # written under v1
                sealed_number = line.get("personal_number")
                number_text = None
                if isinstance(sealed_number, bytes) and sealed_number:
                    number_text = ERASED if aead is None and status == "erased" else (
                        MASK if aead is None else self._open(aead, sealed_number, sid, number, "personal_number", submission_id).decode())
                person = v1_person(line, number_text)
            if aead is not None and not reveal:
                person = map_personal_numbers(person, lambda _n: MASK)
            lines.append(to_domain(proc, line, person))
        header = {k: v for k, v in stored.items() if k != "lines"}
        return {**header, "lines": lines}, status

    def _key(self, key_id: str) -> AESGCM | None:
        """The cipher of data key ``key_id``, or None once it was destroyed (end of retention)."""
        try:
            return self._cipher(key_id, self.keys.key_by_id(key_id))
        except KeyErased:
            return None

    @staticmethod
    def _open(aead: AESGCM, blob: bytes, sid: bytes, number: int, name: str, submission_id: str) -> bytes:
        try:
            return aead.decrypt(blob[:12], blob[12:], b"%s/lines[%d].%s" % (sid, number, name.encode()))
        except InvalidTag:
            raise IntegrityError(
                f"sealed {name} on line {number} of {submission_id} does not authenticate: it was altered or moved",
                field=f"lines[{number}].{name}", code="sealed_field",
            ) from None
