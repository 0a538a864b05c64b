"""Authorization: who may do what with a company's data, decided in the service layer only.

- a company acts on its own data;
- a vendor, firm or bank only within an unexpired, unrevoked grant (procedures × actions);
- an agency sees a submission only when it is one of the submission's targets (decided from
  accepted enrollments when it was recorded), only the lines routed to it, and personal numbers
  only where its legal basis covers them;
- the operator runs the platform but never reads payloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ledger.catalog import tables as c
from ledger.domain.model import Action, Principal, PrincipalKind, from_us, to_us
from ledger.domain.procedures import PROCEDURES, agency_kind


@dataclass(frozen=True, slots=True)
class Basis:
    """Why a read (or an action) is allowed; ``None`` fields when it is not."""

    allowed: bool
    basis: str | None = None
    reveal: bool = False  # may see personal numbers
    lines: list[int] | None = None  # 1-based lines visible; None = all
    grant_id: str | None = None
    reason: str | None = None


DENY_NO_RELATION = Basis(False, reason="no relation to this company's data")


def grant_rows(conn: Connection, grantee: str, corporate_numbers: list[str], at: datetime) -> dict[str, list[dict]]:
    """Active grants to ``grantee`` from each of the companies, in one query (for batches)."""
    g = c.grants
    rows = conn.execute(
        select(g).where(g.c.grantee == grantee, g.c.corporate_number.in_(corporate_numbers),
                        g.c.revoked_us.is_(None), g.c.expires_us > to_us(at)).order_by(g.c.grant_id)
    ).mappings().all()
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["corporate_number"], []).append(dict(row))
    return out


def _covering(grants: list[dict], procedure: str | None, action: Action) -> dict | None:
    for row in grants:
        if action.value in c.loads(row["actions"]) and (procedure is None or procedure in c.loads(row["procedures"])):
            return row
    return None


def active_grant(conn: Connection, corporate_number: str, grantee: str, procedure: str | None, action: Action, at: datetime) -> dict | None:
    """The first active grant from the company to the grantee covering the procedure and action."""
    return _covering(grant_rows(conn, grantee, [corporate_number], at).get(corporate_number, []), procedure, action)


def decide_act(who: Principal, corporate_number: str, procedure: str | None, action: Action, grants: list[dict]) -> Basis:
    """Whether ``who`` may perform ``action`` for the company, given its active grants to ``who``."""
    if who.kind is PrincipalKind.COMPANY:
        if who.name == corporate_number:
            return Basis(True, basis="own data (本人)", reveal=True)
        return DENY_NO_RELATION
    if who.kind in (PrincipalKind.VENDOR, PrincipalKind.FIRM, PrincipalKind.BANK):
        grant = _covering(grants, procedure, action)
        if grant is None:
            return Basis(False, reason=f"no active grant covering {action.value}" + (f" of {procedure}" if procedure else ""))
        reveal = bool(grant["personal_numbers"]) and who.kind is not PrincipalKind.BANK
        return Basis(True, basis=f"grant {grant['grant_id']}", reveal=reveal, grant_id=grant["grant_id"])
    return Basis(False, reason=f"a {who.kind.value} cannot {action.value} for a company")


def may_act_for(conn: Connection, who: Principal, corporate_number: str, procedure: str | None, action: Action, at: datetime) -> Basis:
    """Whether ``who`` may perform ``action`` for the company (as itself or under a grant)."""
    grants: list[dict] = []
    if who.kind in (PrincipalKind.VENDOR, PrincipalKind.FIRM, PrincipalKind.BANK):
        grants = grant_rows(conn, who.id, [corporate_number], at).get(corporate_number, [])
    return decide_act(who, corporate_number, procedure, action, grants)


def may_read_submission(conn: Connection, who: Principal, sub: dict, at: datetime) -> Basis:
    """Whether ``who`` may read the submission row ``sub`` (from the catalog), and how much of it."""
    if who.kind is PrincipalKind.AGENCY:
        row = conn.execute(
            select(c.targets.c.lines).where(c.targets.c.submission_id == sub["submission_id"], c.targets.c.agency_id == who.name)
        ).first()
        if row is None:
            return Basis(False, reason="the agency is not a target of this submission")
        proc = PROCEDURES[sub["procedure"]]
        lines = c.loads(row[0]) or None
        return Basis(True, basis=proc.legal_basis, reveal=agency_kind(who.name) == proc.agency_kind, lines=lines)
    if who.kind is PrincipalKind.OPERATOR:
        return Basis(False, reason="the operator cannot read payloads")
    return may_act_for(conn, who, sub["corporate_number"], sub["procedure"], Action.READ, at)


def grant_row_active(row: dict, at: datetime) -> bool:
    return row["revoked_us"] is None and from_us(row["expires_us"]) > at
