"""Kiroku without its compiled module: the package imports, and whole flows run on the Python
twins (``KIROKU_PURE_PYTHON=1``, as on a machine where the install found no C compiler)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
PURE = {**os.environ, "KIROKU_PURE_PYTHON": "1"}


def test_with_kiroku_pure_python_the_package_imports_without_the_compiled_module() -> None:
    probe = ("import sys, ledger, ledger.bootstrap, ledger.cli.main; from ledger import accelerator; "
             "print(accelerator.describe()); print('ledger._hotpath' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", probe], env=PURE, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["pure Python (KIROKU_PURE_PYTHON=1)", "False"]


def test_recording_and_sealing_flows_pass_on_the_python_twins() -> None:
    # The flow tests' kiroku fixture clears every KIROKU_* variable before it opens Kiroku, after
    # ledger.accelerator has read this one: the whole run is on the Python twins.
    files = ["tests/integration/test_flows_recording.py", "tests/integration/test_sealing.py"]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
                         env=PURE, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
