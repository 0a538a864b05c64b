"""Every SQL read the service layer and the notary need, by name, with the row → model mapping.

The rules (``ledger.service.authz``) and the commands decide over what these functions fetch;
none of them decides anything itself, and none is reachable from an SDK without a principal
check in front of it. Each takes an open catalog ``Connection``, so one decision can make several
reads in one transaction. Rows come back as plain dicts (or ``None``), models where a caller only
ever wants the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection  # re-exported: the type the rules take

from ledger.catalog import tables as t
from ledger.domain.assigned import shown_assigned
from ledger.domain.model import (
    AccessRecord,
    Action,
    Disposition,
    Enrollment,
    Grant,
    MissingFiling,
    Notice,
    Receipt,
    SubmissionInfo,
    SubmissionKind,
    from_us,
    to_us,
)


def _dt(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def _first(conn: Connection, query: Any) -> dict | None:
    row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)


# -- submissions ------------------------------------------------------------------------------------

def submission(conn: Connection, submission_id: str) -> dict | None:
    """The catalog row of one submission."""
    s = t.submissions
    return _first(conn, select(s).where(s.c.submission_id == submission_id))


def submission_filing(conn: Connection, submission_id: str) -> tuple[str, str, str, str] | None:
    """(corporate number, procedure, period, office) of one submission: the filing it belongs to."""
    s = t.submissions
    row = conn.execute(select(s.c.corporate_number, s.c.procedure, s.c.period, s.c.office)
                       .where(s.c.submission_id == submission_id)).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


def snapshot_key(conn: Connection, submission_id: str) -> str | None:
    s = t.submissions
    return conn.execute(select(s.c.snapshot_key).where(s.c.submission_id == submission_id)).scalar()


def in_force(conn: Connection, corporate_number: str, procedure: str, period: str, office: str, at: datetime) -> dict | None:
    """The newest submission of a filing recorded at or before ``at`` (a cancellation included)."""
    s = t.submissions
    return _first(conn, select(s).where(
        s.c.corporate_number == corporate_number, s.c.procedure == procedure, s.c.period == period, s.c.office == office,
        s.c.recorded_us <= to_us(at)).order_by(s.c.version.desc()).limit(1))


def filing_chain(conn: Connection, corporate_number: str, procedure: str, period: str, office: str) -> list[dict]:
    """Every submission of a filing, oldest first."""
    s = t.submissions
    rows = conn.execute(select(s).where(s.c.corporate_number == corporate_number, s.c.procedure == procedure,
                                        s.c.period == period, s.c.office == office).order_by(s.c.version)).mappings().all()
    return [dict(r) for r in rows]


def filings_in_force(conn: Connection, at: datetime, *, agency_id: str | None = None,
                     corporate_numbers: tuple[str, ...] | None = None, grantee: str | None = None,
                     now: datetime | None = None, procedures: tuple[str, ...] | None = None,
                     period_from: str | None = None, period_to: str | None = None) -> list[dict]:
    """The version in force at ``at`` of each filing matching the filters, ordered by filing.

    With ``agency_id``, only filings of which some version targeted that agency — but the version
    returned is the one in force, which may no longer target it (the rules decide what it sees).
    With ``grantee``, only companies with an active grant (as of ``now``) to that principal."""
    s = t.submissions
    at_us = to_us(at)
    conds = [s.c.recorded_us <= at_us]
    if agency_id is not None:
        conds.append(s.c.submission_id.in_(select(t.targets.c.submission_id).where(t.targets.c.agency_id == agency_id)))
    if corporate_numbers is not None:
        conds.append(s.c.corporate_number.in_(corporate_numbers))
    if grantee is not None:
        g = t.grants
        active = [g.c.grantee == grantee, g.c.revoked_us.is_(None)] + ([g.c.expires_us > to_us(now)] if now else [])
        conds.append(s.c.corporate_number.in_(select(g.c.corporate_number).where(*active)))
    if procedures is not None:
        conds.append(s.c.procedure.in_(procedures))
    if period_from:
        conds.append(s.c.period >= period_from)
    if period_to:
        conds.append(s.c.period <= period_to + "\uffff")
    rows = conn.execute(select(s).where(and_(*conds)).order_by(s.c.corporate_number, s.c.procedure, s.c.period,
                                                               s.c.office, s.c.version)).mappings().all()
    latest: dict[tuple[str, str, str, str], dict] = {}
    for r in rows:
        latest[(r["corporate_number"], r["procedure"], r["period"], r["office"])] = dict(r)
    if agency_id is not None:
        for key in list(latest):
            newest = in_force(conn, *key, at)
            assert newest is not None  # at least the row found above for this key matches
            latest[key] = newest
    return list(latest.values())


def has_filed(conn: Connection, corporate_number: str, procedure: str, period: str) -> bool:
    """Whether the company filed ``procedure`` for ``period`` at all (for any of its offices)."""
    s = t.submissions
    return conn.execute(select(s.c.submission_id).where(s.c.corporate_number == corporate_number, s.c.procedure == procedure,
                                                        s.c.period == period).limit(1)).first() is not None


def all_submission_ids(conn: Connection) -> set[str]:
    """Every submission id in the catalog (the demo's before/after comparison)."""
    return {r[0] for r in conn.execute(select(t.submissions.c.submission_id))}


def count_submissions(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(t.submissions)).scalar() or 0)


