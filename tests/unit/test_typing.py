"""Kiroku is typed throughout: mypy, configured in pyproject.toml ([tool.mypy]), finds nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_mypy_is_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)  # mypy reads pyproject.toml, and resolves its files, from the current directory
    stdout, stderr, status = api.run([])
    assert status == 0, f"mypy found problems:\n{stdout}{stderr}"
