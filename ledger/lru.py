"""A small bounded mapping for in-memory caches that must not grow with the ledger."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Bounded(OrderedDict[K, V], Generic[K, V]):
    """A dict that forgets its least recently set or read entries beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __getitem__(self, key: K) -> V:
        value = super().__getitem__(key)
        try:
            self.move_to_end(key)
        except KeyError:  # evicted by another thread meanwhile: the value read is still right
            pass
        return value

    def get(self, key: K, default: V | None = None) -> V | None:  # type: ignore[override]
        # One lookup, not "in" then "[]": another thread may evict the key in between.
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        try:
            self.move_to_end(key)
        except KeyError:  # evicted by another thread already
            pass
        while len(self) > self.limit:
            try:
                self.popitem(last=False)
            except KeyError:  # emptied by another thread
                break
