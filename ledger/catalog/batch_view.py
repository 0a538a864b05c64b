"""What deciding one batch of submissions needs from the catalog, read in a handful of queries.

Recording in bulk (a payroll vendor's January) decides hundreds of submissions at once; asking
the catalog about each one separately would cost more than everything else together. This view
reads, once per batch, the grants, the latest submission of each filing, the idempotency keys
already used, the enrollments with their decisions, and the agencies' standing policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ledger.catalog import tables as c
from ledger.catalog.reads import active_grants
from ledger.domain.model import Principal, SubmissionRequest


@dataclass(slots=True)
class Head:
    """The latest recorded submission of a filing (company, procedure, period, office)."""

    submission_id: str
    kind: str


class BatchView:
    """The catalog as one batch of decisions sees it (updated as the batch decides)."""

    def __init__(self, conn: Connection, who: Principal, batch: list[SubmissionRequest], now: datetime) -> None:
        corps = sorted({r.corporate_number for r in batch if isinstance(r.corporate_number, str)})
        procs = sorted({r.procedure for r in batch if isinstance(r.procedure, str)})
        keys = sorted({r.idempotency_key for r in batch if isinstance(r.idempotency_key, str)})
        self.grants = active_grants(conn, who.id, corps, now)  # none for a principal that is no grantee
        s = c.submissions
        self.heads: dict[tuple[str, str, str, str], Head | None] = {}
        rows = conn.execute(select(s.c.corporate_number, s.c.procedure, s.c.period, s.c.office, s.c.submission_id, s.c.kind)
                            .where(s.c.corporate_number.in_(corps), s.c.procedure.in_(procs)).order_by(s.c.version)).all()
        for corp, proc, period, office, sid, kind in rows:
            self.heads[(corp, proc, period, office)] = Head(sid, kind)
        # Idempotency keys are the principal's own (ledger.service.idempotency): every submission this
        # principal recorded under one of the batch's keys. Several per key only from before keys
        # were scoped per principal, when one principal could use a key once per company.
        self.keys: dict[str, list[dict]] = {}
        if keys:
            for row in conn.execute(select(s).where(s.c.recorded_by == who.id, s.c.idempotency_key.in_(keys))
                                    .order_by(s.c.recorded_us)).mappings():
                self.keys.setdefault(row["idempotency_key"], []).append(dict(row))
        e, d = c.enrollments, c.decisions
        self.enrolled: set[tuple[str, str]] = set()
        # The agencies active enrollments name (none for a line-routed one), for receipts that say
        # which agency a filing did not reach.
        self.addressed: dict[tuple[str, str], set[str]] = {}
        self.decided: dict[tuple[str, str], dict[str, str]] = {}
        for corp, proc, agency in conn.execute(select(e.c.corporate_number, e.c.procedure, e.c.agency_id).where(
                e.c.corporate_number.in_(corps), e.c.withdrawn_us.is_(None))).all():
            self.enrolled.add((corp, proc))
            if agency is not None:
                self.addressed.setdefault((corp, proc), set()).add(agency)
        for corp, proc, agency, decision in conn.execute(
                select(e.c.corporate_number, e.c.procedure, d.c.agency_id, d.c.decision).join(d, e.c.enrollment_id == d.c.enrollment_id)
                .where(e.c.corporate_number.in_(corps), e.c.withdrawn_us.is_(None)).order_by(d.c.decided_us)).all():
            self.decided.setdefault((corp, proc), {})[agency] = decision
        p = c.policies
        self.accept_all = {(a, proc) for a, proc in conn.execute(
            select(p.c.agency_id, p.c.procedure).where(p.c.procedure.in_(procs), p.c.accept_all.is_(True))).all()}
        # Within the batch: idempotency keys decided so far → (corporate number, fingerprint, event),
        # and the data key each appended event's fingerprint was derived from (by id of the event).
        self.pending_keys: dict[str, tuple[str, str, object]] = {}
        self.fingerprint_keys: dict[int, str] = {}

    def routing(self, corp: str, procedure: str) -> tuple[set[str], set[str], bool]:
        """(agencies that accepted, agencies that rejected, whether an active enrollment exists)."""
        decided = self.decided.get((corp, procedure), {})
        return ({a for a, d in decided.items() if d == "accepted"}, {a for a, d in decided.items() if d == "rejected"},
                (corp, procedure) in self.enrolled)

    def not_accepting(self, corp: str, procedure: str) -> list[str]:
        """Agencies the company's active enrollments name that have not accepted (pending or rejected)."""
        accepted = {a for a, d in self.decided.get((corp, procedure), {}).items() if d == "accepted"}
        return sorted(self.addressed.get((corp, procedure), set()) - accepted)

    def policy_accepts(self, agency_id: str, procedure: str) -> bool:
        return (agency_id, procedure) in self.accept_all
