"""The service layer's reads: authorized, recorded in the access log, never leaking existence.

Every read of company data appends a ``FilingViewed`` event to ``kiroku.access`` (who, when,
what, on which basis) before the data is returned; a denied read is recorded too, and answers
exactly as a read of something that does not exist would.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Mapping

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection

from ledger.catalog import tables as c
from ledger.service.authz import Basis, may_act_for, may_read_submission
from ledger.encoding.codec import SchemaRegistry
from ledger.domain import calendar
from ledger.domain.identifiers import validate_corporate_number
from ledger.domain.model import (
    AccessRecord, Action, Disposition, Enrollment, Grant, MissingFiling, Notice, Principal, PrincipalKind,
    Receipt, Snapshot, SubmissionInfo, SubmissionKind, from_us, new_id, to_us, utcnow,
)
from ledger.domain.procedures import PROCEDURES, get_procedure
from ledger.errors import Forbidden, NotFound, ValidationError
from ledger.encoding.events import DISPOSITION_DELIVERED, FILING_VIEWED, Event, EventCodec
from ledger.ports import ACCESS, FILINGS, Log, LogRecord, ObjectStore
from ledger.service.sealing import Sealer
from ledger.encoding.snapshots import load_snapshot


def _dt(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def receipt_from_row(row: Any) -> Receipt:
    return Receipt(
        submission_id=row["submission_id"], corporate_number=row["corporate_number"], procedure=row["procedure"],
        period=row["period"], kind=SubmissionKind(row["kind"]), replaces=row["replaces"],
        position=f"{row['topic']}/{row['partition']}/{row['offset']}", recorded_at=from_us(row["recorded_us"]),
        payload_digest=row["payload_digest"], deadline=_dt(row["deadline_us"]), on_time=row["on_time"],
        line_count=row["line_count"], targets=[t["agency_id"] for t in c.loads(row["targets"])], unreached=c.loads(row["unreached"]),
    )


def info_from_row(row: Any) -> SubmissionInfo:
    r = receipt_from_row(row)
    return SubmissionInfo(
        submission_id=r.submission_id, corporate_number=r.corporate_number, procedure=r.procedure, period=r.period,
        kind=r.kind, replaces=r.replaces, version=row["version"], recorded_at=r.recorded_at, recorded_by=row["recorded_by"],
        position=r.position, payload_digest=r.payload_digest, deadline=r.deadline, on_time=r.on_time,
        line_count=r.line_count, targets=r.targets, unreached=r.unreached,
    )


def parse_cursor(cursor: str | None) -> dict[int, int]:
    """An inbox cursor: ``p:offset,p:offset`` — the last log position seen in each partition."""
    if not cursor:
        return {}
    try:
        return {int(p): int(o) for p, o in (part.split(":") for part in cursor.split(","))}
    except ValueError:
        raise ValidationError("cursor must be what a previous call returned, e.g. 0:12,3:40", field="cursor",
                              expected="p:offset[,p:offset…]", got=cursor, code="invalid_cursor") from None


class Queries:
    """Reads for every kind of principal."""

    def __init__(self, log: Log, codec: EventCodec, registry: SchemaRegistry, sealer: Sealer, catalog: c.Catalog,
                 objects: ObjectStore, after_append: Callable[[], object] | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.log, self.codec, self.registry, self.sealer = log, codec, registry, sealer
        self.catalog, self.objects, self.clock = catalog, objects, clock
        self.after_append = after_append or (lambda: None)
        #: (procedure, period, corporate number) → the deadline seal's reference; set by bootstrap.
        self.seal_for: Callable[[str, str, str], str | None] = lambda procedure, period, corp: None

    # -- access log ------------------------------------------------------------------------------

    def record_access(self, who: Principal, entries: list[tuple[str | None, str, str, Basis]]) -> None:
        """Durably record reads (corporate number, action, subject, basis) before answering."""
        if not entries:
            return
        now = self.clock()
        records = []
        for corp, action, subject, basis in entries:
            ev = Event(FILING_VIEWED, {
                "access_id": new_id("acc"), "viewer": who.id, "action": action, "subject": subject,
                "legal_basis": basis.basis, "outcome": "ALLOWED" if basis.allowed else "DENIED", "reason": basis.reason,
            }, actor=who.id, corporate_number=corp, time=now)
            # Keyed by company; reads about no known company all share one key, so that each
            # company's access sequence (and the "-" one) lives in one partition and replays alike.
            records.append(LogRecord((corp or c.NO_COMPANY).encode(), self.codec.encode(ev)))
        self.log.append(ACCESS, records)
        self.after_append()

    def _deny(self, who: Principal, corp: str | None, action: str, subject: str, basis: Basis, message: str, field: str) -> NotFound:
        self.record_access(who, [(corp, action, subject, basis)])
        return NotFound(message, field=field, got=subject)

    # -- submissions -----------------------------------------------------------------------------

    def _submission_row(self, conn: Connection, submission_id: str) -> dict | None:
        row = conn.execute(select(c.submissions).where(c.submissions.c.submission_id == submission_id)).mappings().first()
        return None if row is None else dict(row)

    def _visible(self, who: Principal, submission_id: str, action: str) -> tuple[dict, Basis]:
        with self.catalog.connect() as conn:
            row = self._submission_row(conn, submission_id)
            basis = may_read_submission(conn, who, row, self.clock()) if row else Basis(False, reason="no such submission")
        if row is None or not basis.allowed:
            raise self._deny(who, row["corporate_number"] if row else None, action, submission_id, basis,
                             f"no submission {submission_id} is visible to you", "submission_id")
        return row, basis

    def receipt(self, who: Principal, submission_id: str) -> Receipt:
        """A submission's receipt again (e.g. after a timeout), for whoever may read it — or submit
        it: a receipt is the submitter's proof, not the payload."""
        with self.catalog.connect() as conn:
            row = self._submission_row(conn, submission_id)
            if row is None:
                basis = Basis(False, reason="no such submission")
            elif who.kind is PrincipalKind.OPERATOR:
                basis = Basis(True, basis="platform operation (receipt metadata, no payload)")
            else:
                basis = may_read_submission(conn, who, row, self.clock())
                if not basis.allowed:
                    submitter = may_act_for(conn, who, row["corporate_number"], row["procedure"], Action.SUBMIT, self.clock())
                    basis = submitter if submitter.allowed else basis
        if row is None or not basis.allowed:
            raise self._deny(who, row["corporate_number"] if row else None, "receipt", submission_id, basis,
                             f"no submission {submission_id} is visible to you", "submission_id")
        self.record_access(who, [(row["corporate_number"], "receipt", submission_id, basis)])
        return receipt_from_row(row)

    def snapshot(self, who: Principal, submission_id: str) -> Snapshot:
        """The submission as recorded, decoded, with only what the reader's basis allows."""
        row, basis = self._visible(who, submission_id, "snapshot")
        self.record_access(who, [(row["corporate_number"], "snapshot", submission_id, basis)])
        return self._render(row, basis)

    def _render(self, row: dict, basis: Basis) -> Snapshot:
        info = info_from_row(row)
        if row["kind"] == SubmissionKind.CANCELLATION.value:
            return Snapshot(info=info, payload=None, personal_numbers="none", legal_basis=basis.basis)
        proc = PROCEDURES[row["procedure"]]
        record, raw, _ = load_snapshot(self.registry, self.objects, row["snapshot_key"], row["payload_digest"])
        payload, status = self.sealer.unseal(proc, record, row["key_id"], row["submission_id"], basis.reveal, basis.lines)
        return Snapshot(info=info, payload=payload, visible_lines=basis.lines, personal_numbers=status,
                        legal_basis=basis.basis, raw=raw if basis.lines is None else None)

    def effective(self, who: Principal, corporate_number: str, procedure: str, period: str, as_of: datetime | None = None) -> Snapshot:
        """The version in force for (company, procedure, period) at ``as_of`` (default: now)."""
        corp = validate_corporate_number(corporate_number)
        get_procedure(procedure)
        calendar.validate_period(procedure, period)
        at = as_of or self.clock()
        subject = f"{procedure} {period} as of {at.isoformat()}"
        with self.catalog.connect() as conn:
            row: Mapping[Any, Any] | None = conn.execute(select(c.submissions).where(
                c.submissions.c.corporate_number == corp, c.submissions.c.procedure == procedure,
                c.submissions.c.period == period, c.submissions.c.recorded_us <= to_us(at),
            ).order_by(c.submissions.c.version.desc()).limit(1)).mappings().first()
            row = None if row is None else dict(row)
            basis = may_read_submission(conn, who, row, self.clock()) if row else Basis(False, reason="nothing in force")
        if row is None or not basis.allowed or row["kind"] == SubmissionKind.CANCELLATION.value:
            self.record_access(who, [(corp, "effective", subject, basis)])
            raise NotFound(f"no {procedure} {period} of company {corp} in force at {at.isoformat()} is visible to you",
                           field="period", got=period)
        self.record_access(who, [(corp, "effective", subject, basis)])
        return self._render(row, basis)

    def history(self, who: Principal, submission_id: str) -> list[SubmissionInfo]:
        """The whole correction chain of the filing a submission belongs to, oldest first, as far
        as the reader may see it."""
        row, _ = self._visible(who, submission_id, "history")
        with self.catalog.connect() as conn:
            rows = conn.execute(select(c.submissions).where(
                c.submissions.c.corporate_number == row["corporate_number"], c.submissions.c.procedure == row["procedure"],
                c.submissions.c.period == row["period"]).order_by(c.submissions.c.version)).mappings().all()
            now = self.clock()
            chain = []
            for r in rows:
                b = may_read_submission(conn, who, dict(r), now)
                if b.allowed:  # a cancellation reaches the agencies its replaced submission reached
                    chain.append((dict(r), b))
        self.record_access(who, [(row["corporate_number"], "history", submission_id, chain[-1][1] if chain else Basis(False))])
        return [info_from_row(r) for r, _ in chain]

    def filings(self, who: Principal, corporate_number: str | None = None, procedure: str | None = None,
                period_from: str | None = None, period_to: str | None = None, as_of: datetime | None = None,
                limit: int = 1000) -> list[SubmissionInfo]:
        """Filings in force at ``as_of`` that the reader may see, filtered by company, procedure
        and period range (inclusive), one entry per (company, procedure, period)."""
        if corporate_number is not None:
            corporate_number = validate_corporate_number(corporate_number)
        if procedure is not None:
            get_procedure(procedure)
        at = to_us(as_of or self.clock())
        s = c.submissions
        conds = [s.c.recorded_us <= at]
        if who.kind is PrincipalKind.AGENCY:
            conds.append(s.c.submission_id.in_(select(c.targets.c.submission_id).where(c.targets.c.agency_id == who.name)))
        elif who.kind is PrincipalKind.COMPANY:
            if corporate_number not in (None, who.name):
                return []
            corporate_number = who.name
        elif who.kind is PrincipalKind.OPERATOR:
            raise Forbidden("the operator cannot list company filings", field="principal", got=who.id)
        if corporate_number:
            conds.append(s.c.corporate_number == corporate_number)
        if procedure:
            conds.append(s.c.procedure == procedure)
        if period_from:
            conds.append(s.c.period >= period_from)
        if period_to:
            conds.append(s.c.period <= period_to + "\uffff")
        out: list[tuple[dict, Basis]] = []
        now = self.clock()
        with self.catalog.connect() as conn:
            rows = conn.execute(select(s).where(and_(*conds)).order_by(s.c.corporate_number, s.c.procedure, s.c.period, s.c.version)).mappings().all()
            latest: dict[tuple[str, str, str], dict] = {}
            r: Mapping[Any, Any]  # a row as read, then the dict kept in ``latest``
            for r in rows:
                latest[(r["corporate_number"], r["procedure"], r["period"])] = dict(r)
            if who.kind is PrincipalKind.AGENCY:
                # The version in force may be a later one that no longer targets this agency.
                for key in list(latest):
                    newest = conn.execute(select(s).where(s.c.corporate_number == key[0], s.c.procedure == key[1], s.c.period == key[2],
                                                         s.c.recorded_us <= at).order_by(s.c.version.desc()).limit(1)).mappings().first()
                    assert newest is not None  # at least the row found above for this key matches
                    latest[key] = dict(newest)
            for key, r in latest.items():
                if r["kind"] == SubmissionKind.CANCELLATION.value:
                    continue
                b = may_read_submission(conn, who, r, now)
                if b.allowed:
                    out.append((r, b))
                if len(out) >= limit:
                    break
        self.record_access(who, [(r["corporate_number"], "query", r["submission_id"], b) for r, b in out])
        return [info_from_row(r) for r, _ in out]

    # -- notices ---------------------------------------------------------------------------------

    def notices(self, who: Principal, after: int = 0, limit: int = 100) -> list[Notice]:
        """An agency's notice feed after sequence number ``after``: no gaps, no duplicates."""
        if who.kind is not PrincipalKind.AGENCY:
            raise Forbidden("only an agency has a notice feed", field="principal", got=who.id)
        with self.catalog.connect() as conn:
            rows = conn.execute(select(c.notices).where(c.notices.c.agency_id == who.name, c.notices.c.seq > after)
                                .order_by(c.notices.c.seq).limit(max(1, min(limit, 1000)))).mappings().all()
        return [Notice(agency_id=r["agency_id"], seq=r["seq"], notice_id=r["notice_id"], notice_type=r["notice_type"],
                       corporate_number=r["corporate_number"], procedure=r["procedure"], period=r["period"],
                       submission_id=r["submission_id"], kind=r["kind"], replaces=r["replaces"],
                       recorded_at=from_us(r["recorded_us"]), lines=c.loads(r["lines"])) for r in rows]

    # -- dispositions ----------------------------------------------------------------------------

    def disposition_row(self, disposition_id: str) -> Disposition:
        with self.catalog.connect() as conn:
            row = conn.execute(select(c.dispositions).where(c.dispositions.c.disposition_id == disposition_id)).mappings().first()
        if row is None:
            raise NotFound(f"no disposition {disposition_id}", field="disposition_id", got=disposition_id)
        return _disposition(row)

    def dispositions(self, who: Principal, corporate_number: str, after: int = 0) -> list[Disposition]:
        """A company's dispositions after its sequence number ``after`` (company or agent with receive_notices)."""
        corp = validate_corporate_number(corporate_number)
        with self.catalog.connect() as conn:
            basis = may_act_for(conn, who, corp, None, Action.RECEIVE_NOTICES, self.clock())
        # Recording a denial appends and projects, which needs a connection of its own: not while holding one.
        if not basis.allowed:
            raise self._deny(who, corp, "dispositions", corp, basis, f"no dispositions of company {corp} are visible to you", "corporate_number")
        with self.catalog.connect() as conn:
            rows = conn.execute(select(c.dispositions).where(c.dispositions.c.corporate_number == corp, c.dispositions.c.company_seq > after)
                                .order_by(c.dispositions.c.company_seq)).mappings().all()
        return [_disposition(r) for r in rows]

    def fetch_disposition(self, who: Principal, disposition_id: str) -> Disposition:
        """A disposition with its content; the first fetch by the company or its agent records arrival (到達)."""
        with self.catalog.connect() as conn:
            row = conn.execute(select(c.dispositions).where(c.dispositions.c.disposition_id == disposition_id)).mappings().first()
            if who.kind is PrincipalKind.AGENCY and row is not None and row["agency_id"] == who.name:
                basis = Basis(True, basis="issuer")
            else:
                basis = may_act_for(conn, who, row["corporate_number"], None, Action.RECEIVE_NOTICES, self.clock()) if row else Basis(False)
        if row is None or not basis.allowed:
            raise self._deny(who, row["corporate_number"] if row else None, "disposition", disposition_id, basis,
                             f"no disposition {disposition_id} is visible to you", "disposition_id")
        record, _, _ = load_snapshot(self.registry, self.objects, row["snapshot_key"], row["payload_digest"])
        self.record_access(who, [(row["corporate_number"], "disposition", disposition_id, basis)])
        if row["delivered_us"] is None and who.kind is not PrincipalKind.AGENCY:
            self.log.append(FILINGS, [self.codec.record(Event(DISPOSITION_DELIVERED, {"disposition_id": disposition_id, "delivered_to": who.id},
                                                              actor=who.id, corporate_number=row["corporate_number"], grant_id=basis.grant_id,
                                                              time=self.clock()))])
            self.after_append()
            return self.disposition_row(disposition_id).model_copy(update={"payload": record})
        return _disposition(row).model_copy(update={"payload": record})

    def inbox(self, who: Principal, cursor: str | None = None, limit: int = 500) -> tuple[list[Disposition], str]:
        """Dispositions for every company that granted ``who`` receive_notices, after ``cursor``;
        returns them and the cursor to pass next time (gap-free across all clients)."""
        seen = parse_cursor(cursor)
        now = to_us(self.clock())
        with self.catalog.connect() as conn:
            if who.kind is PrincipalKind.COMPANY:
                companies = [who.name]
            else:
                g = c.grants
                companies = sorted({r[0] for r in conn.execute(select(g.c.corporate_number, g.c.actions).where(
                    g.c.grantee == who.id, g.c.revoked_us.is_(None), g.c.expires_us > now)).all()
                    if Action.RECEIVE_NOTICES.value in c.loads(r[1])})
            if not companies:
                return [], cursor or ""
            d = c.dispositions
            after = [or_(d.c.partition != p, d.c.offset > o) for p, o in seen.items()]
            rows = conn.execute(select(d).where(d.c.corporate_number.in_(companies), *after)
                                .order_by(d.c.partition, d.c.offset).limit(limit)).mappings().all()
        for r in rows:
            seen[r["partition"]] = max(seen.get(r["partition"], -1), r["offset"])
        return [_disposition(r) for r in rows], ",".join(f"{p}:{o}" for p, o in sorted(seen.items()))

    # -- enrollments, grants, access log, deadlines -----------------------------------------------

    def enrollment(self, enrollment_id: str) -> Enrollment:
        with self.catalog.connect() as conn:
            row = conn.execute(select(c.enrollments).where(c.enrollments.c.enrollment_id == enrollment_id)).mappings().first()
            if row is None:
                raise NotFound(f"no enrollment {enrollment_id}", field="enrollment_id", got=enrollment_id)
            return self._enrollment(conn, row)

    def _enrollment(self, conn: Connection, row: Any) -> Enrollment:
        ds = conn.execute(select(c.decisions.c.agency_id, c.decisions.c.decision).where(
            c.decisions.c.enrollment_id == row["enrollment_id"])).all()
        return Enrollment(enrollment_id=row["enrollment_id"], corporate_number=row["corporate_number"], procedure=row["procedure"],
                          agency_id=row["agency_id"], requested_at=from_us(row["requested_us"]),
                          withdrawn_at=_dt(row["withdrawn_us"]), decisions={a: d for a, d in ds})

    def enrollments_of(self, corporate_number: str, procedure: str | None = None) -> list[Enrollment]:
        e = c.enrollments
        conds = [e.c.corporate_number == corporate_number] + ([e.c.procedure == procedure] if procedure else [])
        with self.catalog.connect() as conn:
            return [self._enrollment(conn, r) for r in conn.execute(select(e).where(*conds).order_by(e.c.enrollment_id)).mappings().all()]

    def enrollments(self, who: Principal, corporate_number: str) -> list[Enrollment]:
        """A company's enrollments, for the company or an agent holding a grant to submit or read;
        to anyone else, the same answer as for a company that does not exist (and recorded)."""
        corp = validate_corporate_number(corporate_number)
        now = self.clock()
        with self.catalog.connect() as conn:
            basis = may_act_for(conn, who, corp, None, Action.SUBMIT, now)
            if not basis.allowed:
                basis = may_act_for(conn, who, corp, None, Action.READ, now)
        if not basis.allowed:
            raise self._deny(who, corp, "enrollments", corp, basis, f"no enrollments of company {corp} are visible to you", "corporate_number")
        return self.enrollments_of(corp)

    def pending_enrollments(self, who: Principal) -> list[Enrollment]:
        """Enrollments addressed to an agency that it has not decided on yet."""
        if who.kind is not PrincipalKind.AGENCY:
            raise Forbidden("only an agency decides on enrollments", field="principal", got=who.id)
        kind = who.name.split(":", 1)[0]
        codes = [p.code for p in PROCEDURES.values() if p.agency_kind == kind and not p.disposition]
        e = c.enrollments
        with self.catalog.connect() as conn:
            rows = conn.execute(select(e).where(e.c.withdrawn_us.is_(None), e.c.procedure.in_(codes),
                                                or_(e.c.agency_id == who.name, e.c.agency_id.is_(None))).order_by(e.c.enrollment_id)).mappings().all()
            out = [self._enrollment(conn, r) for r in rows]
        return [x for x in out if who.name not in x.decisions]

    def routing_state(self, conn: Connection, corporate_number: str, procedure: str | None) -> tuple[set[str], set[str], bool]:
        """(agencies that accepted, agencies that rejected, whether an active enrollment exists)."""
        e, d = c.enrollments, c.decisions
        conds = [e.c.corporate_number == corporate_number, e.c.withdrawn_us.is_(None)]
        if procedure:
            conds.append(e.c.procedure == procedure)
        enrolled = conn.execute(select(e.c.enrollment_id).where(*conds).limit(1)).first() is not None
        rows = conn.execute(select(d.c.agency_id, d.c.decision).join(e, e.c.enrollment_id == d.c.enrollment_id).where(*conds)).all()
        accepted = {a for a, dec in rows if dec == "accepted"}
        rejected = {a for a, dec in rows if dec == "rejected"}
        return accepted, rejected, enrolled

    def policy_accepts(self, conn: Connection, agency_id: str, procedure: str) -> bool:
        row = conn.execute(select(c.policies.c.accept_all).where(c.policies.c.agency_id == agency_id, c.policies.c.procedure == procedure)).first()
        return bool(row and row[0])

    def accepted_enrollments(self, conn: Connection) -> Iterator[tuple[dict, str, datetime]]:
        """(enrollment, agency, accepted at) for every active accepted enrollment (for deadline reports).

        Line-routed enrollments also count each municipality that received lines from the company
        before — it expects a report again."""
        e, d = c.enrollments, c.decisions
        rows = conn.execute(select(e, d.c.agency_id.label("decided_agency"), d.c.decided_us).join(d, e.c.enrollment_id == d.c.enrollment_id)
                            .where(e.c.withdrawn_us.is_(None), d.c.decision == "accepted").order_by(e.c.enrollment_id, d.c.agency_id)).mappings().all()
        for r in rows:
            yield dict(r), r["decided_agency"], from_us(r["decided_us"])

    def has_filed(self, conn: Connection, corporate_number: str, procedure: str, period: str) -> bool:
        s = c.submissions
        return conn.execute(select(s.c.submission_id).where(s.c.corporate_number == corporate_number, s.c.procedure == procedure,
                                                            s.c.period == period).limit(1)).first() is not None

    def missing_reported(self, conn: Connection, agency: str, procedure: str, period: str, corporate_number: str) -> bool:
        m = c.missing
        return conn.execute(select(m.c.agency_id).where(m.c.agency_id == agency, m.c.procedure == procedure, m.c.period == period,
                                                        m.c.corporate_number == corporate_number)).first() is not None

    def missing_report(self, who: Principal, procedure: str | None = None, period: str | None = None) -> list[MissingFiling]:
        """An agency's report of enrolled companies that filed nothing by the deadline."""
        if who.kind is not PrincipalKind.AGENCY:
            raise Forbidden("only an agency receives missing-filing reports", field="principal", got=who.id)
        m = c.missing
        conds = [m.c.agency_id == who.name] + ([m.c.procedure == procedure] if procedure else []) + ([m.c.period == period] if period else [])
        with self.catalog.connect() as conn:
            rows = conn.execute(select(m).where(*conds).order_by(m.c.procedure, m.c.period, m.c.corporate_number)).mappings().all()
        return [MissingFiling(agency_id=r["agency_id"], corporate_number=r["corporate_number"], procedure=r["procedure"], period=r["period"],
                              enrollment_id=r["enrollment_id"], deadline=from_us(r["deadline_us"]), reported_at=from_us(r["reported_us"]),
                              seal=self.seal_for(r["procedure"], r["period"], r["corporate_number"])) for r in rows]

    def reminders(self, who: Principal, corporate_number: str, within: timedelta = timedelta(days=30)) -> list[tuple[str, str, datetime]]:
        """(procedure, period, deadline) the company is enrolled for, due within ``within``, not yet filed."""
        corp = validate_corporate_number(corporate_number)
        now = self.clock()
        with self.catalog.connect() as conn:
            basis = may_act_for(conn, who, corp, None, Action.READ, now)
        if not basis.allowed:
            raise self._deny(who, corp, "reminders", corp, basis, f"no company {corp} visible to you", "corporate_number")
        enrolled = sorted({e.procedure for e in self.enrollments_of(corp) if e.withdrawn_at is None and e.decisions})
        with self.catalog.connect() as conn:
            out = []
            for proc in enrolled:
                for period, due in calendar.deadlines_between(proc, now, now + within):
                    if not self.has_filed(conn, corp, proc, period):
                        out.append((proc, period, due))
        return out

    def grant(self, grant_id: str) -> Grant:
        with self.catalog.connect() as conn:
            row = conn.execute(select(c.grants).where(c.grants.c.grant_id == grant_id)).mappings().first()
        if row is None:
            raise NotFound(f"no grant {grant_id}", field="grant_id", got=grant_id)
        return _grant(row)

    def grants(self, who: Principal) -> list[Grant]:
        """Grants a company gave, or grants a firm, vendor or bank holds."""
        g = c.grants
        cond = g.c.corporate_number == who.name if who.kind is PrincipalKind.COMPANY else g.c.grantee == who.id
        with self.catalog.connect() as conn:
            return [_grant(r) for r in conn.execute(select(g).where(cond).order_by(g.c.issued_us, g.c.grant_id)).mappings().all()]

    def access_log(self, who: Principal, corporate_number: str, after: int = 0, limit: int = 1000) -> list[AccessRecord]:
        """Who read the company's data, when, what, and on which basis (the company itself only)."""
        corp = validate_corporate_number(corporate_number)
        if who.kind is not PrincipalKind.COMPANY or who.name != corp:
            raise self._deny(who, corp, "access_log", corp, Basis(False, reason="only the company reads its access log"),
                             f"no access log of company {corp} is visible to you", "corporate_number")
        a = c.access_log
        with self.catalog.connect() as conn:
            rows = conn.execute(select(a).where(a.c.corporate_number == corp, a.c.seq > after).order_by(a.c.seq).limit(limit)).mappings().all()
        return [AccessRecord(corporate_number=r["corporate_number"], seq=r["seq"], access_id=r["access_id"], viewer=r["viewer"],
                             action=r["action"], subject=r["subject"], legal_basis=r["legal_basis"], outcome=r["outcome"],
                             reason=r["reason"], at=from_us(r["at_us"])) for r in rows]


def _disposition(r: Any) -> Disposition:
    return Disposition(
        disposition_id=r["disposition_id"], corporate_number=r["corporate_number"], agency_id=r["agency_id"], kind=r["kind"],
        period=r["period"], title=r["title"], based_on=c.loads(r["based_on"]), issued_at=from_us(r["issued_us"]),
        payload_digest=r["payload_digest"], company_seq=r["company_seq"], cursor=f"{r['partition']}:{r['offset']}",
        delivered_at=_dt(r["delivered_us"]), delivered_to=r["delivered_to"],
    )


def _grant(r: Any) -> Grant:
    return Grant(grant_id=r["grant_id"], corporate_number=r["corporate_number"], grantee=r["grantee"],
                 procedures=c.loads(r["procedures"]), actions=[Action(a) for a in c.loads(r["actions"])],
                 personal_numbers=r["personal_numbers"], expires_at=from_us(r["expires_us"]),
                 issued_at=from_us(r["issued_us"]), revoked_at=_dt(r["revoked_us"]))
