"""Real Kafka and PostgreSQL for integration tests, started once per session (a pytest plugin).

Loaded by ``tests/conftest.py`` (``pytest_plugins``), so every test directory can ask for
``kafka_single``, ``kafka_cluster``, ``postgres_server`` or a whole scale-out deployment
(``scaleout_settings``). When a service cannot be provided here (no Java 17 / Maven, PostgreSQL
not installable) the fixture skips with the reason, except under ``CI=true``, where the same reason
fails the test: CI must never pass by skipping.

One single-node broker and one PostgreSQL server serve the whole session; each test gets a
namespace of its own on them (a topic prefix, a schema), so tests neither wait for services nor
see each other's data. The 3-node cluster starts only when a fault test asks for it.
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
from infra import kafka_jars as provisioning
from infra import postgres as postgres_infra
from infra.services import ToolMissing

# (what, seconds), in the order things happened; printed at the end of the run.
TIMINGS: list[tuple[str, float]] = []
SERVICE_FIXTURES = ("kafka_single", "kafka_cluster", "postgres_server")


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
    provide("kafka: check java", provisioning.java_executable)
    return provide("kafka: ensure_jars (Maven on first run, then cached)", provisioning.ensure_jars)


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


# --------------------------------------------------------------------------- namespaces


def namespace(request: pytest.FixtureRequest) -> str:
    """A short name unique to this test, usable as a Kafka prefix and a PostgreSQL schema."""
    return f"t{uuid.uuid4().hex[:10]}"


def kafka_log_url(cluster: kafka_infra.KafkaCluster, prefix: str, **options: Any) -> str:
    """``kafka://…?prefix=…`` for a deployment of its own on ``cluster``."""
    query = "&".join(f"{k}={v}" for k, v in {"prefix": f"{prefix}.", **options}.items())
    return f"kafka://{cluster.bootstrap}?{query}"


def delete_topics(cluster: kafka_infra.KafkaCluster, prefix: str) -> None:
    """Drop a namespace's topics so the shared broker stays small over a long session."""
    admin = cluster.admin_client(request_timeout_ms=10_000)
    try:
        names = [t for t in admin.list_topics() if t.startswith(f"{prefix}.")]
        if names:
            admin.delete_topics(names, raise_errors=False)
    finally:
        admin.close()


def postgres_schema_url(server: postgres_infra.PostgresServer, schema: str) -> str:
    """Create ``schema`` and return a catalog URL whose connections use it (``search_path``)."""
    import sqlalchemy as sa

    engine = sa.create_engine(server.url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()
    return f"{server.url}?options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_url(postgres_server: postgres_infra.PostgresServer, request: pytest.FixtureRequest) -> str:
    """A catalog URL on the session's PostgreSQL, in a fresh schema of this test's own."""
    return postgres_schema_url(postgres_server, namespace(request))


@pytest.fixture
def scaleout_settings(
    kafka_single: kafka_infra.KafkaCluster, postgres_server: postgres_infra.PostgresServer,
    request: pytest.FixtureRequest,
) -> Iterator[dict[str, Any]]:
    """Settings overrides for the scale-out deployment: Kafka log + PostgreSQL catalog, own namespace."""
    name = namespace(request)
    yield {"log": kafka_log_url(kafka_single, name), "catalog": postgres_schema_url(postgres_server, name)}
    delete_topics(kafka_single, name)


# --------------------------------------------------------------------------- reporting


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def _service_logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """For tests that use a service: time them, and print the services' logs when they fail."""
    used = [name for name in SERVICE_FIXTURES if name in request.fixturenames]
    if not used:
        yield
        return
    started = time.monotonic()
    yield
    TIMINGS.append((f"test: {request.node.name}", time.monotonic() - started))
    report = getattr(request.node, "report_call", None)
    if report is None or not report.failed:
        return
    for name in used:
        service = request.getfixturevalue(name)
        logs = service.log_tail(40) if name == "postgres_server" else service.log_tail(None, 40)
        print(f"\n===== {name} logs =====\n{logs}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TIMINGS:
        return
    terminalreporter.section("where the services' time went")
    shown = sorted(TIMINGS, key=lambda t: -t[1])[:25] if len(TIMINGS) > 40 else TIMINGS
    for what, seconds in shown:
        terminalreporter.write_line(f"{seconds:7.1f}s  {what}")
    if len(shown) < len(TIMINGS):
        terminalreporter.write_line(f"         ({len(TIMINGS) - len(shown)} shorter entries not shown)")
    terminalreporter.write_line(f"{sum(s for _, s in TIMINGS):7.1f}s  total (fixtures + test bodies)")