# -- targets ------------------------------------------------------------------------------------------

def target_lines(conn: Connection, submission_id: str, agency_id: str) -> list[int] | None:
    """The lines of a submission routed to an agency ([] = all of it), or None when it is no target."""
    tg = t.targets
    row = conn.execute(select(tg.c.lines).where(tg.c.submission_id == submission_id, tg.c.agency_id == agency_id)).first()
    return None if row is None else list(t.loads(row[0]))


def targets_of(conn: Connection, submission_id: str) -> list[tuple[str, list[int]]]:
    """(agency, lines) for every target of a submission, by agency."""
    tg = t.targets
    rows = conn.execute(select(tg.c.agency_id, tg.c.lines).where(tg.c.submission_id == submission_id).order_by(tg.c.agency_id)).all()
    return [(a, t.loads(lines)) for a, lines in rows]


def filed_to(conn: Connection, submission_id: str, agency_id: str) -> str | None:
    """The company of a submission that was filed to ``agency_id``, or None."""
    tg = t.targets
    return conn.execute(select(tg.c.corporate_number).where(tg.c.submission_id == submission_id, tg.c.agency_id == agency_id)).scalar()


def has_filed_to(conn: Connection, corporate_number: str, agency_id: str) -> bool:
    tg = t.targets
    return conn.execute(select(tg.c.submission_id).where(tg.c.corporate_number == corporate_number,
                                                         tg.c.agency_id == agency_id).limit(1)).first() is not None


# -- notices ------------------------------------------------------------------------------------------

def notices_after(conn: Connection, agency_id: str, after: int, limit: int) -> list[Notice]:
    n = t.notices
    rows = conn.execute(select(n).where(n.c.agency_id == agency_id, n.c.seq > after).order_by(n.c.seq).limit(limit)).mappings().all()
    return [Notice(agency_id=r["agency_id"], seq=r["seq"], notice_id=r["notice_id"], notice_type=r["notice_type"],
                   corporate_number=r["corporate_number"], procedure=r["procedure"], period=r["period"],
                   office=r["office"] or "", submission_id=r["submission_id"], kind=r["kind"], replaces=r["replaces"],
                   recorded_at=from_us(r["recorded_us"]), lines=t.loads(r["lines"]),
                   changed=None if r["changed"] is None else t.loads(r["changed"]), departed=r["departed"] or 0,
                   reached=r["reached"] is not False) for r in rows]


def last_notice_seq(conn: Connection, agency_id: str) -> int:
    """The sequence number of an agency's last notice (0 when it has none): one index probe."""
    n = t.notices
    return conn.execute(select(func.max(n.c.seq)).where(n.c.agency_id == agency_id)).scalar() or 0


# -- dispositions -------------------------------------------------------------------------------------

def disposition(conn: Connection, disposition_id: str) -> dict | None:
    d = t.dispositions
    return _first(conn, select(d).where(d.c.disposition_id == disposition_id))


