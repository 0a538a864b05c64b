"""LocalObjectStore: write-once snapshot objects in a local folder (``KIROKU_OBJECTS=file:///dir``).

Each object is written to a temporary file, fsynced, renamed into place and made read-only, so a
crash leaves either the whole object or none. Keys are content addresses (``…/<sha256>.avro``):
``get`` re-hashes what it reads and refuses to serve bytes that do not match their name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ledger.errors import Forbidden, IntegrityError, NotFound


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


log = logging.getLogger(__name__)

_FSYNC_POOL: ThreadPoolExecutor | None = None


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync(paths: list[Path]) -> None:
    """Make files (or directories' entries) durable.

    The fsyncs run in parallel threads (fsync releases the GIL), so the filesystem's journal
    commits them together: about the cost of a few fsyncs for a whole batch, and — unlike
    syncfs(2) — never paying for other programs' unwritten data on the same disk.
    """
    global _FSYNC_POOL
    if _FSYNC_POOL is None:
        _FSYNC_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="kiroku-fsync")
    list(_FSYNC_POOL.map(_fsync_path, paths))


def content_key(prefix: str, data: bytes, suffix: str = ".avro") -> str:
    """The content address of ``data``: ``prefix/ab/<sha256>.avro``."""
    digest = hashlib.sha256(data).hexdigest()
    # One level of 256 folders: few enough to create once, enough to keep folders small.
    return f"{prefix}/{digest[:2]}/{digest}{suffix}"


def check_content(key: str, data: bytes) -> None:
    """Raise IntegrityError when a content-addressed object's bytes do not hash to its name."""
    name = key.rsplit("/", 1)[-1].split(".", 1)[0]
    if len(name) == 64:
        got = hashlib.sha256(data).hexdigest()
        if got != name:
            raise IntegrityError(
                f"snapshot object {key} is damaged or was altered: its bytes no longer match their digest",
                field=key, expected=name, got=got, code="object_digest",
            )


def _torn(key: str, existing: bytes, data: bytes) -> bool:
    """Whether a content-addressed object's stored bytes are a torn write of ``data``: they do
    not hash to the object's name, and ``data`` does (anything else is a real conflict)."""
    try:
        check_content(key, data)
    except IntegrityError:
        return False
    name = key.rsplit("/", 1)[-1].split(".", 1)[0]
    return len(name) == 64 and hashlib.sha256(existing).hexdigest() != name


class LocalObjectStore:
    """The embedded ``ObjectStore`` adapter."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._dirs: set[Path] = set()  # directories known to exist (a snapshot batch touches hundreds)

    @classmethod
    def from_url(cls, url: str) -> "LocalObjectStore":
        return cls(Path(url.removeprefix("file://")))

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise IntegrityError(f"invalid object key {key!r}", field="key", got=key, code="object_key")
        return self.root / key

    def put_immutable(self, key: str, data: bytes, retain_until_us: int | None = None) -> None:
        self.put_many([(key, data, retain_until_us)])

    def put_many(self, items: list[tuple[str, bytes, int | None]]) -> None:
        """Store several objects, then make them all durable at once.

        Each is written to a temporary file and renamed into place (a reader never sees half an
        object); one parallel sync then covers every file, and another their directories — two
        journal commits for the whole batch. A power cut between a rename and the sync can leave
        a torn file under its final name; no catalog row points at it yet (rows are committed
        after this returns), and as the name is the content's digest the next projection of the
        same snapshot recognises the damage and writes it again.
        """
        written: list[Path] = []
        for key, data, _retain in items:
            path = self._path(key)
            if path.exists():
                existing = path.read_bytes()
                if existing == data:
                    continue
                if not _torn(key, existing, data):
                    raise IntegrityError(
                        f"snapshot object {key} already exists with other bytes; snapshots are written once",
                        field=key, code="object_exists",
                    )
                log.warning("snapshot object %s was torn by a crash before it was synced; writing it again", key)
            if path.parent not in self._dirs:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._dirs.add(path.parent)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP)
            os.replace(tmp, path)
            written.append(path)
        if written:
            _sync(written)
            _sync(sorted({p.parent for p in written}))

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"snapshot object {key} is missing from the object store", field=key, code="object_missing") from None
        check_content(key, data)
        return data

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete(self, key: str) -> None:
        raise Forbidden(
            f"snapshot {key} is retained for its legal retention period and cannot be deleted",
            field=key, code="retention_locked",
        )

    def keys(self) -> list[str]:
        """Every stored object key (for integrity checks)."""
        return sorted(
            str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file() and not p.name.startswith(".")
        )

    def stray_temporaries(self) -> list[Path]:
        """Temporary files left by a write that crashed before its rename (never served).

        A temporary's name carries its writer's pid; one whose writer still runs is in flight.
        """
        out = []
        for path in self.root.rglob(".*.tmp"):
            pid = path.name.rsplit(".", 2)[-2]
            if path.is_file() and not (pid.isdigit() and _alive(int(pid))):
                out.append(path)
        return sorted(out)
