"""Shared helpers for starting real services locally (Kafka, PostgreSQL).

Free loopback ports, waiting with a deadline instead of sleeping, stopping a process group
politely and then firmly, the download cache, and the errors every ``infra`` module raises.
Nothing here runs at import time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ledger.errors import Unavailable

T = TypeVar("T")

LOOPBACK = "127.0.0.1"


class ServiceError(Unavailable):
    """A local service could not be provisioned, started, reached or stopped."""

    code = "service_unavailable"


class ToolMissing(ServiceError):
    """A program the service needs (java, mvn, initdb...) is absent and cannot be installed.

    Test fixtures turn this into a skip locally and a failure under ``CI=true``.
    """

    code = "tool_missing"
    retriable = False


def progress(message: str) -> None:
    """A progress line for people watching (stderr, so stdout stays machine-readable)."""
    print(f"[kiroku] {message}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """Where downloads are kept across runs: ``$KIROKU_CACHE`` or ``~/.cache/kiroku``."""
    root = os.environ.get("KIROKU_CACHE") or str(Path.home() / ".cache" / "kiroku")
    return Path(root).expanduser()


def require_tool(name: str, hint: str) -> str:
    """The absolute path of ``name`` on ``PATH``; :class:`ToolMissing` naming ``hint`` if absent."""
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(
            f"{name!r} was not found on PATH; {hint}",
            field=name,
            expected=f"an executable {name!r} on PATH",
            got=os.environ.get("PATH", ""),
        )
    return found


def require_module(module: str, distribution: str, extra: str) -> None:
    """Refuse at once, with the install hint, when the Python package ``module`` (of
    ``distribution``, in Kiroku's ``extra``) cannot be imported: a service that is started and only
    then found unusable costs a start-up timeout and ends in a ModuleNotFoundError."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or blocked package (sys.modules[module] = None)
        found = False
    if not found:
        raise ToolMissing(
            f"{distribution} is not installed; install it with: pip install 'kiroku-ledger[{extra}]'",
            field=module, expected=f"the Python package {distribution!r}", got="not installed",
        )


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """``count`` distinct TCP ports that were free on ``host`` a moment ago.

    All sockets are held open until every port is chosen, so the ports differ from each
    other; another process may still grab one before the service binds it (rare on loopback).
    """
    with ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
        return ports


def free_port(host: str = LOOPBACK) -> int:
    """One TCP port that was free on ``host`` a moment ago."""
    return free_ports(1, host)[0]


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.2,
    on_timeout: Callable[[], str] | None = None,
) -> T:
    """Call ``probe`` until it returns something truthy, and return that; give up at the deadline.

    ``probe`` may raise: the exception counts as "not yet" and the last one is reported,
    except :class:`ServiceError`, which is final (e.g. "the process died") and propagates.
    ``on_timeout`` may add detail (a log tail) to the :class:`ServiceError` raised on timeout.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = probe()
            if result:
                return result
        except ServiceError:
            raise
        except Exception as exc:  # noqa: BLE001 - any other failure means "not ready yet"
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f"; last error: {last_error!r}" if last_error else ""
            extra = f"\n{on_timeout()}" if on_timeout else ""
            raise ServiceError(
                f"timed out after {timeout:.0f}s waiting for {what}{detail}{extra}",
                expected=what,
                got=repr(last_error) if last_error else "no answer",
            )
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (and is not a zombie of ours)."""
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:  # our own child that just exited: reaped now
            return False
    except ChildProcessError:
        pass  # not our child: fall through to the signal probe
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def process_runs(pid: int | None, marker: str) -> bool:
    """Whether ``pid`` is alive and its command line contains ``marker``.

    Guards pids read back from a state file: after a reboot or crash the number may belong to
    an unrelated process, which must never be signalled.
    """
    if pid is None or not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return True  # no /proc (not Linux): trust the pid
    return marker in cmdline


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def stop_process_group(
    pid: int, timeout: float = 30.0, is_alive: Callable[[], bool] | None = None
) -> bool:
    """SIGTERM the process group led by ``pid``, wait up to ``timeout``, then SIGKILL it.

    Returns True if it stopped on SIGTERM, False if it had to be killed (or was gone).
    The services are started with ``start_new_session=True``, so ``pid`` leads its own group
    and this never touches the caller's group. ``is_alive`` defaults to :func:`pid_alive`;
    pass ``popen.poll() is None`` style checks for children you hold a ``Popen`` for.
    """
    alive = is_alive or (lambda: pid_alive(pid))
    if not alive():
        return False
    signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return True
        time.sleep(0.1)
    kill_process_group(pid, is_alive=alive)
    return False


def kill_process_group(
    pid: int, timeout: float = 10.0, is_alive: Callable[[], bool] | None = None
) -> None:
    """SIGKILL the process group led by ``pid`` and wait until the leader is gone."""
    alive = is_alive or (lambda: pid_alive(pid))
    signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group led by ``pid``; a vanished group is not an error."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def tail(path: Path, lines: int = 50) -> str:
    """The last ``lines`` lines of a text file, or a note that it does not exist."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])


def run(
    argv: Sequence[str], *, what: str, timeout: float = 600.0, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion, raising :class:`ServiceError` with its output on failure."""
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, check=False, **kwargs
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(f"{what} did not finish within {timeout:.0f}s", got=" ".join(argv)) from exc
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()[-4000:]
        raise ServiceError(
            f"{what} failed with exit code {proc.returncode}: {' '.join(argv)}\n{output}",
            expected="exit code 0",
            got=proc.returncode,
        )
    return proc


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Write a JSON state file atomically (readers in other processes never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def read_state(path: Path) -> dict[str, Any] | None:
    """The JSON state written by :func:`write_state`, or None when there is none."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return data if isinstance(data, dict) else None


@contextmanager
def timed(label: str) -> Iterator[None]:
    """Print how long the block took: ``with timed("kafka start"): ...``."""
    started = time.monotonic()
    try:
        yield
    finally:
        progress(f"{label}: {time.monotonic() - started:.1f}s")
