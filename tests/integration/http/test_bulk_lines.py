"""How a bulk upload is cut into lines (issue 14, item 3): the same lines whatever the chunking,
a line over the limit counted and never kept, and memory bounded by the limit, not the line."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viewers.http.routes.bulk import _lines

pytestmark = pytest.mark.unit

BOM = b"\xef\xbb\xbf"


def reader(chunks: list[bytes]):
    it = iter(chunks)
    return lambda: next(it, None)


def lines_of(chunks: list[bytes], limit: int) -> list[tuple[int, bytes | int]]:
    return [(n, x) for n, x in _lines(reader(chunks), limit) if x is not None]


def expected(data: bytes, limit: int) -> list[tuple[int, bytes | int]]:
    """The reference: the whole upload split at once. A line's size is its bytes as sent (a BOM and
    a CR before the line ending included); what is given back drops the BOM and that CR."""
    *complete, last = data.split(b"\n")
    raws = complete + ([last] if last else [])
    out: list[tuple[int, bytes | int]] = []
    for n, raw in enumerate(raws, 1):
        line = raw.removeprefix(BOM) if n == 1 else raw
        out.append((n, len(raw) if len(raw) > limit else line.removesuffix(b"\r")))
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"{}", b"\n", b"\r\n", b"xyz" * 5, b"\xe6\x97\xa5", b" "]), max_size=40),
       st.booleans(), st.lists(st.integers(1, 7), max_size=40), st.integers(4, 20))
def test_any_chunking_gives_the_lines_of_the_whole(pieces, bom, cuts, limit):
    data = (BOM if bom else b"") + b"".join(pieces)
    chunks, at = [], 0
    for cut in cuts:
        if at < len(data):
            chunks.append(data[at:at + cut])
            at += cut
    chunks.append(data[at:])
    assert lines_of(chunks, limit) == expected(data, limit)


def test_a_line_over_the_limit_is_counted_not_kept_and_memory_stays_bounded_by_the_limit():
    piece = b"x" * 65536
    chunks = [b'{"a": "'] + [piece] * 512 + [b'"}\n{}\n']  # one 32 MiB line, then a short one
    tracemalloc.start()
    try:
        got = lines_of(chunks, 2**20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == [(1, 7 + 512 * 65536 + 2), (2, b"{}")]
    assert peak < 3 * 2**20  # the line is 32 MiB; what is held stays within a few chunks and the limit