def dispositions_after(conn: Connection, corporate_number: str, after: int) -> list[dict]:
    """A company's dispositions after its sequence number ``after``."""
    d = t.dispositions
    rows = conn.execute(select(d).where(d.c.corporate_number == corporate_number, d.c.company_seq > after)
                        .order_by(d.c.company_seq)).mappings().all()
    return [dict(r) for r in rows]


def dispositions_since(conn: Connection, seen: dict[int, int], limit: int, *, corporate_number: str | None = None,
                       grantee: str | None = None, now: datetime | None = None) -> list[dict]:
    """Dispositions of one company, or of every company with an active grant (as of ``now``) to
    ``grantee``, after the last log position ``seen`` in each partition."""
    d, g = t.dispositions, t.grants
    if corporate_number is not None:
        whose = d.c.corporate_number == corporate_number
    else:
        active = [g.c.grantee == grantee, g.c.revoked_us.is_(None)] + ([g.c.expires_us > to_us(now)] if now else [])
        whose = d.c.corporate_number.in_(select(g.c.corporate_number).where(*active))
    after = [or_(d.c.partition != p, d.c.offset > o) for p, o in seen.items()]
    rows = conn.execute(select(d).where(whose, *after)
                        .order_by(d.c.partition, d.c.offset).limit(limit)).mappings().all()
    return [dict(r) for r in rows]


# -- grants -------------------------------------------------------------------------------------------

def active_grants(conn: Connection, grantee: str, corporate_numbers: list[str], at: datetime) -> dict[str, list[dict]]:
    """Active grants to ``grantee`` from each of the companies, in one query (for batches)."""
    g = t.grants
    rows = conn.execute(
        select(g).where(g.c.grantee == grantee, g.c.corporate_number.in_(corporate_numbers),
                        g.c.revoked_us.is_(None), g.c.expires_us > to_us(at)).order_by(g.c.grant_id)
    ).mappings().all()
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["corporate_number"], []).append(dict(row))
    return out


def active_grants_held(conn: Connection, grantee: str, at: datetime) -> list[dict]:
    """Every active grant ``grantee`` holds, from any company."""
    g = t.grants
    rows = conn.execute(select(g).where(g.c.grantee == grantee, g.c.revoked_us.is_(None), g.c.expires_us > to_us(at))
                        .order_by(g.c.corporate_number, g.c.grant_id)).mappings().all()
    return [dict(r) for r in rows]


def grant(conn: Connection, grant_id: str) -> Grant | None:
    g = t.grants
    row = _first(conn, select(g).where(g.c.grant_id == grant_id))
    return None if row is None else grant_from_row(row)


def grants_given(conn: Connection, corporate_number: str) -> list[Grant]:
    g = t.grants
    return [grant_from_row(r) for r in conn.execute(select(g).where(g.c.corporate_number == corporate_number)
                                                    .order_by(g.c.issued_us, g.c.grant_id)).mappings().all()]


def grants_held(conn: Connection, grantee: str) -> list[Grant]:
    g = t.grants
    return [grant_from_row(r) for r in conn.execute(select(g).where(g.c.grantee == grantee)
                                                    .order_by(g.c.issued_us, g.c.grant_id)).mappings().all()]


def grant_actions(row: dict) -> list[str]:
    return list(t.loads(row["actions"]))


def grant_procedures(row: dict) -> list[str]:
    return list(t.loads(row["procedures"]))


# -- enrollments --------------------------------------------------------------------------------------

def _enrollment(conn: Connection, row: Any) -> Enrollment:
    d = t.decisions
    ds = conn.execute(select(d.c.agency_id, d.c.decision, d.c.assigned_id, d.c.office_number)
                      .where(d.c.enrollment_id == row["enrollment_id"])).all()
    assigned = {a: shown for a, dec, aid, num in ds if dec == "accepted" and (shown := shown_assigned(aid, num)) is not None}
    return Enrollment(enrollment_id=row["enrollment_id"], corporate_number=row["corporate_number"], procedure=row["procedure"],
                      agency_id=row["agency_id"], requested_at=from_us(row["requested_us"]),
                      withdrawn_at=_dt(row["withdrawn_us"]), decisions={a: dec for a, dec, _, _ in ds}, assigned_ids=assigned,
                      bonus_months=list(t.loads(row["bonus_months"])) if row["bonus_months"] else [])


