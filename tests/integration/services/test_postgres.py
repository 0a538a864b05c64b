"""A PostgreSQL server of our own, reached through SQLAlchemy and psycopg 3."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from infra.postgres import PostgresServer

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


def test_sqlalchemy_connects_with_psycopg_and_reads_the_server_version(postgres_server: PostgresServer) -> None:
    engine = sa.create_engine(postgres_server.url)
    try:
        with engine.connect() as connection:
            version = connection.execute(sa.text("select version()")).scalar_one()
            database = connection.execute(sa.text("select current_database()")).scalar_one()
    finally:
        engine.dispose()

    assert engine.dialect.driver == "psycopg"
    assert version.startswith("PostgreSQL ")
    assert database == "kiroku"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infra.postgres", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)


def test_cli_up_status_down_work_from_separate_processes(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    # postgres_server only makes the test skip (or fail under CI) where PostgreSQL is unavailable.
    base = str(tmp_path / "pg-cli")
    started = _cli("up", "--dir", base)
    state = json.loads(started.stdout) if started.returncode == 0 else {}
    try:
        assert started.returncode == 0, started.stderr
        running = _cli("status", "--dir", base)
        assert running.returncode == 0 and json.loads(running.stdout)["url"] == state["url"]
    finally:
        stopped = _cli("down", "--dir", base)
        if state:  # `down` keeps the data; this test does not need it (it may live outside tmp_path)
            shutil.rmtree(Path(state["data_dir"]).parent, ignore_errors=True)
    assert stopped.returncode == 0, stopped.stderr
    after = _cli("status", "--dir", base)
    assert after.returncode == 3 and json.loads(after.stdout)["running"] is False
