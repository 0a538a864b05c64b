"""Which enrolled filings are missing after their deadline — found as the agencies find them.

- An agency that accepted an enrollment (one by one) expects every period of the procedure whose
  deadline passed after it accepted.
- An agency that accepts by standing policy (``kiroku enrollments policy … --accept-all``) accepted
  every company's enrollment, so "the company filed nothing" would accuse every company of the
  country before every municipality. A municipality knows its employers from what they filed to it
  before (the 特別徴収義務者 of earlier years): it is told of a company that filed this procedure to
  it before and files nothing for a later period.
- A pension office with which an office registered its 賞与支払予定月 expects, for each of those
  months, a 賞与支払届 of a bonus paid in it or a 賞与不支給報告書 (日本年金機構, from April 2021;
  japan-forms-review.md E9). A month with neither is reported as a missing ``BONUS_NON_PAYMENT``.

Each report is made once: a report already made for (agency, procedure, period, company) is not
made again. A period whose retention is over is not reported: it can no longer be filed (a late
filing is refused as ``period_past_retention``, ``ledger.domain.procedures.validate_filing_period``),
so the report would name a fault nobody can cure — the agency's right to assess it has lapsed with
it (国税通則法第70条, 地方税法第17条の5, 厚生年金保険法第92条).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from ledger.catalog import reads
from ledger.catalog.reads import Connection
from ledger.catalog.tables import loads
from ledger.domain import calendar
from ledger.domain.procedures import PROCEDURES, retention_ends

#: The filing that answers a registered bonus month when no 賞与支払届 came.
BONUS_NON_PAYMENT = "BONUS_NON_PAYMENT"


@dataclass(frozen=True, slots=True)
class Due:
    """One missing filing to report: whose, to which agency, under which enrollment."""

    agency_id: str
    corporate_number: str
    procedure: str
    period: str
    enrollment_id: str
    deadline: datetime


def _bonus_months(enr: dict) -> frozenset[int]:
    return frozenset(loads(enr["bonus_months"])) if enr.get("bonus_months") else frozenset()


def _expected(conn: Connection, enr: dict, agency: str, since: datetime, now: datetime) -> Iterator[Due]:
    corp, proc = enr["corporate_number"], enr["procedure"]
    for period, passed in calendar.deadlines_between(proc, since, now):
        if retention_ends(PROCEDURES[proc], period) > now and not reads.has_filed(conn, corp, proc, period):
            yield Due(agency, corp, proc, period, enr["enrollment_id"], passed)
    for month, passed in calendar.month_deadlines_between(BONUS_NON_PAYMENT, _bonus_months(enr), since, now):
        if retention_ends(PROCEDURES[BONUS_NON_PAYMENT], month) > now and not reads.has_bonus_filing(conn, corp, month):
            yield Due(agency, corp, BONUS_NON_PAYMENT, month, enr["enrollment_id"], passed)


def missing_filings(conn: Connection, now: datetime) -> list[Due]:
    """Every missing filing not yet reported, in enrollment order."""
    out: list[Due] = []
    seen: set[tuple[str, str, str, str]] = set()

    def add(due: Due) -> None:
        key = (due.agency_id, due.procedure, due.period, due.corporate_number)
        if key not in seen and not reads.missing_reported(conn, *key):
            seen.add(key)
            out.append(due)

    for enr, agency, since in reads.accepted_enrollments(conn):
        for due in _expected(conn, enr, agency, since, now):
            add(due)
    # By policy: only the agency's employers (companies whose filings of the procedure reached it).
    for enr, agency, since in reads.policy_accepted_enrollments(conn):
        for due in _expected(conn, enr, agency, since, now):
            add(due)
    return out


def accepted(enrollment_decisions: dict[str, str], policy_accepts: bool) -> bool:
    """Whether an enrollment counts as accepted: by some agency's decision or by a standing policy."""
    return "accepted" in enrollment_decisions.values() or policy_accepts


__all__ = ["BONUS_NON_PAYMENT", "Due", "accepted", "missing_filings"]
