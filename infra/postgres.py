"""A real PostgreSQL server of our own on loopback, for the scale-out deployment and its tests.

Uses the server binaries Debian installs under ``/usr/lib/postgresql/<major>/bin`` (installing
the ``postgresql`` package when they are absent and we are root), ``initdb``s a cluster in a
directory of its own and starts it with ``pg_ctl`` on a free port, TCP on 127.0.0.1 only, trust
authentication, superuser ``kiroku`` and a database ``kiroku``. PostgreSQL refuses to run as
root, so as root every server-side command runs as the ``postgres`` system user (``runuser``).

Layout under ``base_dir``::

    postgres.json     state for `down` / `status` from another process
    pg/data/          the cluster (or a /tmp directory when the postgres user cannot reach base_dir)
    pg/postgres.log   server log (pg_ctl -l)

CLI: ``python -m infra.postgres up [--dir D]`` / ``down`` / ``status``.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.services import (
    LOOPBACK,
    ServiceError,
    ToolMissing,
    free_port,
    port_open,
    process_runs,
    progress,
    read_state,
    run,
    tail,
    write_state,
)

SUPERUSER = "kiroku"
DATABASE = "kiroku"
SYSTEM_USER = "postgres"  # created by Debian's postgresql-common; owns the data when we are root
STATE_FILE = "postgres.json"
DEBIAN_ROOT = Path("/usr/lib/postgresql")
SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")


# --------------------------------------------------------------------------- installing


def find_bin_dir() -> Path | None:
    """The server's bin directory: ``$KIROKU_PG_BIN``, the newest Debian major, or ``initdb``'s dir."""
    candidates: list[Path] = []
    if os.environ.get("KIROKU_PG_BIN"):
        candidates.append(Path(os.environ["KIROKU_PG_BIN"]))
    if DEBIAN_ROOT.is_dir():
        majors = [p for p in DEBIAN_ROOT.iterdir() if re.fullmatch(r"\d+", p.name)]
        candidates += [p / "bin" for p in sorted(majors, key=lambda p: int(p.name), reverse=True)]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for bin_dir in candidates:
        if all((bin_dir / name).is_file() for name in SERVER_PROGRAMS):
            return bin_dir
    return None


def ensure_installed() -> Path:
    """The PostgreSQL server bin directory, installing Debian's ``postgresql`` when absent.

    Installing needs root and ``apt-get``; otherwise :class:`ToolMissing` says what to do.
    """
    bin_dir = find_bin_dir()
    if bin_dir is not None:
        return bin_dir
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise ToolMissing(
            "PostgreSQL server programs (initdb, pg_ctl, postgres) were not found and cannot be "
            "installed here (needs root and apt-get); install the 'postgresql' package or set "
            "KIROKU_PG_BIN to its bin directory",
            field="KIROKU_PG_BIN", expected="a directory holding initdb, pg_ctl and postgres",
            got=os.environ.get("KIROKU_PG_BIN"),
        )
    progress("installing PostgreSQL from Debian packages (apt-get install -y postgresql)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    started = time.monotonic()
    try:
        run([apt, "install", "-y", "--no-install-recommends", "postgresql"],
            what="apt-get install postgresql", env=env)
    except ServiceError:  # stale package lists are the usual cause: refresh once and retry
        run([apt, "update"], what="apt-get update", env=env)
        run([apt, "install", "-y", "--no-install-recommends", "postgresql"],
            what="apt-get install postgresql", env=env)
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise ToolMissing(f"apt-get installed postgresql but no server bin directory under {DEBIAN_ROOT}",
                          expected=f"{DEBIAN_ROOT}/<major>/bin/initdb")
    progress(f"installed PostgreSQL in {time.monotonic() - started:.0f}s: {bin_dir}")
    return bin_dir


# --------------------------------------------------------------------------- the server


@dataclass
class PostgresServer:
    """One ``postgres`` cluster started by :func:`start`; ``url`` is for SQLAlchemy."""

    base_dir: Path
    data_dir: Path
    port: int
    bin_dir: Path
    run_as: str | None = None  # system user the server runs as (when we are root)
    pid: int | None = None

    @property
    def url(self) -> str:
        """``postgresql+psycopg://kiroku@127.0.0.1:PORT/kiroku`` (trust auth, no password)."""
        return f"postgresql+psycopg://{SUPERUSER}@{LOOPBACK}:{self.port}/{DATABASE}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    @property
    def alive(self) -> bool:
        """Whether the postmaster is running."""
        return process_runs(self.pid, str(self.data_dir))

    def stop(self, timeout: float = 30.0, *, remove_data: bool = False) -> None:
        """``pg_ctl stop -m fast`` (rolls back open transactions, then shuts down cleanly).

        The data directory is kept for post-mortems unless ``remove_data``.
        """
        if self.alive:
            try:
                _pg(self, ["pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w",
                           "-t", str(int(timeout)), "stop"], what="pg_ctl stop")
            except ServiceError:
                if self.alive:
                    raise
        state = self.base_dir / STATE_FILE
        if state.exists():
            state.unlink()
        if remove_data:
            shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def log_tail(self, lines: int = 50) -> str:
        """The end of the server log."""
        return f"--- {self.log_path} ---\n{tail(self.log_path, lines)}"

    def to_state(self) -> dict[str, Any]:
        return {
            "kind": "postgres", "url": self.url, "port": self.port, "pid": self.pid,
            "data_dir": str(self.data_dir), "bin_dir": str(self.bin_dir),
            "run_as": self.run_as, "log": str(self.log_path),
        }

    @classmethod
    def load(cls, base_dir: Path | str) -> PostgresServer | None:
        """The server recorded in ``<base_dir>/postgres.json``, or None."""
        state = read_state(Path(base_dir) / STATE_FILE)
        if state is None:
            return None
        return cls(
            base_dir=Path(base_dir), data_dir=Path(state["data_dir"]), port=int(state["port"]),
            bin_dir=Path(state["bin_dir"]), run_as=state.get("run_as"), pid=state.get("pid"),
        )


