"""Several benchmark rounds summarized: each contender's median round, each ratio the median of
the ratios measured within a round, with its range."""

from __future__ import annotations

import pytest

from ledger.bench.ingest import Measure, bench_ingest, median_round, summarize_rounds
from ledger.errors import KirokuError


def _round(kiroku_s: float, raw_s: float) -> dict:
    kiroku, raw = Measure("kiroku", kiroku_s, 1000, 10), Measure("raw", raw_s, 1000, 10)
    return {"measures": [kiroku, raw], "kiroku_seconds": kiroku_s, "ratio": kiroku.lines_per_s / raw.lines_per_s}


def test_each_contender_is_its_median_round_and_each_ratio_the_median_within_rounds() -> None:
    rounds = [_round(2.0, 1.0), _round(4.0, 1.0), _round(3.0, 2.0)]  # ratios 0.5, 0.25, 0.667
    summary = summarize_rounds(rounds, ("ratio",))
    assert [m.seconds for m in summary["measures"]] == [3.0, 1.0]
    assert summary["ratio"] == 0.5
    assert summary["ratio_range"] == (0.25, 2 / 3)
    assert summary["rounds"] == 3


def test_an_even_count_takes_the_lower_middle_and_one_round_is_itself() -> None:
    rounds = [_round(5.0, 1.0), _round(2.0, 1.0)]
    assert median_round(rounds, "kiroku_seconds") is rounds[1]
    assert [m.seconds for m in summarize_rounds(rounds, ("ratio",))["measures"]] == [2.0, 1.0]
    single = summarize_rounds([_round(2.0, 1.0)], ("ratio",))
    assert single["ratio"] == 0.5 and single["ratio_range"] == (0.5, 0.5)


def test_a_benchmark_without_rounds_is_refused() -> None:
    with pytest.raises(KirokuError) as err:
        bench_ingest(2, 2, 1, rounds=0, report=lambda _: None)
    assert (err.value.code, err.value.field, err.value.got) == ("bad_rounds", "rounds", 0)
