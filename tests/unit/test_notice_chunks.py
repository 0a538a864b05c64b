"""How the notifier cuts one agency's notices into NoticesIssued records (property-tested)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ledger.processors import notifier
from ledger.processors.notifier import _chunks


def weight(notice: dict) -> int:
    return 256 + 5 * len(notice["lines"])


@given(st.lists(st.integers(min_value=0, max_value=300_000), max_size=2500))
def test_chunks_keep_every_notice_in_order_within_both_bounds(line_counts: list[int]) -> None:
    notices = [{"notice_id": f"ntc_{i}", "lines": range(n)} for i, n in enumerate(line_counts)]  # only len() matters
    chunks = _chunks(notices)
    assert [n for chunk in chunks for n in chunk] == notices  # nothing lost, nothing moved
    for chunk in chunks:
        assert 0 < len(chunk) <= notifier.NOTICES_PER_RECORD
        # Over the byte budget only when one notice alone is (it then travels by itself).
        assert sum(map(weight, chunk)) <= notifier.NOTICE_RECORD_BYTES or len(chunk) == 1
