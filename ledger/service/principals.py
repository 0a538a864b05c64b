"""API tokens: who is calling the HTTP API.

Each token belongs to one principal (``company:<法人番号>``, ``vendor:NAME``, ``firm:NAME``,
``bank:NAME``, ``agency:<kind>:<code>`` or ``operator:NAME``). A token is 32 random bytes shown
once, when it is made (``kk_`` + URL-safe base64); only its SHA-256 is stored, in a small SQLite
file of its own under the data directory (``principals.db``), so a stolen copy of the file lets
nobody in. Tokens can expire and can be revoked; a revoked token stops working at the next call,
and a connection that outlives its token's check (an SSE stream, a long-poll) is refused within
about a second by :meth:`TokenStore.check`, which the HTTP API runs on every wake-up.

A presented token is compared by its SHA-256 only (an indexed lookup of the digest): how long the
lookup takes depends on the digest, never on how many leading characters of the token are right,
so timing tells a guesser nothing — the constant-time property of comparing digests.

Authentication is all this module does: what a principal may do is decided in the service layer.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ledger.domain.identifiers import validate_corporate_number
from ledger.domain.model import Principal, PrincipalKind, from_us, new_id, to_us, utcnow
from ledger.domain.procedures import validate_agency_id
from ledger.errors import NotFound, Unauthenticated, ValidationError
from ledger.private_files import private_sqlite

TOKEN_PREFIX = "kk_"
_COLUMNS = "token_id, principal, label, created_us, expires_us, revoked_us"
# The one spelling of a name, as a grant's grantee must be (ledger/service/grant_terms.py): lower
# case, starting and ending with a letter or digit, nothing after it (fullmatch: "$" allows a "\n").
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_tokens (
    token_id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    label TEXT,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_us INTEGER NOT NULL,
    expires_us INTEGER,
    revoked_us INTEGER
);
CREATE INDEX IF NOT EXISTS ix_api_tokens_principal ON api_tokens (principal);
"""


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What is kept about a token (never the token itself)."""

    token_id: str
    principal: str
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def active(self, at: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or at < self.expires_at)


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def validate_principal(text: str) -> Principal:
    """Parse ``kind:name`` and check the name fits the kind (法人番号 for companies, an agency id for agencies)."""
    principal = Principal.parse(text)
    if principal.kind is PrincipalKind.COMPANY:
        validate_corporate_number(principal.name, field="principal")
    elif principal.kind is PrincipalKind.AGENCY:
        validate_agency_id(principal.name, field_name="principal")
    elif not _NAME.fullmatch(principal.name):
        raise ValidationError(
            f"a {principal.kind.value} name is 1 to 64 lower-case letters, digits, '.', '_' or '-', starting and ending "
            f"with a letter or digit, got {principal.name!r}",
            field="principal", expected=f"{principal.kind.value}:NAME", got=text, code="invalid_principal",
        )
    return principal


class TokenStore:
    """API tokens of one deployment, in ``<home>/principals.db``."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = utcnow) -> None:
        self.path = private_sqlite(Path(path))  # token hashes: 0600 in a 0700 home, whatever the umask
        self.clock = clock
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def for_home(cls, home: Path, clock: Callable[[], datetime] = utcnow) -> TokenStore:
        return cls(Path(home) / "principals.db", clock)

    def add(self, principal: str | Principal, *, label: str | None = None, expires_at: datetime | None = None) -> tuple[TokenInfo, str]:
        """Make a token for ``principal``; returns its record and the token, which is never shown again."""
        who = validate_principal(principal.id if isinstance(principal, Principal) else principal)
        now = self.clock()
        if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
            raise ValidationError("a token must expire in the future (a timezone-aware time)", field="expires_at",
                                  expected="a future, timezone-aware time", got=str(expires_at), code="invalid_expiry")
        token = TOKEN_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        info = TokenInfo(new_id("tok"), who.id, label, now, expires_at, None)
        with self._lock:
            self._db.execute("INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, ?, NULL)", (
                info.token_id, info.principal, label, digest(token), to_us(now),
                None if expires_at is None else to_us(expires_at)))
        return info, token

    def list(self, principal: str | None = None) -> list[TokenInfo]:
        """Every token (or one principal's), oldest first; revoked and expired ones included."""
        sql = "SELECT token_id, principal, label, created_us, expires_us, revoked_us FROM api_tokens"
        args: tuple = ()
        if principal:
            sql, args = sql + " WHERE principal = ?", (principal,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY created_us, token_id", args).fetchall()
        return [_info(r) for r in rows]

    def revoke(self, token_id: str) -> TokenInfo:
        """Stop a token from working, from the next call on (idempotent)."""
        with self._lock:
            self._db.execute("UPDATE api_tokens SET revoked_us = ? WHERE token_id = ? AND revoked_us IS NULL",
                             (to_us(self.clock()), token_id))
            row = self._db.execute("SELECT token_id, principal, label, created_us, expires_us, revoked_us FROM api_tokens "
                                   "WHERE token_id = ?", (token_id,)).fetchone()
        if row is None:
            raise NotFound(f"no token {token_id}", field="token_id", got=token_id)
        return _info(row)

    def authenticate(self, token: str | None) -> Principal:
        """The principal a bearer token stands for; ``Unauthenticated`` if it does not stand for one now."""
        return Principal.parse(self.identify(token).principal)

    def identify(self, token: str | None) -> TokenInfo:
        """The record of the token presented, if it is active now; ``Unauthenticated`` otherwise."""
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            raise Unauthenticated("send an API token: Authorization: Bearer kk_…", field="authorization",
                                  expected="Bearer kk_…", got=None, code="unauthenticated")
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM api_tokens WHERE token_sha256 = ?", (digest(token),)).fetchone()
        if row is None:
            raise Unauthenticated("this API token is not known", field="authorization", code="invalid_token")
        return self._active(_info(row))

    def check(self, token_id: str) -> TokenInfo:
        """Is the token (by id) still active? For connections that outlive the call that opened them:
        ``Unauthenticated`` as soon as it was revoked or has expired (or was removed)."""
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM api_tokens WHERE token_id = ?", (token_id,)).fetchone()
        if row is None:
            raise Unauthenticated("this API token is not known", field="authorization", code="invalid_token")
        return self._active(_info(row))

    def _active(self, info: TokenInfo) -> TokenInfo:
        if info.revoked_at is not None:
            raise Unauthenticated("this API token was revoked", field="authorization", code="token_revoked")
        if info.expires_at is not None and self.clock() >= info.expires_at:
            raise Unauthenticated("this API token has expired; ask for a new one", field="authorization", code="token_expired")
        return info

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> TokenStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _info(row: tuple) -> TokenInfo:
    token_id, principal, label, created, expires, revoked = row
    return TokenInfo(token_id, principal, label, from_us(created), None if expires is None else from_us(expires),
                     None if revoked is None else from_us(revoked))
