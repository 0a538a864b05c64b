"""`kiroku bench` runs end to end on tiny sizes and prints its tables (numbers are never asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ledger.cli.common as cli_common
from ledger.cli.main import app

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_common.console, "width", 200)


def test_bench_ingest_prints_the_three_contenders_their_ratios_and_the_phases(tmp_path: Path) -> None:
    out = tmp_path / "ingest.json"
    result = CliRunner().invoke(app, ["bench", "ingest", "--companies", "6", "--lines", "5", "--batch", "4", "--phases",
                                      "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for name in ("Kiroku end to end", "raw ceiling", "eventsourcing", "Where Kiroku's time goes", "decide (validate"):
        assert name in result.output
    data = json.loads(out.read_text())
    assert [m["lines"] for m in data["measures"]] == [30, 30, 30]
    assert [m["submissions"] for m in data["measures"]] == [6, 6, 6]
    assert data["kiroku_vs_raw"] > 0 and data["kiroku_vs_eventsourcing"] > 0


def test_bench_ingest_in_rounds_reports_medians_and_the_range_of_the_ratios(tmp_path: Path) -> None:
    out = tmp_path / "ingest.json"
    result = CliRunner().invoke(app, ["bench", "ingest", "--companies", "4", "--lines", "3", "--batch", "2", "--rounds", "2",
                                      "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console wraps long sentences
    assert "round 2 of 2" in said and "median of 2 rounds" in said
    assert "Kiroku ÷ raw ceiling within each round: median" in said
    data = json.loads(out.read_text())
    assert data["rounds"] == 2 and [m["lines"] for m in data["measures"]] == [12, 12, 12]
    low, high = data["kiroku_vs_raw_range"]
    assert 0 < low <= data["kiroku_vs_raw"] <= high


def test_bench_ingest_refuses_zero_rounds() -> None:
    result = CliRunner().invoke(app, ["bench", "ingest", "--rounds", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--rounds': Input should be greater than or equal to 1" in result.output


def test_bench_read_measures_both_sizes(tmp_path: Path) -> None:
    out = tmp_path / "read.json"
    result = CliRunner().invoke(app, ["bench", "read", "--small", "200", "--large", "400", "--samples", "20", "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert sorted(int(k) for k in data) == [200, 400]
    for size in data.values():
        assert {"snapshot (now)", "notice feed page of 100", "access-log page"} <= set(size)
        assert all(size[k]["p99_ms"] >= size[k]["p50_ms"] for k in size if isinstance(size[k], dict))


def test_bench_memory_imports_both_files_completely(tmp_path: Path) -> None:
    out = tmp_path / "memory.json"
    result = CliRunner().invoke(app, ["bench", "memory", "--small", "300", "--large", "600", "--rounds", "2", "--out", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [(r["format"], r["rows"], r["encoding"], r["recorded"], r["errors"]) for r in data] == [
        ("payroll-csv", 300, "utf-8", 3, 0), ("payroll-csv", 600, "utf-8", 6, 0), ("payroll-csv", 300, "cp932", 3, 0),
        ("eltax-315", 300, "cp932", 3, 0), ("nenkin-shfd0006", 300, "cp932", 3, 0)]
    assert "Peak RSS grew" in result.output and "CP932 import ran at" in result.output
    assert "eltax-315 import ran at" in result.output and "nenkin-shfd0006 import ran at" in result.output
    compared = data[2:]  # imported in each of the 2 rounds, the median kept and each national round's ratio
    assert [len(r["round_seconds"]) for r in compared] == [2, 2, 2]
    assert all(r["seconds"] == sorted(r["round_seconds"])[0] + (sorted(r["round_seconds"])[1] - sorted(r["round_seconds"])[0]) / 2
               for r in compared)
    assert [len(r.get("ratios", [])) for r in compared] == [0, 2, 2] and "each round" in result.output
