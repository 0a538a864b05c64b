"""Strict input, named fields (issue 14, item 9, in part): what used to pass silently is refused,
naming the field, what was expected and what came."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.domain.model import Principal
from ledger.errors import ValidationError
from ledger.service.queries import parse_cursor
from tests.factories import CORP_A
from tests.integration.helpers import company_view, firm_view

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("cursor", ["0:" + "9" * 40, "-1:5", "0:-2", "2147483648:1", "0:1," * 2000])
def test_a_cursor_outside_what_a_log_stores_is_refused_not_a_server_error(cursor: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_cursor(cursor)
    assert (err.value.code, err.value.field) == ("invalid_cursor", "cursor")
    assert len(str(err.value.got)) <= 80  # a huge cursor is not echoed whole


def test_a_cursor_a_previous_call_returned_still_parses() -> None:
    assert parse_cursor("0:12,3:40") == {0: 12, 3: 40}
    assert parse_cursor("1:-1") == {1: -1}


@pytest.mark.parametrize(("field", "value"), [("period_from", "26"), ("period_to", "2026-13"), ("period_from", "２０２６")])
def test_a_period_filter_that_is_no_year_or_month_is_refused(kiroku, field: str, value: str) -> None:
    with pytest.raises(ValidationError) as err:
        kiroku.queries.filings(Principal.company(CORP_A), **{field: value})
    assert (err.value.code, err.value.field, err.value.got) == ("invalid_period", field, value)


def test_year_and_month_period_filters_are_taken(kiroku) -> None:
    assert kiroku.queries.filings(Principal.company(CORP_A), period_from="2026", period_to="2026-12") == []


@pytest.mark.parametrize("grantee", ["vendor:", "vendor:acme\u202e", "vendor:ａｃｍｅ", "vendor:a b", "firm:" + "x" * 65])
def test_a_malformed_grantee_is_refused_naming_the_grantee(kiroku, grantee: str) -> None:
    a = company_view(kiroku, CORP_A)
    with pytest.raises(ValidationError) as err:
        a.grant(grantee, ["PAYROLL_REPORT"], ["read"], kiroku.queries.clock() + timedelta(days=30))
    assert (err.value.code, err.value.field, err.value.got) == ("invalid_grantee", "grantee", grantee)
    assert a.grants() == []


def test_a_grant_that_never_ends_is_refused_and_one_within_seven_years_is_taken(kiroku) -> None:
    a = company_view(kiroku, CORP_A)
    now = kiroku.queries.clock()
    with pytest.raises(ValidationError) as err:
        a.grant("firm:tanaka-tax", ["PAYROLL_REPORT"], ["read"], now.replace(year=9999))
    assert (err.value.code, err.value.field) == ("invalid_expiry", "expires_at")
    assert a.grant("firm:tanaka-tax", ["PAYROLL_REPORT"], ["read"], now + timedelta(days=7 * 365)).grantee == "firm:tanaka-tax"
    assert [g.grantee for g in firm_view(kiroku, "firm:tanaka-tax").grants()] == ["firm:tanaka-tax"]
