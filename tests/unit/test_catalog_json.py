"""The catalog's JSON columns: orjson writes them, and the text must be the standard library's
(sorted keys, compact, non-ASCII as is) — rows written before orjson, and rows written by a
replay, compare equal character for character."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.catalog.tables import dumps, loads

_INT64 = st.integers(min_value=-(2**63), max_value=2**64 - 1)
_SCALARS = st.none() | st.booleans() | _INT64 | st.text()
_VALUES = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(), inner, max_size=6), max_leaves=40)


def _standard(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@settings(max_examples=500)
@given(_VALUES)
def test_the_text_is_the_standard_librarys_and_reads_back(value: Any) -> None:
    text = dumps(value)
    assert text == _standard(value)
    assert loads(text) == value


@pytest.mark.parametrize("value", [
    [2**64, -(2**63) - 1],                 # integers beyond 64 bits
    {"a": ["\ud800 lone surrogate"]},      # not encodable as UTF-8
], ids=["big-integers", "lone-surrogate"])
def test_what_orjson_declines_is_written_by_the_standard_library_and_read_back_exactly(value: Any) -> None:
    text = dumps(value)
    assert text == _standard(value)
    assert loads(text) == value


def test_the_catalogs_own_shapes() -> None:
    targets = [{"lines": [1, 5, 99], "agency_id": "municipality:131016"}, {"agency_id": "市区町村", "lines": []}]
    assert dumps(targets) == '[{"agency_id":"municipality:131016","lines":[1,5,99]},{"agency_id":"市区町村","lines":[]}]'


def test_malformed_text_is_refused_naming_where() -> None:
    with pytest.raises(json.JSONDecodeError) as err:
        loads('[1, 2')
    assert (err.value.msg, err.value.pos) == ("Expecting ',' delimiter", 5)
