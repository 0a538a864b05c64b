"""Checkpoints (C2SP tlog-checkpoint) and the signed notes that carry them (C2SP signed-note).

A checkpoint body is::

    <origin>\\n<decimal tree size>\\n<base64 root hash>\\n[<extension line>\\n ...]

A signed note is the body, a blank line, then one line per signature::

    — <key name> <base64(4-byte key ID ‖ 64-byte Ed25519 signature)>

The format is byte-compatible with Go's golang.org/x/mod/sumdb/note and transparency-dev
tooling, so any C2SP witness or verifier can check Kiroku's checkpoints.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ledger.errors import IntegrityError, KirokuError, ValidationError
from ledger.ports import Signer
from ledger.transparency.merkle import HASH_SIZE
from ledger.transparency.signer import Verifier, is_valid_key_name

#: U+2014 EM DASH and a space open every signature line (C2SP signed-note §Signatures).
SIG_PREFIX = "\u2014 "
#: Go's note.Open gives up after 100 signatures; C2SP requires accepting at least 16.
MAX_SIGNATURES = 100

_DECIMAL = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head: the log's origin, its size and root hash (C2SP tlog-checkpoint)."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or not _is_line(self.origin):
            raise ValidationError("the checkpoint origin must be one non-empty line", field="origin",
                                  expected="e.g. kiroku.example/log0", got=self.origin, code="checkpoint")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ValidationError("the tree size must be a non-negative integer", field="size",
                                  expected=">= 0", got=self.size, code="checkpoint")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise ValidationError(f"the root hash must be {HASH_SIZE} bytes", field="root_hash",
                                  expected=f"{HASH_SIZE} bytes", got=self.root_hash, code="checkpoint")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for i, ext in enumerate(self.extensions):
            if not ext or not _is_line(ext):
                raise ValidationError("each extension must be one non-empty line",
                                      field=f"extensions[{i}]", got=ext, code="checkpoint")

    def body(self) -> bytes:
        """The note text to sign, ending in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode(), *self.extensions]
        return ("\n".join(lines) + "\n").encode()


def parse_checkpoint(text: str | bytes) -> Checkpoint:
    """Parse a checkpoint body (not a signed note: see :func:`open_checkpoint`)."""
    s = _decode(text, "malformed_checkpoint")

    def bad(reason: str, field: str | None = None, got: object = None) -> IntegrityError:
        return IntegrityError(f"malformed checkpoint: {reason}", field=field, got=got,
                              code="malformed_checkpoint")

    if not s.endswith("\n"):
        raise bad("it must end with a newline")
    lines = s[:-1].split("\n")
    if len(lines) < 3:
        raise bad(f"expected origin, size and root hash lines, got {len(lines)} line(s)")
    origin, size, root, *extensions = lines
    if not origin:
        raise bad("the origin line is empty", "origin")
    if not _DECIMAL.fullmatch(size):
        raise bad("the tree size is not a decimal number without leading zeros", "size", size)
    root_hash = _b64decode(root)
    if root_hash is None or len(root_hash) != HASH_SIZE:
        raise bad(f"the root hash is not the base64 of {HASH_SIZE} bytes", "root_hash", root)
    for i, ext in enumerate(extensions):
        if not ext:
            raise bad("extension lines must not be empty", f"extensions[{i}]")
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))


def sign_note(body: bytes | str, signer: Signer, *cosigners: Signer) -> str:
    """The signed note of ``body`` with one signature line per signer (C2SP signed-note)."""
    text = _decode(body, "malformed_note", ValidationError)
    if not text.endswith("\n"):
        raise ValidationError("note text must end with a newline", field="body", code="malformed_note")
    lines = []
    for s in (signer, *cosigners):
        if not is_valid_key_name(s.key_name):
            raise ValidationError("invalid signer key name", field="key_name", got=s.key_name,
                                  code="key_name")
        blob = base64.b64encode(s.key_id + s.sign(text.encode())).decode()
        lines.append(f"{SIG_PREFIX}{s.key_name} {blob}\n")
    return text + "\n" + "".join(lines)


