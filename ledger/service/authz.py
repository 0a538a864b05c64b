"""Authorization: who may do what with a company's data — every principal check, in one place.

- a company acts on its own data;
- a vendor, firm or bank only within an unexpired, unrevoked grant (procedures × actions); a
  disposition counts as the procedure it answers (特別徴収税額決定通知 → 給与支払報告書);
- an agency sees a submission only when it is one of the submission's targets (decided from
  accepted enrollments when it was recorded), only the lines routed to it, and personal numbers
  only where its legal basis covers them; it acts only in its own name;
- the operator runs the platform but never reads payloads.

The rules decide over what ``ledger.catalog.reads`` fetched; they run no SQL of their own. Those
that need the catalog take an open connection and call the named reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.catalog import reads
from ledger.catalog.reads import Connection
from ledger.domain.model import Action, Enrollment, Grant, Principal, PrincipalKind
from ledger.domain.procedures import PROCEDURES, Procedure, agency_kind, deemed_for, serves
from ledger.errors import Forbidden

AGENTS = (PrincipalKind.VENDOR, PrincipalKind.FIRM, PrincipalKind.BANK)


@dataclass(frozen=True, slots=True)
class Basis:
    """Why a read (or an action) is allowed; ``None`` fields when it is not."""

    allowed: bool
    legal_basis: str | None = None
    reveal: bool = False  # may see personal numbers
    lines: list[int] | None = None  # 1-based lines visible; None = all
    grant_id: str | None = None
    reason: str | None = None


DENY_NO_RELATION = Basis(False, reason="no relation to this company's data")
NO_SUCH = Basis(False, reason="no such record")


def is_agent(who: Principal) -> bool:
    """A vendor, firm or bank: acts for companies only under their grants."""
    return who.kind in AGENTS


def covers(procedure_scope: list[str], procedure: str | None) -> bool:
    """Whether a grant's procedures cover ``procedure`` (None: any); a disposition is covered by
    the procedure it answers."""
    if procedure is None:
        return True
    if procedure in procedure_scope:
        return True
    answered = PROCEDURES[procedure].answers if procedure in PROCEDURES else None
    return answered is not None and answered in procedure_scope


def _covering(grants: list[dict], procedure: str | None, action: Action) -> dict | None:
    for row in grants:
        if action.value in reads.grant_actions(row) and covers(reads.grant_procedures(row), procedure):
            return row
    return None


def decide_act(who: Principal, corporate_number: str, procedure: str | None, action: Action, grants: list[dict]) -> Basis:
    """Whether ``who`` may perform ``action`` for the company, given its active grants to ``who``."""
    if who.kind is PrincipalKind.COMPANY:
        if who.name == corporate_number:
            return Basis(True, legal_basis="own data (本人)", reveal=True)
        return DENY_NO_RELATION
    if is_agent(who):
        grant = _covering(grants, procedure, action)
        if grant is None:
            return Basis(False, reason=f"no active grant covering {action.value}" + (f" of {procedure}" if procedure else ""))
        reveal = bool(grant["personal_numbers"]) and who.kind is not PrincipalKind.BANK
        return Basis(True, legal_basis=f"grant {grant['grant_id']}", reveal=reveal, grant_id=grant["grant_id"])
    return Basis(False, reason=f"a {who.kind.value} cannot {action.value} for a company")


def may_act_for(conn: Connection, who: Principal, corporate_number: str, procedure: str | None, action: Action, at: datetime) -> Basis:
    """Whether ``who`` may perform ``action`` for the company (as itself or under a grant)."""
    grants: list[dict] = []
    if is_agent(who):
        grants = reads.active_grants(conn, who.id, [corporate_number], at).get(corporate_number, [])
    return decide_act(who, corporate_number, procedure, action, grants)


def may_read_any(conn: Connection, who: Principal, corporate_number: str, actions: tuple[Action, ...], at: datetime) -> Basis:
    """The first of ``actions`` ``who`` may perform for the company (any procedure), else the first refusal."""
    first: Basis | None = None
    for action in actions:
        basis = may_act_for(conn, who, corporate_number, None, action, at)
        if basis.allowed:
            return basis
        first = first or basis
    assert first is not None
    return first


# -- submissions --------------------------------------------------------------------------------------

def may_read_submission(conn: Connection, who: Principal, sub: dict, at: datetime) -> Basis:
    """Whether ``who`` may read the submission row ``sub`` (from the catalog), and how much of it."""
    if who.kind is PrincipalKind.AGENCY:
        lines = reads.target_lines(conn, sub["submission_id"], who.name)
        if lines is None:
            return Basis(False, reason="the agency is not a target of this submission")
        proc = PROCEDURES[sub["procedure"]]
        deemed = deemed_for(proc, sub["period"])
        if deemed is not None and agency_kind(who.name) == PROCEDURES[deemed.procedure].agency_kind != proc.agency_kind:
            return Basis(True, legal_basis=deemed.legal_basis, reveal=True, lines=lines or None)  # the 源泉徴収票's own statute
        if agency_kind(who.name) in proc.also_kinds:
            # A 健康保険組合 receives the 健康保険 part; the 個人番号 on these forms is the 70歳以上被用者's,
            # for 厚生年金 (日本年金機構): it is not the 組合's to see.
            return Basis(True, legal_basis=proc.also_basis, reveal=False, lines=lines or None)
        return Basis(True, legal_basis=proc.legal_basis, reveal=agency_kind(who.name) == proc.agency_kind, lines=lines or None)
    if who.kind is PrincipalKind.OPERATOR:
        return Basis(False, reason="the operator cannot read payloads")
    return may_act_for(conn, who, sub["corporate_number"], sub["procedure"], Action.READ, at)


def whole(basis: Basis) -> Basis:
    """``basis`` if it shows every line, else a refusal: the recorded bytes hold them all."""
    if basis.allowed and basis.lines is not None:
        return Basis(False, reason="the recorded bytes hold every line; this reader may see only some")
    return basis


def may_have_receipt(conn: Connection, who: Principal, sub: dict | None, at: datetime) -> Basis:
    """A receipt is the submitter's proof of filing, not the payload: whoever may read the
    submission, or submit it for the company, may have it; the operator sees its metadata."""
    if sub is None:
        return Basis(False, reason="no such submission")
    if who.kind is PrincipalKind.OPERATOR:
        return Basis(True, legal_basis="platform operation (receipt metadata, no payload)")
    basis = may_read_submission(conn, who, sub, at)
    if basis.allowed:
        return basis
    submitter = may_act_for(conn, who, sub["corporate_number"], sub["procedure"], Action.SUBMIT, at)
    return submitter if submitter.allowed else basis


def may_have_proof(conn: Connection, who: Principal, sub: dict | None, at: datetime) -> Basis:
    """A proof carries the log entry, and the entry every line of the payload: it goes to those
    who may read every line, and to the submitter that recorded this very submission (the bytes
    are its own). A submitter of someone else's recording, or a reader of some lines, gets none."""
    if sub is None:
        return Basis(False, reason="no such submission")
    full = whole(may_read_submission(conn, who, sub, at))
    if full.allowed or sub["recorded_by"] != who.id:
        return full
    submitter = may_act_for(conn, who, sub["corporate_number"], sub["procedure"], Action.SUBMIT, at)
    return submitter if submitter.allowed else full


