"""The ``kiroku`` command line as a user drives it, on a fresh data directory of its own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ledger.cli.common as cli_common
from ledger.cli.main import app


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``cli(*args, ok=True)`` runs ``kiroku --data-dir <fresh home> *args`` in-process; with ``ok``
    it must exit 0. ``cli.home`` is the data directory. Consoles are wide, so tables do not wrap."""
    for key in [k for k in os.environ if k.startswith("KIROKU_")]:
        monkeypatch.delenv(key)
    monkeypatch.setattr(cli_common.console, "width", 300)
    monkeypatch.setattr(cli_common.err_console, "width", 300)
    runner = CliRunner()
    home = tmp_path / "home"

    def run(*args: object, ok: bool = True):
        result = runner.invoke(app, ["--data-dir", str(home), *[str(a) for a in args]], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    run.home = home  # type: ignore[attr-defined]
    return run
