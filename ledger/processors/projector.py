"""The projector: derives the catalog and the snapshot objects from the log.

For each partition of each topic it reads a batch, applies every event, and stores its new
position in the same catalog transaction — so a crash at any point leaves the catalog at a batch
boundary, and the next run continues from there with nothing applied twice. Snapshot objects are
written (once, content-addressed, idempotently) before that transaction commits.

Everything it writes is a function of the log alone — times come from the events, sequence
numbers count per agency or per company (each of which lives in one partition) — so replaying
the log into an empty catalog gives the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.engine import Connection

from ledger.catalog import tables as c
from ledger.domain.assigned import shown_assigned
from ledger.domain.model import to_us
from ledger.domain.procedures import PROCEDURES
from ledger.encoding.codec import SchemaRegistry
from ledger.encoding.events import (
    DISPOSITION_DELIVERED,
    DISPOSITION_ISSUED,
    ENROLLMENT_ACCEPTED,
    ENROLLMENT_POLICY_SET,
    ENROLLMENT_REJECTED,
    ENROLLMENT_REQUESTED,
    ENROLLMENT_WITHDRAWN,
    FILING_MISSING,
    FILING_VIEWED,
    GRANT_ISSUED,
    GRANT_REVOKED,
    NOTICES_ISSUED,
    SUBMISSION_NOTICE,
    SUBMISSION_RECORDED,
    Event,
    EventCodec,
)
from ledger.encoding.snapshots import build_snapshot
from ledger.ports import TOPICS, Log, ObjectStore, StoredRecord

NAME = "projector"
_YEAR_US = 365.25 * 24 * 3600 * 1_000_000


def _time_us(ev: Event) -> int:
    """The event's time in µs. Every event read from the log has one (the Envelope's ``time`` is required)."""
    assert ev.time is not None
    return to_us(ev.time)


class _Batch:
    """One batch's pending work: rows to insert (written with one executemany per table),
    snapshot objects to store, and per-key counters so sequence numbers need one query per key."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.counters: dict[tuple[str, str], int] = {}
        self.rows: dict[Any, list[dict[str, Any]]] = {}
        self.objects: list[tuple[str, bytes, int | None]] = []
        #: corporate number → {agency → the identifier it assigned} for the batch's companies.
        self.assigned: dict[str, dict[str, str]] = {}

    def insert(self, table: Any, **row: Any) -> None:
        self.rows.setdefault(table, []).append(row)

    def execute(self, statement: Any) -> Any:
        """An update: pending inserts go first, so it sees every earlier event of the batch."""
        self.flush()
        return self.conn.execute(statement)

    def flush(self) -> None:
        for table, rows in self.rows.items():
            c.insert_many(self.conn, table, rows)
        self.rows.clear()

    def next(self, table: Any, key_col: str, key: str, seq_col: str) -> int:
        k = (table.name, key)
        if k not in self.counters:
            value = self.conn.execute(select(func.max(table.c[seq_col])).where(table.c[key_col] == key)).scalar()
            self.counters[k] = 0 if value is None else int(value)
        self.counters[k] += 1
        return self.counters[k]

    def prefetch_versions(self, filings: list[tuple[str, str, str, str]]) -> None:
        """Read the latest version of every filing (company, procedure, period, office) the batch touches in one query."""
        wanted = sorted(set(filings))
        if not wanted:
            return
        s = c.submissions
        found = dict.fromkeys(wanted, 0)
        columns = (s.c.corporate_number, s.c.procedure, s.c.period, s.c.office)
        for i in range(0, len(wanted), 250):  # stay well inside SQL parameter limits
            chunk = wanted[i:i + 250]
            for corp, proc, period, office, version in self.conn.execute(
                    select(*columns, func.max(s.c.version)).where(tuple_(*columns).in_(chunk)).group_by(*columns)).all():
                found[(corp, proc, period, office)] = int(version)
        for filing, version in found.items():
            self.counters.setdefault(("submissions", "|".join(filing)), version)

    def prefetch_assigned(self, corps: list[str]) -> None:
        """What the agencies assigned to the batch's companies, in one query per 300 companies."""
        wanted = sorted(set(corps) - set(self.assigned))
        e, d = c.enrollments, c.decisions
        for corp in wanted:
            self.assigned[corp] = {}
        for i in range(0, len(wanted), 300):
            for corp, agency, aid, num in self.conn.execute(
                    select(e.c.corporate_number, d.c.agency_id, d.c.assigned_id, d.c.office_number)
                    .join(d, e.c.enrollment_id == d.c.enrollment_id)
                    .where(e.c.corporate_number.in_(wanted[i:i + 300]), e.c.withdrawn_us.is_(None), d.c.decision == "accepted",
                           d.c.assigned_id.is_not(None)).order_by(d.c.decided_us)).all():
                shown = shown_assigned(aid, num)
                if shown is not None:
                    self.assigned[corp][agency] = shown

    def version(self, corp: str, procedure: str, period: str, office: str) -> int:
        k = ("submissions", f"{corp}|{procedure}|{period}|{office}")
        if k not in self.counters:
            s = c.submissions
            value = self.conn.execute(select(func.max(s.c.version)).where(
                s.c.corporate_number == corp, s.c.procedure == procedure, s.c.period == period, s.c.office == office)).scalar()
            self.counters[k] = 0 if value is None else int(value)
        self.counters[k] += 1
        return self.counters[k]