def assigned_ids(conn: Connection, agency_id: str, corporate_numbers: Iterable[str]) -> dict[str, str]:
    """The identifier ``agency_id`` assigned to each of these companies when it accepted one of
    their active enrollments (指定番号, 事業所整理記号 and 事業所番号, 整理番号): the latest given."""
    corps = sorted(set(corporate_numbers))
    if not corps:
        return {}
    e, d = t.enrollments, t.decisions
    out: dict[str, str] = {}
    for i in range(0, len(corps), 300):  # stay well inside SQL parameter limits
        rows = conn.execute(select(e.c.corporate_number, d.c.assigned_id, d.c.office_number)
                            .join(d, e.c.enrollment_id == d.c.enrollment_id)
                            .where(d.c.agency_id == agency_id, d.c.decision == "accepted", d.c.assigned_id.is_not(None),
                                   e.c.withdrawn_us.is_(None), e.c.corporate_number.in_(corps[i:i + 300]))
                            .order_by(d.c.decided_us)).all()
        for corp, aid, num in rows:
            shown = shown_assigned(aid, num)
            if shown is not None:
                out[corp] = shown
    return out


def enrollment(conn: Connection, enrollment_id: str) -> Enrollment | None:
    e = t.enrollments
    row = conn.execute(select(e).where(e.c.enrollment_id == enrollment_id)).mappings().first()
    return None if row is None else _enrollment(conn, row)


def enrollments_of(conn: Connection, corporate_number: str, procedure: str | None = None) -> list[Enrollment]:
    e = t.enrollments
    conds = [e.c.corporate_number == corporate_number] + ([e.c.procedure == procedure] if procedure else [])
    return [_enrollment(conn, r) for r in conn.execute(select(e).where(*conds).order_by(e.c.enrollment_id)).mappings().all()]


def open_enrollments_for(conn: Connection, agency_id: str, procedures: list[str]) -> list[Enrollment]:
    """Active enrollments of these procedures addressed to the agency, or to no agency (line-routed)."""
    e = t.enrollments
    rows = conn.execute(select(e).where(e.c.withdrawn_us.is_(None), e.c.procedure.in_(procedures),
                                        or_(e.c.agency_id == agency_id,
                                            e.c.agency_id.is_(None))).order_by(e.c.enrollment_id)).mappings().all()
    return [_enrollment(conn, r) for r in rows]


def routing_state(conn: Connection, corporate_number: str, procedure: str | None) -> tuple[set[str], set[str], bool]:
    """(agencies that accepted, agencies that rejected, whether an active enrollment exists)."""
    e, d = t.enrollments, t.decisions
    conds = [e.c.corporate_number == corporate_number, e.c.withdrawn_us.is_(None)]
    if procedure:
        conds.append(e.c.procedure == procedure)
    enrolled = conn.execute(select(e.c.enrollment_id).where(*conds).limit(1)).first() is not None
    rows = conn.execute(select(d.c.agency_id, d.c.decision).join(e, e.c.enrollment_id == d.c.enrollment_id).where(*conds)).all()
    accepted = {a for a, dec in rows if dec == "accepted"}
    rejected = {a for a, dec in rows if dec == "rejected"}
    return accepted, rejected, enrolled


def policy_accepts(conn: Connection, agency_id: str, procedure: str) -> bool:
    p = t.policies
    row = conn.execute(select(p.c.accept_all).where(p.c.agency_id == agency_id, p.c.procedure == procedure)).first()
    return bool(row and row[0])