# -- listings -----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FilingScope:
    """What a ``filings`` query may cover, narrowed before it runs so that its cost is bounded by
    what the caller may see: an agency's targets, one company's own, or the companies (and their
    procedures) whose active grants let a grantee read."""

    agency_id: str | None = None  # only submissions that targeted this agency
    corporate_numbers: tuple[str, ...] | None = None  # only these companies
    grantee: str | None = None  # only companies with an active grant to this principal
    procedures: tuple[str, ...] | None = None  # None: any procedure
    nothing: bool = False


def filings_scope(conn: Connection, who: Principal, corporate_number: str | None, procedure: str | None, at: datetime) -> FilingScope:
    """Which filings ``who`` may list; each row is still checked with ``may_read_submission``."""
    only = (corporate_number,) if corporate_number else None
    if who.kind is PrincipalKind.AGENCY:
        return FilingScope(agency_id=who.name, corporate_numbers=only)
    if who.kind is PrincipalKind.COMPANY:
        if corporate_number not in (None, who.name):
            return FilingScope(nothing=True)
        return FilingScope(corporate_numbers=(who.name,))
    if who.kind is PrincipalKind.OPERATOR:
        raise Forbidden("the operator cannot list company filings", field="principal", got=who.id)
    readable: dict[str, set[str]] = {}
    for row in reads.active_grants_held(conn, who.id, at):
        if Action.READ.value in reads.grant_actions(row) and (only is None or row["corporate_number"] in only):
            readable.setdefault(row["corporate_number"], set()).update(reads.grant_procedures(row))
    procedures = {p for scope in readable.values() for p in scope if procedure in (None, p)}
    if not readable or not procedures:
        return FilingScope(nothing=True)
    # The companies go to SQL as a subquery over the grants (an index), not as a list: a payroll
    # vendor may hold grants from more companies than a statement takes parameters.
    return FilingScope(corporate_numbers=only, grantee=who.id, procedures=tuple(sorted(procedures)))


def require_agency(who: Principal, what: str) -> str:
    """The agency id of ``who``, or Forbidden naming what only an agency does."""
    if who.kind is not PrincipalKind.AGENCY:
        raise Forbidden(f"only an agency {what}", field="principal", got=who.id)
    return who.name


