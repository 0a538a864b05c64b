"""A writer's own recent submissions, for as long as the catalog does not show them yet.

Commands decide on the catalog: the latest submission of a filing, the idempotency keys already
used, the submission a correction or cancellation replaces. Scaled out, the projector runs in
other processes and the catalog lags the log by a moment; without this a writer would not see
its own appends in that moment — a client retrying after a lost acknowledgement would be recorded
twice, and a correction sent right after its original would be refused as replacing nothing.

The writer remembers what it appended (event and position) and forgets each entry as soon as the
projector's position in that filings partition has passed it: from then on the catalog answers,
including for anything other writers appended since. Inline deployments project before deciding,
so their entries are forgotten at the next batch.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ledger.catalog import reads
from ledger.catalog.reads import Connection
from ledger.encoding.events import Event
from ledger.ports import FILINGS, Position

log = logging.getLogger(__name__)

#: The projector whose position says what the catalog shows (``ledger.processors.projector.NAME``).
PROJECTOR = "projector"


@dataclass(frozen=True, slots=True)
class Appended:
    """A ``SubmissionRecorded`` event this writer appended, and where it went."""

    event: Event
    position: Position

    @property
    def filing(self) -> tuple[str, str, str, str]:
        """(company, procedure, period, office): the filing the submission belongs to."""
        b = self.event.body
        return (self.event.corporate_number or "", b["procedure"], b["period"], b["office"])


class RecentAppends:
    """This writer's appended submissions not yet known to be in the catalog (thread-safe, bounded)."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[int, int], Appended] = OrderedDict()  # (partition, offset), oldest first
        self._heads: dict[tuple[str, str, str, str], Appended] = {}
        self._keys: dict[tuple[str, str], Appended] = {}
        self._ids: dict[str, Appended] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, appended: list[Appended]) -> None:
        with self._lock:
            for a in appended:
                self._entries[(a.position.partition, a.position.offset)] = a
                self._heads[a.filing] = a
                self._ids[a.event.body["submission_id"]] = a
                if a.event.body["idempotency_key"] is not None:
                    self._keys[(a.event.actor, a.event.body["idempotency_key"])] = a
            while len(self._entries) > self.limit:  # the projector is far behind (or not running)
                _, oldest = self._entries.popitem(last=False)
                self._forget(oldest)
                log.warning("more than %d submissions appended but not projected: the oldest are no longer "
                            "remembered by this writer", self.limit)

    def prune(self, conn: Connection) -> None:
        """Forget what the projector has applied (its positions, read in ``conn``)."""
        if not self._entries:
            return
        projected = reads.positions_of(conn, PROJECTOR, FILINGS)
        with self._lock:
            for key in [k for k in self._entries if k[1] < projected.get(k[0], 0)]:
                self._forget(self._entries.pop(key))

    def _forget(self, a: Appended) -> None:
        # The three indexes, each keyed its own way, with this entry's key in each.
        indexes: tuple[tuple[dict[Any, Appended], object], ...] = (
            (self._heads, a.filing), (self._ids, a.event.body["submission_id"]),
            (self._keys, (a.event.actor, a.event.body["idempotency_key"])))
        for index, key in indexes:
            if index.get(key) is a:  # a later append of the same filing or key stays
                del index[key]

    def head(self, filing: tuple[str, str, str, str]) -> Appended | None:
        """The newest submission of ``filing`` this writer appended and the catalog may not show."""
        return self._heads.get(filing)

    def heads_of(self, corporate_numbers: set[object]) -> list[Appended]:
        """The newest submission of each filing of these companies this writer appended."""
        if not self._heads:
            return []
        with self._lock:
            return [a for filing, a in self._heads.items() if filing[0] in corporate_numbers]

    def by_key(self, principal: str, idempotency_key: str) -> Appended | None:
        """The newest append under ``idempotency_key`` by ``principal`` (keys are per principal)."""
        return self._keys.get((principal, idempotency_key))

    def submission(self, submission_id: str) -> Appended | None:
        return self._ids.get(submission_id)
