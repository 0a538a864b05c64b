"""The Kafka bench's per-line contender sends the very bytes Kiroku appended, one piece per line."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ledger.bench.kafka_ingest import one_record_per_line

filings = st.lists(st.tuples(st.binary(min_size=1, max_size=13), st.binary(min_size=1, max_size=4000),
                             st.integers(min_value=0, max_value=300)), max_size=20)


@given(filings)
def test_each_submission_becomes_one_record_per_line_with_the_same_bytes_in_order(items: list[tuple[bytes, bytes, int]]) -> None:
    pieces = one_record_per_line(items)
    assert len(pieces) == sum(max(1, lines) for _, _, lines in items)
    at = 0
    for key, value, lines in items:
        mine = pieces[at:at + max(1, lines)]
        at += len(mine)
        assert {k for k, _ in mine} == {key}
        assert b"".join(v for _, v in mine) == value  # the same bytes, in order
        sizes = [len(v) for _, v in mine]
        assert max(sizes) - min(sizes) <= 1  # as even as the length allows


def test_a_cancellation_without_lines_still_travels_as_one_record() -> None:
    assert one_record_per_line([(b"k", b"abc", 0)]) == [(b"k", b"abc")]
