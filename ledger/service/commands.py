"""The service layer's commands: the one place where the rules of recording live.

Every command validates, authorizes, decides, and appends events to the log; nothing else writes.
The catalog is derived from the log by the processors (run inline right after each append in the
embedded deployment), so after a command returns, its effects are visible to queries.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from ledger.catalog import reads
from ledger.catalog.batch_view import BatchView, Head
from ledger.catalog.reads import Connection
from ledger.catalog.tables import Catalog
from ledger.domain import calendar
from ledger.domain.assigned import shown_assigned, validate_assigned
from ledger.domain.enrollment_rules import enrolled_as, validate_bonus_months
from ledger.domain.identifiers import validate_corporate_number
from ledger.domain.model import (
    Action,
    Disposition,
    Enrollment,
    Grant,
    Principal,
    Receipt,
    SubmissionKind,
    SubmissionRequest,
    new_id,
    utcnow,
)
from ledger.domain.person_changes import Change, check_actions, compose, is_person_level
from ledger.domain.procedures import (
    PROCEDURES,
    Procedure,
    agency_kind,
    get_procedure,
    serves,
    validate_agency_id,
    validate_filing_period,
    validate_payload,
)
from ledger.encoding.codec import SchemaRegistry
from ledger.encoding.echo import redact, shown
from ledger.encoding.events import (
    DISPOSITION_ISSUED,
    ENROLLMENT_ACCEPTED,
    ENROLLMENT_POLICY_SET,
    ENROLLMENT_REJECTED,
    ENROLLMENT_REQUESTED,
    ENROLLMENT_WITHDRAWN,
    FILING_MISSING,
    GRANT_ISSUED,
    GRANT_REVOKED,
    SUBMISSION_RECORDED,
    Event,
    EventCodec,
    receipt_from_event,
)
from ledger.errors import Conflict, Forbidden, KirokuError, NotFound, ValidationError
from ledger.ports import FILINGS, Log, Position
from ledger.service import authz
from ledger.service.access import AccessLog
from ledger.service.authz import Basis
from ledger.service.grant_terms import check_grant_terms
from ledger.service.idempotency import Fingerprint, Fingerprints, key_conflict, same_request
from ledger.service.missing import missing_filings
from ledger.service.overlay import Appended, RecentAppends
from ledger.service.person_corrections import notified, version_in_force
from ledger.service.routing import route
from ledger.service.sealing import Sealer, key_scope

Clock = Callable[[], datetime]


def _for_office(office: str) -> str:
    """' of office 001' in a message about a filing of one office, "" for the company's filing as a whole."""
    return f" of office {office}" if office else ""


