"""``KIROKU_KEYS=aws-kms://…``: the cache's two times, parsed and refused by name."""

from __future__ import annotations

import pytest

from ledger.adapters.aws_urls import parse_keys_url
from ledger.errors import ConfigurationError

pytestmark = pytest.mark.unit


def test_the_cache_is_kept_300_s_and_checked_against_shredding_every_second_by_default() -> None:
    parsed = parse_keys_url("aws-kms://alias/kiroku")
    assert (parsed.cache_seconds, parsed.revalidate_seconds) == (300.0, 1.0)
    parsed = parse_keys_url("aws-kms://alias/kiroku?cache_seconds=60&revalidate_seconds=0.25")
    assert (parsed.cache_seconds, parsed.revalidate_seconds) == (60.0, 0.25)


@pytest.mark.parametrize(("query", "message", "expected", "got"), [
    ("revalidate_seconds=soon", "KIROKU_KEYS: revalidate_seconds='soon' is not a number", "revalidate_seconds=SECONDS", "soon"),
    ("revalidate_seconds=-1", "KIROKU_KEYS: revalidate_seconds='-1' must be 0 or more", "revalidate_seconds=SECONDS (0 or more)", "-1"),
    ("cache_seconds=nan", "KIROKU_KEYS: cache_seconds='nan' must be 0 or more", "cache_seconds=SECONDS (0 or more)", "nan"),
])
def test_a_bad_time_is_refused_naming_the_setting(query: str, message: str, expected: str, got: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        parse_keys_url(f"aws-kms://alias/kiroku?{query}")
    assert (str(err.value), err.value.field, err.value.expected, err.value.got, err.value.code) == (
        message, "KIROKU_KEYS", expected, got, "bad_setting")
