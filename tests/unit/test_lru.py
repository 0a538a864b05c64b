"""The bounded cache forgets the least recently used entries and tolerates concurrent use."""

from __future__ import annotations

import threading

import pytest

from ledger.lru import Bounded

pytestmark = pytest.mark.unit


def test_the_least_recently_used_entry_is_forgotten_first() -> None:
    cache: Bounded[str, int] = Bounded(2)
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1  # a is now the most recent
    cache["c"] = 3
    assert list(cache) == ["a", "c"] and cache.get("b") is None


def test_concurrent_readers_and_writers_never_see_an_error() -> None:
    cache: Bounded[int, int] = Bounded(64)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(20_000):
                cache[(i * seed) % 200] = i
                cache.get((i * 7 + seed) % 200)
        except BaseException as exc:  # noqa: BLE001 - the test is that nothing is raised
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(cache) <= 64