def accepted_enrollments(conn: Connection, agency: str | None = None, procedure: str | None = None
                         ) -> Iterator[tuple[dict, str, datetime]]:
    """(enrollment, agency, accepted at) for every active accepted enrollment (for deadline reports);
    only ``agency``'s decisions and ``procedure``'s enrollments when given."""
    e, d = t.enrollments, t.decisions
    conds = [e.c.withdrawn_us.is_(None), d.c.decision == "accepted"]
    conds += [d.c.agency_id == agency] if agency else []
    conds += [e.c.procedure == procedure] if procedure else []
    rows = conn.execute(select(e, d.c.agency_id.label("decided_agency"), d.c.decided_us).join(d, e.c.enrollment_id == d.c.enrollment_id)
                        .where(*conds).order_by(e.c.enrollment_id, d.c.agency_id)).mappings().all()
    for r in rows:
        yield dict(r), r["decided_agency"], from_us(r["decided_us"])


def any_policy_accepts(conn: Connection, procedure: str, decided: dict[str, str]) -> bool:
    """Whether some agency that has not decided on the enrollment accepts ``procedure`` by standing policy."""
    p = t.policies
    conds = [p.c.procedure == procedure, p.c.accept_all.is_(True)] + ([p.c.agency_id.not_in(list(decided))] if decided else [])
    return conn.execute(select(p.c.agency_id).where(*conds).limit(1)).first() is not None


def policy_accepted_enrollments(conn: Connection, agency: str | None = None, procedure: str | None = None
                                ) -> Iterator[tuple[dict, str, datetime]]:
    """(enrollment, agency, accepted since) for every active enrollment an agency's standing policy
    accepts, that the agency has not decided on itself, of a company whose filings of the procedure
    reached that agency before (its employers: ``ledger.service.missing``); since = the later of
    request and policy. Driven by the agency's targets (``ix_targets_agency``), so its cost is that
    of the real relations, not every enrollment times every municipality with a policy."""
    e, d, p, tg = t.enrollments, t.decisions, t.policies, t.targets
    decided = select(d.c.enrollment_id).where(d.c.enrollment_id == e.c.enrollment_id, d.c.agency_id == p.c.agency_id)
    employers = (select(tg.c.agency_id, tg.c.procedure, tg.c.corporate_number).distinct()
                 .join(p, and_(p.c.agency_id == tg.c.agency_id, p.c.procedure == tg.c.procedure))
                 .where(p.c.accept_all.is_(True)).subquery())
    conds = [e.c.withdrawn_us.is_(None), ~decided.exists()]
    conds += [p.c.agency_id == agency] if agency else []
    conds += [e.c.procedure == procedure] if procedure else []
    rows = conn.execute(select(e, p.c.agency_id.label("policy_agency"), p.c.set_us)
                        .join(employers, and_(employers.c.corporate_number == e.c.corporate_number,
                                              employers.c.procedure == e.c.procedure))
                        .join(p, and_(p.c.agency_id == employers.c.agency_id, p.c.procedure == employers.c.procedure))
                        .where(*conds)
                        .order_by(e.c.enrollment_id, p.c.agency_id)).mappings().all()
    for r in rows:
        yield dict(r), r["policy_agency"], from_us(max(r["requested_us"], r["set_us"]))


def has_bonus_filing(conn: Connection, corporate_number: str, month: str) -> bool:
    """Whether the company recorded, for the month ``YYYY-MM``, a 賞与支払届 of a bonus paid in it
    (period ``YYYY-MM-DD``) or a 賞与不支給報告書 (period ``YYYY-MM``)."""
    s = t.submissions
    return conn.execute(select(s.c.submission_id).where(
        s.c.corporate_number == corporate_number,
        or_(and_(s.c.procedure == "BONUS_PAYMENT", s.c.period >= month + "-01", s.c.period <= month + "-31"),
            and_(s.c.procedure == "BONUS_NON_PAYMENT", s.c.period == month))).limit(1)).first() is not None


# -- deadlines ----------------------------------------------------------------------------------------

def missing_reported(conn: Connection, agency_id: str, procedure: str, period: str, corporate_number: str) -> bool:
    m = t.missing
    return conn.execute(select(m.c.agency_id).where(m.c.agency_id == agency_id, m.c.procedure == procedure, m.c.period == period,
                                                    m.c.corporate_number == corporate_number)).first() is not None


