"""The firm's view (税理士・社労士事務所) — or a vendor's or bank's: everything across its clients."""

from __future__ import annotations

from datetime import datetime

from ledger.bootstrap import Kiroku
from ledger.domain.model import Disposition, Grant, Principal, Snapshot, SubmissionInfo


class FirmView:
    """What a firm, vendor or bank sees across the companies that granted it rights."""

    def __init__(self, kiroku: Kiroku, principal: Principal | str) -> None:
        self.kiroku = kiroku
        self.principal = principal if isinstance(principal, Principal) else Principal.parse(principal)

    def grants(self) -> list[Grant]:
        return self.kiroku.queries.grants(self.principal)

    def clients(self, at: datetime | None = None) -> list[str]:
        """Companies with an active grant to this principal."""
        now = at or self.kiroku.queries.clock()
        return sorted({g.corporate_number for g in self.grants() if g.active(now)})

    def filings(self, procedure: str | None = None, as_of: datetime | None = None) -> list[SubmissionInfo]:
        """Filings in force across all clients that granted ``read``."""
        out: list[SubmissionInfo] = []
        for corp in self.clients():
            out.extend(self.kiroku.queries.filings(self.principal, corp, procedure, as_of=as_of))
        return out

    def snapshot(self, submission_id: str) -> Snapshot:
        return self.kiroku.queries.snapshot(self.principal, submission_id)

    def inbox(self, cursor: str | None = None) -> tuple[list[Disposition], str]:
        """Dispositions for all clients since ``cursor`` (gap-free); pass the returned cursor next time."""
        return self.kiroku.queries.inbox(self.principal, cursor)

    def open_disposition(self, disposition_id: str) -> Disposition:
        return self.kiroku.queries.fetch_disposition(self.principal, disposition_id)
