"""The service layer's reads: authorized, recorded in the access log, never leaking existence.

Every method takes the principal who reads. Each fetches through ``ledger.catalog.reads``, lets
``ledger.service.authz`` decide, records the read in ``kiroku.access`` through the ``AccessLog``
(who, when, what, on which basis) before the data is returned, and answers a denied read exactly
as a read of something that does not exist would — and records it too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from ledger.catalog import reads
from ledger.catalog.tables import Catalog
from ledger.domain import calendar
from ledger.domain.identifiers import validate_corporate_number
from ledger.domain.model import (
    AccessRecord,
    Action,
    Disposition,
    Enrollment,
    Grant,
    MissingFiling,
    Notice,
    PersonVersion,
    Principal,
    Receipt,
    Snapshot,
    SubmissionInfo,
    SubmissionKind,
    utcnow,
)
from ledger.domain.procedures import FILING_CODES, PROCEDURES, get_procedure, serves, validate_office
from ledger.encoding.codec import SchemaRegistry
from ledger.encoding.echo import redact
from ledger.encoding.snapshots import load_snapshot
from ledger.errors import Forbidden, NotFound, ValidationError
from ledger.ports import ObjectStore
from ledger.service import authz
from ledger.service.access import AccessLog
from ledger.service.authz import Basis
from ledger.service.missing import BONUS_NON_PAYMENT, accepted
from ledger.service.sealing import Sealer

#: A period filter's form: a year or a month, ASCII digits only.
PERIOD_BOUND = re.compile(r"[0-9]{4}(-(0[1-9]|1[0-2]))?")

#: (procedure, period, corporate number) → the deadline seal's reference, or None.
SealFor = Callable[[str, str, str], "str | None"]


def parse_cursor(cursor: str | None) -> dict[int, int]:
    """An inbox cursor: ``p:offset,p:offset`` — the last log position seen in each partition."""
    if not cursor:
        return {}
    bad = ValidationError("cursor must be what a previous call returned, e.g. 0:12,3:40", field="cursor",
                          expected="p:offset[,p:offset…]", got=cursor[:80], code="invalid_cursor")
    if len(cursor) > 4096:
        raise bad
    try:
        seen = {int(p): int(o) for p, o in (part.split(":") for part in cursor.split(","))}
    except ValueError:
        raise bad from None
    # Partitions and offsets are what a log stores (a 64-bit offset): anything else is not a cursor.
    if any(not (0 <= p < 2**31 and -1 <= o < 2**63) for p, o in seen.items()):
        raise bad
    return seen


def _period_bound(value: str | None, field: str) -> str | None:
    """A ``period_from``/``period_to`` filter: a year (2026) or a month (2026-04), as periods are."""
    if value is not None and not PERIOD_BOUND.fullmatch(value):
        raise ValidationError(f"{field} must be a year like 2026 or a month like 2026-04", field=field,
                              expected="YYYY or YYYY-MM", got=value[:40], code="invalid_period")
    return value


def partial_view(submission_id: str) -> Forbidden:
    return Forbidden("you may see only some lines of this submission; the recorded bytes hold them all — ask for json or csv",
                     field="submission_id", got=submission_id, code="partial_view")


class Queries:
    """Reads for every kind of principal."""

    def __init__(self, registry: SchemaRegistry, sealer: Sealer, catalog: Catalog, objects: ObjectStore, access: AccessLog,
                 seal_for: SealFor | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.registry, self.sealer, self.catalog, self.objects = registry, sealer, catalog, objects
        self.access, self.clock = access, clock
        self.seal_for: SealFor = seal_for or (lambda procedure, period, corp: None)

    # -- submissions -----------------------------------------------------------------------------

    def _visible(self, who: Principal, submission_id: str, action: str, *, whole: bool = False) -> tuple[dict, Basis]:
        with self.catalog.connect() as conn:
            row = reads.submission(conn, submission_id)
            basis = authz.may_read_submission(conn, who, row, self.clock()) if row else Basis(False, reason="no such submission")
        if whole and basis.allowed and basis.lines is not None:
            assert row is not None
            self.access.record(who, [(row["corporate_number"], action, submission_id, authz.whole(basis))])
            raise partial_view(submission_id)
        if row is None or not basis.allowed:
            raise self.access.deny(who, row["corporate_number"] if row else None, action, submission_id, basis,
                                   f"no submission {submission_id} is visible to you", "submission_id")
        return row, basis

    def receipt(self, who: Principal, submission_id: str) -> Receipt:
        """A submission's receipt again (e.g. after a timeout), for whoever may read it — or submit
        it: a receipt is the submitter's proof, not the payload."""
        with self.catalog.connect() as conn:
            row = reads.submission(conn, submission_id)
            basis = authz.may_have_receipt(conn, who, row, self.clock())
        if row is None or not basis.allowed:
            raise self.access.deny(who, row["corporate_number"] if row else None, "receipt", submission_id, basis,
                                   f"no submission {submission_id} is visible to you", "submission_id")
        self.access.record(who, [(row["corporate_number"], "receipt", submission_id, basis)])
        return reads.receipt_from_row(row)

    def snapshot(self, who: Principal, submission_id: str, *, whole: bool = False) -> Snapshot:
        """The submission as recorded, decoded, with only what the reader's basis allows. With
        ``whole`` the caller needs every line (the recorded bytes): a reader of some lines is
        refused (``partial_view``), and the refusal is what the access log records."""
        row, basis = self._visible(who, submission_id, "snapshot", whole=whole)
        self.access.record(who, [(row["corporate_number"], "snapshot", submission_id, basis)])
        return self._render(row, basis, who)

    def snapshot_file(self, who: Principal, submission_id: str) -> bytes:
        """The snapshot object (Avro container) of a submission, for a reader who may see all of it."""
        row, basis = self._visible(who, submission_id, "snapshot_file", whole=True)
        self.access.record(who, [(row["corporate_number"], "snapshot_file", submission_id, basis)])
        if row["kind"] == SubmissionKind.CANCELLATION.value or row["snapshot_key"] is None:
            raise NotFound(f"{submission_id} is a cancellation: it has no snapshot", field="submission_id",
                           got=submission_id, code="no_snapshot")
        return self.objects.get(row["snapshot_key"])

    def _render(self, row: dict, basis: Basis, who: Principal | None = None) -> Snapshot:
        info = self._infos(who, [row])[0]
        if row["kind"] == SubmissionKind.CANCELLATION.value:
            return Snapshot(info=info, payload=None, personal_numbers="none", legal_basis=basis.legal_basis)
        proc = PROCEDURES[row["procedure"]]
        record, raw, _ = load_snapshot(self.registry, self.objects, row["snapshot_key"], row["payload_digest"], proc.version)
        payload, status = self.sealer.unseal(proc, record, row["key_id"], row["submission_id"], basis.reveal, basis.lines)
        return Snapshot(info=info, payload=payload, visible_lines=basis.lines, personal_numbers=status,
                        legal_basis=basis.legal_basis, raw=raw if basis.lines is None else None)

    def effective(self, who: Principal, corporate_number: str, procedure: str, period: str, as_of: datetime | None = None,
                  *, whole: bool = False, office: str = "") -> Snapshot:
        """The version in force for (company, procedure, period, office) at ``as_of`` (default: now);
        ``office`` "" is the company's filing as a whole (``Procedure.office_fields``)."""
        corp = validate_corporate_number(corporate_number)
        get_procedure(procedure)
        calendar.validate_period(procedure, period)
        office = validate_office(office)
        at = as_of or self.clock()
        subject = f"{procedure} {period}{' office ' + office if office else ''} as of {at.isoformat()}"
        with self.catalog.connect() as conn:
            row = reads.in_force(conn, corp, procedure, period, office, at)
            basis = authz.may_read_submission(conn, who, row, self.clock()) if row else Basis(False, reason="nothing in force")
        if row is None or not basis.allowed or row["kind"] == SubmissionKind.CANCELLATION.value:
            self.access.record(who, [(corp, "effective", subject, basis)])
            raise NotFound(f"no {procedure} {period} of company {corp}{' office ' + office if office else ''} in force at "
                           f"{at.isoformat()} is visible to you", field="period", got=period)
        if whole and basis.lines is not None:
            self.access.record(who, [(corp, "effective", subject, authz.whole(basis))])
            raise partial_view(row["submission_id"])
        self.access.record(who, [(corp, "effective", subject, basis)])
        return self._render(row, basis, who)

    def history(self, who: Principal, submission_id: str) -> list[SubmissionInfo]:
        """The whole correction chain of the filing a submission belongs to, oldest first, as far
        as the reader may see it."""
        row, _ = self._visible(who, submission_id, "history")
        now = self.clock()
        with self.catalog.connect() as conn:
            chain = []
            for r in reads.filing_chain(conn, row["corporate_number"], row["procedure"], row["period"], row["office"]):
                b = authz.may_read_submission(conn, who, r, now)
                if b.allowed:  # a cancellation reaches the agencies its replaced submission reached
                    chain.append((r, b))
        self.access.record(who, [(row["corporate_number"], "history", submission_id, chain[-1][1] if chain else Basis(False))])
        return self._infos(who, [r for r, _ in chain])

    def person_history(self, who: Principal, submission_id: str, person: str) -> list[PersonVersion]:
        """One person's line through the correction chain of the filing ``submission_id`` belongs
        to, oldest first, as far as the reader may see it: each version with the person's line
        (and whether that version wrote it) or none where the person is not on it — or not the
        reader's (a municipality sees the versions on which the person is its resident)."""
        row, _ = self._visible(who, submission_id, "person_history")
        proc = PROCEDURES[row["procedure"]]
        if proc.person_key is None:
            raise ValidationError(f"{proc.code} has no person key: its lines are not one per person", field="person",
                                  expected="a procedure whose lines have a person key (受給者番号)", got=proc.code,
                                  code="no_person_key")
        key = proc.person_key
        if not isinstance(person, str) or not person.strip() or len(person) > 40:
            raise ValidationError(f"person must be the {key} of the line, 1 to 40 characters", field="person",
                                  expected=f"the line's {key}", got=f"{len(person) if isinstance(person, str) else 0} characters",
                                  code="invalid_person")
        now = self.clock()
        with self.catalog.connect() as conn:
            chain = [(r, b) for r in reads.filing_chain(conn, row["corporate_number"], row["procedure"], row["period"], row["office"])
                     if (b := authz.may_read_submission(conn, who, r, now)).allowed]
        # Each version read is recorded before anything of it is returned.
        self.access.record(who, [(row["corporate_number"], "person_history", f"{r['submission_id']} {key} {redact(person)}", b)
                                 for r, b in chain])
        out = []
        for r, basis in chain:
            info = self._infos(who, [r])[0]
            if r["kind"] == SubmissionKind.CANCELLATION.value:
                out.append(PersonVersion(info=info, personal_numbers="none"))
                continue
            shown = self._render(r, basis, who)
            assert shown.payload is not None
            line = next((ln for ln in shown.payload["lines"] if ln.get(key) == person), None)
            out.append(PersonVersion(info=info, line_action=None if line is None else line.get("line_action", "ORIGINAL"),
                                     line=line, personal_numbers=shown.personal_numbers))
        return out

    def filings(self, who: Principal, corporate_number: str | None = None, procedure: str | None = None,
                period_from: str | None = None, period_to: str | None = None, as_of: datetime | None = None,
                limit: int = 1000) -> list[SubmissionInfo]:
        """Filings in force at ``as_of`` that the reader may see, filtered by company, procedure
        and period range (inclusive), one entry per filing (company, procedure, period, office)."""
        if corporate_number is not None:
            corporate_number = validate_corporate_number(corporate_number)
        if procedure is not None:
            get_procedure(procedure)
        period_from, period_to = _period_bound(period_from, "period_from"), _period_bound(period_to, "period_to")
        at = as_of or self.clock()
        now = self.clock()
        out: list[tuple[dict, Basis]] = []
        with self.catalog.connect() as conn:
            scope = authz.filings_scope(conn, who, corporate_number, procedure, now)
            if scope.nothing:
                return []
            for r in reads.filings_in_force(conn, at, agency_id=scope.agency_id, corporate_numbers=scope.corporate_numbers,
                                            grantee=scope.grantee, now=now,
                                            procedures=scope.procedures if procedure is None else (procedure,),
                                            period_from=period_from, period_to=period_to):
                if r["kind"] == SubmissionKind.CANCELLATION.value:
                    continue
                b = authz.may_read_submission(conn, who, r, now)
                if b.allowed:
                    out.append((r, b))
                if len(out) >= limit:
                    break
        self.access.record(who, [(r["corporate_number"], "query", r["submission_id"], b) for r, b in out])
        return self._infos(who, [r for r, _ in out])

    # -- what an agency assigned to the company, next to what it reads ------------------------------

    def _infos(self, who: Principal | None, rows: list[dict]) -> list[SubmissionInfo]:
        """Catalog entries; for an agency reader, each with the identifier it assigned to the company."""
        infos = [reads.info_from_row(r) for r in rows]
        agency = authz.agency_of(who) if who is not None else None
        if agency is None or not infos:
            return infos
        with self.catalog.connect() as conn:
            ids = reads.assigned_ids(conn, agency, [i.corporate_number for i in infos])
        return [i.model_copy(update={"assigned_id": ids.get(i.corporate_number)}) for i in infos]

    def _dispositions(self, rows: list[dict]) -> list[Disposition]:
        """Dispositions, each with the identifier its issuing agency assigned to the company."""
        out = [reads.disposition_from_row(r) for r in rows]
        if not out:
            return out
        by_agency: dict[str, set[str]] = {}
        for d in out:
            by_agency.setdefault(d.agency_id, set()).add(d.corporate_number)
        with self.catalog.connect() as conn:
            ids = {a: reads.assigned_ids(conn, a, corps) for a, corps in by_agency.items()}
        return [d.model_copy(update={"assigned_id": ids[d.agency_id].get(d.corporate_number)}) for d in out]

    # -- notices ---------------------------------------------------------------------------------

    def notices(self, who: Principal, after: int = 0, limit: int = 100, *, field: str = "after") -> list[Notice]:
        """An agency's notice feed after sequence number ``after``: no gaps, no duplicates.

        ``after`` past the feed's last notice is refused (``field`` names where it came from): the
        reader is wrong about where it is, and the numbers it claims to have handled will be given
        to notices recorded later — answering "nothing new" would let it skip them."""
        agency = authz.require_agency(who, "has a notice feed")
        with self.catalog.connect() as conn:
            found = reads.notices_after(conn, agency, after, max(1, min(limit, 1000)))
            last = reads.last_notice_seq(conn, agency) if not found and after > 0 else after
            ids = reads.assigned_ids(conn, agency, [n.corporate_number for n in found]) if found else {}
        if after > last:
            raise ValidationError(f"{field} is past the end of this notice feed: its last notice is number {last}; "
                                  "resume after the last notice you handled", field=field,
                                  expected=f"a sequence number from 0 to {last}", got=after, code="after_past_end")
        return [n.model_copy(update={"assigned_id": ids.get(n.corporate_number)}) for n in found] if ids else found

    # -- dispositions ----------------------------------------------------------------------------

    def dispositions(self, who: Principal, corporate_number: str, after: int = 0) -> list[Disposition]:
        """A company's dispositions after its sequence number ``after``, for the company or an
        agent whose receive_notices grant covers their kind."""
        corp = validate_corporate_number(corporate_number)
        now = self.clock()
        with self.catalog.connect() as conn:
            rows = reads.dispositions_after(conn, corp, after)
            shown = [(r, b) for r in rows if (b := authz.may_read_disposition(conn, who, r, now)).allowed]
            basis = authz.may_act_for(conn, who, corp, None, Action.RECEIVE_NOTICES, now)
        # Recording a denial appends and projects, which needs a connection of its own: not while holding one.
        if not basis.allowed:
            raise self.access.deny(who, corp, "dispositions", corp, basis, f"no dispositions of company {corp} are visible to you",
                                   "corporate_number")
        self.access.record(who, [(corp, "dispositions", corp, shown[-1][1] if shown else basis)])
        return self._dispositions([r for r, _ in shown])

    def fetch_disposition(self, who: Principal, disposition_id: str) -> Disposition:
        """A disposition with its content; the first fetch by the company or its agent records arrival (到達)."""
        with self.catalog.connect() as conn:
            row = reads.disposition(conn, disposition_id)
            basis = authz.may_read_disposition(conn, who, row, self.clock())
        if row is None or not basis.allowed:
            raise self.access.deny(who, row["corporate_number"] if row else None, "disposition", disposition_id, basis,
                                   f"no disposition {disposition_id} is visible to you", "disposition_id")
        proc = PROCEDURES[row["kind"]]
        record, _, _ = load_snapshot(self.registry, self.objects, row["snapshot_key"], row["payload_digest"], proc.version)
        if proc.version >= 2:  # its persons are sealed: shown to the company and its agents, erased with the key
            record, _ = self.sealer.unseal(proc, record, row["key_id"], disposition_id, reveal=basis.reveal)
        self.access.record(who, [(row["corporate_number"], "disposition", disposition_id, basis)])
        if row["delivered_us"] is None and authz.is_arrival(who):
            self.access.arrival(who, disposition_id, row["corporate_number"], basis.grant_id)
            with self.catalog.connect() as conn:
                row = reads.disposition(conn, disposition_id) or row
        return self._dispositions([row])[0].model_copy(update={"payload": record})

    def inbox(self, who: Principal, cursor: str | None = None, limit: int = 500) -> tuple[list[Disposition], str]:
        """Dispositions for every company that granted ``who`` receive_notices (of their kinds),
        after ``cursor``; returns them and the cursor to pass next time (gap-free across all clients)."""
        seen = parse_cursor(cursor)
        with self.catalog.connect() as conn:
            now = self.clock()
            companies = authz.inbox_companies(conn, who, now)
            if not companies:
                return [], cursor or ""
            out: list[dict] = []
            while len(out) < limit:
                # In SQL by the grants' index, not a list of companies: a vendor may have very many clients.
                rows = (reads.dispositions_since(conn, seen, limit, grantee=who.id, now=now) if authz.is_agent(who)
                        else reads.dispositions_since(conn, seen, limit, corporate_number=who.name))
                for r in rows:  # the cursor passes what the grants do not cover: it was not for this reader
                    if len(out) >= limit:
                        break
                    seen[r["partition"]] = max(seen.get(r["partition"], -1), r["offset"])
                    kinds = companies.get(r["corporate_number"], [])  # a grant without receive_notices covers none
                    if kinds is None or r["kind"] in kinds:
                        out.append(r)
                if len(rows) < limit:
                    break  # the log holds no more: an empty page now means there is nothing new
        self.access.record(who, [(r["corporate_number"], "inbox", r["disposition_id"], Basis(True, legal_basis="receive_notices"))
                                 for r in out])
        return self._dispositions(out), ",".join(f"{p}:{o}" for p, o in sorted(seen.items()))

    # -- enrollments, grants, access log, deadlines -----------------------------------------------

    def enrollments(self, who: Principal, corporate_number: str) -> list[Enrollment]:
        """A company's enrollments, for the company or an agent holding a grant to submit or read;
        to anyone else, the same answer as for a company that does not exist (and recorded)."""
        corp = validate_corporate_number(corporate_number)
        with self.catalog.connect() as conn:
            basis = authz.may_read_any(conn, who, corp, (Action.SUBMIT, Action.READ), self.clock())
            found = reads.enrollments_of(conn, corp) if basis.allowed else []
        if not basis.allowed:
            raise self.access.deny(who, corp, "enrollments", corp, basis, f"no enrollments of company {corp} are visible to you",
                                   "corporate_number")
        self.access.record(who, [(corp, "enrollments", corp, basis)])
        return found

    def pending_enrollments(self, who: Principal) -> list[Enrollment]:
        """Enrollments addressed to an agency that it has not decided on yet."""
        agency = authz.require_agency(who, "decides on enrollments")
        kind = agency.split(":", 1)[0]
        codes = [p.code for p in PROCEDURES.values() if serves(p, kind) and not p.disposition]
        with self.catalog.connect() as conn:
            # Another agency's number for the company is that agency's business, not this one's.
            out = [x.model_copy(update={"assigned_ids": {}}) for x in reads.open_enrollments_for(conn, agency, codes)
                   if agency not in x.decisions]
        addressee = Basis(True, legal_basis="addressee of the enrollment")
        self.access.record(who, [(x.corporate_number, "pending_enrollment", x.enrollment_id, addressee) for x in out])
        return out

    def expected_filers(self, who: Principal, procedure: str, period: str) -> list[str]:
        """The companies an agency expects a filing of ``procedure`` for ``period`` from, by the rule
        missing-filing reports follow (:mod:`ledger.service.missing`): those whose enrollment it accepted
        before the period's deadline, one by one or — for its employers, whose filings of the procedure
        reached it before — by standing policy. Each company's enrollment is read as its addressee."""
        agency = authz.require_agency(who, "expects filings")
        proc = get_procedure(procedure)
        calendar.validate_period(proc.code, period)
        deadline = calendar.deadline(proc.code, period)
        with self.catalog.connect() as conn:
            found = {enr["corporate_number"]: enr["enrollment_id"]
                     for read in (reads.accepted_enrollments, reads.policy_accepted_enrollments)
                     for enr, _, since in read(conn, agency, proc.code) if deadline is None or since <= deadline}
        addressee = Basis(True, legal_basis="addressee of the enrollment")
        self.access.record(who, [(corp, "expected_filer", enrollment_id, addressee) for corp, enrollment_id in sorted(found.items())])
        return sorted(found)

    def missing_report(self, who: Principal, procedure: str | None = None, period: str | None = None) -> list[MissingFiling]:
        """An agency's report of enrolled companies that filed nothing by the deadline."""
        agency = authz.require_agency(who, "receives missing-filing reports")
        if procedure is not None:  # a misspelt filter is refused, not answered with an empty report
            get_procedure(procedure)
            if period is not None:
                calendar.validate_period(procedure, period)
        elif period is not None and not any(_is_period_of(code, period) for code in FILING_CODES):
            raise ValidationError(f"period {period!r} is no period of any procedure", field="period",
                                  expected="a year YYYY, a month YYYY-MM or a day YYYY-MM-DD", got=period, code="invalid_period")
        with self.catalog.connect() as conn:
            rows = reads.missing_for(conn, agency, procedure, period)
        reported = Basis(True, legal_basis="missing-filing report to the agency")
        self.access.record(who, [(r["corporate_number"], "missing_report", f"{r['procedure']} {r['period']}", reported) for r in rows])
        with self.catalog.connect() as conn:
            ids = reads.assigned_ids(conn, agency, [r["corporate_number"] for r in rows]) if rows else {}
        return [reads.missing_from_row(r, self.seal_for(r["procedure"], r["period"], r["corporate_number"]))
                .model_copy(update={"assigned_id": ids.get(r["corporate_number"])}) for r in rows]

    def reminders(self, who: Principal, corporate_number: str, within: timedelta = timedelta(days=30)) -> list[tuple[str, str, datetime]]:
        """(procedure, period, deadline) the company is enrolled for, due within ``within``, not yet
        filed — ``BONUS_NON_PAYMENT`` for a registered bonus month with no filing yet."""
        corp = validate_corporate_number(corporate_number)
        now = self.clock()
        with self.catalog.connect() as conn:
            basis = authz.may_act_for(conn, who, corp, None, Action.READ, now)
            out = []
            if basis.allowed:
                # Accepted one by one or by an agency's standing policy alike (issue 15, item 4); a
                # rejection is no acceptance.
                active = [e for e in reads.enrollments_of(conn, corp) if e.withdrawn_at is None
                          and accepted(e.decisions, reads.any_policy_accepts(conn, e.procedure, e.decisions))]
                for proc in sorted({e.procedure for e in active}):
                    for period, due in calendar.deadlines_between(proc, now, now + within):
                        if not reads.has_filed(conn, corp, proc, period):
                            out.append((proc, period, due))
                # A registered bonus month wants a 賞与支払届 of a bonus paid in it, or a 賞与不支給報告書.
                months = frozenset(m for e in active for m in e.bonus_months)
                for month, due in calendar.month_deadlines_between(BONUS_NON_PAYMENT, months, now, now + within):
                    if not reads.has_bonus_filing(conn, corp, month):
                        out.append((BONUS_NON_PAYMENT, month, due))
        if not basis.allowed:
            raise self.access.deny(who, corp, "reminders", corp, basis, f"no company {corp} visible to you", "corporate_number")
        self.access.record(who, [(corp, "reminders", corp, basis)])
        return out

    def grants(self, who: Principal) -> list[Grant]:
        """Grants a company gave, or grants a firm, vendor or bank holds."""
        side, whose = authz.grants_of(who)
        with self.catalog.connect() as conn:
            found = reads.grants_given(conn, whose) if side == "given" else reads.grants_held(conn, whose)
        own = Basis(True, legal_basis="own grants" if side == "given" else "grantee")
        self.access.record(who, [(corp, "grants", whose, own) for corp in sorted({g.corporate_number for g in found})])
        return found

    def access_log(self, who: Principal, corporate_number: str, after: int = 0, limit: int = 1000) -> list[AccessRecord]:
        """Who read the company's data, when, what, and on which basis (the company itself only)."""
        corp = validate_corporate_number(corporate_number)
        basis = authz.may_read_access_log(who, corp)
        if not basis.allowed:
            raise self.access.deny(who, corp, "access_log", corp, basis, f"no access log of company {corp} is visible to you",
                                   "corporate_number")
        self.access.flush()  # the summaries of denial windows that are over, before the company looks
        with self.catalog.connect() as conn:
            return reads.access_records(conn, corp, after, limit)


__all__ = ["Queries", "parse_cursor", "partial_view"]


def _is_period_of(procedure: str, period: str) -> bool:
    try:
        calendar.validate_period(procedure, period)
    except ValidationError:
        return False
    return True
