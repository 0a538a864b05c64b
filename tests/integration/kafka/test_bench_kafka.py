"""`kiroku bench ingest --log kafka://…` runs end to end on tiny sizes, in two rounds, and prints its
table (numbers are never asserted: only that every contender moved every line, and that each
ratio's median lies within its range)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ledger.cli.common as cli_common
from infra.kafka import KafkaCluster
from ledger.cli.main import app

pytestmark = pytest.mark.integration


def test_bench_ingest_on_kafka_in_rounds_prints_inline_scaled_out_and_the_raw_ceilings(
    kafka_single: KafkaCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_common.console, "width", 200)
    out = tmp_path / "kafka-ingest.json"
    result = CliRunner().invoke(app, ["bench", "ingest", "--log", f"kafka://{kafka_single.bootstrap}", "--companies", "8",
                                      "--lines", "5", "--batch", "3", "--phases", "--rounds", "2", "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for name in ("Kiroku end to end", "Kiroku scaled out", "raw kafka-python producer, same bytes",
                 "same bytes, one record per line", "Ratios of the better Kiroku figure", "raw ceiling: fastavro encode + producer",
                 "Where Kiroku's time goes", "log append (durable)"):
        assert name in result.output
    data = json.loads(out.read_text())
    assert [(m["lines"], m["submissions"]) for m in data["measures"]] == [(40, 8)] * 5
    said = " ".join(result.output.split())  # the console wraps long sentences
    assert data["rounds"] == 2 and "(round 2 of 2)" in said and "(rounds: " in said
    for key in ("kiroku_vs_raw", "kiroku_vs_raw_per_line", "kiroku_vs_raw_encoded"):
        low, high = data[f"{key}_range"]
        assert 0 < low <= data[key] <= high
    assert data["phases"]["log append (durable)"] > 0 and data["phases"]["notifier"] > 0
    assert set(data["scaled_out_cpu"]) == {"recorder", "notifier", "projector", "sequencer"}
    assert all(seconds > 0 for seconds in data["scaled_out_cpu"].values())
