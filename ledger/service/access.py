"""What reading writes: the access log (``kiroku.access``) and a disposition's arrival (到達).

Every read of company data — allowed or denied — is appended as a ``FilingViewed`` event before
the data is returned (who, when, what, on which basis), and the company can list them. The first
fetch of a disposition by the company or its agent appends ``DispositionDelivered``: the legal
arrival. Both are writes a read makes; they live here, under that name, so that the read side
(``Queries``) and the commands and notary that also record refusals share one recorder.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ledger.catalog import tables as t
from ledger.domain.model import Principal, new_id, utcnow
from ledger.encoding.events import DISPOSITION_DELIVERED, FILING_VIEWED, Event, EventCodec
from ledger.errors import NotFound
from ledger.ports import ACCESS, FILINGS, Log, LogRecord
from ledger.service.authz import Basis

#: (corporate number or None, action, subject, basis) — one read to record.
Access = tuple[str | None, str, str, Basis]


class AccessLog:
    """Records reads and arrivals durably, then runs the inline processors."""

    def __init__(self, log: Log, codec: EventCodec, after_append: Callable[[], object] | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.log, self.codec, self.clock = log, codec, clock
        self.after_append = after_append or (lambda: None)

    def record(self, who: Principal, entries: list[Access]) -> None:
        """Durably record reads (corporate number, action, subject, basis) before answering."""
        if not entries:
            return
        now = self.clock()
        records = []
        for corp, action, subject, basis in entries:
            ev = Event(FILING_VIEWED, {
                "access_id": new_id("acc"), "viewer": who.id, "action": action, "subject": subject,
                "legal_basis": basis.legal_basis, "outcome": "ALLOWED" if basis.allowed else "DENIED", "reason": basis.reason,
            }, actor=who.id, corporate_number=corp, time=now)
            # Keyed by company; reads about no known company all share one key, so that each
            # company's access sequence (and the "-" one) lives in one partition and replays alike.
            records.append(LogRecord((corp or t.NO_COMPANY).encode(), self.codec.encode(ev)))
        self.log.append(ACCESS, records)
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
