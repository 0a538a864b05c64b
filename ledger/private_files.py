"""Files only their owner can read: the data directory 0700, its databases and secrets 0600.

The modes are set explicitly, whatever the process umask (SQLite creates its files with the
umask, so a database is made empty here first, 0600, and SQLite then gives its ``-wal`` and
``-shm`` files the database's own mode). An existing file or directory keeps the mode its
operator gave it; :func:`exposed` lets the start-up check report it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) if needed; a directory created here is 0700."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        os.chmod(path, PRIVATE_DIR)  # mkdir's mode is filtered by the umask
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if it does not exist (an empty file is an empty SQLite database)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return path
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return path


def private_sqlite(path: Path) -> Path:
    """Prepare a SQLite database file at ``path``: its directory exists (a new one 0700), and a new file is 0600."""
    path = Path(path)
    private_dir(path.parent)
    return private_file(path)


def exposed(path: Path) -> int | None:
    """The mode of ``path`` if group or others may read, write or enter it; None if private or absent."""
    try:
        mode = stat.S_IMODE(Path(path).stat().st_mode)
    except OSError:
        return None
    return mode if mode & 0o077 else None
