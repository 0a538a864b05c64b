"""A command that needs one of Kiroku's extras (http, kafka, aws, postgres) says so at once, with
the install command as typed — Rich must not take ``[http]`` for markup — and never a traceback
or a start-up timeout (issue 14, item 12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def kiroku_without(tmp_path: Path, modules: list[str], *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``kiroku *args`` in a fresh process where importing any of ``modules`` fails, as it does
    when the extra that provides them is not installed (a ``sys.modules[name] = None`` entry made
    by a ``sitecustomize`` on ``PYTHONPATH``)."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(
        "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules), encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KIROKU_")}
    environment = {**clean, "PYTHONPATH": os.pathsep.join([str(shim), str(ROOT)]), "COLUMNS": "300",
                   "KIROKU_HOME": str(tmp_path / "home"), **env}
    return subprocess.run([sys.executable, "-m", "ledger.cli", *args], capture_output=True, text=True,
                          env=environment, cwd=tmp_path, timeout=120)


def refusal(result: subprocess.CompletedProcess[str]) -> str:
    """The refusal panel's text, one line, borders and padding removed."""
    rows = [line.strip("│╭╮╰╯─ ").strip() for line in result.stderr.splitlines()]
    return " ".join(row for row in rows if row and not row.startswith("kiroku: refused"))


def test_serve_without_the_http_extra_prints_the_install_command_with_its_brackets(tmp_path: Path) -> None:
    result = kiroku_without(tmp_path, ["fastapi", "uvicorn"], "serve", "--port", "0")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert refusal(result) == ("the HTTP API needs its extra: pip install 'kiroku-ledger[http]' (fastapi is missing) "
                               "code: missing_extra")


def test_infra_kafka_up_without_kafka_python_fails_at_once_with_the_install_command(tmp_path: Path) -> None:
    result = kiroku_without(tmp_path, ["kafka"], "infra", "kafka", "up", "--dir", str(tmp_path / "kafka"))
    assert result.returncode == 1, result.stderr
    assert refusal(result) == ("kafka-python is not installed; install it with: pip install 'kiroku-ledger[kafka]' "
                               "field: kafka expected: the Python package 'kafka-python' got: not installed "
                               "code: tool_missing")
    assert not (tmp_path / "kafka").exists()  # nothing was started or fetched


def test_a_kafka_log_without_kafka_python_names_the_setting_and_the_extra(tmp_path: Path) -> None:
    result = kiroku_without(tmp_path, ["kafka"], "replay", KIROKU_LOG="kafka://127.0.0.1:9")
    assert result.returncode == 1, result.stderr
    assert refusal(result) == ("KIROKU_LOG=kafka://… needs kafka-python: pip install 'kiroku-ledger[kafka]' "
                               "field: KIROKU_LOG expected: kafka-python installed got: not installed "
                               "code: adapter_unavailable")


def test_an_s3_store_without_boto3_names_the_setting_and_the_extra(tmp_path: Path) -> None:
    result = kiroku_without(tmp_path, ["boto3", "botocore"], "replay", KIROKU_OBJECTS="s3://kiroku-test?region=ap-northeast-1")
    assert result.returncode in (1, 2), result.stderr
    assert "pip install 'kiroku-ledger[aws]'" in refusal(result)
    assert "field: KIROKU_OBJECTS" in refusal(result)


def test_a_postgresql_catalog_without_psycopg_names_the_setting_and_the_extra(tmp_path: Path) -> None:
    result = kiroku_without(tmp_path, ["psycopg"], "replay", KIROKU_CATALOG="postgresql+psycopg://kiroku@127.0.0.1:9/kiroku")
    assert result.returncode == 1, result.stderr
    assert refusal(result) == ("KIROKU_CATALOG=postgresql+psycopg://… needs psycopg: pip install 'kiroku-ledger[postgres]' "
                               "field: KIROKU_CATALOG expected: psycopg installed got: not installed "
                               "code: adapter_unavailable")


@pytest.mark.parametrize("args, blocked, message", [
    (("bench", "ingest", "--companies", "1", "--lines", "1"), ["eventsourcing"],
     "kiroku bench ingest needs its extra: pip install 'kiroku-ledger[test]' (eventsourcing is missing)"),
    (("bench", "ingest", "--log", "kafka://127.0.0.1:9"), ["kafka"],
     "kiroku bench ingest --log kafka://… needs its extra: pip install 'kiroku-ledger[kafka]' (kafka is missing)"),
    (("bench", "http", "--clients", "1", "--seconds", "1"), ["httpx"],
     "kiroku bench http needs its extra: pip install 'kiroku-ledger[http]' (httpx is missing)"),
])
def test_a_benchmark_without_its_extra_says_which_before_it_starts(tmp_path: Path, args, blocked, message) -> None:
    result = kiroku_without(tmp_path, blocked, *args)
    assert result.returncode == 1, result.stderr
    assert refusal(result) == f"{message} code: missing_extra"
    assert not (tmp_path / "home").exists()
