"""How Kafka is provisioned and driven from the command line (`python -m infra.kafka`)."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra import kafka_jars as provisioning
from infra.services import pid_alive

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


def test_pom_pins_the_kafka_version_the_module_runs() -> None:
    pinned = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", provisioning.POM.read_text())
    assert pinned is not None and pinned.group(1) == provisioning.KAFKA_VERSION


def test_jar_cache_is_complete_and_holds_the_broker_and_a_log4j2_binding(kafka_jars: Path) -> None:
    names = {p.name for p in kafka_jars.glob("*.jar")}
    assert f"kafka_2.13-{provisioning.KAFKA_VERSION}.jar" in names
    assert any(n.startswith("log4j-slf4j-impl-") for n in names)
    assert provisioning.ensure_jars() == kafka_jars  # second call: the marker short-circuits Maven


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "infra.kafka", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180, check=False)


def test_cli_up_status_down_work_from_separate_processes(kafka_jars: Path, tmp_path: Path) -> None:
    # A relative --dir (the CLI's default is one): the JVMs run in their node directory, so the
    # paths written into their config must not be relative to the caller's directory.
    base = "kafka-cli"
    cli = functools.partial(_cli, cwd=tmp_path)
    started = cli("up", "--nodes", "1", "--dir", base)
    try:
        assert started.returncode == 0, started.stderr
        state = json.loads(started.stdout)
        assert state["running"] is True and state["bootstrap"].startswith("127.0.0.1:")
        again = cli("up", "--nodes", "1", "--dir", base)  # idempotent: reports, does not restart
        assert again.returncode == 0 and json.loads(again.stdout)["nodes"][0]["pid"] == state["nodes"][0]["pid"]
        assert cli("status", "--dir", base).returncode == 0
    finally:
        stopped = cli("down", "--dir", base)
    assert stopped.returncode == 0, stopped.stderr
    assert not pid_alive(state["nodes"][0]["pid"])
    after = cli("status", "--dir", base)
    assert after.returncode == 3 and json.loads(after.stdout)["running"] is False
