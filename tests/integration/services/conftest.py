"""Real Kafka and PostgreSQL for integration tests, started once per session.

When a service cannot be provided here (no Java 17 / Maven, PostgreSQL not installable) the
fixture skips with the reason, except under ``CI=true``, where the same reason fails the test:
CI must never pass by skipping.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from infra import kafka as kafka_infra
from infra import postgres as postgres_infra
from infra.services import ToolMissing

# (what, seconds), in the order things happened; printed at the end of the run.
TIMINGS: list[tuple[str, float]] = []


def unavailable(reason: str) -> NoReturn:
    """Skip locally, fail under CI=true (conventions: integration tests must run in CI)."""
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true and a required service is unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def timed(what: str, action: Callable[[], Any]) -> Any:
    """Run ``action`` and record how long it took under ``what``."""
    started = time.monotonic()
    try:
        return action()
    finally:
        TIMINGS.append((what, time.monotonic() - started))


def provide(what: str, action: Callable[[], Any]) -> Any:
    """``timed(what, action)``, turning a missing tool into a skip (or a CI failure)."""
    try:
        return timed(what, action)
    except ToolMissing as exc:
        unavailable(f"{what}: {exc}")


@pytest.fixture(scope="session")
def kafka_jars() -> Path:
    """Kafka's jar directory (fetched with Maven on the first run ever), with Java 17+ checked."""
    provide("kafka: check java", kafka_infra.java_executable)
    return provide("kafka: ensure_jars (Maven on first run, then cached)", kafka_infra.ensure_jars)


@pytest.fixture(scope="session")
def kafka_single(kafka_jars: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[kafka_infra.KafkaCluster]:
    """One combined broker+controller node (RF 1), shared by the whole session."""
    base = tmp_path_factory.mktemp("kafka-single")
    cluster = provide("kafka: start 1 node (format + start + ready)", lambda: kafka_infra.start_single(base))
    yield cluster
    timed("kafka: stop 1 node", cluster.stop)


@pytest.fixture(scope="session")
def kafka_cluster(kafka_jars: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[kafka_infra.KafkaCluster]:
    """Three combined broker+controller nodes (RF 3, min ISR 2); started only if a test asks."""
    base = tmp_path_factory.mktemp("kafka-cluster")
    cluster = provide("kafka: start 3 nodes (format + start + ready)", lambda: kafka_infra.start_cluster(base, 3))
    yield cluster
    timed("kafka: stop 3 nodes", cluster.stop)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[postgres_infra.PostgresServer]:
    """A PostgreSQL server of our own with database ``kiroku``; ``.url`` is for SQLAlchemy."""
    provide("postgres: ensure_installed", postgres_infra.ensure_installed)
    base = tmp_path_factory.mktemp("postgres")
    server = provide("postgres: initdb + start + createdb", lambda: postgres_infra.start(base))
    yield server
    timed("postgres: stop", lambda: server.stop(remove_data=True))


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic name of its own for each test (the session's brokers are shared)."""
    return f"{request.node.name[:60]}-{uuid.uuid4().hex[:8]}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def _service_logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """When a test fails, print the end of the logs of the services it used."""
    started = time.monotonic()
    yield
    TIMINGS.append((f"test: {request.node.name}", time.monotonic() - started))
    report = getattr(request.node, "report_call", None)
    if report is None or not report.failed:
        return
    for name in ("kafka_single", "kafka_cluster"):
        if name in request.fixturenames:
            print(f"\n===== {name} logs =====\n{request.getfixturevalue(name).log_tail(None, 40)}")
    if "postgres_server" in request.fixturenames:
        print(f"\n===== postgres log =====\n{request.getfixturevalue('postgres_server').log_tail(40)}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("where the services' time went")
    for what, seconds in TIMINGS:
        terminalreporter.write_line(f"{seconds:7.1f}s  {what}")
    terminalreporter.write_line(f"{sum(s for _, s in TIMINGS):7.1f}s  total (fixtures + test bodies)")
