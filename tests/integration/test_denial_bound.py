"""The bound on recorded denials (issue 14, item 8), on the embedded log and catalog: per principal
and window, the first denials one by one, then exact sums per company — at most as many companies
as the bound, the rest summed up about no company — and every allowed read, always."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ledger.catalog import tables as t
from ledger.domain.model import Principal
from ledger.service.access import SUPPRESSED, AccessLog
from ledger.service.authz import Basis
from tests.integration.helpers import corp_number

pytestmark = pytest.mark.integration

_SERIAL = itertools.count(1)
START = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
ALLOWED = Basis(True, legal_basis="own data")
DENIED = Basis(False, reason="no relation to this company's data")


class StepClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def rows_of(kiroku, viewer: str) -> list[dict]:
    a = t.access_log
    with kiroku.catalog.connect() as conn:
        return [dict(r) for r in conn.execute(select(a).where(a.c.viewer == viewer).order_by(a.c.at_us, a.c.corporate_number, a.c.seq))
                .mappings().all()]


def recorder(kiroku, clock, bound: int) -> AccessLog:
    return AccessLog(kiroku.log, kiroku.codec, after_append=kiroku.processors.catch_up, clock=clock,
                     denials_recorded=bound, denial_window=timedelta(hours=1))


def test_denials_about_more_companies_than_the_bound_are_summed_up_about_no_company(kiroku):
    clock = StepClock()
    access = recorder(kiroku, clock, bound=2)
    who = Principal.parse("vendor:enumerator")
    companies = [corp_number(n) for n in range(6)]
    access.record(who, [(c, "enrollments", c, DENIED) for c in companies])
    clock.now += timedelta(hours=1)
    access.flush()
    rows = rows_of(kiroku, who.id)
    full = [(r["corporate_number"], r["action"]) for r in rows if r["action"] != SUPPRESSED]
    assert sorted(full) == sorted([(companies[0], "enrollments"), (companies[1], "enrollments")])
    summed = {r["corporate_number"]: r["subject"] for r in rows if r["action"] == SUPPRESSED}
    assert summed == {companies[2]: "1 denial", companies[3]: "1 denial", t.NO_COMPANY: "2 denials"}
    assert "about no known company, or about companies beyond those summed up one by one" in next(
        r["reason"] for r in rows if r["corporate_number"] == t.NO_COMPANY)


STEPS = st.lists(st.tuples(st.integers(0, 50),  # minutes since the last step
                           st.sampled_from([0, 1, 2, None]),  # which company (None: no known company)
                           st.booleans(),  # allowed?
                           st.sampled_from(["snapshot", "receipt", "query"])), min_size=1, max_size=25)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS, bound=st.integers(1, 4))
def test_the_log_holds_every_allowed_read_and_accounts_for_every_denial_exactly(kiroku, steps, bound):
    clock = StepClock()
    access = recorder(kiroku, clock, bound)
    who = Principal.parse(f"firm:p{next(_SERIAL)}")  # one principal per example: their rows apart
    companies = [corp_number(n) for n in range(3)]
    denials: dict[datetime, int] = {}  # window start → denials in it
    allowed = 0
    for minutes, company, ok, action in steps:
        clock.now += timedelta(minutes=minutes)
        corp = None if company is None else companies[company]
        access.record(who, [(corp, action, "subject", ALLOWED if ok else DENIED)])
        if ok:
            allowed += 1
        else:
            window = clock.now.replace(minute=0, second=0, microsecond=0)
            denials[window] = denials.get(window, 0) + 1
    clock.now += timedelta(hours=1)
    access.flush()
    rows = rows_of(kiroku, who.id)
    assert sum(r["outcome"] == "ALLOWED" for r in rows) == allowed
    for window, count in denials.items():
        at = (window.timestamp() * 10**6, (window + timedelta(hours=1)).timestamp() * 10**6)
        full = [r for r in rows if r["outcome"] == "DENIED" and r["action"] != SUPPRESSED and at[0] <= r["at_us"] < at[1]]
        assert len(full) == min(count, bound)
        stamp = window.isoformat(timespec="seconds")
        sums = [int(r["subject"].split()[0]) for r in rows if r["action"] == SUPPRESSED and f"in the window {stamp} –" in r["reason"]]
        assert sum(sums) == count - len(full)
        assert len(sums) <= min(4, bound + 1)  # one per company (three, and none), at most bound + 1: never one per denial
    assert all(re.fullmatch(r"1 denial|\d+ denials", r["subject"]) for r in rows if r["action"] == SUPPRESSED)


def probe(kiroku, who: Principal, corp: str, times: int) -> None:
    from ledger.errors import NotFound

    for _ in range(times):
        with pytest.raises(NotFound):
            kiroku.queries.enrollments(who, corp)


def test_a_company_listing_its_access_log_sees_the_summary_of_an_hour_that_is_over(kiroku, clock):
    from tests.factories import CORP_A
    from tests.integration.helpers import company_view, jst

    clock.set(jst(2026, 12, 4, 10, 0))
    who = Principal.parse("vendor:enumerator")
    probe(kiroku, who, CORP_A, kiroku.queries.access.denials_recorded + 3)
    clock.set(jst(2026, 12, 4, 11, 5))  # the hour is over; nobody has read or been denied since
    summed = [r for r in company_view(kiroku, CORP_A).access_log() if r.action == SUPPRESSED]
    assert [(r.viewer, r.subject, r.outcome) for r in summed] == [(who.id, "3 denials", "DENIED")]


def test_closing_the_deployment_sums_up_the_denials_it_counted_in_a_window_not_over(home, clock):
    from ledger.bootstrap import open_kiroku
    from tests.factories import CORP_A
    from tests.integration.helpers import company_view, jst

    clock.set(jst(2026, 12, 4, 10, 0))
    who = Principal.parse("vendor:enumerator")
    with open_kiroku(home=home, clock=clock) as first:
        probe(first, who, CORP_A, first.queries.access.denials_recorded + 2)
    with open_kiroku(home=home, clock=clock) as again:  # the same hour, another process
        summed = [r for r in company_view(again, CORP_A).access_log() if r.action == SUPPRESSED]
    assert [(r.viewer, r.subject) for r in summed] == [(who.id, "2 denials")]
