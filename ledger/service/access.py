"""What reading writes: the access log (``kiroku.access``) and a disposition's arrival (到達).

Every read of company data — allowed or denied — is appended as a ``FilingViewed`` event before
the data is returned (who, when, what, on which basis), and the company can list them. The first
fetch of a disposition by the company or its agent appends ``DispositionDelivered``: the legal
arrival. Both are writes a read makes; they live here, under that name, so that the read side
(``Queries``) and the commands and notary that also record refusals share one recorder.

Denials are bounded per principal, allowed reads never are. In each window of
``denial_window`` (an hour, counted from the Unix epoch, so windows start on the hour UTC) the
first ``denials_recorded`` denials of one principal are recorded one by one, as every allowed
read is; the last of them says so in its ``reason``. Later denials in that window are counted,
per company, and when the window is over one record per company sums them up:
action ``denials_suppressed``, outcome ``DENIED``, subject ``"<count> denials"`` (``"1 denial"``), and a reason
naming the principal, the window, the first and last suppressed denial and the actions tried
(see :func:`summary`). An auditor therefore always has the first denials in full, knows from the
marked one that counting began, and gets an exact count per company and window. At most
``denials_recorded`` companies get a summary of their own in a window; denials about any further
companies (a principal enumerating company numbers) are summed up in one record about no company.

The summaries of a closed window are written by the next record this process makes (any read or
denial, by anyone). A process that ends before that loses the counts of its last window — never
a read that was allowed, nor the first denials. The counters are per process.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ledger.catalog import tables as t
from ledger.domain.model import Principal, new_id, utcnow
from ledger.encoding.events import DISPOSITION_DELIVERED, FILING_VIEWED, Event, EventCodec
from ledger.errors import NotFound
from ledger.ports import ACCESS, FILINGS, Log, LogRecord
from ledger.service.acting import acting_person
from ledger.service.authz import Basis

#: (corporate number or None, action, subject, basis) — one read to record.
Access = tuple[str | None, str, str, Basis]

#: Denials of one principal recorded one by one in each window (then counted and summed up).
DENIALS_RECORDED = 100
#: The window the bound applies to.
DENIAL_WINDOW = timedelta(hours=1)
#: The action of a record that sums up the denials not recorded one by one.
SUPPRESSED = "denials_suppressed"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class _Tally:
    """Denials of one principal about one company (or none) that were counted, not recorded."""

    first: datetime
    last: datetime
    count: int = 0
    actions: Counter[str] = field(default_factory=Counter)


@dataclass
class _Window:
    """One principal's denials in one window."""

    index: int
    recorded: int = 0
    tallies: dict[str | None, _Tally] = field(default_factory=dict)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


def counted(n: int) -> str:
    """The subject of a ``denials_suppressed`` record: "1 denial", "7 denials"."""
    return f"{n} denial" if n == 1 else f"{n} denials"


def summary(viewer: str, corp: str | None, tally: _Tally, start: datetime, end: datetime, recorded: int) -> str:
    """The reason of a ``denials_suppressed`` record."""
    about = "about this company" if corp else "about no known company, or about companies beyond those summed up one by one"
    actions = ", ".join(f"{name} ×{n}" for name, n in sorted(tally.actions.items()))
    return (f"{tally.count} more denials of {viewer} {about}, from {_stamp(tally.first)} to {_stamp(tally.last)}, "
            f"were counted, not recorded one by one: the first {recorded} denials of {viewer} in the window "
            f"{_stamp(start)} – {_stamp(end)} were. Actions: {actions}")