class Commands:
    """Commands of every flow: enrollment, recording, grants, dispositions, deadline reports."""

    def __init__(
        self, log: Log, codec: EventCodec, registry: SchemaRegistry, sealer: Sealer, catalog: Catalog,
        access: AccessLog, after_append: Callable[[], object] | None = None, clock: Clock = utcnow,
    ) -> None:
        self.log = log
        self.codec = codec
        self.registry = registry
        self.sealer = sealer
        self.catalog = catalog
        self.access = access
        self.after_append = after_append or (lambda: None)
        self.clock = clock
        # One writer decides at a time: decisions read the catalog, then append (embedded deployment).
        self._decide = threading.RLock()
        # What this writer appended that the catalog may not show yet (processing out of line).
        self.recent = RecentAppends()
        # Keyed request fingerprints, under the data keys of the submissions' own scopes.
        self.fingerprints = Fingerprints(sealer.keys)

    # -- plumbing ---------------------------------------------------------------------------------

    def _append(self, events: list[Event]) -> list[Position]:
        now = self.clock()
        for e in events:
            if e.time is None:
                e.time = now
        positions = self.log.append(FILINGS, [self.codec.record(e) for e in events])
        self.after_append()
        return positions

    def _require_company(self, who: Principal, corporate_number: str, procedure: str | None, action: Action,
                         subject: str | None = None) -> str | None:
        """Authorize an action for a company; returns the grant id used, if any. A refusal is
        recorded in the company's access log."""
        with self.catalog.connect() as conn:
            basis = authz.may_act_for(conn, who, corporate_number, procedure, action, self.clock())
        if not basis.allowed:
            self.access.record(who, [(corporate_number, action.value, subject or procedure or corporate_number, basis)])
            raise Forbidden(
                f"{who} may not {action.value} for company {corporate_number}"
                + (f" ({procedure})" if procedure else "") + f": {basis.reason}",
                field="corporate_number", got=corporate_number, code="forbidden",
            )
        return basis.grant_id

    # -- enrollment (クラウド提出の申出) ---------------------------------------------------------------

    def request_enrollment(self, who: Principal, corporate_number: str, procedure: str, agency_id: str | None = None,
                           bonus_months: Iterable[int] | None = None) -> Enrollment:
        """Declare that ``procedure`` will be filed through Kiroku (to ``agency_id``, or to every
        municipality its lines name, for line-routed procedures). A ``BONUS_PAYMENT`` enrollment
        may register the 賞与支払予定月 (``bonus_months``, 1-12): in each such month a 賞与支払届 or a
        賞与不支給報告書 is then expected. Idempotent: an active enrollment for the same target (and
        bonus months) is returned as it is."""
        corporate_number = validate_corporate_number(corporate_number)
        proc = get_procedure(procedure)
        if enrolled_as(proc.code) != proc.code:
            # One enrollment for the pair: a 賞与不支給報告書 reaches the office its 賞与支払届 is enrolled with.
            raise ValidationError(f"{procedure} is filed under the {enrolled_as(proc.code)} enrollment; enroll that "
                                  "(with its bonus months)", field="procedure", expected=enrolled_as(proc.code), got=procedure,
                                  code="enrolled_with_another")
        months = validate_bonus_months(proc.code, bonus_months)
        if proc.line_routed:
            if agency_id is not None:
                raise ValidationError(
                    f"{procedure} is routed line by line to each employee's municipality; enroll it once, without an agency",
                    field="agency_id", expected="no agency", got=agency_id, code="line_routed",
                )
        else:
            if agency_id is None:
                raise ValidationError(
                    f"{procedure} is filed to one {proc.agency_kind}; name it (e.g. {proc.agency_kind}:01101)",
                    field="agency_id", expected=f"a {proc.agency_kind} id", got=None, code="required",
                )
            validate_agency_id(agency_id)
            if not serves(proc, agency_kind(agency_id)):
                kinds = " or ".join((proc.agency_kind, *proc.also_kinds))
                raise ValidationError(
                    f"{procedure} goes to a {kinds}, not to {agency_id}",
                    field="agency_id", expected=" or ".join(f"{k}:<code>" for k in (proc.agency_kind, *proc.also_kinds)), got=agency_id,
                    code="wrong_agency",
                )
        with self._decide:
            grant_id = self._require_company(who, corporate_number, procedure, Action.SUBMIT)
            with self.catalog.connect() as conn:
                existing_enrollments = reads.enrollments_of(conn, corporate_number, procedure)
            for existing in existing_enrollments:
                if existing.agency_id == agency_id and existing.withdrawn_at is None:
                    if existing.bonus_months != months:
                        # Registered months are what the pension office expects filings for: changing
                        # them silently would make a missing-filing report wrong. Withdraw, enroll again.
                        raise Conflict(f"{procedure} is already enrolled ({existing.enrollment_id}) with bonus months "
                                       f"{existing.bonus_months or 'none'}; withdraw it and enroll again to change them",
                                       field="bonus_months", expected=str(existing.bonus_months), got=months,
                                       code="enrolled_otherwise")
                    return existing
            enrollment_id = new_id("enr")
            ev = Event(ENROLLMENT_REQUESTED, {"enrollment_id": enrollment_id, "procedure": procedure, "agency_id": agency_id,
                                              "bonus_months": months},
                       actor=who.id, corporate_number=corporate_number, grant_id=grant_id)
            self._append([ev])
        assert ev.time is not None  # _append gives every event its time
        # Answered from the event itself, so it holds even where the catalog catches up later.
        return Enrollment(enrollment_id=enrollment_id, corporate_number=corporate_number, procedure=procedure,
                          agency_id=agency_id, requested_at=ev.time, bonus_months=months)

    def _enrollment(self, enrollment_id: str) -> Enrollment | None:
        with self.catalog.connect() as conn:
            return reads.enrollment(conn, enrollment_id)

    def _enrollment_for_agency(self, who: Principal, enrollment_id: str) -> Enrollment:
        enr = self._enrollment(enrollment_id)
        basis = authz.may_decide_enrollment(who, enr) if enr is not None else authz.NO_SUCH
        if enr is None or not basis.allowed or enr.withdrawn_at is not None:
            if enr is not None and not basis.allowed:
                self.access.record(who, [(enr.corporate_number, "decide", enrollment_id, basis)])
            raise NotFound(f"no enrollment {enrollment_id} awaits a decision from {who.name}", field="enrollment_id", got=enrollment_id)
        return enr

    def accept_enrollment(self, who: Principal, enrollment_id: str, assigned_id: str | None = None,
                          office_number: str | None = None) -> Enrollment:
        """An agency accepts an enrollment, giving (optionally) the identifier it assigned to the
        company: a municipality's 指定番号, a pension office's 事業所整理記号 and 事業所番号, a tax
        office's 整理番号 (``ledger.domain.assigned``)."""
        given = validate_assigned(who.name, assigned_id, office_number)
        with self._decide:
            enr = self._enrollment_for_agency(who, enrollment_id)
            self._append([Event(ENROLLMENT_ACCEPTED, {"enrollment_id": enrollment_id, "agency_id": who.name, "by_policy": False,
                                                      "assigned_id": given.assigned_id, "office_number": given.office_number},
                                actor=who.id, corporate_number=enr.corporate_number)])
        assigned = dict(enr.assigned_ids)
        shown = shown_assigned(given.assigned_id, given.office_number)
        if shown is not None:
            assigned[who.name] = shown
        else:
            assigned.pop(who.name, None)
        return enr.model_copy(update={"decisions": {**enr.decisions, who.name: "accepted"}, "assigned_ids": assigned})

    def reject_enrollment(self, who: Principal, enrollment_id: str, reason: str) -> Enrollment:
        if not reason or not reason.strip():
            raise ValidationError("say why the enrollment is rejected", field="reason", expected="a reason", got=reason, code="required")
        with self._decide:
            enr = self._enrollment_for_agency(who, enrollment_id)
            self._append([Event(ENROLLMENT_REJECTED, {"enrollment_id": enrollment_id, "agency_id": who.name, "reason": reason.strip()},
                                actor=who.id, corporate_number=enr.corporate_number)])
        assigned = {a: v for a, v in enr.assigned_ids.items() if a != who.name}  # a rejection withdraws what it gave
        return enr.model_copy(update={"decisions": {**enr.decisions, who.name: "rejected"}, "assigned_ids": assigned})

    def withdraw_enrollment(self, who: Principal, enrollment_id: str, reason: str | None = None) -> Enrollment:
        with self._decide:
            enr = self._enrollment(enrollment_id)
            try:
                if enr is None:
                    raise NotFound(f"no enrollment {enrollment_id}", field="enrollment_id", got=enrollment_id)
                grant_id = self._require_company(who, enr.corporate_number, enr.procedure, Action.SUBMIT, subject=enrollment_id)
            except (NotFound, Forbidden):
                raise NotFound(f"no enrollment {enrollment_id} of yours", field="enrollment_id", got=enrollment_id) from None
            if enr.withdrawn_at is not None:
                return enr
            ev = Event(ENROLLMENT_WITHDRAWN, {"enrollment_id": enrollment_id, "reason": reason},
                       actor=who.id, corporate_number=enr.corporate_number, grant_id=grant_id)
            self._append([ev])
        return enr.model_copy(update={"withdrawn_at": ev.time})

    def set_policy(self, who: Principal, procedure: str, accept_all: bool) -> None:
        """A municipality's standing policy: accept every enrollment for a line-routed procedure."""
        proc = get_procedure(procedure)
        authz.require_policy_setter(who, proc)
        with self._decide:
            self._append([Event(ENROLLMENT_POLICY_SET, {"agency_id": who.name, "procedure": procedure, "accept_all": accept_all},
                                actor=who.id)])

    # -- recording (提出データの記録) -------------------------------------------------------------------

    def record(self, who: Principal, req: SubmissionRequest) -> Receipt:
        """Validate, authorize, seal and durably record one submission; return its receipt."""
        result = next(iter(self.record_many(who, [req])))
        if isinstance(result, KirokuError):
            raise result
        return result

    def record_many(self, who: Principal, requests: Iterable[SubmissionRequest], batch_size: int = 500) -> Iterator[Receipt | KirokuError]:
        """Record a stream of submissions in durable batches, yielding a receipt or an error for
        each, in order. Memory stays bounded by ``batch_size``; a rejected item leaves no trace."""
        batch: list[SubmissionRequest] = []
        for req in requests:
            batch.append(req)
            if len(batch) >= batch_size:
                yield from self._record_batch(who, batch)
                batch = []
        if batch:
            yield from self._record_batch(who, batch)

    def _record_batch(self, who: Principal, batch: list[SubmissionRequest]) -> list[Receipt | KirokuError]:
        with self._decide:
            # Derive whatever the log holds beyond the catalog first (inline deployments): an
            # append whose acknowledgement was lost to a timeout is then found by its idempotency
            # key, and the caller's retry gets the original receipt instead of a second record.
            self.after_append()
            now = self.clock()
            results: list[Receipt | KirokuError | Event | tuple] = []
            events: list[Event] = []
            denials: list[tuple[str | None, str, str, Basis]] = []
            with self.catalog.connect() as conn:
                self.recent.prune(conn)
                view = BatchView(conn, who, batch, now)
                for mine in self.recent.heads_of({r.corporate_number for r in batch}):
                    # This writer's own latest appends the catalog does not show yet.
                    view.heads[mine.filing] = Head(mine.event.body["submission_id"], mine.event.body["kind"])
                for req in batch:
                    try:
                        outcome = self._decide_submission(conn, view, who, req, now)
                    except KirokuError as err:
                        if isinstance(err, Forbidden) and err.field == "corporate_number":
                            # A refused attempt to act for a company is recorded where the company sees it.
                            denials.append((str(err.got), "submit", f"{req.procedure} {req.period}", Basis(False, reason=err.message)))
                        results.append(err)
                        continue
                    if isinstance(outcome, Event):
                        events.append(outcome)
                    results.append(outcome)
            self.access.record(who, denials)
            where: dict[int, Position] = {}
            if events:
                # The keys that seal the batch and those its fingerprints were derived from (the same
                # scope's, but a cancellation seals nothing) are made durable before the append.
                self.sealer.persist({e.body["key_id"] for e in events if e.body.get("key_id")}
                                    | {view.fingerprint_keys[id(e)] for e in events if id(e) in view.fingerprint_keys})
                where = {id(e): p for e, p in zip(events, self._append(events))}
                self.recent.add([Appended(e, where[id(e)]) for e in events])
            out: list[Receipt | KirokuError] = []
            for item in results:
                if isinstance(item, Event):
                    out.append(receipt_from_event(item, where[id(item)]))
                elif isinstance(item, tuple):  # a repeat within this batch: same receipt as the first
                    out.append(receipt_from_event(item[1], where[id(item[1])]))
                else:
                    out.append(item)
            return out

    def _decide_submission(self, conn: Connection, view: BatchView, who: Principal, req: SubmissionRequest, now: datetime) -> Any:
        corp = validate_corporate_number(req.corporate_number)
        proc = get_procedure(req.procedure)
        period = validate_filing_period(proc, req.period, now)
        # Authorize before anything is looked up: a caller without rights learns nothing, not even
        # whether an idempotency key was used.
        basis = authz.decide_act(who, corp, proc.code, Action.SUBMIT, view.grants.get(corp, []))
        if not basis.allowed:
            raise Forbidden(f"{who} may not submit {proc.code} for company {corp}: {basis.reason}",
                            field="corporate_number", got=corp, code="forbidden")
        scope = key_scope(corp, proc.code, period)
        # Idempotency first: a retry of a recorded request gets the original receipt back, even if
        # the rules have tightened since it was accepted. A key used for another request is refused
        # only after the body is validated: an invalid body is told what is wrong with it.
        fingerprint: Fingerprint | None = None
        reused = False
        if req.idempotency_key is not None:
            key = req.idempotency_key
            if not key.strip() or len(key) > 200:
                raise ValidationError("idempotency_key must be 1 to 200 characters", field="idempotency_key",
                                      expected="1 to 200 characters", got=redact(str(shown(key, "idempotency_key"))),
                                      code="invalid_idempotency_key")
            if self._key_used(view, who, key):
                # Only then is the fingerprint needed this early (a new key's is made once the
                # request is accepted, so a refused one leaves no data key behind).
                fingerprint = self.fingerprints.of(req, scope)
                repeat = self._repeat(view, who, corp, req, fingerprint)
                if repeat is not None:
                    return repeat
                reused = True
        # Then the body on its own (no lookups): its errors win over any conflict with what is recorded.
        payload: dict[str, Any] | None = None
        if req.kind is SubmissionKind.ORIGINAL:
            if req.replaces is not None:
                raise ValidationError("an original replaces nothing; send a correction to replace a submission",
                                      field="replaces", expected="null for an original", got=req.replaces, code="unexpected_replaces")
        elif not req.replaces and req.kind is SubmissionKind.CANCELLATION:
            raise self._replaces_required(req)
        if req.kind is SubmissionKind.CANCELLATION:
            if req.payload is not None:
                raise ValidationError("a cancellation carries no payload", field="payload", expected="null", got="a payload",
                                      code="unexpected_payload")
        else:
            payload = validate_payload(proc, req.payload, period)
            check_actions(proc, payload, req.kind is SubmissionKind.CORRECTION)
            # A person-level correction may leave ``replaces`` out: it corrects the filing in force, as
            # eLTAX's 訂正・追加・取消 do (a whole restatement names what it replaces).
            if req.kind is SubmissionKind.CORRECTION and not req.replaces and not is_person_level(payload):
                raise self._replaces_required(req)
        if reused:
            assert req.idempotency_key is not None
            raise key_conflict(req.idempotency_key)
        # Then what is recorded: the filing's state. A filing is (company, procedure, period, office): a
        # company with several 給与支払事務所 or 適用事業所 files once for each (E13); a cancellation is of
        # the replaced submission's office.
        office = proc.office_of(payload) if payload is not None else self._office_of(conn, req.replaces)
        filing = (corp, proc.code, period, office)
        head = view.heads.get(filing)
        replaces = req.replaces
        submission_id = new_id("sub")
        targets: list[dict[str, Any]]
        unreached: list[str] = []
        if req.kind is SubmissionKind.ORIGINAL:
            if head is not None and head.kind != SubmissionKind.CANCELLATION.value:
                raise Conflict(f"{proc.code} {period}{_for_office(office)} is already filed as {head.submission_id}; "
                               "send a correction replacing it",
                               field="kind", expected="CORRECTION replacing " + head.submission_id, got="ORIGINAL", code="already_filed")
        else:
            if not req.replaces:  # a person-level correction of the filing in force
                if head is None or head.kind == SubmissionKind.CANCELLATION.value:
                    raise NotFound(f"no {proc.code} {period} of company {corp}{_for_office(office)} is in force to correct "
                                   "person by person: file an original", field="replaces", expected=f"a {proc.code} {period} in force",
                                   got="none", code="nothing_to_correct")
                replaces = head.submission_id
            self._check_replaces(conn, req.model_copy(update={"replaces": replaces}), corp, proc, period, office, head)
        changes: list[Change] | None = None
        if payload is not None and is_person_level(payload):  # 訂正・追加・取消 per person
            assert replaces is not None
            previous = version_in_force(self.log, self.codec, self.registry, self.sealer, self.recent, conn, proc, replaces)
            payload, changes = compose(proc, previous, payload)
        informed: list[dict[str, Any]] = []
        if payload is None:  # a cancellation
            payload_bytes, key_id, line_count = b"", None, 0
            targets = [{"agency_id": a, "lines": lines} for a, lines in self._targets_of(conn, replaces)]
        else:
            # A 賞与不支給報告書 reaches the pension office the 賞与支払届 is enrolled with (ENROLLED_AS).
            via = PROCEDURES[enrolled_as(proc.code)]
            targets, unreached = route(view, corp, via, payload, period)
            if changes is not None:  # every agency reached may read it; those whose persons changed are told
                targets, informed = notified(via, payload, targets, changes)
            if not via.line_routed:
                # The receipt names the agencies enrolled with that have not accepted (yet): the
                # filing is recorded, and did not reach them (``Receipt.reached_no_agency``).
                unreached = view.not_accepting(corp, via.code)
            stored, key_id = self.sealer.seal(proc, payload, scope, submission_id)
            payload_bytes = self.registry.encode(proc.schema, stored, version=proc.version)
            line_count = len(payload["lines"])
        if req.idempotency_key is not None and fingerprint is None:
            fingerprint = self.fingerprints.of(req, scope)
        due = calendar.deadline(proc.code, period)
        body = {
            "submission_id": submission_id, "kind": req.kind.value, "procedure": proc.code, "period": period,
            "office": office, "replaces": replaces, "idempotency_key": req.idempotency_key,
            "request_fingerprint": fingerprint.value if fingerprint is not None else "",
            "payload": payload_bytes, "payload_digest": hashlib.sha256(payload_bytes).hexdigest(), "key_id": key_id,
            "line_count": line_count, "deadline": due, "on_time": None if due is None else now < due,
            "targets": targets, "unreached": unreached, "informed": informed,
        }
        ev = Event(SUBMISSION_RECORDED, body, actor=who.id, corporate_number=corp, grant_id=basis.grant_id, time=now)
        view.heads[filing] = Head(submission_id, req.kind.value)
        if req.idempotency_key is not None and fingerprint is not None:
            view.pending_keys[req.idempotency_key] = (corp, fingerprint.value, ev)
            view.fingerprint_keys[id(ev)] = fingerprint.key_id
        return ev

    def _repeat(self, view: BatchView, who: Principal, corp: str, req: SubmissionRequest, fingerprint: Fingerprint) -> Any:
        """The outcome of a request already recorded under its idempotency key by this principal —
        the receipt (or, within this batch, the pending event) — or None."""
        key = req.idempotency_key
        assert key is not None
        pending = view.pending_keys.get(key)
        if pending is not None:
            if pending[0] == corp and pending[1] == fingerprint.value:
                return ("repeat", pending[2])
            return None
        mine = self.recent.by_key(who.id, key)
        if mine is not None:  # appended by this writer, perhaps not projected yet
            if mine.event.corporate_number == corp and same_request(mine.event.body["request_fingerprint"], fingerprint.value, req):
                return receipt_from_event(mine.event, mine.position)
            return None
        for row in view.keys.get(key, ()):
            # Entries recorded while keys were scoped per company may hold one key for several companies.
            if row["corporate_number"] == corp and same_request(row["request_fingerprint"], fingerprint.value, req):
                return reads.receipt_from_row(row)
        return None

    def _key_used(self, view: BatchView, who: Principal, key: str) -> bool:
        """Whether this principal already used ``key`` (in this batch, in this writer's recent
        appends, or in the catalog)."""
        return key in view.pending_keys or self.recent.by_key(who.id, key) is not None or bool(view.keys.get(key))

    @staticmethod
    def _replaces_required(req: SubmissionRequest) -> ValidationError:
        return ValidationError(f"a {req.kind.value.lower()} must name the submission it replaces (only a correction person by "
                               "person, every line with line_action, may leave it out)", field="replaces",
                               expected="a submission id", got=req.replaces, code="required")

    def _filing_of(self, conn: Connection, submission_id: str) -> tuple[str, str, str, str] | None:
        """(company, procedure, period, office) of a submission: a catalog row, or this writer's own append."""
        row = reads.submission_filing(conn, submission_id)
        mine = self.recent.submission(submission_id) if row is None else None
        return mine.filing if mine is not None else row

    def _office_of(self, conn: Connection, submission_id: str | None) -> str:
        """The office of the submission a cancellation replaces ("" when there is none: refused later). A
        submission is named by the id its receipt gave, so it was appended before this batch: it is in the
        catalog or this writer's recent appends."""
        row = self._filing_of(conn, submission_id) if submission_id else None
        return "" if row is None else row[3]

    def _check_replaces(self, conn: Connection, req: SubmissionRequest, corp: str, proc: Procedure, period: str, office: str,
                        head: Head | None) -> None:
        what = req.kind.value.lower()
        assert req.replaces  # a body without it was refused before any lookup
        row = self._filing_of(conn, req.replaces)
        pending_same = head is not None and head.submission_id == req.replaces
        if (row is None or row[0] != corp) and not pending_same:
            # Another company's submission is indistinguishable from a missing one.
            raise NotFound(f"no submission {req.replaces} of company {corp} to replace", field="replaces", got=req.replaces)
        if row is not None and (row[1], row[2]) != (proc.code, period):
            raise ValidationError(
                f"a {what} stays within its filing: {req.replaces} is {row[1]} {row[2]}, not {proc.code} {period}",
                field="replaces", expected=f"a submission of {proc.code} {period}", got=f"{row[1]} {row[2]}", code="other_filing",
            )
        if row is not None and row[3] != office:
            # The office is the filing's (E13): a correction naming another 事業所 is another office's filing.
            named = "/".join(f"{proc.header_name}.{f}" for f in proc.office_fields) or "office"
            raise ValidationError(
                f"a {what} stays within its filing: {req.replaces} is the filing of office "
                f"{row[3] or '(the company as a whole)'}, this payload's {named} says {office or '(none)'}",
                field=f"{proc.header_name}.{proc.office_fields[0]}" if proc.office_fields else "replaces",
                expected=f"the office of {req.replaces}: {row[3] or '(blank)'}", got=office or "(blank)", code="other_office")
        if head is None or head.submission_id != req.replaces:
            raise Conflict(f"{req.replaces} was already replaced by {head.submission_id if head else '?'}; "
                           f"send the {what} against {head.submission_id if head else 'the latest submission'}",
                           field="replaces", expected=head.submission_id if head else None, got=req.replaces, code="stale_replaces")
        if head.kind == SubmissionKind.CANCELLATION.value:
            raise Conflict(f"{req.replaces} is a cancellation; file a new original instead", field="replaces", got=req.replaces,
                           code="cancelled")

    def _targets_of(self, conn: Connection, submission_id: str | None) -> list[tuple[str, list[int]]]:
        mine = self.recent.submission(submission_id) if submission_id else None
        if mine is not None:  # appended by this writer, perhaps not projected yet: the event says
            return sorted((t["agency_id"], list(t["lines"])) for t in mine.event.body["targets"])
        return reads.targets_of(conn, submission_id) if submission_id else []

    # -- grants (共有・委任) ---------------------------------------------------------------------------

    def issue_grant(self, who: Principal, grantee: str, procedures: list[str], actions: list[str],
                    expires_at: datetime, personal_numbers: bool = False) -> Grant:
        """A company grants a firm, vendor or bank scoped rights until ``expires_at``."""
        company = authz.require_grantor(who)
        target = check_grant_terms(grantee, procedures, actions, expires_at, personal_numbers, self.clock())
        grant_id = new_id("grt")
        body: dict[str, Any] = {"grant_id": grant_id, "grantee": target.id, "procedures": sorted(set(procedures)),
                "actions": sorted(set(actions)), "personal_numbers": personal_numbers, "expires_at": expires_at}
        ev = Event(GRANT_ISSUED, body, actor=who.id, corporate_number=company)
        self._append([ev])
        assert ev.time is not None  # _append gives every event its time
        return Grant(grant_id=grant_id, corporate_number=company, grantee=target.id, procedures=body["procedures"],
                     actions=[Action(a) for a in body["actions"]], personal_numbers=personal_numbers,
                     expires_at=expires_at, issued_at=ev.time)

    def revoke_grant(self, who: Principal, grant_id: str, reason: str | None = None) -> Grant:
        with self.catalog.connect() as conn:
            grant = reads.grant(conn, grant_id)
        basis = authz.may_revoke(who, grant) if grant is not None else authz.NO_SUCH
        if grant is None or not basis.allowed:
            if grant is not None:
                self.access.record(who, [(grant.corporate_number, "revoke", grant_id, basis)])
            raise NotFound(f"no grant {grant_id} of yours", field="grant_id", got=grant_id)
        if grant.revoked_at is None:
            ev = Event(GRANT_REVOKED, {"grant_id": grant_id, "reason": reason}, actor=who.id, corporate_number=grant.corporate_number)
            self._append([ev])
            grant = grant.model_copy(update={"revoked_at": ev.time})
        return grant

    # -- dispositions (処分通知) ---------------------------------------------------------------------

    def issue_disposition(self, who: Principal, corporate_number: str, kind: str, period: str, payload: dict,
                          based_on: list[str] | None = None, title: str | None = None) -> Disposition:
        """An agency sends a decision to a company through the ledger, in its own name."""
        corp = validate_corporate_number(corporate_number)
        proc = get_procedure(kind, disposition=True, field_name="kind")
        basis = authz.may_issue_disposition(who, proc, None)
        if not basis.allowed:
            self.access.record(who, [(corp, "issue", kind, basis)])
            raise Forbidden(f"a {proc.name_ja} is issued by a {proc.agency_kind}", field="principal", got=who.id, code="forbidden")
        period = validate_filing_period(proc, period, self.clock())
        normalized = validate_payload(proc, payload, period)
        based_on = list(based_on or [])
        unknown: tuple[int, str] | None = None
        with self.catalog.connect() as conn:
            for i, sid in enumerate(based_on):
                if reads.filed_to(conn, sid, who.name) != corp:
                    unknown = (i, sid)
                    break
            related = reads.has_filed_to(conn, corp, who.name)
            accepted, _, _ = reads.routing_state(conn, corp, None)
        if unknown is not None:
            self.access.record(who, [(corp, "issue", unknown[1], Basis(False, reason="not filed to this agency"))])
            raise NotFound(f"no submission {unknown[1]} of company {corp} was filed to you", field=f"based_on[{unknown[0]}]",
                           got=unknown[1])
        if not related and who.name not in accepted:
            self.access.record(who, [(corp, "issue", kind, Basis(False, reason="no filing or accepted enrollment with this agency"))])
            raise NotFound(f"company {corp} has filed nothing to {who.name} and has no accepted enrollment with it",
                           field="corporate_number", got=corp)
        basis = authz.may_issue_disposition(who, proc, normalized)
        if not basis.allowed:
            self.access.record(who, [(corp, "issue", kind, basis)])
            own = who.name.split(":", 1)[1]
            raise Forbidden(f"a municipality issues a {proc.name_ja} only in its own name: municipality_code must be {own}, "
                            f"not {normalized.get('municipality_code')}", field="municipality_code", expected=own,
                            got=normalized.get("municipality_code"), code="not_your_municipality")
        disposition_id = new_id("dsp")
        # From the v2 forms on, a disposition's persons are sealed as a filing's are, under the scope's
        # data key: shredding at the end of retention erases them too.
        stored, key_id = self.sealer.seal(proc, normalized, key_scope(corp, proc.code, period), disposition_id)
        payload_bytes = self.registry.encode(proc.schema, stored, version=proc.version)
        if key_id is not None:
            self.sealer.persist({key_id})
        self._append([Event(DISPOSITION_ISSUED, {
            "disposition_id": disposition_id, "kind": kind, "agency_id": who.name, "period": period,
            "title": title or f"{proc.name_ja} {period}", "based_on": based_on, "payload": payload_bytes,
            "payload_digest": hashlib.sha256(payload_bytes).hexdigest(), "key_id": key_id,
        }, actor=who.id, corporate_number=corp)])
        with self.catalog.connect() as conn:
            row = reads.disposition(conn, disposition_id)
            assigned = reads.assigned_ids(conn, who.name, [corp]).get(corp)
        if row is None:
            raise NotFound(f"no disposition {disposition_id}", field="disposition_id", got=disposition_id)
        # The clerk sees its own number for the company (指定番号, …) next to what it issued.
        return reads.disposition_from_row(row).model_copy(update={"assigned_id": assigned})

    # -- deadlines --------------------------------------------------------------------------------

    def report_missing(self, now: datetime | None = None) -> list[tuple[str, str, str, str]]:
        """After each deadline, report enrolled companies that filed nothing for the period — to
        agencies that accepted one by one or by standing policy, and for registered bonus months
        with neither a 賞与支払届 nor a 賞与不支給報告書 (``ledger.service.missing``).

        Returns (agency, company, procedure, period) for each new report; each is made once.
        """
        now = now or self.clock()
        events: list[Event] = []
        with self._decide, self.catalog.connect() as conn:
            for due in missing_filings(conn, now):
                events.append(Event(FILING_MISSING, {"agency_id": due.agency_id, "procedure": due.procedure, "period": due.period,
                                                     "enrollment_id": due.enrollment_id, "deadline": due.deadline},
                                    actor="operator:deadlines", corporate_number=due.corporate_number, time=now))
            if events:
                self._append(events)
        return [(e.body["agency_id"], e.corporate_number or "", e.body["procedure"], e.body["period"]) for e in events]


__all__ = ["Commands"]