def agency_of(who: Principal) -> str | None:
    """The agency id of ``who``, or None when it is no agency (e.g. whose assigned ids to show)."""
    return who.name if who.kind is PrincipalKind.AGENCY else None


def inbox_companies(conn: Connection, who: Principal, at: datetime) -> dict[str, list[str] | None]:
    """Companies whose dispositions ``who`` receives → the disposition kinds covered (None: all)."""
    if who.kind is PrincipalKind.COMPANY:
        return {who.name: None}
    if not is_agent(who):
        return {}
    out: dict[str, list[str] | None] = {}
    for row in reads.active_grants_held(conn, who.id, at):
        if Action.RECEIVE_NOTICES.value not in reads.grant_actions(row):
            continue
        scope = reads.grant_procedures(row)
        kinds = [code for code, p in PROCEDURES.items() if p.disposition and covers(scope, code)]
        known = out.get(row["corporate_number"]) or []
        out[row["corporate_number"]] = sorted(set(known) | set(kinds))
    return out


def may_read_disposition(conn: Connection, who: Principal, row: dict | None, at: datetime) -> Basis:
    """The issuing agency, the company, or an agent whose receive_notices grant covers its kind."""
    if row is None:
        return NO_SUCH
    if who.kind is PrincipalKind.AGENCY and row["agency_id"] == who.name:
        return Basis(True, legal_basis="issuer", reveal=True)  # it wrote what it reads
    return may_act_for(conn, who, row["corporate_number"], row["kind"], Action.RECEIVE_NOTICES, at)


def is_arrival(who: Principal) -> bool:
    """Whether ``who`` fetching a disposition is its arrival (到達): the company's side, not the issuer."""
    return who.kind is not PrincipalKind.AGENCY


def may_read_access_log(who: Principal, corporate_number: str) -> Basis:
    if who.kind is PrincipalKind.COMPANY and who.name == corporate_number:
        return Basis(True, legal_basis="own data (本人)")
    return Basis(False, reason="only the company reads its access log")


def grants_of(who: Principal) -> tuple[str, str]:
    """("given", corporate number) for a company, ("held", principal id) for anyone else."""
    if who.kind is PrincipalKind.COMPANY:
        return "given", who.name
    return "held", who.id


# -- commands -----------------------------------------------------------------------------------------

def may_decide_enrollment(who: Principal, enr: Enrollment) -> Basis:
    """An agency decides on an enrollment addressed to it (or, line-routed, to its kind)."""
    if who.kind is not PrincipalKind.AGENCY:
        raise Forbidden(f"only an agency decides on enrollments, not a {who.kind.value}", field="principal", got=who.id)
    proc = PROCEDURES[enr.procedure]
    addressed = enr.agency_id == who.name if enr.agency_id else serves(proc, agency_kind(who.name))
    if not addressed:
        return Basis(False, reason="not addressed to this agency")
    return Basis(True, legal_basis="addressee")


def require_policy_setter(who: Principal, proc: Procedure) -> None:
    """Only an agency of the procedure's kind sets a standing policy for it."""
    if who.kind is not PrincipalKind.AGENCY or not serves(proc, agency_kind(who.name)):
        raise Forbidden(f"only a {proc.agency_kind} sets a policy for {proc.code}", field="principal", got=who.id)


def require_grantor(who: Principal) -> str:
    """Only a company grants rights, and only over its own data; returns its corporate number."""
    if who.kind is not PrincipalKind.COMPANY:
        raise Forbidden("only a company grants rights over its own data", field="principal", got=who.id, code="forbidden")
    return who.name


def may_hold_personal_numbers(grantee: Principal) -> bool:
    """A bank has no legal basis to handle personal numbers (番号法第9条); firms and vendors may, under a grant."""
    return grantee.kind is not PrincipalKind.BANK


def may_revoke(who: Principal, grant: Grant) -> Basis:
    if who.kind is PrincipalKind.COMPANY and grant.corporate_number == who.name:
        return Basis(True, legal_basis="own grant")
    return Basis(False, reason="not the granting company")


def may_issue_disposition(who: Principal, proc: Procedure, header: dict[str, Any] | None) -> Basis:
    """An agency of the disposition's kind, in its own name: a municipality issues only under its
    own 地方公共団体コード (地方税法第321条の4: the municipality that decided the tax notifies it)."""
    if who.kind is not PrincipalKind.AGENCY or not serves(proc, agency_kind(who.name)):
        return Basis(False, reason=f"not a {proc.agency_kind}")
    code = (header or {}).get("municipality_code")
    own = who.name.split(":", 1)[1]
    if code is not None and code != own:
        return Basis(False, reason=f"issued in the name of municipality {code}, not {own}")
    return Basis(True, legal_basis=proc.legal_basis)
