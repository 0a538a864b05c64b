"""Queries cost what the caller may see: authorization narrows each list before it runs.

No timing: on the embedded deployment, every statement a list read runs is explained by SQLite (``EXPLAIN QUERY PLAN``) and
must reach the big tables (submissions, dispositions, grants, enrollments) through an index, never
by scanning them whole; and a caller who may see nothing runs no statement over submissions at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from ledger.domain.model import Principal
from tests.factories import CHIYODA, payroll
from tests.integration.helpers import (
    agency,
    company,
    corp_number,
    enroll_payroll,
    firm_view,
    grant_until,
    municipality,
    special_collection,
)

pytestmark = pytest.mark.integration

BIG = ("submissions", "dispositions", "grants", "enrollments", "targets")


@contextmanager
def statements(kiroku) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement the catalog runs inside the block, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001 - SQLAlchemy's event signature
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    engine = kiroku.catalog.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def full_scans(kiroku, seen: list[tuple[str, Any]]) -> list[str]:
    """The big tables some statement reads by a whole pass (SQLite's plan says ``SCAN <table>``, even
    ``SCAN <table> USING INDEX …``, where a lookup says ``SEARCH``)."""
    found = []
    with kiroku.catalog.engine.connect() as conn:
        for statement, parameters in seen:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            for row in plan:
                detail = row[-1]
                for table in BIG:
                    if detail.split()[:2] == ["SCAN", table]:  # a whole pass, by index order or not
                        found.append(f"{detail} in: {statement.split(chr(10))[0][:100]}")
    return found


def filed(kiroku, n: int) -> list[str]:
    corps = [corp_number(100 + i) for i in range(n)]
    for corp in corps:
        enroll_payroll(kiroku, corp, CHIYODA)
        company(kiroku, corp).record(corp, "PAYROLL_REPORT", "2026", payroll())
    return corps


def run(kiroku, read: Callable[[], Any]) -> tuple[Any, list[tuple[str, Any]]]:
    with statements(kiroku) as seen:
        result = read()
    return result, seen


def test_a_grantee_with_no_grant_runs_no_query_over_submissions(kiroku):
    filed(kiroku, 6)
    stranger = Principal.parse("vendor:stranger")
    result, seen = run(kiroku, lambda: kiroku.queries.filings(stranger))
    assert result == []
    assert [s for s, _ in seen if "FROM submissions" in s] == []


def test_every_list_a_principal_asks_for_reaches_the_big_tables_through_an_index(kiroku):
    corps = filed(kiroku, 6)
    company(kiroku, corps[0]).grant("firm:tanaka-tax", ["PAYROLL_REPORT"], ["read", "receive_notices"], grant_until(kiroku))
    chiyoda = agency(kiroku, municipality(CHIYODA))
    sid = kiroku.queries.filings(Principal.company(corps[0]))[0].submission_id
    chiyoda.issue_disposition(corps[0], "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(), based_on=[sid])
    firm = firm_view(kiroku, "firm:tanaka-tax")
    reads: dict[str, Callable[[], Any]] = {
        "firm filings": lambda: kiroku.queries.filings(firm.principal),
        "firm filings of one client": lambda: kiroku.queries.filings(firm.principal, corps[0]),
        "company filings": lambda: kiroku.queries.filings(Principal.company(corps[1])),
        "firm inbox": lambda: firm.inbox(),
        "company inbox": lambda: kiroku.queries.inbox(Principal.company(corps[0])),
        "company dispositions": lambda: kiroku.queries.dispositions(Principal.company(corps[0]), corps[0]),
        "company grants": lambda: kiroku.queries.grants(Principal.company(corps[0])),
        "firm grants": lambda: firm.grants(),
        "agency notices": lambda: chiyoda.notices(),
        "agency pending enrollments": lambda: chiyoda.pending_enrollments(),
        "agency filings": lambda: chiyoda.filings(),
        "company history": lambda: kiroku.queries.history(Principal.company(corps[0]), sid),
        "company reminders": lambda: kiroku.queries.reminders(Principal.company(corps[0]), corps[0]),
        "agency missing report": lambda: chiyoda.missing_report(),
        "company enrollments": lambda: kiroku.queries.enrollments(Principal.company(corps[2]), corps[2]),
        "company access log": lambda: kiroku.queries.access_log(Principal.company(corps[0]), corps[0]),
    }
    assert len(firm.filings()) == 1  # the firm sees its one client's filing, and only it
    scans = {}
    for name, read in reads.items():
        _, seen = run(kiroku, read)
        assert seen, name
        found = full_scans(kiroku, seen)
        if found:
            scans[name] = found
    assert scans == {}
