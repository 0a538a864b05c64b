"""``kiroku demo`` (and ``kiroku replay``) on Kafka + PostgreSQL, driven as a user would: settings in the environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra.kafka import KafkaCluster
from infra.postgres import PostgresServer
from tests.integration.kafka.scaleout import KIROKU, Deployment

pytestmark = pytest.mark.integration


def kiroku(d: Deployment, *args: str) -> str:
    env = {**d.env(), "KIROKU_INLINE_PROCESSING": "true", "COLUMNS": "200"}
    done = subprocess.run([KIROKU, *args], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_the_demo_runs_on_kafka_and_postgresql_and_a_second_run_records_nothing_twice(
    kafka_single: KafkaCluster, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    d = Deployment.create(kafka_single, postgres_server, tmp_path / "home")
    first = kiroku(d, "demo", "--companies", "4", "--employees", "6")
    for heading in ("1. Enrollment", "2. Recording", "3. Notice feeds", "4. Reference", "5. Correction", "6. Deadlines",
                    "7. A firm files under a grant", "8. A denied read", "9. Dispositions", "Summary"):
        assert heading in first
    assert "DENIED" in first
    second = kiroku(d, "demo", "--companies", "4", "--employees", "6")
    assert "nothing was recorded again" in second
    replay = kiroku(d, "replay")  # the PostgreSQL catalog equals a rebuild from the Kafka log alone
    assert "The catalog is exactly what the log says." in replay
