"""Staff accounts: the persons who sign in to the web pages for a principal.

A principal (``agency:municipality:131016``, ``company:<法人番号>``, ``firm:…``, ``vendor:…``) is an
organisation; its staff are persons, each with an account of their own (``stf_…``) and a display
name (``山田 花子``, or a staff number — what the organisation chooses to show). Every read a person
makes through the pages is recorded in the company's access log with the person's account id as well
as the principal (:mod:`ledger.service.acting`).

How a person gets in:

- **A one-time sign-in link** (``kiroku web invite agency:municipality:131016 --person "山田 花子"``):
  32 random bytes, shown once, stored as their SHA-256 only; it expires (24 hours by default) and
  works once. Opening it shows a button; only pressing it (a POST, so a mail scanner that fetches the
  link uses nothing) signs the person in.
- **OpenID Connect** (GビズID for companies, an agency's own provider): the first sign-in through the
  provider happens from an invite link, which binds the provider's (issuer, subject) to the account;
  later sign-ins through the provider find the account by that pair.

Sessions: a cookie of 32 random bytes (its SHA-256 stored), ended by signing out, by the idle
timeout (no request for ``idle``), by the absolute timeout (``absolute`` after signing in) and by
disabling the account — which signs the person out everywhere at their next request, since every
request looks the session up. Each session has its own CSRF secret for the forms it shows.

The accounts live beside the API tokens, in ``<home>/principals.db`` (0600).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ledger.domain.model import Principal, from_us, new_id, to_us, utcnow
from ledger.errors import NotFound, Unauthenticated, ValidationError
from ledger.private_files import private_sqlite
from ledger.service.principals import validate_principal

INVITE_PREFIX = "inv_"
SESSION_PREFIX = "ses_"
#: How long a sign-in link works, unless asked otherwise.
INVITE_LIFETIME = timedelta(hours=24)
#: A session ends after this long without a request …
IDLE = timedelta(minutes=30)
#: … and this long after signing in, whatever happens.
ABSOLUTE = timedelta(hours=12)
#: A session's last request is written at most this often (a read is not a write per request).
_SEEN_EVERY = timedelta(minutes=1)
MAX_NAME = 60

_SCHEMA = """
CREATE TABLE IF NOT EXISTS staff_accounts (
    staff_id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    disabled_us INTEGER,
    oidc_issuer TEXT,
    oidc_subject TEXT,
    last_notice_seq INTEGER NOT NULL DEFAULT 0,
    UNIQUE (oidc_issuer, oidc_subject)
);
CREATE INDEX IF NOT EXISTS ix_staff_accounts_principal ON staff_accounts (principal);
CREATE TABLE IF NOT EXISTS staff_invites (
    invite_sha256 TEXT PRIMARY KEY,
    staff_id TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL,
    used_us INTEGER
);
CREATE TABLE IF NOT EXISTS staff_sessions (
    session_sha256 TEXT PRIMARY KEY,
    staff_id TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    seen_us INTEGER NOT NULL,
    ended_us INTEGER,
    csrf TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_staff_sessions_staff ON staff_sessions (staff_id);
"""
_ACCOUNT = "staff_id, principal, display_name, created_us, disabled_us, oidc_issuer, oidc_subject, last_notice_seq"


@dataclass(frozen=True, slots=True)
class StaffAccount:
    staff_id: str
    principal: str
    display_name: str
    created_at: datetime
    disabled_at: datetime | None
    oidc_issuer: str | None
    oidc_subject: str | None
    last_notice_seq: int

    @property
    def who(self) -> Principal:
        return Principal.parse(self.principal)


@dataclass(frozen=True, slots=True)
class StaffSession:
    """A signed-in person: their account and the session's CSRF secret."""

    staff: StaffAccount
    created_at: datetime
    csrf: str

    def csrf_token(self, form: str) -> str:
        """The token a form of this session carries (one per form name, so a token leaks no other form's)."""
        return hmac.new(self.csrf.encode(), form.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, form: str, token: str | None) -> None:
        if not token or not hmac.compare_digest(self.csrf_token(form), token):
            raise Unauthenticated("this form has expired or did not come from this site: open the page again and resubmit",
                                  field="csrf", code="csrf_failed")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _secret(prefix: str) -> str:
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def validate_display_name(name: str) -> str:
    """A person's display name: 1–60 printable characters (names are shown, never parsed)."""
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > MAX_NAME or not text.isprintable():
        raise ValidationError(f"a person's display name is 1 to {MAX_NAME} printable characters", field="person",
                              expected=f"1–{MAX_NAME} printable characters",
                              got=f"{len(text)} characters" if text else "nothing", code="invalid_person")
    return text


class StaffStore:
    """Staff accounts, sign-in links and sessions of one deployment, in ``<home>/principals.db``."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = utcnow, *, idle: timedelta = IDLE,
                 absolute: timedelta = ABSOLUTE) -> None:
        self.path = private_sqlite(Path(path))
        self.clock, self.idle, self.absolute = clock, idle, absolute
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def for_home(cls, home: Path, clock: Callable[[], datetime] = utcnow, **timeouts: timedelta) -> StaffStore:
        return cls(Path(home) / "principals.db", clock, **timeouts)

    # -- accounts and sign-in links ---------------------------------------------------------------

    def invite(self, principal: str | Principal, person: str | None = None, *, staff_id: str | None = None,
               lifetime: timedelta = INVITE_LIFETIME) -> tuple[StaffAccount, str]:
        """A one-time sign-in link's secret for a new account of ``principal`` named ``person`` — or,
        with ``staff_id``, for that existing account (a new link after the last one expired)."""
        if lifetime <= timedelta(0) or lifetime > timedelta(days=14):
            raise ValidationError("a sign-in link lives between a second and 14 days", field="lifetime",
                                  expected="0 < lifetime ≤ 14 days", got=str(lifetime), code="invalid_lifetime")
        now = self.clock()
        with self._lock:
            if staff_id is not None:
                account = self._account(staff_id)
                if account.disabled_at is not None:
                    raise ValidationError("this account was disabled: invite the person anew", field="staff_id",
                                          got=staff_id, code="account_disabled")
            else:
                who = validate_principal(principal.id if isinstance(principal, Principal) else principal)
                name = validate_display_name(person or "")
                account = StaffAccount(new_id("stf"), who.id, name, now, None, None, None, 0)
                self._db.execute(f"INSERT INTO staff_accounts ({_ACCOUNT}) VALUES (?, ?, ?, ?, NULL, NULL, NULL, 0)",
                                 (account.staff_id, account.principal, account.display_name, to_us(now)))
            secret = _secret(INVITE_PREFIX)
            self._db.execute("INSERT INTO staff_invites VALUES (?, ?, ?, ?, NULL)",
                             (_digest(secret), account.staff_id, to_us(now), to_us(now + lifetime)))
        return account, secret

    def invited(self, secret: str) -> StaffAccount:
        """The account a sign-in link is for, if the link still works (nothing is used up)."""
        with self._lock:
            return self._account(self._invite(secret)[0])

    def redeem(self, secret: str, *, oidc: tuple[str, str] | None = None) -> tuple[StaffSession, str]:
        """Use a sign-in link (once): a new session and its cookie secret. With ``oidc`` (issuer,
        subject) the provider's identity is bound to the account, for later sign-ins through it."""
        now = self.clock()
        with self._lock:
            staff_id, _ = self._invite(secret)
            if oidc is not None:
                issuer, subject = oidc
                taken = self._db.execute("SELECT staff_id FROM staff_accounts WHERE oidc_issuer = ? AND oidc_subject = ?",
                                         (issuer, subject)).fetchone()
                if taken is not None and taken[0] != staff_id:
                    raise Unauthenticated("this sign-in is already linked to another account", field="oidc",
                                          code="identity_taken")
                self._db.execute("UPDATE staff_accounts SET oidc_issuer = ?, oidc_subject = ? WHERE staff_id = ?",
                                 (issuer, subject, staff_id))
            self._db.execute("UPDATE staff_invites SET used_us = ? WHERE invite_sha256 = ?", (to_us(now), _digest(secret)))
            return self._open(staff_id, now)

    def sign_in_oidc(self, issuer: str, subject: str) -> tuple[StaffSession, str]:
        """A session for the account the provider's (issuer, subject) was bound to."""
        now = self.clock()
        with self._lock:
            row = self._db.execute("SELECT staff_id FROM staff_accounts WHERE oidc_issuer = ? AND oidc_subject = ?",
                                   (issuer, subject)).fetchone()
            if row is None:
                raise Unauthenticated("no account is linked to this sign-in: open the sign-in link you were sent first",
                                      field="oidc", code="no_account")
            return self._open(row[0], now)

    def _invite(self, secret: str) -> tuple[str, int]:
        if not isinstance(secret, str) or not secret.startswith(INVITE_PREFIX) or len(secret) > 100:
            raise Unauthenticated("this sign-in link is not one of ours", field="invite", code="invite_unknown")
        row = self._db.execute("SELECT staff_id, expires_us, used_us FROM staff_invites WHERE invite_sha256 = ?",
                               (_digest(secret),)).fetchone()
        if row is None:
            raise Unauthenticated("this sign-in link is not one of ours", field="invite", code="invite_unknown")
        staff_id, expires, used = row
        if used is not None:
            raise Unauthenticated("this sign-in link was used already: ask for a new one", field="invite", code="invite_used")
        if to_us(self.clock()) >= expires:
            raise Unauthenticated("this sign-in link has expired: ask for a new one", field="invite", code="invite_expired")
        if self._account(staff_id).disabled_at is not None:
            raise Unauthenticated("this account was disabled", field="invite", code="account_disabled")
        return staff_id, expires

    def _open(self, staff_id: str, now: datetime) -> tuple[StaffSession, str]:
        account = self._account(staff_id)
        if account.disabled_at is not None:
            raise Unauthenticated("this account was disabled", field="session", code="account_disabled")
        secret, csrf = _secret(SESSION_PREFIX), secrets.token_hex(32)
        self._db.execute("INSERT INTO staff_sessions VALUES (?, ?, ?, ?, NULL, ?)",
                         (_digest(secret), staff_id, to_us(now), to_us(now), csrf))
        return StaffSession(account, now, csrf), secret

    # -- sessions ---------------------------------------------------------------------------------

    def session(self, secret: str | None) -> StaffSession:
        """The signed-in person a session cookie stands for now; ``Unauthenticated`` (with why) otherwise."""
        if not secret or not secret.startswith(SESSION_PREFIX) or len(secret) > 100:
            raise Unauthenticated("sign in first", field="session", code="signed_out")
        now = self.clock()
        with self._lock:
            row = self._db.execute("SELECT staff_id, created_us, seen_us, ended_us, csrf FROM staff_sessions "
                                   "WHERE session_sha256 = ?", (_digest(secret),)).fetchone()
            if row is None:
                raise Unauthenticated("sign in first", field="session", code="signed_out")
            staff_id, created, seen, ended, csrf = row
            account = self._account(staff_id)
            if account.disabled_at is not None:  # (its sessions were ended too: this says why)
                raise Unauthenticated("this account was disabled", field="session", code="account_disabled")
            if ended is not None:
                raise Unauthenticated("you were signed out", field="session", code="signed_out")
            if now >= from_us(created) + self.absolute:
                raise Unauthenticated(f"sessions last {_hours(self.absolute)}: sign in again", field="session",
                                      code="session_expired")
            if now >= from_us(seen) + self.idle:
                raise Unauthenticated(f"you were signed out after {_minutes(self.idle)} without activity: sign in again",
                                      field="session", code="session_idle")
            if now >= from_us(seen) + _SEEN_EVERY:
                self._db.execute("UPDATE staff_sessions SET seen_us = ? WHERE session_sha256 = ?", (to_us(now), _digest(secret)))
        return StaffSession(account, from_us(created), csrf)

    def end(self, secret: str | None) -> None:
        """Sign out (the session only; idempotent)."""
        if secret:
            with self._lock:
                self._db.execute("UPDATE staff_sessions SET ended_us = ? WHERE session_sha256 = ? AND ended_us IS NULL",
                                 (to_us(self.clock()), _digest(secret)))

    def disable(self, staff_id: str) -> StaffAccount:
        """Disable an account: every session of it ends at its next request, its links stop working."""
        now = to_us(self.clock())
        with self._lock:
            self._account(staff_id)
            self._db.execute("UPDATE staff_accounts SET disabled_us = ? WHERE staff_id = ? AND disabled_us IS NULL", (now, staff_id))
            self._db.execute("UPDATE staff_sessions SET ended_us = ? WHERE staff_id = ? AND ended_us IS NULL", (now, staff_id))
            return self._account(staff_id)

    def seen_notices(self, staff_id: str, seq: int) -> None:
        """Remember the last notice the person was shown (the inbox's "new since your last visit")."""
        with self._lock:
            self._db.execute("UPDATE staff_accounts SET last_notice_seq = MAX(last_notice_seq, ?) WHERE staff_id = ?", (seq, staff_id))

    # -- reading ----------------------------------------------------------------------------------

    def account(self, staff_id: str) -> StaffAccount:
        with self._lock:
            return self._account(staff_id)

    def accounts(self, principal: str | None = None) -> list[StaffAccount]:
        sql, args = f"SELECT {_ACCOUNT} FROM staff_accounts", tuple[str, ...]()
        if principal:
            sql, args = sql + " WHERE principal = ?", (principal,)
        with self._lock:
            return [_account(r) for r in self._db.execute(sql + " ORDER BY created_us, staff_id", args).fetchall()]

    def names(self, staff_ids: set[str]) -> dict[str, str]:
        """Display names of these accounts (the access log shows who read)."""
        if not staff_ids:
            return {}
        ids = sorted(staff_ids)[:1000]
        with self._lock:
            rows = self._db.execute(f"SELECT staff_id, display_name FROM staff_accounts WHERE staff_id IN ({','.join('?' * len(ids))})",
                                    ids).fetchall()
        return dict(rows)

    def _account(self, staff_id: str) -> StaffAccount:
        row = self._db.execute(f"SELECT {_ACCOUNT} FROM staff_accounts WHERE staff_id = ?", (staff_id,)).fetchone()
        if row is None:
            raise NotFound(f"no staff account {staff_id}", field="staff_id", got=staff_id)
        return _account(row)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _account(row: tuple) -> StaffAccount:
    staff_id, principal, name, created, disabled, issuer, subject, seq = row
    return StaffAccount(staff_id, principal, name, from_us(created), None if disabled is None else from_us(disabled),
                        issuer, subject, seq)


def _hours(d: timedelta) -> str:
    return f"{d.total_seconds() / 3600:g} hours"


def _minutes(d: timedelta) -> str:
    return f"{d.total_seconds() / 60:g} minutes"
