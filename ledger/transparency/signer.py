"""Ed25519 signing keys for checkpoints: ``LocalSigner`` (the ``Signer`` port's adapter) and ``Verifier``.

Key names and key IDs follow C2SP signed-note: a key name is non-empty with no whitespace and
no ``+``; the key ID is SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4] (0x01 is the
Ed25519 signature type). Public keys are published as Go's golang.org/x/mod/sumdb/note
verifier-key string, ``<name>+<8 hex key ID>+<base64(0x01 ‖ public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import ConfigurationError, ValidationError

#: Signature type byte of plain Ed25519 in C2SP signed-note.
ED25519 = 0x01


def is_valid_key_name(name: str) -> bool:
    """A key name is non-empty and has no whitespace and no '+' (C2SP signed-note)."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def check_key_name(name: str) -> str:
    """Return ``name`` or raise ValidationError(code="key_name")."""
    if not isinstance(name, str) or not is_valid_key_name(name):
        raise ValidationError(
            f"key name {name!r} must be non-empty, without spaces or '+' (e.g. 'kiroku.example/log0')",
            field="key_name", expected="no spaces or '+'", got=name, code="key_name",
        )
    return name


def key_id(name: str, public_key: bytes, sig_type: int = ED25519) -> bytes:
    """SHA-256(key name ‖ 0x0A ‖ signature type ‖ public key)[:4] (C2SP signed-note)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


def verifier_key_string(name: str, public_key: bytes) -> str:
    """``<name>+<hex key ID>+<base64(0x01 ‖ public key)>``, as Go's note.NewEd25519VerifierKey."""
    material = base64.b64encode(bytes([ED25519]) + public_key).decode()
    return f"{name}+{key_id(name, public_key).hex()}+{material}"


class LocalSigner:
    """A Signer holding an Ed25519 private key loaded from (or created in) a local file."""

    def __init__(self, private_key: Ed25519PrivateKey, key_name: str) -> None:
        self._key = private_key
        self._name = check_key_name(key_name)
        self._public = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @classmethod
    def generate(cls, key_name: str) -> LocalSigner:
        """A fresh key held only in memory."""
        return cls(Ed25519PrivateKey.generate(), key_name)

    @classmethod
    def open(cls, path: str | Path, key_name: str) -> LocalSigner:
        """Load the key at ``path`` (PEM PKCS#8 or 32 raw seed bytes); create it if missing.

        A new key is written as PEM with mode 0600, atomically: it appears complete or not at
        all, and if two processes race the first one's key wins and both use it.
        """
        check_key_name(key_name)
        path = Path(path)
        if not path.exists():
            _create_key_file(path)
        return cls(_load_key_file(path), key_name)

    @property
    def key_name(self) -> str:
        """See Signer.key_name."""
        return self._name

    @property
    def public_key_bytes(self) -> bytes:
        """See Signer.public_key_bytes."""
        return self._public

    @property
    def key_id(self) -> bytes:
        """See Signer.key_id."""
        return key_id(self._name, self._public)

    def sign(self, msg: bytes) -> bytes:
        """See Signer.sign."""
        return self._key.sign(msg)

    def verifier_key(self) -> str:
        """See Signer.verifier_key."""
        return verifier_key_string(self._name, self._public)

    def __repr__(self) -> str:
        return f"LocalSigner({self.verifier_key()!r})"


class Verifier:
    """An Ed25519 public key under a key name, parsed from a verifier-key string."""

    def __init__(self, key_name: str, public_key: bytes) -> None:
        if len(public_key) != 32:
            raise ValidationError("an Ed25519 public key is 32 bytes", field="public_key",
                                  expected="32 bytes", got=len(public_key), code="verifier_key")
        self.key_name = check_key_name(key_name)
        self.public_key_bytes = bytes(public_key)
        self.key_id = key_id(key_name, public_key)
        self._key = Ed25519PublicKey.from_public_bytes(public_key)

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Parse ``<name>+<hex key ID>+<base64(0x01 ‖ public key)>`` (Go's note.NewVerifier)."""
        def bad(reason: str, expected: str | None = None) -> ValidationError:
            return ValidationError(f"verifier key {vkey!r} is malformed: {reason}", field="verifier_key",
                                   expected=expected, got=vkey, code="verifier_key")

        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise bad("expected <name>+<key id>+<key>", "<name>+<key id>+<key>")
        name, hex_id, material = parts
        if not is_valid_key_name(name):
            raise bad("the key name is empty or has spaces")
        if len(hex_id) != 8 or not all(c in "0123456789abcdefABCDEF" for c in hex_id):
            raise bad("the key ID must be 8 hex digits", "8 hex digits")
        try:
            raw = base64.b64decode(material, validate=True)
        except (binascii.Error, ValueError):
            raise bad("the key is not base64") from None
        if len(raw) != 33 or raw[0] != ED25519:
            raise bad("only Ed25519 keys (type 0x01, 32 bytes) are supported", "0x01 ‖ 32 bytes")
        want = key_id(name, raw[1:])
        if bytes.fromhex(hex_id) != want:
            raise bad(f"the key ID {hex_id} does not match the key (expected {want.hex()})", want.hex())
        return cls(name, raw[1:])

    def verify(self, msg: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``msg``."""
        try:
            self._key.verify(signature, msg)
        except InvalidSignature:
            return False
        return True

    def verifier_key(self) -> str:
        """The verifier-key string (round-trips through :meth:`parse`)."""
        return verifier_key_string(self.key_name, self.public_key_bytes)

    def __repr__(self) -> str:
        return f"Verifier({self.verifier_key()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Verifier) and (self.key_name, self.public_key_bytes) == (
            other.key_name, other.public_key_bytes)

    def __hash__(self) -> int:
        return hash((self.key_name, self.public_key_bytes))


def _create_key_file(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        try:
            # link, unlike rename, refuses to replace a key another process just created.
            os.link(tmp, path)
        except FileExistsError:
            pass
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        tmp.unlink(missing_ok=True)


def _load_key_file(path: Path) -> Ed25519PrivateKey:
    def bad(reason: str) -> ConfigurationError:
        return ConfigurationError(f"signing key file {path}: {reason}", field="signing_key_path",
                                  got=str(path), code="signing_key")

    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise bad(f"cannot be read ({exc.strerror})") from exc
    if stat.S_IMODE(mode) & 0o077:
        raise bad(f"is readable by others (mode {stat.S_IMODE(mode):o}); run chmod 600 on it")
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise bad(f"is not an unencrypted PEM private key ({exc})") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise bad(f"holds a {type(key).__name__}, not an Ed25519 key")
        return key
    if len(data) == 32:
        return Ed25519PrivateKey.from_private_bytes(data)
    raise bad(f"is neither PEM nor 32 raw bytes ({len(data)} bytes)")
