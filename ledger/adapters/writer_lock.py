"""WriterLock: one recorder per embedded data directory (``$KIROKU_HOME/writer.lock``).

The service layer decides under an in-process lock (an idempotency key seen twice, a correction's
predecessor); two processes deciding over one SQLite log would each decide alone, and the second
answer would be a crash (``IntegrityError``) rather than a receipt. So the deployment that runs the
service layer's commands — ``kiroku serve``, the SDK, ``kiroku record``/``import``/``demo``… —
holds an exclusive ``flock`` on the lock file for as long as it is open. The operating system
drops it when the process ends, however it ends: a lock left by ``kill -9`` is never stale. The
file also says who holds it (pid, host, start time, command line), so a refusal can name them.

Where ``fcntl`` is missing the file is created with ``O_CREAT|O_EXCL`` instead and removed on
release; one left behind by a dead process on this host is recognised by its pid and taken over.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger.errors import Conflict

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "writer.lock"


class WriterLock:
    """An exclusive hold on a data directory, released by :meth:`release` or by the process ending."""

    def __init__(self, path: Path, fd: int, exclusive_file: bool) -> None:
        self.path = path
        self._fd: int | None = fd
        self._exclusive_file = exclusive_file

    @classmethod
    def acquire(cls, home: Path) -> WriterLock:
        """Take the lock on ``home``, or raise Conflict ``data_directory_in_use`` naming the holder."""
        path = Path(home) / LOCK_NAME
        if fcntl is not None:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise _in_use(path) from None
        else:  # pragma: no cover - exercised only where fcntl is missing
            fd = _create_exclusive(path)
        os.chmod(path, 0o600)  # whatever the umask, and whoever made it first
        _write_holder(fd)
        return cls(path, fd, exclusive_file=fcntl is None)

    def release(self) -> None:
        """Give the directory up (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if self._exclusive_file:  # pragma: no cover
            os.close(fd)
            self.path.unlink(missing_ok=True)
            return
        # Emptied while still held, so a reader never sees a holder that has gone.
        os.ftruncate(fd, 0)
        os.close(fd)  # closing the descriptor drops the flock


def describe_holder(path: Path) -> str:
    """``pid 1234 on HOST since 2026-…, kiroku serve`` from the lock file (best effort)."""
    holder = _read_holder(path)
    if not holder:
        return "another process (it has not written its details yet)"
    return f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('started')}, {holder.get('command')}"


def _in_use(path: Path) -> Conflict:
    held_by = describe_holder(path)
    return Conflict(f"the data directory {path.parent} is in use by {held_by}: one recorder per data directory. "
                    "Stop it first, or send the work to it (its HTTP API or SDK)", field="KIROKU_HOME",
                    expected=f"no other process holding {path}", got=held_by, code="data_directory_in_use")


def _write_holder(fd: int) -> None:
    argv = [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv and sys.argv[0] else ["python"]
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": datetime.now(UTC).isoformat(timespec="seconds"),
              "command": " ".join(argv)}
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, json.dumps(record).encode())
    os.fsync(fd)


def _read_holder(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _create_exclusive(path: Path) -> int:  # pragma: no cover - only where fcntl is missing
    for _ in range(2):
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            holder = _read_holder(path)
            if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int) and not _alive(holder["pid"]):
                path.unlink(missing_ok=True)  # left by a process that died without releasing it
                continue
            raise _in_use(path) from None
    raise _in_use(path)


def _alive(pid: int) -> bool:  # pragma: no cover - only where fcntl is missing
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
