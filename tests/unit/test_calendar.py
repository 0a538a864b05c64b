"""Business days, periods and deadlines in Japan time (DESIGN.md flow 7 "Deadlines")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.calendar import (
    CALENDAR_FIRST_YEAR,
    CALENDAR_LAST_YEAR,
    FIRST_YEAR,
    JST,
    KNOWN_PROCEDURES,
    LAST_YEAR,
    deadline,
    deadlines_between,
    due_date,
    is_business_day,
    is_on_time,
    latest_year,
    next_deadline,
    period_bounds,
    period_sort_key,
    previous_deadlines,
    roll_forward,
    validate_period,
)
from ledger.domain.procedures import PROCEDURES, retention_ends, validate_filing_period
from ledger.errors import ValidationError

pytestmark = pytest.mark.unit

# Dates whose roll-forward stays inside the holiday table (holidays' Japan table: 2099 as of 0.109).
supported_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(CALENDAR_LAST_YEAR, 12, 24))


def jst(*args: int) -> datetime:
    return datetime(*args, tzinfo=JST)  # type: ignore[misc]


def error_of(call: Callable[..., object], *args: object, **kwargs: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        call(*args, **kwargs)
    return info.value


# --- business days ---------------------------------------------------------------------------


def test_weekends_are_not_business_days() -> None:
    assert not is_business_day(date(2027, 1, 30))  # Saturday
    assert not is_business_day(date(2027, 1, 31))  # Sunday
    assert is_business_day(date(2027, 2, 1))  # Monday


@pytest.mark.parametrize(
    "day",
    [
        date(2027, 1, 1),  # 元日
        date(2026, 5, 4),  # みどりの日
        date(2026, 5, 5),  # こどもの日
        date(2026, 5, 6),  # 振替休日 for 憲法記念日 on Sunday 3 May
        date(2026, 9, 22),  # 国民の休日, between 敬老の日 and 秋分の日
        date(2027, 3, 22),  # 振替休日 for 春分の日 on Sunday 21 March
    ],
)
def test_national_holidays_are_not_business_days(day: date) -> None:
    assert day.weekday() < 5
    assert not is_business_day(day)


YEAR_END_CLOSURE = [(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)]


@given(st.integers(FIRST_YEAR, CALENDAR_LAST_YEAR), st.sampled_from(YEAR_END_CLOSURE))
def test_year_end_closure_is_never_a_business_day(year: int, month_day: tuple[int, int]) -> None:
    assert not is_business_day(date(year, *month_day))


def test_the_days_around_the_year_end_closure_can_be_business_days() -> None:
    assert is_business_day(date(2026, 12, 28))  # Monday
    assert is_business_day(date(2027, 1, 4))  # Monday


def test_the_holiday_calendar_is_the_holidays_packages_japan_table() -> None:
    assert (CALENDAR_FIRST_YEAR, CALENDAR_LAST_YEAR) == (holidays.Japan.start_year, holidays.Japan.end_year)
    assert LAST_YEAR == CALENDAR_LAST_YEAR - 1  # a period's deadline can fall in the year after it
    assert not is_business_day(date(2099, 3, 20))  # Friday, 春分の日 in the package's table


@pytest.mark.parametrize("day", [date(CALENDAR_LAST_YEAR + 1, 1, 5), date(CALENDAR_FIRST_YEAR - 1, 6, 1)])
def test_dates_outside_the_holiday_table_are_refused_not_taken_for_holiday_free(day: date) -> None:
    err = error_of(is_business_day, day)
    assert (err.code, err.field, err.got) == ("outside_calendar", "date", day.isoformat())
    assert err.expected == f"a date from {CALENDAR_FIRST_YEAR}-01-01 to {CALENDAR_LAST_YEAR}-12-31"
    assert "holidays package" in err.message
    with pytest.raises(ValidationError):
        roll_forward(day)


def test_a_datetime_is_not_taken_for_a_date() -> None:
    with pytest.raises(TypeError):
        is_business_day(datetime(2027, 2, 1, tzinfo=UTC))


@given(supported_dates)
def test_roll_forward_returns_the_first_business_day_on_or_after(d: date) -> None:
    rolled = roll_forward(d)
    assert rolled >= d
    assert is_business_day(rolled)
    assert all(not is_business_day(d + timedelta(days=k)) for k in range((rolled - d).days))
    # The longest closure is the New Year block plus a weekend and a holiday or two.
    assert (rolled - d).days <= 9


@given(supported_dates)
def test_roll_forward_leaves_business_days_alone(d: date) -> None:
    if is_business_day(d):
        assert roll_forward(d) == d


@pytest.mark.parametrize(
    ("day", "rolled"),
    [
        (date(2026, 12, 29), date(2027, 1, 4)),  # closure ends Sunday 3 Jan; Monday 4 Jan
        (date(2025, 12, 31), date(2026, 1, 5)),  # 3 Jan 2026 is a Saturday
        (date(2027, 1, 1), date(2027, 1, 4)),
        (date(2026, 5, 2), date(2026, 5, 7)),  # Golden Week with its substitute holiday
        (date(2026, 9, 19), date(2026, 9, 24)),  # Silver Week 2026
    ],
)
def test_roll_forward_over_closures(day: date, rolled: date) -> None:
    assert roll_forward(day) == rolled


# --- periods -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("procedure", "period", "bounds"),
    [
        ("PAYROLL_REPORT", "2026", (date(2026, 1, 1), date(2026, 12, 31))),
        ("WITHHOLDING_SLIP", "2026", (date(2026, 1, 1), date(2026, 12, 31))),
        ("STANDARD_REMUNERATION", "2027", (date(2027, 1, 1), date(2027, 12, 31))),
        ("BONUS_PAYMENT", "2027-06-25", (date(2027, 6, 25), date(2027, 6, 25))),
        ("WAGE_LEDGER", "2028-02", (date(2028, 2, 1), date(2028, 2, 29))),
        ("WAGE_LEDGER", "2096-02", (date(2096, 2, 1), date(2096, 2, 29))),  # a leap year
        ("WAGE_LEDGER", f"{LAST_YEAR}-12", (date(LAST_YEAR, 12, 1), date(LAST_YEAR, 12, 31))),  # the last month
        ("SPECIAL_COLLECTION_NOTICE", "2027", (date(2027, 4, 1), date(2028, 3, 31))),
        ("STANDARD_REMUNERATION_DECISION", "2027", (date(2027, 1, 1), date(2027, 12, 31))),
    ],
)
def test_each_procedure_has_its_period_format(
    procedure: str, period: str, bounds: tuple[date, date]
) -> None:
    assert validate_period(procedure, period, now=datetime(LAST_YEAR, 12, 31, tzinfo=UTC)) == period  # not in the future then
    assert period_bounds(procedure, period) == bounds


def test_known_procedures_are_the_designs_first_set_and_dispositions() -> None:
    assert set(KNOWN_PROCEDURES) == {
        "PAYROLL_REPORT",
        "WITHHOLDING_SLIP",
        "STANDARD_REMUNERATION",
        "BONUS_PAYMENT",
        "WAGE_LEDGER",
        "SPECIAL_COLLECTION_NOTICE",
        "STANDARD_REMUNERATION_DECISION",
        "BONUS_NON_PAYMENT",  # 賞与不支給報告書 (issue 15, rule E9)
    }


@pytest.mark.parametrize(
    ("procedure", "period", "expected"),
    [
        ("PAYROLL_REPORT", "26", f"a payment year YYYY, e.g. 2026 (years 2000 to {LAST_YEAR})"),
        ("PAYROLL_REPORT", "2026-01", f"a payment year YYYY, e.g. 2026 (years 2000 to {LAST_YEAR})"),
        ("PAYROLL_REPORT", "1999", f"a payment year YYYY, e.g. 2026 (years 2000 to {LAST_YEAR})"),
        ("WITHHOLDING_SLIP", str(LAST_YEAR + 1), f"a payment year YYYY, e.g. 2026 (years 2000 to {LAST_YEAR})"),
        ("PAYROLL_REPORT", " 2026", f"a payment year YYYY, e.g. 2026 (years 2000 to {LAST_YEAR})"),
        ("PAYROLL_REPORT", "２０２６", f"a payment year YYYY, e.g. 2026 (years 2000 to {LAST_YEAR})"),
        ("STANDARD_REMUNERATION", "R9", f"a year YYYY, e.g. 2027 (years 2000 to {LAST_YEAR})"),
        (
            "BONUS_PAYMENT",
            "2027-02-30",
            f"the bonus payment date YYYY-MM-DD, e.g. 2027-06-25 (years 2000 to {LAST_YEAR})",
        ),
        (
            "BONUS_PAYMENT",
            "2027/06/25",
            f"the bonus payment date YYYY-MM-DD, e.g. 2027-06-25 (years 2000 to {LAST_YEAR})",
        ),
        ("WAGE_LEDGER", "2027-13", f"a month YYYY-MM, e.g. 2027-04 (years 2000 to {LAST_YEAR})"),
        ("WAGE_LEDGER", "2027-4", f"a month YYYY-MM, e.g. 2027-04 (years 2000 to {LAST_YEAR})"),
        (
            "SPECIAL_COLLECTION_NOTICE",
            "2027-04",
            f"a fiscal year YYYY (年度, April to March), e.g. 2027 (years 2000 to {LAST_YEAR})",
        ),
        ("STANDARD_REMUNERATION_DECISION", "", f"a year YYYY, e.g. 2027 (years 2000 to {LAST_YEAR})"),
    ],
)
def test_malformed_periods_are_refused_with_the_format_expected(
    procedure: str, period: str, expected: str
) -> None:
    err = error_of(validate_period, procedure, period)
    assert (err.code, err.field, err.expected, err.got) == (
        "invalid_period",
        "period",
        expected,
        period,
    )
    assert procedure in err.message


@pytest.mark.parametrize(
    ("procedure", "period"),
    [("PAYROLL_REPORT", str(LAST_YEAR + 1)), ("BONUS_PAYMENT", f"{CALENDAR_LAST_YEAR}-01-10"),
     ("WAGE_LEDGER", "2100-02"), ("SPECIAL_COLLECTION_NOTICE", "2101")],
)
def test_periods_past_the_holiday_table_are_refused_saying_where_the_calendar_ends(procedure: str, period: str) -> None:
    err = error_of(validate_period, procedure, period)
    assert (err.code, err.field, err.got) == ("invalid_period", "period", period)
    assert err.expected is not None and err.expected.endswith(f"(years 2000 to {LAST_YEAR})")
    assert f"holiday calendar ends with {CALENDAR_LAST_YEAR}" in err.message and holidays.__version__ in err.message


def test_periods_before_2000_are_refused_saying_where_periods_start() -> None:
    err = error_of(validate_period, "STANDARD_REMUNERATION", "1999")
    assert (err.code, err.field, err.got) == ("invalid_period", "period", "1999")
    assert "from 2000 on" in err.message


def test_a_period_that_is_not_text_is_refused() -> None:
    err = error_of(validate_period, "PAYROLL_REPORT", 2026)
    assert (err.code, err.field, err.got) == ("invalid_period", "period", 2026)
    assert "not text" in err.message


def test_period_errors_name_the_field_they_were_given() -> None:
    assert error_of(validate_period, "WAGE_LEDGER", "2027", field="submission.period").field == (
        "submission.period"
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: validate_period("PAYROL_REPORT", "2026"),
        lambda: due_date("payroll_report", "2026"),
        lambda: period_bounds("", "2026"),
        lambda: deadlines_between("NENMATSU", datetime(2026, 1, 1, tzinfo=UTC), datetime.now(UTC)),
    ],
)
def test_unknown_procedures_are_refused_listing_the_known_ones(call: Callable[[], object]) -> None:
    err = error_of(call)
    assert (err.code, err.field) == ("unknown_procedure", "procedure")
    assert err.expected == "one of " + ", ".join(KNOWN_PROCEDURES)


@given(st.lists(st.dates(date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)), min_size=2, max_size=10))
def test_period_sort_key_orders_periods_chronologically(days: list[date]) -> None:
    periods = [d.isoformat() for d in days]
    assert sorted(periods, key=lambda p: period_sort_key("BONUS_PAYMENT", p)) == sorted(periods)
    months = sorted({d.strftime("%Y-%m") for d in days})
    assert sorted(reversed(months), key=lambda p: period_sort_key("WAGE_LEDGER", p)) == months


# --- due dates and deadlines ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("procedure", "period", "due"),
    [
        ("PAYROLL_REPORT", "2026", date(2027, 2, 1)),  # 31 Jan 2027 is a Sunday
        ("WITHHOLDING_SLIP", "2026", date(2027, 2, 1)),
        ("PAYROLL_REPORT", "2025", date(2026, 2, 2)),  # 31 Jan 2026 is a Saturday
        ("PAYROLL_REPORT", "2027", date(2028, 1, 31)),  # a Monday: no move
        ("STANDARD_REMUNERATION", "2027", date(2027, 7, 12)),  # 10 Jul 2027 is a Saturday
        ("STANDARD_REMUNERATION", "2026", date(2026, 7, 10)),  # a Friday
        ("BONUS_PAYMENT", "2027-06-25", date(2027, 6, 30)),  # paid Friday, due Wednesday
        ("BONUS_PAYMENT", "2026-12-25", date(2027, 1, 4)),  # 30 Dec is in the closure
        ("BONUS_PAYMENT", "2026-12-28", date(2027, 1, 4)),  # 2 Jan, then a weekend
        ("BONUS_PAYMENT", "2025-12-29", date(2026, 1, 5)),  # 3 Jan 2026 is a Saturday
        ("BONUS_PAYMENT", "2026-04-29", date(2026, 5, 7)),  # 4 May is Golden Week
        ("BONUS_PAYMENT", "2098-12-31", date(2099, 1, 5)),  # the last period with holidays 0.109
    ],
)
def test_due_dates_roll_forward_to_a_business_day(procedure: str, period: str, due: date) -> None:
    assert due_date(procedure, period) == due


@pytest.mark.parametrize(("period", "weekday"), [("2025", "Saturday"), ("2026", "Sunday"), ("2027", "Monday"), ("2031", "Saturday")])
def test_the_31_may_special_collection_notice_deadline_is_never_rolled(period: str, weekday: str) -> None:
    """The municipality notifies the employer of the 特別徴収税額 by 31 May (地方税法第321条の4第1項),
    and that deadline is excluded from the holiday extension of 地方税法第20条の5第2項 by 地方税法施行令
    第6条の18 — "たとえ休日であっても延期されない" (japan-forms-review.md, Part 3 E4). Filings keep rolling."""
    due = due_date("SPECIAL_COLLECTION_NOTICE", period)
    assert due == date(int(period), 5, 31) and due.strftime("%A") == weekday
    assert deadline("SPECIAL_COLLECTION_NOTICE", period) == datetime(int(period), 5, 31, 15, 0, tzinfo=UTC)  # 00:00 JST on 1 June
    assert due_date("PAYROLL_REPORT", "2025") == date(2026, 2, 2)  # a filing on a Saturday still moves


@pytest.mark.parametrize(
    ("procedure", "period"),
    [("WAGE_LEDGER", "2027-04"), ("STANDARD_REMUNERATION_DECISION", "2027")],
)
def test_some_procedures_have_no_deadline(procedure: str, period: str) -> None:
    assert due_date(procedure, period) is None
    assert deadline(procedure, period) is None
    assert is_on_time(procedure, period, datetime.now(UTC)) is None


def test_deadline_passes_at_midnight_japan_time_after_the_due_date() -> None:
    passes = deadline("PAYROLL_REPORT", "2026")
    assert passes == datetime(2027, 2, 1, 15, 0, tzinfo=UTC)
    assert passes is not None and passes.utcoffset() == timedelta(0)
    assert passes.astimezone(JST) == jst(2027, 2, 2)


def test_on_time_until_the_last_second_of_the_due_date_in_japan() -> None:
    assert is_on_time("PAYROLL_REPORT", "2026", jst(2027, 2, 1, 23, 59, 59)) is True
    assert is_on_time("PAYROLL_REPORT", "2026", jst(2027, 2, 2, 0, 0, 0)) is False
    # The same instants seen from UTC and from New York.
    assert is_on_time("PAYROLL_REPORT", "2026", datetime(2027, 2, 1, 14, 59, 59, tzinfo=UTC))
    new_york = timezone(timedelta(hours=-5))
    assert not is_on_time("PAYROLL_REPORT", "2026", datetime(2027, 2, 1, 10, tzinfo=new_york))
    assert is_on_time("BONUS_PAYMENT", "2027-06-25", jst(2027, 6, 30, 23, 59, 59)) is True
    assert is_on_time("BONUS_PAYMENT", "2027-06-25", jst(2027, 7, 1)) is False


def test_on_time_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_on_time("PAYROLL_REPORT", "2026", datetime(2027, 2, 1, 12))
    with pytest.raises(ValueError, match="timezone-aware"):
        is_on_time("WAGE_LEDGER", "2027-04", datetime(2027, 2, 1, 12))


YEARLY = [  # yearly filings: rolled to a business day (the 31 May notice is not: see above)
    "PAYROLL_REPORT",
    "WITHHOLDING_SLIP",
    "STANDARD_REMUNERATION",
]


@given(st.integers(FIRST_YEAR, LAST_YEAR))
def test_every_special_collection_notice_is_due_on_31_may_and_passes_at_the_next_midnight(year: int) -> None:
    assert due_date("SPECIAL_COLLECTION_NOTICE", str(year)) == date(year, 5, 31)
    assert deadline("SPECIAL_COLLECTION_NOTICE", str(year)) == datetime(year, 6, 1, tzinfo=JST)


@given(st.sampled_from(YEARLY), st.integers(FIRST_YEAR, LAST_YEAR))
def test_every_yearly_due_date_is_a_business_day_and_its_deadline_the_next_midnight(
    procedure: str, year: int
) -> None:
    due = due_date(procedure, str(year))
    assert due is not None and is_business_day(due)
    assert deadline(procedure, str(year)) == datetime.combine(
        due + timedelta(days=1), datetime.min.time(), tzinfo=JST
    )


@given(st.dates(date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)))
def test_bonus_due_date_is_the_first_business_day_from_five_days_after_payment(paid: date) -> None:
    due = due_date("BONUS_PAYMENT", paid.isoformat())
    assert due == roll_forward(paid + timedelta(days=5))


# --- deadline listings for reminders and missing-filing reports --------------------------------


def test_deadlines_between_lists_those_that_passed_in_the_window() -> None:
    got = deadlines_between("PAYROLL_REPORT", jst(2026, 1, 1), jst(2028, 12, 31))
    assert got == [
        ("2025", datetime(2026, 2, 2, 15, tzinfo=UTC)),
        ("2026", datetime(2027, 2, 1, 15, tzinfo=UTC)),
        ("2027", datetime(2028, 1, 31, 15, tzinfo=UTC)),
    ]


def test_deadlines_between_is_open_at_the_start_and_closed_at_the_end() -> None:
    passes = datetime(2027, 7, 12, 15, tzinfo=UTC)
    assert deadlines_between("STANDARD_REMUNERATION", passes - timedelta(seconds=1), passes) == [
        ("2027", passes)
    ]
    assert deadlines_between("STANDARD_REMUNERATION", passes, passes + timedelta(days=1)) == []


utc_instants = st.datetimes(datetime(1999, 1, 1), datetime(2102, 1, 1), timezones=st.just(UTC))


@given(st.sampled_from(YEARLY), st.lists(utc_instants, min_size=2, max_size=6))
def test_successive_windows_see_each_passed_deadline_once(
    procedure: str, instants: list[datetime]
) -> None:
    cuts = sorted(instants)
    seen = [item for a, b in zip(cuts, cuts[1:]) for item in deadlines_between(procedure, a, b)]
    assert seen == [item for item in previous_deadlines(procedure, cuts[-1]) if item[1] > cuts[0]]


@pytest.mark.parametrize(
    "procedure", ["BONUS_PAYMENT", "WAGE_LEDGER", "STANDARD_REMUNERATION_DECISION", "BONUS_NON_PAYMENT"]
)
def test_procedures_without_listable_yearly_deadlines_list_none(procedure: str) -> None:
    start, end = jst(2000, 1, 1), jst(2101, 12, 31)
    assert deadlines_between(procedure, start, end) == []
    assert previous_deadlines(procedure, end) == []
    assert next_deadline(procedure, start) is None


def test_previous_deadlines_start_in_2000_and_stop_at_now() -> None:
    got = previous_deadlines("STANDARD_REMUNERATION", jst(2002, 7, 10, 12))
    assert [p for p, _ in got] == ["2000", "2001"]
    assert previous_deadlines("STANDARD_REMUNERATION", jst(2000, 7, 10, 12)) == []


def test_next_deadline_is_the_first_not_yet_passed() -> None:
    assert next_deadline("PAYROLL_REPORT", jst(2027, 2, 1, 23, 59)) == (
        "2026",
        datetime(2027, 2, 1, 15, tzinfo=UTC),
    )
    assert next_deadline("PAYROLL_REPORT", jst(2027, 2, 2)) == (
        "2027",
        datetime(2028, 1, 31, 15, tzinfo=UTC),
    )
    assert next_deadline("PAYROLL_REPORT", jst(CALENDAR_LAST_YEAR, 6, 1)) is None


def test_listings_need_aware_times() -> None:
    with pytest.raises(ValueError):
        deadlines_between("PAYROLL_REPORT", datetime(2026, 1, 1), datetime(2027, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        previous_deadlines("PAYROLL_REPORT", datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        next_deadline("PAYROLL_REPORT", datetime(2026, 1, 1))


# --- the window of periods a filing may name (issue 14, item 9) --------------------------------------


def test_the_latest_year_a_period_may_name_is_next_year_in_japan_time() -> None:
    # 31 Dec 15:00 UTC is already 1 January in Japan.
    assert latest_year(datetime(2026, 12, 31, 14, 59, tzinfo=UTC)) == 2027
    assert latest_year(datetime(2026, 12, 31, 15, 0, tzinfo=UTC)) == 2028


@pytest.mark.parametrize(("procedure", "period"), [("PAYROLL_REPORT", "2028"), ("BONUS_PAYMENT", "2028-01-04"),
                                                   ("WAGE_LEDGER", "2028-01"), ("SPECIAL_COLLECTION_NOTICE", "2090")])
def test_a_period_in_a_year_after_next_is_refused_with_the_latest_year(procedure: str, period: str) -> None:
    now = datetime(2026, 12, 4, tzinfo=UTC)
    with pytest.raises(ValidationError) as err:
        validate_period(procedure, period, now=now)
    assert (err.value.code, err.value.field, err.value.got) == ("period_in_future", "period", period)
    assert err.value.expected.endswith("no later than 2027")
    assert validate_period(procedure, period.replace("2028", "2027").replace("2090", "2027"), now=now)


def test_a_filing_may_be_recorded_late_until_its_retention_ends_and_not_after() -> None:
    # 期限後提出 is legal; a record made after its retention (給与支払報告書: 7 years from the day after the
    # last 法定納期限 of the 住民税 it assesses, 地方税法第17条の5第7項 and 第321条の5第1項) would be erased by
    # the next retention run. 2019's: 10 June 2021 (a Thursday) → 11 June 2028.
    payroll = PROCEDURES["PAYROLL_REPORT"]
    assert retention_ends(payroll, "2019") == datetime(2028, 6, 11, tzinfo=JST)
    assert validate_filing_period(payroll, "2019", datetime(2028, 6, 10, 14, 59, tzinfo=UTC)) == "2019"
    with pytest.raises(ValidationError) as err:
        validate_filing_period(payroll, "2019", datetime(2028, 6, 10, 15, 0, tzinfo=UTC))  # 00:00 JST, 11 June 2028
    assert (err.value.code, err.value.field, err.value.got) == ("period_past_retention", "period", "2019")
    bonus = PROCEDURES["BONUS_PAYMENT"]  # 2 years (健康保険法施行規則第34条, 厚生年金保険法施行規則第28条)
    with pytest.raises(ValidationError) as err:
        validate_filing_period(bonus, "2024-06-25", datetime(2026, 12, 4, tzinfo=UTC))
    assert err.value.code == "period_past_retention"
    with pytest.raises(ValidationError) as err:
        validate_filing_period(bonus, "2028-06-25", datetime(2026, 12, 4, tzinfo=UTC))
    assert err.value.code == "period_in_future"


def test_a_standard_remuneration_report_is_filed_from_1_july_of_its_year() -> None:
    """E14: the 算定基礎届 is filed "毎年7月1日から同月10日までの間" (健康保険法施行規則第25条第1項,
    厚生年金保険法施行規則第18条第1項) and reports April–June pay: one dated before 1 July cannot hold
    its June. From then on, late or not, it is taken (its deadline, 10 July rolled, says whether on time)."""
    proc = PROCEDURES["STANDARD_REMUNERATION"]
    with pytest.raises(ValidationError) as err:
        validate_filing_period(proc, "2027", datetime(2027, 6, 30, 23, 59, tzinfo=JST))
    assert (err.value.code, err.value.field, err.value.got) == ("filing_not_open", "period", "2027")
    assert validate_filing_period(proc, "2027", datetime(2027, 7, 1, 0, 0, tzinfo=JST)) == "2027"
    assert validate_filing_period(proc, "2027", datetime(2027, 11, 30, tzinfo=JST)) == "2027"  # late: still recorded
    assert validate_filing_period(PROCEDURES["BONUS_PAYMENT"], "2027-06-25", datetime(2027, 6, 26, tzinfo=JST))  # no window