def _pg(server: PostgresServer, argv: list[str], *, what: str) -> subprocess.CompletedProcess[str]:
    """Run a server program from ``bin_dir``, as ``run_as`` when set."""
    command = [str(server.bin_dir / argv[0]), *argv[1:]]
    if server.run_as:
        command = ["runuser", "-u", server.run_as, "--", *command]
    return run(command, what=what, timeout=120, cwd="/")


def _server_user() -> str | None:
    """None when we may run postgres ourselves; the system user to run it as when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError as exc:
        raise ToolMissing(
            f"running as root, but there is no {SYSTEM_USER!r} system user to run PostgreSQL as "
            "(PostgreSQL refuses to run as root; Debian's postgresql package creates the user)",
            field="user", expected=SYSTEM_USER, got="root",
        ) from exc
    if shutil.which("runuser") is None:
        raise ToolMissing("running as root needs 'runuser' (util-linux) to start PostgreSQL",
                          field="runuser", expected="runuser on PATH")
    return SYSTEM_USER


def _data_root(base_dir: Path, run_as: str | None) -> Path:
    """``base_dir/pg`` if the server's user can reach it, else a private directory in /tmp.

    As root, ``base_dir`` is often under a 0700 directory (``/root``, pytest's tmp) that the
    postgres user cannot enter; PostgreSQL then fails with "could not change directory".
    """
    root = base_dir / "pg"
    if run_as is None:
        return root
    reachable = subprocess.run(
        ["runuser", "-u", run_as, "--", "test", "-x", str(base_dir)], check=False
    ).returncode == 0
    if reachable:
        return root
    fallback = Path(tempfile.mkdtemp(prefix="kiroku-pg-"))
    progress(f"{run_as} cannot enter {base_dir}; keeping the PostgreSQL cluster in {fallback}")
    return fallback


def start(base_dir: Path | str, port: int | None = None, timeout: float = 60.0) -> PostgresServer:
    """``initdb`` a fresh cluster under ``base_dir``, start it on ``127.0.0.1:port``, create ``kiroku``."""
    base_dir = Path(base_dir).resolve()
    bin_dir = ensure_installed()
    run_as = _server_user()
    base_dir.mkdir(parents=True, exist_ok=True)
    root = _data_root(base_dir, run_as)
    shutil.rmtree(root / "data", ignore_errors=True)  # every start is a fresh cluster
    root.mkdir(parents=True, exist_ok=True)
    if run_as:
        shutil.chown(root, run_as, run_as)
    server = PostgresServer(base_dir=base_dir, data_dir=root / "data", port=port or free_port(),
                            bin_dir=bin_dir, run_as=run_as)
    started = time.monotonic()
    # --no-sync: the cluster is disposable; trust auth on loopback only (tests, local dev).
    _pg(server, ["initdb", "-D", str(server.data_dir), "-U", SUPERUSER, "--auth=trust",
                 "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"], what="initdb")
    initialised = time.monotonic()
    # TCP only: an empty unix_socket_directories avoids the 107-byte socket path limit and
    # /var/run/postgresql permissions; clients use the URL's host and port.
    options = (f"-p {server.port} -c listen_addresses={LOOPBACK} "
               "-c unix_socket_directories='' -c max_connections=50")
    try:
        _pg(server, ["pg_ctl", "-D", str(server.data_dir), "-l", str(server.log_path),
                     "-o", options, "-w", "-t", str(int(timeout)), "start"], what="pg_ctl start")
    except ServiceError as exc:
        raise ServiceError(f"{exc}\n{server.log_tail(30)}", expected="a running postgres",
                           got="pg_ctl start failed") from exc
    server.pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
    run([str(bin_dir / "createdb"), "-h", LOOPBACK, "-p", str(server.port), "-U", SUPERUSER,
         DATABASE], what="createdb kiroku", timeout=60)
    write_state(base_dir / STATE_FILE, server.to_state())
    progress(f"PostgreSQL ready at {server.url} (initdb {initialised - started:.1f}s, "
         f"start+createdb {time.monotonic() - initialised:.1f}s)")
    return server


# --------------------------------------------------------------------------- up / down / status


def up(base_dir: Path | str = ".kiroku/postgres") -> dict[str, Any]:
    """Start a server under ``base_dir`` (or report the one already running there)."""
    current = status(base_dir)
    if current["running"]:
        return current
    return status(start(base_dir).base_dir)


def down(base_dir: Path | str = ".kiroku/postgres") -> dict[str, Any]:
    """Stop the server recorded under ``base_dir``; its data directory is kept."""
    server = PostgresServer.load(Path(base_dir).resolve())
    if server is None:
        return {"running": False, "stopped": False}
    server.stop()
    return {"running": False, "stopped": True}


def status(base_dir: Path | str = ".kiroku/postgres") -> dict[str, Any]:
    """The recorded server; ``running`` when its postmaster is up and its port accepts connections."""
    base_dir = Path(base_dir).resolve()
    server = PostgresServer.load(base_dir)
    if server is None:
        return {"running": False, "url": None, "state_file": None}
    state = server.to_state()
    state["running"] = server.alive and port_open(server.port)
    state["state_file"] = str(base_dir / STATE_FILE)
    return state


def main(argv: list[str] | None = None) -> int:
    """``python -m infra.postgres up|down|status``; prints the state as JSON."""
    parser = argparse.ArgumentParser(prog="python -m infra.postgres", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "down", "status"):
        sub.add_parser(name).add_argument(
            "--dir", default=".kiroku/postgres", help="server directory (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        result = {"up": up, "down": down, "status": status}[args.command](args.dir)
    except ToolMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0 if args.command != "status" or result["running"] else 3


if __name__ == "__main__":
    sys.exit(main())
