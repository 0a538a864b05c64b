"""Fixtures for the transparency tests: a deployment with recorded submissions, its public key,
and a way to reopen it read-only for an audit (``kiroku verify --ledger``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.bootstrap import Kiroku, open_kiroku
from ledger.transparency.signer import Verifier


@pytest.fixture
def key(kiroku: Kiroku) -> list[Verifier]:
    """The deployment's public key, as a verifier holds it."""
    assert kiroku.transparency is not None
    return [Verifier.parse(kiroku.transparency.verifier_key())]


@pytest.fixture
def audit(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """``audit()`` opens the test deployment again without inline processing (nothing changes)."""
    for name in [k for k in os.environ if k.startswith("KIROKU_")]:
        monkeypatch.delenv(name)
    opened: list[Kiroku] = []

    def open_() -> Kiroku:
        k = open_kiroku(home=home, inline_processing=False)
        opened.append(k)
        return k

    yield open_
    for k in opened:
        k.close()
