"""One data directory, one recorder: a second one is refused naming the holder, never a broken directory.

The holder is a real process (the SDK's ``Producer.open`` in a child, and ``kiroku serve``); it is
killed with SIGKILL to show that the lock it leaves is never stale.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.bootstrap import open_kiroku
from ledger.errors import Conflict
from tests.factories import CHIYODA, CORP_A, payroll
from tests.integration.helpers import catalog_dump, company, enroll_payroll
from tests.integration.test_replay import replay

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

HOLDER = r"""
import sys
from producers.sdk import Producer
p = Producer.open("company:" + sys.argv[2], home=sys.argv[1])
p.record(sys.argv[2], "PAYROLL_REPORT", "2026", __import__("tests.factories", fromlist=["payroll"]).payroll(),
         idempotency_key="same-key")
print("holding", flush=True)
sys.stdin.read()  # hold the directory until killed, or until the test closes our stdin
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIROKU_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _start_holder(home: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(home), CORP_A], cwd=ROOT, env=_env(),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    line = child.stdout.readline()  # blocks until the child holds the directory (or dies)
    if line.strip() != "holding":
        child.kill()
        raise AssertionError(f"holder did not start: {line!r} {child.stderr.read() if child.stderr else ''}")
    return child


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("KIROKU_")]:
        monkeypatch.delenv(key)


def test_a_second_recorder_is_refused_naming_the_holder_and_a_killed_holder_leaves_no_stale_lock(home, clean_env):
    with open_kiroku(home=home) as k:
        enroll_payroll(k, CORP_A, CHIYODA)
    child = _start_holder(home)
    try:
        with pytest.raises(Conflict) as refused:
            open_kiroku(home=home)
        assert refused.value.code == "data_directory_in_use"
        assert refused.value.field == "KIROKU_HOME"
        assert f"pid {child.pid} on {socket.gethostname()}" in str(refused.value.got)
        assert "python" in str(refused.value.got) or "-c" in str(refused.value.got)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)

    # The OS dropped the lock with the process: the directory opens, and is whole.
    with open_kiroku(home=home) as k:
        again = company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll(), idempotency_key="same-key")
        assert again.position is not None  # the holder's receipt, returned again: not a crash
        live = catalog_dump(k)
        fresh = replay(k, home / "replayed.db")
        try:
            assert list(fresh.dump()) == live
        finally:
            fresh.close()


def test_a_second_kiroku_serve_is_refused_with_the_usual_panel(home, clean_env):
    child = _start_holder(home)
    try:
        out = subprocess.run([sys.executable, "-m", "ledger.cli", "serve", "--port", "0"], cwd=ROOT,
                             env={**_env(), "KIROKU_HOME": str(home), "COLUMNS": "200"}, capture_output=True, text=True, timeout=120)
        assert out.returncode == 2, out.stderr
        assert "data_directory_in_use" in out.stderr
        assert f"pid {child.pid}" in out.stderr
        assert "Traceback" not in out.stderr
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)


def test_closing_a_recorder_releases_the_directory_in_the_same_process(home, clean_env):
    first = open_kiroku(home=home)
    with pytest.raises(Conflict) as refused:
        open_kiroku(home=home)
    assert refused.value.code == "data_directory_in_use"
    assert f"pid {os.getpid()}" in str(refused.value.got)
    first.close()
    open_kiroku(home=home).close()


def test_processors_open_beside_the_recorder_without_the_lock(home, clean_env):
    with open_kiroku(home=home) as recorder, open_kiroku(home=home, inline_processing=False, recorder=False) as processor:
        assert recorder.writer_lock is not None
        assert processor.writer_lock is None
