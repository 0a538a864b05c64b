"""Shared fixtures: a fresh embedded Kiroku per test, with a clock the test can move."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.bootstrap import Kiroku, open_kiroku

pytest_plugins = ["tests.service_fixtures"]  # kafka_single, kafka_cluster, postgres_server, scaleout_settings


class Clock:
    """A settable clock: ``clock.set(datetime)``, ``clock.advance(timedelta)``; starts at real now."""

    def __init__(self) -> None:
        self.now: datetime | None = None

    def __call__(self) -> datetime:
        return self.now or datetime.now(UTC)

    def set(self, when: datetime) -> None:
        assert when.tzinfo is not None
        self.now = when

    def advance(self, delta: timedelta) -> None:
        self.now = self() + delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "kiroku-home"


@pytest.fixture
def deployment(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings overrides choosing the deployment ``kiroku`` opens: the embedded one by default.

    ``@pytest.mark.parametrize("deployment", ["scaleout"], indirect=True)`` runs a test on Kafka and
    PostgreSQL instead (``scaleout_settings`` in ``tests/service_fixtures.py``).
    """
    kind = getattr(request, "param", "embedded")
    return {} if kind == "embedded" else request.getfixturevalue(f"{kind}_settings")


@pytest.fixture
def kiroku(home: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch, deployment: dict[str, Any]) -> Iterator[Kiroku]:
    for key in [k for k in __import__("os").environ if k.startswith("KIROKU_")]:
        monkeypatch.delenv(key)
    k = open_kiroku(home=home, clock=clock, **deployment)
    try:
        yield k
    finally:
        k.close()