class AccessLog:
    """Records reads and arrivals durably, then runs the inline processors."""

    def __init__(self, log: Log, codec: EventCodec, after_append: Callable[[], object] | None = None,
                 clock: Callable[[], datetime] = utcnow, *, denials_recorded: int = DENIALS_RECORDED,
                 denial_window: timedelta = DENIAL_WINDOW) -> None:
        self.log, self.codec, self.clock = log, codec, clock
        self.after_append = after_append or (lambda: None)
        self.denials_recorded, self.denial_window = denials_recorded, denial_window
        self._windows: dict[str, _Window] = {}  # principal → its current window (only while it has denials)
        self._oldest: int | None = None  # the oldest window's index
        self._lock = threading.Lock()

    def record(self, who: Principal, entries: list[Access]) -> None:
        """Durably record reads (corporate number, action, subject, basis) before answering;
        denials beyond the bound are counted instead (the module's docstring says the rule)."""
        now = self.clock()
        person = acting_person()  # the signed-in person a web page reads for (ledger.service.acting), if any
        with self._lock:
            events = self._close_windows(now)
            for corp, action, subject, basis in entries:
                kept = basis if basis.allowed else self._keep_denial(who, corp, action, basis, now)
                if kept is not None:
                    events.append(Event(FILING_VIEWED, {
                        "access_id": new_id("acc"), "viewer": who.id, "action": action, "subject": subject,
                        "legal_basis": kept.legal_basis, "outcome": "ALLOWED" if kept.allowed else "DENIED", "reason": kept.reason,
                        "person": person,
                    }, actor=who.id, corporate_number=corp, time=now))
        self._append(events)

    def flush(self, *, everything: bool = False) -> None:
        """Write the summaries of every window that is over now (the next ``record`` would) — with
        ``everything``, of the current windows too (the process is closing: its counts would be lost)."""
        with self._lock:
            events = self._close_windows(self.clock(), everything=everything)
        self._append(events)

    def _append(self, events: list[Event]) -> None:
        if not events:
            return
        # Keyed by company; reads about no known company all share one key, so that each
        # company's access sequence (and the "-" one) lives in one partition and replays alike.
        self.log.append(ACCESS, [LogRecord((ev.corporate_number or t.NO_COMPANY).encode(), self.codec.encode(ev))
                                 for ev in events])
        self.after_append()

    def deny(self, who: Principal, corp: str | None, action: str, subject: str, basis: Basis, message: str, field: str) -> NotFound:
        """Record a refused read and return the error to raise: the same as for something missing."""
        self.record(who, [(corp, action, subject, basis)])
        return NotFound(message, field=field, got=subject)

    def arrival(self, who: Principal, disposition_id: str, corporate_number: str, grant_id: str | None) -> None:
        """Record a disposition's arrival (到達) at the company's side."""
        self.log.append(FILINGS, [self.codec.record(Event(
            DISPOSITION_DELIVERED, {"disposition_id": disposition_id, "delivered_to": who.id},
            actor=who.id, corporate_number=corporate_number, grant_id=grant_id, time=self.clock()))])
        self.after_append()

    # -- the bound on denials ----------------------------------------------------------------------

    def _index(self, at: datetime) -> int:
        return (at - _EPOCH) // self.denial_window

    def _keep_denial(self, who: Principal, corp: str | None, action: str, basis: Basis, now: datetime) -> Basis | None:
        """The basis to record this denial with, or None when it is counted instead."""
        window = self._windows.get(who.id)
        if window is None:
            window = self._windows[who.id] = _Window(self._index(now))
            self._oldest = window.index if self._oldest is None else min(self._oldest, window.index)
        if window.recorded < self.denials_recorded:
            window.recorded += 1
            if window.recorded < self.denials_recorded:
                return basis
            end = _EPOCH + (window.index + 1) * self.denial_window
            return Basis(False, legal_basis=basis.legal_basis, grant_id=basis.grant_id, reason=(
                f"{basis.reason or 'denied'} — denial {window.recorded} of {who.id} in this window: further denials "
                f"until {_stamp(end)} are counted and summed up, not recorded one by one"))
        key = corp if corp in window.tallies or len(window.tallies) < self.denials_recorded else None
        tally = window.tallies.setdefault(key, _Tally(now, now))
        tally.count += 1
        tally.last = now
        tally.actions[action] += 1
        return None

    def _close_windows(self, now: datetime, *, everything: bool = False) -> list[Event]:
        """The summary events of every window that is over (or of all, ``everything``); forgets them."""
        current = self._index(now) + (1 if everything else 0)
        if self._oldest is None or self._oldest >= current:
            return []  # one comparison per record while no window is over
        out = []
        for viewer in [v for v, w in self._windows.items() if w.index < current]:
            window = self._windows.pop(viewer)
            start = _EPOCH + window.index * self.denial_window
            end = start + self.denial_window
            for corp, tally in window.tallies.items():
                out.append(Event(FILING_VIEWED, {
                    "access_id": new_id("acc"), "viewer": viewer, "action": SUPPRESSED, "subject": counted(tally.count),
                    "legal_basis": None, "outcome": "DENIED",
                    "reason": summary(viewer, corp, tally, start, end, window.recorded), "person": None,
                }, actor=viewer, corporate_number=corp, time=now))
        self._oldest = min((w.index for w in self._windows.values()), default=None)
        return out
