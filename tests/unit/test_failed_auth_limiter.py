"""The gate's limiter of failed authentication, without I/O (issue 14, item 8): a key is refused
after ``burst`` failures and recovers at ``rate``; memory stays bounded whatever is sent, and a
flood of distinct tokens from one address never frees that address."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from viewers.http.gate import FailureLimiter, failure_keys  # noqa: E402

pytestmark = pytest.mark.unit


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_refused_after_its_burst_and_may_try_again_once_per_interval():
    ticks = Ticks()
    limiter = FailureLimiter(rate=0.5, burst=3, clock=ticks)
    keys = ["addr:198.51.100.7"]
    assert limiter.wait(keys) == 0.0
    assert limiter.failed(keys) == [] and limiter.failed(keys) == []
    assert limiter.failed(keys) == keys  # the third failure used the key up
    assert limiter.wait(keys) == pytest.approx(2.0)
    ticks.now = 1.0
    assert limiter.wait(keys) == pytest.approx(1.0)
    ticks.now = 2.0
    assert limiter.wait(keys) == 0.0
    assert limiter.wait(["addr:203.0.113.9"]) == 0.0  # per key


def test_the_keys_are_the_address_and_a_digest_of_the_tokens_start_never_its_text():
    token = "kk_" + "s3cret" * 7
    keys = failure_keys({"client": ("198.51.100.7", 40000)}, token)
    assert keys[0] == "addr:198.51.100.7" and keys[1].startswith("token:")
    assert token[3:12] not in keys[1]
    assert failure_keys({"client": ("192.0.2.1", 1)}, token[:12] + "other")[1] == keys[1]  # one token from any address
    assert failure_keys({}, None) == ["addr:?"]


@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=300))
def test_memory_stays_bounded_and_a_flooding_address_stays_refused(tokens):
    ticks = Ticks()
    limiter = FailureLimiter(rate=0.01, burst=2, max_keys=16, clock=ticks)
    flooder = "addr:198.51.100.7"
    for i, token in enumerate(tokens):
        ticks.now = i * 0.001
        limiter.failed([flooder, f"token:{token}"])
        assert len(limiter) <= 16
    if len(tokens) >= 2:
        assert limiter.wait([flooder]) > 0