def missing_for(conn: Connection, agency_id: str, procedure: str | None, period: str | None) -> list[dict]:
    m = t.missing
    conds = [m.c.agency_id == agency_id] + ([m.c.procedure == procedure] if procedure else []) + ([m.c.period == period] if period else [])
    return [dict(r) for r in conn.execute(select(m).where(*conds).order_by(m.c.procedure, m.c.period,
                                                                           m.c.corporate_number)).mappings().all()]


# -- access log and positions -------------------------------------------------------------------------

def access_records(conn: Connection, corporate_number: str, after: int, limit: int) -> list[AccessRecord]:
    a = t.access_log
    rows = conn.execute(select(a).where(a.c.corporate_number == corporate_number,
                                        a.c.seq > after).order_by(a.c.seq).limit(limit)).mappings().all()
    return [AccessRecord(corporate_number=r["corporate_number"], seq=r["seq"], access_id=r["access_id"], viewer=r["viewer"],
                         action=r["action"], subject=r["subject"], legal_basis=r["legal_basis"], outcome=r["outcome"],
                         reason=r["reason"], at=from_us(r["at_us"]), person=r["person"]) for r in rows]


def positions_of(conn: Connection, processor: str, topic: str) -> dict[int, int]:
    """A processor's next offset in each partition of ``topic``."""
    p = t.positions
    return {part: nxt for part, nxt in conn.execute(select(p.c.partition, p.c.next_offset).where(
        p.c.processor == processor, p.c.topic == topic)).all()}


# -- rows → models ------------------------------------------------------------------------------------

def receipt_from_row(row: Any) -> Receipt:
    return Receipt(
        submission_id=row["submission_id"], corporate_number=row["corporate_number"], procedure=row["procedure"],
        period=row["period"], office=row["office"], kind=SubmissionKind(row["kind"]), replaces=row["replaces"],
        position=f"{row['topic']}/{row['partition']}/{row['offset']}", recorded_at=from_us(row["recorded_us"]),
        payload_digest=row["payload_digest"], deadline=_dt(row["deadline_us"]), on_time=row["on_time"],
        line_count=row["line_count"], targets=[tg["agency_id"] for tg in t.loads(row["targets"])], unreached=t.loads(row["unreached"]),
    )


def info_from_row(row: Any) -> SubmissionInfo:
    r = receipt_from_row(row)
    return SubmissionInfo(
        submission_id=r.submission_id, corporate_number=r.corporate_number, procedure=r.procedure, period=r.period,
        office=r.office, kind=r.kind, replaces=r.replaces, version=row["version"], recorded_at=r.recorded_at,
        recorded_by=row["recorded_by"],
        position=r.position, payload_digest=r.payload_digest, deadline=r.deadline, on_time=r.on_time,
        line_count=r.line_count, targets=r.targets, unreached=r.unreached,
    )


def disposition_from_row(r: Any) -> Disposition:
    return Disposition(
        disposition_id=r["disposition_id"], corporate_number=r["corporate_number"], agency_id=r["agency_id"], kind=r["kind"],
        period=r["period"], title=r["title"], based_on=t.loads(r["based_on"]), issued_at=from_us(r["issued_us"]),
        payload_digest=r["payload_digest"], company_seq=r["company_seq"], cursor=f"{r['partition']}:{r['offset']}",
        delivered_at=_dt(r["delivered_us"]), delivered_to=r["delivered_to"],
    )


def grant_from_row(r: Any) -> Grant:
    return Grant(grant_id=r["grant_id"], corporate_number=r["corporate_number"], grantee=r["grantee"],
                 procedures=t.loads(r["procedures"]), actions=[Action(a) for a in t.loads(r["actions"])],
                 personal_numbers=r["personal_numbers"], expires_at=from_us(r["expires_us"]),
                 issued_at=from_us(r["issued_us"]), revoked_at=_dt(r["revoked_us"]))


def missing_from_row(r: Any, seal: str | None) -> MissingFiling:
    return MissingFiling(agency_id=r["agency_id"], corporate_number=r["corporate_number"], procedure=r["procedure"], period=r["period"],
                         enrollment_id=r["enrollment_id"], deadline=from_us(r["deadline_us"]), reported_at=from_us(r["reported_us"]),
                         seal=seal)