def open_note(note_text: str | bytes, verifier_keys: Iterable[Verifier | str]) -> tuple[bytes, Verifier]:
    """Verify a signed note; returns its text and the first known key that signed it.

    Follows C2SP signed-note: signatures from unknown keys are ignored, the note is rejected
    if no known key verifies — and, as Go's note.Open does, if a known key's signature is bad.
    Raises IntegrityError with code "malformed_note" or "signature".
    """
    note = _decode(note_text, "malformed_note")
    known: dict[tuple[str, bytes], Verifier] = {}
    v: Verifier | str | None  # a key as given, then parsed; below, the known key of a signature line (if any)
    for v in verifier_keys:
        v = Verifier.parse(v) if isinstance(v, str) else v
        other = known.setdefault((v.key_name, v.key_id), v)
        if other != v:
            raise ValidationError(f"two verifier keys share the name and ID {v.key_name}+{v.key_id.hex()}",
                                  field="verifier_keys", got=v.verifier_key(), code="verifier_key")

    def bad(reason: str) -> IntegrityError:
        return IntegrityError(f"malformed signed note: {reason}", field="note", code="malformed_note")

    # The text ends at the last blank line; the signature block follows it.
    split = note.rfind("\n\n")
    if split < 0:
        raise bad("no blank line before the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise bad("the signature block must be non-empty and end with a newline")
    sig_lines = block[:-1].split("\n")
    if len(sig_lines) > MAX_SIGNATURES:
        raise bad(f"more than {MAX_SIGNATURES} signatures")
    verified: list[Verifier] = []
    seen: list[str] = []
    for line in sig_lines:
        if not line.startswith(SIG_PREFIX):
            raise bad(f"signature line {line[:40]!r} does not start with an em dash and a space")
        name, _, b64 = line[len(SIG_PREFIX) :].partition(" ")
        blob = _b64decode(b64)
        if not is_valid_key_name(name) or blob is None or len(blob) < 5:
            raise bad(f"signature line {line[:40]!r} is not '— <key name> <base64>'")
        seen.append(f"{name}+{blob[:4].hex()}")
        v = known.get((name, blob[:4]))
        if v is None or v in verified:
            continue  # unknown keys are ignored; repeated signatures by one key count once
        if not v.verify(text.encode(), blob[4:]):
            raise IntegrityError(
                f"the signature by {name}+{v.key_id.hex()} does not verify: the note was altered",
                field="signature", expected=v.verifier_key(), got=line, code="signature",
            )
        verified.append(v)
    if not verified:
        raise IntegrityError(
            f"no signature from a trusted key: signed by {', '.join(seen)}; "
            f"trusted {', '.join(f'{n}+{i.hex()}' for n, i in known) or 'nothing'}",
            field="signature", expected=", ".join(v.verifier_key() for v in known.values()),
            got=", ".join(seen), code="signature",
        )
    return text.encode(), verified[0]


def open_checkpoint(
    note_text: str | bytes, verifier_keys: Iterable[Verifier | str], origin: str | None = None
) -> tuple[Checkpoint, Verifier]:
    """Verify a signed checkpoint and parse it; if ``origin`` is given, it must match."""
    body, verifier = open_note(note_text, verifier_keys)
    checkpoint = parse_checkpoint(body)
    if origin is not None and checkpoint.origin != origin:
        raise IntegrityError(
            f"the checkpoint is for log {checkpoint.origin!r}, expected {origin!r}",
            field="origin", expected=origin, got=checkpoint.origin, code="checkpoint_origin",
        )
    return checkpoint, verifier


def _is_line(s: str) -> bool:
    return not any(ord(c) < 0x20 for c in s)


def _decode(text: str | bytes, code: str, error: type[KirokuError] = IntegrityError) -> str:
    """UTF-8 text with no ASCII control characters but newline (as Go's note.Open demands)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"note is not valid UTF-8: {exc}", field="note", code=code) from exc
    for i, c in enumerate(text):
        if ord(c) < 0x20 and c != "\n":
            raise error(f"note has control character {ord(c):#04x} at offset {i}",
                        field="note", got=i, code=code)
    return text


def _b64decode(s: str) -> bytes | None:
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return None
    # Reject non-canonical encodings (stray padding bits) so one hash has one spelling.
    return raw if base64.b64encode(raw).decode() == s else None