class Projector:
    """Builds the catalog and snapshots from ``kiroku.filings``, ``kiroku.notices`` and ``kiroku.access``."""

    def __init__(self, log: Log, catalog: c.Catalog, codec: EventCodec, registry: SchemaRegistry,
                 objects: ObjectStore, batch: int = 2000, name: str = NAME) -> None:
        self.log, self.catalog, self.codec, self.registry, self.objects = log, catalog, codec, registry, objects
        self.batch, self.name = batch, name
        self._seen: dict[tuple[str, int], int] = {}  # next offset per partition as of our last commit
        self._handlers: dict[str, Callable[[_Batch, StoredRecord, Event], None]] = {
            ENROLLMENT_REQUESTED: self._enrollment_requested, ENROLLMENT_ACCEPTED: self._decision,
            ENROLLMENT_REJECTED: self._decision, ENROLLMENT_WITHDRAWN: self._withdrawn,
            ENROLLMENT_POLICY_SET: self._policy, SUBMISSION_RECORDED: self._submission,
            SUBMISSION_NOTICE: self._notice, NOTICES_ISSUED: self._notices, FILING_VIEWED: self._viewed,
            DISPOSITION_ISSUED: self._disposition,
            DISPOSITION_DELIVERED: self._delivered, GRANT_ISSUED: self._grant, GRANT_REVOKED: self._revoked,
            FILING_MISSING: self._missing,
        }

    def run_once(self) -> int:
        """Apply what is available in every partition of every topic; returns records applied."""
        done = 0
        for topic in TOPICS:
            for partition in range(self.log.partitions(topic)):
                # A hint only: a partition whose log end is not past the position this projector
                # last committed has nothing new (another projector can only have gone further).
                if self.log.end_offset(topic, partition) <= self._seen.get((topic, partition), -1):
                    continue
                done += self.run_partition(topic, partition)
        return done

    def run_partition(self, topic: str, partition: int) -> int:
        with self.catalog.begin() as conn:
            start = self.catalog.position(conn, self.name, topic, partition)
            records = self.log.read(topic, partition, start, self.batch)
            if not records:
                self._seen[(topic, partition)] = start
                return 0
            batch = _Batch(conn)
            events = [(rec, self.codec.decode_record(rec)) for rec in records]
            batch.prefetch_versions([(ev.corporate_number or "", ev.body["procedure"], ev.body["period"], ev.body["office"])
                                     for _, ev in events if ev.type == SUBMISSION_RECORDED])
            batch.prefetch_assigned([ev.corporate_number or "" for _, ev in events if ev.type == SUBMISSION_RECORDED])
            for rec, ev in events:
                handler = self._handlers.get(ev.type)
                if handler is not None:  # unknown future event types are skipped, not fatal
                    handler(batch, rec, ev)
            # Snapshots are durable before the catalog says they exist.
            self.objects.put_many(batch.objects)
            batch.flush()
            self.catalog.set_position(conn, self.name, topic, partition, records[-1].offset + 1)
        self._seen[(topic, partition)] = records[-1].offset + 1
        return len(records)

    # -- handlers --------------------------------------------------------------------------------

    def _enrollment_requested(self, b: _Batch, rec: StoredRecord, ev: Event) -> None:
        b.insert(c.enrollments,
            enrollment_id=ev.body["enrollment_id"], corporate_number=ev.corporate_number, procedure=ev.body["procedure"],
            agency_id=ev.body["agency_id"], requested_by=ev.actor, requested_us=_time_us(ev), withdrawn_us=None,
            bonus_months=c.dumps(ev.body["bonus_months"]) if ev.body.get("bonus_months") else None)

    def _decision(self, b: _Batch, rec: StoredRecord, ev: Event) -> None:
        d = c.decisions
        values = dict(decision="accepted" if ev.type == ENROLLMENT_ACCEPTED else "rejected",
                      by_policy=bool(ev.body.get("by_policy", False)), reason=ev.body.get("reason"), decided_us=_time_us(ev),
                      assigned_id=ev.body.get("assigned_id"), office_number=ev.body.get("office_number"))
        where = (d.c.enrollment_id == ev.body["enrollment_id"], d.c.agency_id == ev.body["agency_id"])
        if not b.execute(d.update().where(*where).values(**values)).rowcount:
            b.insert(d, enrollment_id=ev.body["enrollment_id"], agency_id=ev.body["agency_id"], **values)
        known = b.assigned.get(ev.corporate_number or "")
        if known is not None:  # later submissions of this batch see the decision
            accepted = ev.type == ENROLLMENT_ACCEPTED
            shown = shown_assigned(ev.body.get("assigned_id"), ev.body.get("office_number")) if accepted else None
            if shown is not None:
                known[ev.body["agency_id"]] = shown
            else:
                known.pop(ev.body["agency_id"], None)

    def _withdrawn(self, b: _Batch, rec: StoredRecord, ev: Event) -> None:
        b.execute(c.enrollments.update().where(c.enrollments.c.enrollment_id == ev.body["enrollment_id"])
                       .values(withdrawn_us=_time_us(ev)))

    def _policy(self, b: _Batch, rec: StoredRecord, ev: Event) -> None:
        p = c.policies
        where = (p.c.agency_id == ev.body["agency_id"], p.c.procedure == ev.body["procedure"])
        values = dict(accept_all=ev.body["accept_all"], set_us=_time_us(ev))
        if not b.execute(p.update().where(*where).values(**values)).rowcount:
            b.insert(p, agency_id=ev.body["agency_id"], procedure=ev.body["procedure"], **values)

    def _snapshot(self, b: _Batch, payload: bytes, meta: dict[str, str], retention_years: int, recorded_us: int) -> str:
        key, data = build_snapshot(self.registry, payload, meta)
        b.objects.append((key, data, int(recorded_us + retention_years * _YEAR_US)))
        return key

    def _submission(self, b: _Batch, rec: StoredRecord, ev: Event) -> None:
        body, corp = ev.body, ev.corporate_number or ""
        recorded_us = _time_us(ev)
        snapshot_key = None
        if body["payload"]:
            meta = {
                "kiroku.submission_id": body["submission_id"], "kiroku.corporate_number": corp,
                "kiroku.procedure": body["procedure"], "kiroku.period": body["period"],
                "kiroku.payload_digest": body["payload_digest"], "kiroku.key_id": body["key_id"] or "",
                "kiroku.position": str(rec.position),
            }
            # The identifiers the target agencies assigned to the company (指定番号, 事業所整理記号, 整理番号),
            # as they stood when the submission was projected: an agency's file names the company its way.
            known = b.assigned.get(corp, {})
            assigned = {t["agency_id"]: known[t["agency_id"]] for t in body["targets"] if t["agency_id"] in known}
            if assigned:
                meta["kiroku.assigned_ids"] = c.dumps(assigned)
            snapshot_key = self._snapshot(b, body["payload"], meta, PROCEDURES[body["procedure"]].retention_years, recorded_us)
        b.insert(c.submissions,
            submission_id=body["submission_id"], corporate_number=corp, procedure=body["procedure"], period=body["period"],
            office=body["office"], kind=body["kind"], replaces=body["replaces"],
            version=b.version(corp, body["procedure"], body["period"], body["office"]),
            recorded_us=recorded_us, recorded_by=ev.actor, grant_id=ev.grant_id, topic=rec.topic, partition=rec.partition,
            offset=rec.offset, payload_digest=body["payload_digest"], key_id=body["key_id"], line_count=body["line_count"],
            deadline_us=None if body["deadline"] is None else to_us(body["deadline"]), on_time=body["on_time"],
            idempotency_key=body["idempotency_key"], request_fingerprint=body["request_fingerprint"],
            snapshot_key=snapshot_key, targets=c.dumps(body["targets"]), unreached=c.dumps(body["unreached"]))
        for t in body["targets"]:
            b.insert(c.targets, submission_id=body["submission_id"], agency_id=t["agency_id"], corporate_number=corp,
                     procedure=body["procedure"], period=body["period"], recorded_us=recorded_us, lines=c.dumps(t["lines"]))

    def _notice(self, b: _Batch, rec: StoredRecord, ev: Event) -> None:
        """A ``SubmissionNotice``: one notice per record (logs written before ``NoticesIssued``)."""
        self._feed(b, str(rec.position), ev.body["agency_id"], ev.body)

    def _notices(self, b: _Batch, rec: StoredRecord, ev: Event) -> None:
        position, agency_id = str(rec.position), ev.body["agency_id"]  # the record's, shared by its notices
        for notice in ev.body["notices"]:
            self._feed(b, position, agency_id, notice)

    @staticmethod
    def _feed(b: _Batch, position: str, agency_id: str, n: dict[str, Any]) -> None:
        b.insert(c.notices,
            agency_id=agency_id, seq=b.next(c.notices, "agency_id", agency_id, "seq"),
            notice_id=n["notice_id"], notice_type=n["notice_type"], corporate_number=n["corporate_number"],
            procedure=n["procedure"], period=n["period"], office=n.get("office") or None, submission_id=n["submission_id"],
            kind=n["kind"],
            replaces=n["replaces"], recorded_us=to_us(n["recorded_at"]), lines=c.dumps(n["lines"]),
            position=position, changed=None if n.get("changed") is None else c.dumps(n["changed"]),
            departed=n.get("departed") or None, reached=None if n.get("reached", True) else False)

    def _viewed(self, b: _Batch, rec: StoredRecord, ev: Event) -> None:
        corp = ev.corporate_number or c.NO_COMPANY
        body = ev.body
        b.insert(c.access_log,
            corporate_number=corp, seq=b.next(c.access_log, "corporate_number", corp, "seq"), access_id=body["access_id"],
            viewer=body["viewer"], action=body["action"], subject=body["subject"], legal_basis=body["legal_basis"],
            outcome=body["outcome"], reason=body["reason"], at_us=_time_us(ev), person=body.get("person"))

    def _disposition(self, b: _Batch, rec: StoredRecord, ev: Event) -> None:
        body, corp = ev.body, ev.corporate_number or ""
        issued_us = _time_us(ev)
        key = self._snapshot(b, body["payload"], {
            "kiroku.disposition_id": body["disposition_id"], "kiroku.corporate_number": corp, "kiroku.kind": body["kind"],
            "kiroku.period": body["period"], "kiroku.payload_digest": body["payload_digest"], "kiroku.position": str(rec.position),
        }, PROCEDURES[body["kind"]].retention_years, issued_us)
        b.insert(c.dispositions,
            disposition_id=body["disposition_id"], corporate_number=corp,
            company_seq=b.next(c.dispositions, "corporate_number", corp, "company_seq"), agency_id=body["agency_id"],
            kind=body["kind"], period=body["period"], title=body["title"], based_on=c.dumps(body["based_on"]),
            issued_us=issued_us, payload_digest=body["payload_digest"], key_id=body["key_id"], snapshot_key=key,
            partition=rec.partition, offset=rec.offset, delivered_us=None, delivered_to=None)

    def _delivered(self, b: _Batch, rec: StoredRecord, ev: Event) -> None:
        d = c.dispositions
        b.execute(d.update().where(d.c.disposition_id == ev.body["disposition_id"], d.c.delivered_us.is_(None))
                       .values(delivered_us=_time_us(ev), delivered_to=ev.body["delivered_to"]))

    def _grant(self, b: _Batch, rec: StoredRecord, ev: Event) -> None:
        body = ev.body
        b.insert(c.grants,
            grant_id=body["grant_id"], corporate_number=ev.corporate_number, grantee=body["grantee"],
            procedures=c.dumps(body["procedures"]), actions=c.dumps(body["actions"]), personal_numbers=body["personal_numbers"],
            expires_us=to_us(body["expires_at"]), issued_us=_time_us(ev), revoked_us=None)

    def _revoked(self, b: _Batch, rec: StoredRecord, ev: Event) -> None:
        g = c.grants
        b.execute(g.update().where(g.c.grant_id == ev.body["grant_id"], g.c.revoked_us.is_(None)).values(revoked_us=_time_us(ev)))

    def _missing(self, b: _Batch, rec: StoredRecord, ev: Event) -> None:
        body = ev.body
        b.insert(c.missing,
            agency_id=body["agency_id"], procedure=body["procedure"], period=body["period"], corporate_number=ev.corporate_number,
            enrollment_id=body["enrollment_id"], deadline_us=to_us(body["deadline"]), reported_us=_time_us(ev))
