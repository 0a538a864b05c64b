"""LocalKeyring: envelope encryption with a local master key (``KIROKU_KEYS=local:///dir``).

Data keys (AES-256) are made per scope (a company and period), wrapped with AES-256-GCM under a
master key kept in ``master.key`` (mode 0600), and stored wrapped in ``keyring.db``. The master key
may live elsewhere (``local:///DIR?master_key=/secure/path/master.key``: another disk, a mounted
secret); without it no wrapped key can be unwrapped, so once any exist a missing master key is a
refusal (``master_key_missing``), never a silently regenerated one. Destroying a
data key overwrites its wrapped form: whatever it sealed becomes unreadable for good
(crypto-shredding), while the ledger's hashes stay verifiable.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs

from cachetools import LRUCache
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.errors import ConfigurationError, KeyErased, NotFound
from ledger.ports import DataKey
from ledger.private_files import exposed, private_dir, private_sqlite

CACHED_KEYS = 4096

_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
    key_id TEXT PRIMARY KEY,
    scope TEXT NOT NULL UNIQUE,
    wrapped BLOB,
    created_us INTEGER NOT NULL,
    destroyed_us INTEGER
);
"""


class LocalKeyring:
    """The embedded ``KeyService`` adapter."""

    def __init__(self, root: Path, master_key: Path | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self.master_path = Path(master_key) if master_key else self.root / "master.key"
        self._db = sqlite3.connect(private_sqlite(self.root / "keyring.db"), isolation_level=None, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            # A destroyed wrapped key must not survive in a freed page of the file (crypto-shredding).
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.executescript(_SCHEMA)
            self._master = AESGCM(self._load_master())
        except BaseException:
            self._db.close()
            raise
        self._lock = threading.RLock()
        # Plaintext data keys are cached briefly (bounded: a national January touches millions of
        # scopes); reserved keys are held apart until persisted, so they are never forgotten.
        # cachetools' caches are not thread-safe: every access holds _cache_lock, which is never
        # held across a database call (so a cache hit never waits for one).
        self._by_scope: LRUCache[str, DataKey] = LRUCache(CACHED_KEYS)
        self._by_id: LRUCache[str, bytes] = LRUCache(CACHED_KEYS)
        self._cache_lock = threading.Lock()
        self._reserved: dict[str, tuple[str, DataKey]] = {}  # key id → (scope, key), until persisted
        self._reserved_scope: dict[str, str] = {}  # scope → key id, for the same keys
        # SQLite's data_version changes when another connection (another process: `kiroku retention
        # run`) commits to the keyring; the caches are then dropped, so a key destroyed elsewhere is
        # never served from this process's memory.
        self._seen_version = self._data_version()

    def _data_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def _fresh_caches(self) -> None:
        """Drop the plaintext caches if another connection changed the keyring since last looked."""
        version = self._data_version()
        if version != self._seen_version:
            with self._cache_lock:
                self._by_scope.clear()
                self._by_id.clear()
                self._seen_version = version

    @classmethod
    def from_url(cls, url: str) -> LocalKeyring:
        root, master_key = parse_local_keys_url(url)
        return cls(root, master_key)

    def _load_master(self) -> bytes:
        path = self.master_path
        if not path.exists():
            (wrapped,) = self._db.execute("SELECT count(*) FROM data_keys WHERE wrapped IS NOT NULL").fetchone()
            if wrapped:
                # A new master key would unwrap none of them: every read would fail with InvalidTag.
                raise ConfigurationError(
                    f"the master key {path} is missing, but {self.root / 'keyring.db'} holds {wrapped} data key(s) wrapped "
                    "under it. Restore the master key from its backup (or point KIROKU_KEYS=local://DIR?master_key=PATH "
                    "at it); Kiroku will not make a new one", field="KIROKU_KEYS", expected=f"the master key file {path}",
                    got="no such file", code="master_key_missing")
            private_dir(path.parent)
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(AESGCM.generate_key(bit_length=256))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        mode = exposed(path)
        if mode is not None:
            raise ConfigurationError(f"the master key {path} is readable by other users (mode {mode:o}); run chmod 600 on it",
                                     field="KIROKU_KEYS", expected="mode 600", got=f"{mode:o}", code="secret_file_exposed")
        key = path.read_bytes()
        if len(key) != 32:
            raise ConfigurationError(f"the master key {path} is not a 256-bit key ({len(key)} bytes)", field="KIROKU_KEYS",
                                     expected="32 bytes", got=len(key), code="master_key_invalid")
        return key

    def _remember(self, scope: str, dk: DataKey) -> None:
        with self._cache_lock:
            self._by_scope[scope] = dk
            self._by_id[dk.key_id] = dk.key

    def data_key(self, scope: str) -> DataKey:
        self._fresh_caches()
        with self._cache_lock:
            cached = self._by_scope.get(scope)
        if cached is not None:
            return cached
        with self._lock:
            reserved = self._reserved_scope.get(scope)  # reserved, not yet persisted: the same key
            if reserved is not None:
                return self._reserved[reserved][1]
            row = self._db.execute("SELECT key_id, wrapped FROM data_keys WHERE scope = ?", (scope,)).fetchone()
            if row is None:
                key_id = f"lk_{uuid.uuid4().hex}"
                key = AESGCM.generate_key(bit_length=256)
                nonce = os.urandom(12)
                wrapped = nonce + self._master.encrypt(nonce, key, key_id.encode())
                self._db.execute(
                    "INSERT INTO data_keys VALUES (?, ?, ?, ?, NULL)", (key_id, scope, wrapped, time.time_ns() // 1000)
                )
            else:
                key_id, wrapped = row
                if wrapped is None:
                    raise KeyErased(f"the data key for {scope} was destroyed at the end of retention", field=scope)
                key = self._unwrap(key_id, wrapped)
            dk = DataKey(key_id, key)
            self._remember(scope, dk)
            return dk

    def _unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        return self._master.decrypt(wrapped[:12], wrapped[12:], key_id.encode())

    def reserve(self, scope: str) -> DataKey:
        """The scope's data key, created in memory only if new: ``persist`` makes it durable.

        Bulk recording reserves keys while it decides and persists, in one transaction, only the
        keys of submissions about to be appended — a rejected submission leaves no key behind.
        """
        self._fresh_caches()
        with self._cache_lock:
            cached = self._by_scope.get(scope)
        if cached is not None:
            return cached
        reserved = self._reserved_scope.get(scope)
        if reserved is not None:
            return self._reserved[reserved][1]
        with self._lock:
            # Again under the lock: another thread may have reserved this scope since the look above.
            reserved = self._reserved_scope.get(scope)
            if reserved is not None:
                return self._reserved[reserved][1]
            row = self._db.execute("SELECT key_id, wrapped FROM data_keys WHERE scope = ?", (scope,)).fetchone()
            if row is not None:
                return self.data_key(scope)
            key_id = f"lk_{uuid.uuid4().hex}"
            dk = DataKey(key_id, AESGCM.generate_key(bit_length=256))
            self._remember(scope, dk)
            self._reserved[key_id] = (scope, dk)
            self._reserved_scope[scope] = key_id
            return dk

    def persist(self, key_ids: set[str]) -> None:
        """Durably store the reserved keys among ``key_ids`` (one transaction)."""
        with self._lock:
            rows = []
            for key_id in key_ids:
                held = self._reserved.get(key_id)
                if held is None:
                    continue
                scope, dk = held
                nonce = os.urandom(12)
                wrapped = nonce + self._master.encrypt(nonce, dk.key, key_id.encode())
                rows.append((key_id, scope, wrapped, time.time_ns() // 1000))
            if not rows:
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT INTO data_keys VALUES (?, ?, ?, ?, NULL)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            for key_id, scope, *_ in rows:
                del self._reserved[key_id]
                del self._reserved_scope[scope]

    def key_by_id(self, key_id: str) -> bytes:
        self._fresh_caches()
        with self._cache_lock:
            cached = self._by_id.get(key_id)
        if cached is not None:
            return cached
        if key_id in self._reserved:
            return self._reserved[key_id][1].key
        with self._lock:
            row = self._db.execute("SELECT wrapped FROM data_keys WHERE key_id = ?", (key_id,)).fetchone()
        if row is None:
            raise NotFound(f"no data key {key_id} in the keyring", field="key_id", got=key_id, code="key_missing")
        if row[0] is None:
            raise KeyErased(f"data key {key_id} was destroyed at the end of retention", field="key_id", got=key_id)
        key = self._unwrap(key_id, row[0])
        with self._cache_lock:
            self._by_id[key_id] = key
        return key

    def destroy(self, key_id: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE data_keys SET wrapped = NULL, destroyed_us = ? WHERE key_id = ?", (time.time_ns() // 1000, key_id)
            )
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            with self._cache_lock:
                self._by_id.pop(key_id, None)
                for scope in [s for s, k in self._by_scope.items() if k.key_id == key_id]:
                    del self._by_scope[scope]

    def scopes(self) -> list[tuple[str, str, bool]]:
        with self._lock:
            rows = self._db.execute("SELECT key_id, scope, wrapped IS NULL FROM data_keys ORDER BY scope").fetchall()
        return [(k, s, bool(d)) for k, s, d in rows]

    def close(self) -> None:
        self._db.close()


def parse_local_keys_url(url: str) -> tuple[Path, Path | None]:
    """``local:///DIR[?master_key=/ABSOLUTE/PATH]`` → (keyring directory, master key path or None).

    Parsed without I/O, so a malformed URL fails at start-up naming KIROKU_KEYS.
    """
    rest = url.removeprefix("local://")
    root, _, query = rest.partition("?")
    params = parse_qs(query, keep_blank_values=True, strict_parsing=False) if query else {}
    unknown = sorted(set(params) - {"master_key"})
    master = params.get("master_key", [None])[-1]
    if not root or unknown or (master is not None and not Path(master).is_absolute()):
        raise ConfigurationError(f"KIROKU_KEYS={url}: expected local:///DIR or local:///DIR?master_key=/ABSOLUTE/PATH",
                                 field="KIROKU_KEYS", expected="local:///DIR[?master_key=/ABSOLUTE/PATH]", got=url, code="bad_setting")
    return Path(root), Path(master) if master else None
