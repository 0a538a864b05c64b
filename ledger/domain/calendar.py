"""Business days, filing periods and deadlines, in Japan time (DESIGN.md flow 7 "Deadlines").

A filing deadline that falls on a Saturday, Sunday, national holiday (国民の祝日, including substitute
holidays 振替休日 and 国民の休日) or the year-end closure 29 Dec–3 Jan moves to the next business
day; the municipality's 31 May notice deadline does not (地方税法施行令第6条の18). A deadline
*passes* at 00:00 JST of the day after the due date, so a filing recorded at 23:59:59 JST on the
due date is on time.

Holidays come from the ``holidays`` package through its public API only, so the calendar ends
where that package's table for Japan ends (``holidays.Japan.end_year``, 2099 as of holidays 0.109).
A period's deadline can fall in the year after it, so periods run from 2000 to one year before
that (:data:`LAST_YEAR`, 2098 with holidays 0.109); later periods, and dates past the table, are
refused with a ``ValidationError`` saying so.

Each procedure code has one period format (all strings, years :data:`FIRST_YEAR` to
:data:`LAST_YEAR`):

==================================  ====================  =====================================
code                                period                due date (before rolling forward)
==================================  ====================  =====================================
``PAYROLL_REPORT``                  payment year YYYY     31 Jan of YYYY+1
``WITHHOLDING_SLIP``                payment year YYYY     31 Jan of YYYY+1
``STANDARD_REMUNERATION``           year YYYY             10 Jul of YYYY
``BONUS_PAYMENT``                   payment YYYY-MM-DD    payment date + 5 days
``WAGE_LEDGER``                     month YYYY-MM         none (retention only)
``SPECIAL_COLLECTION_NOTICE``       fiscal year YYYY      31 May of YYYY (never rolled)
``STANDARD_REMUNERATION_DECISION``  year YYYY             none
``BONUS_NON_PAYMENT``               month YYYY-MM         last day of the month + 5 days (inferred)
==================================  ====================  =====================================
"""

from __future__ import annotations

import calendar as _gregorian
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Final

import holidays

from ledger.errors import ValidationError

__all__ = [
    "CALENDAR_FIRST_YEAR",
    "CALENDAR_LAST_YEAR",
    "FIRST_YEAR",
    "JST",
    "KNOWN_PROCEDURES",
    "LAST_YEAR",
    "deadline",
    "deadlines_between",
    "due_date",
    "month_deadlines_between",
    "is_business_day",
    "is_on_time",
    "latest_year",
    "next_deadline",
    "period_bounds",
    "period_sort_key",
    "previous_deadlines",
    "roll_forward",
    "validate_period",
]

JST: Final = zoneinfo.ZoneInfo("Asia/Tokyo")

#: The years whose holidays the calendar knows: those the ``holidays`` package publishes for Japan.
CALENDAR_FIRST_YEAR: Final[int] = holidays.Japan.start_year
CALENDAR_LAST_YEAR: Final[int] = holidays.Japan.end_year

#: Periods name years in this range only. The last is a year before the holiday table ends, since
#: a period's due date can fall in the following year (31 Jan for a payment year, 5 days after a
#: bonus paid in late December).
FIRST_YEAR: Final = 2000
LAST_YEAR: Final = CALENDAR_LAST_YEAR - 1


# --- business days ---------------------------------------------------------------------------


@cache
def _holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("JP", years=year).keys())


def _require_in_calendar(d: date) -> None:
    if not CALENDAR_FIRST_YEAR <= d.year <= CALENDAR_LAST_YEAR:
        raise ValidationError(
            f"{d.isoformat()} is outside Kiroku's holiday calendar: the holidays package "
            f"(version {holidays.__version__}) publishes Japan's holidays for "
            f"{CALENDAR_FIRST_YEAR} to {CALENDAR_LAST_YEAR} only",
            field="date",
            expected=f"a date from {CALENDAR_FIRST_YEAR}-01-01 to {CALENDAR_LAST_YEAR}-12-31",
            got=d.isoformat(),
            code="outside_calendar",
        )


def _is_year_end_closure(d: date) -> bool:
    # 年末年始: government offices close 29 Dec–3 Jan (行政機関の休日に関する法律 第1条).
    return (d.month == 12 and d.day >= 29) or (d.month == 1 and d.day <= 3)


def is_business_day(d: date) -> bool:
    """True unless ``d`` is a weekend, a national holiday (祝日) or within 29 Dec–3 Jan.

    ValidationError (``outside_calendar``) for a date outside :data:`CALENDAR_FIRST_YEAR` to
    :data:`CALENDAR_LAST_YEAR`."""
    if isinstance(d, datetime):
        raise TypeError("is_business_day takes a date, not a datetime (convert to JST first)")
    _require_in_calendar(d)
    return d.weekday() < 5 and not _is_year_end_closure(d) and d not in _holidays(d.year)


def roll_forward(d: date) -> date:
    """The first business day on or after ``d``."""
    while not is_business_day(d):
        d += timedelta(days=1)
    return d


# --- periods -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    """How one procedure names its periods and when they are due."""

    parse: Callable[[str], tuple[date, date] | None]  # period -> bounds, None if malformed
    expected: str
    due: Callable[[date, date], date] | None  # bounds -> due date before rolling forward
    enumerable: bool  # periods are one per year and can be listed for deadline reports
    #: Whether a due date on a day offices are closed moves to the next business day. Filings do
    #: (国税通則法第10条第2項, 地方税法第20条の5第2項, 行政機関の休日に関する法律第2条); a deadline the
    #: law excludes from that extension does not.
    rolls: bool = True


_YEAR = re.compile(r"[0-9]{4}")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def _calendar_year(period: str) -> tuple[date, date] | None:
    if not _YEAR.fullmatch(period) or int(period) < 1:
        return None
    return date(int(period), 1, 1), date(int(period), 12, 31)


def _fiscal_year(period: str) -> tuple[date, date] | None:
    # 年度: April to the following March, the year named by the April it starts in.
    if not _YEAR.fullmatch(period) or not 1 <= int(period) < 9999:
        return None
    return date(int(period), 4, 1), date(int(period) + 1, 3, 31)


def _month(period: str) -> tuple[date, date] | None:
    m = _MONTH.fullmatch(period)
    if not m or int(m[1]) < 1 or not 1 <= int(m[2]) <= 12:
        return None
    year, month = int(m[1]), int(m[2])
    return date(year, month, 1), date(year, month, _gregorian.monthrange(year, month)[1])


def _day(period: str) -> tuple[date, date] | None:
    m = _DAY.fullmatch(period)
    if not m:
        return None
    try:
        d = date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:  # 2027-02-30, year 0000 and the like
        return None
    return d, d


def _year_range_note() -> str:
    return f" (years {FIRST_YEAR} to {LAST_YEAR})"


_RULES: Final[dict[str, _Rule]] = {
    # 給与支払報告書: payments of calendar year Y, due 31 Jan Y+1 (地方税法 第317条の6).
    "PAYROLL_REPORT": _Rule(
        _calendar_year,
        "a payment year YYYY, e.g. 2026" + _year_range_note(),
        lambda first, _last: date(first.year + 1, 1, 31),
        enumerable=True,
    ),
    # 源泉徴収票・法定調書合計表: same calendar-year rule, due 31 Jan Y+1.
    "WITHHOLDING_SLIP": _Rule(
        _calendar_year,
        "a payment year YYYY, e.g. 2026" + _year_range_note(),
        lambda first, _last: date(first.year + 1, 1, 31),
        enumerable=True,
    ),
    # 算定基礎届: filed each year by 10 Jul.
    "STANDARD_REMUNERATION": _Rule(
        _calendar_year,
        "a year YYYY, e.g. 2027" + _year_range_note(),
        lambda first, _last: date(first.year, 7, 10),
        enumerable=True,
    ),
    # 賞与支払届: within 5 days of the payment date; one period per payment.
    "BONUS_PAYMENT": _Rule(
        _day,
        "the bonus payment date YYYY-MM-DD, e.g. 2027-06-25" + _year_range_note(),
        lambda paid, _last: paid + timedelta(days=5),
        enumerable=False,
    ),
    # 賃金台帳: kept, not filed; read on demand.
    "WAGE_LEDGER": _Rule(
        _month,
        "a month YYYY-MM, e.g. 2027-04" + _year_range_note(),
        None,
        enumerable=False,
    ),
    # 特別徴収税額決定通知: the municipality notifies the employer by 31 May of fiscal year Y
    # (地方税法第321条の4第1項). That date is not moved when it falls on a holiday: 地方税法第20条の5
    # 第2項 extends the deadlines of 申告・申請・納付 and the like to the next business day, but
    # 地方税法施行令第6条の18 excludes the municipality's own notice deadlines from it — 31 May 2025
    # (a Saturday) and 31 May 2026 (a Sunday) stay the due dates (japan-forms-review.md, E4).
    "SPECIAL_COLLECTION_NOTICE": _Rule(
        _fiscal_year,
        "a fiscal year YYYY (年度, April to March), e.g. 2027" + _year_range_note(),
        lambda first, _last: date(first.year, 5, 31),
        enumerable=True,
        rolls=False,
    ),
    # 標準報酬決定通知: no deadline of its own.
    "STANDARD_REMUNERATION_DECISION": _Rule(
        _calendar_year,
        "a year YYYY, e.g. 2027" + _year_range_note(),
        None,
        enumerable=False,
    ),
    # 賞与不支給報告書: the 日本年金機構 asks for it when no bonus is paid in a registered 賞与支払予定月
    # (2021-03-04 notice) but sets no date — neither its notice nor the guides found (japan-forms-review.md
    # E9 sources; kobayashiroumu.jp, sr-dx.com, zeikin-zeirishi.com) name one. INFERENCE: the 賞与支払届
    # for a bonus paid on the month's last day would be due 5 days later (the ``BONUS_PAYMENT`` rule above), and
    # a report that no bonus came is not due earlier than that — so: the month's last day + 5 days,
    # rolled forward as social-insurance deadlines are (行政機関の休日に関する法律第2条).
    # Periods are per registered month, so they are listed from each enrollment's bonus months
    # (:func:`month_deadlines_between`), not per year.
    "BONUS_NON_PAYMENT": _Rule(
        _month,
        "the month YYYY-MM of the expected bonus payment, e.g. 2027-06" + _year_range_note(),
        lambda _first, last: last + timedelta(days=5),
        enumerable=False,
    ),
}

#: Procedure and disposition codes this calendar knows.
KNOWN_PROCEDURES: Final = tuple(_RULES)


def _rule(procedure: str) -> _Rule:
    rule = _RULES.get(procedure) if isinstance(procedure, str) else None
    if rule is None:
        raise ValidationError(
            f"procedure {procedure!r} is not one Kiroku knows; use one of "
            f"{', '.join(KNOWN_PROCEDURES)}",
            field="procedure",
            expected="one of " + ", ".join(KNOWN_PROCEDURES),
            got=procedure,
            code="unknown_procedure",
        )
    return rule


def _bounds(procedure: str, period: str, field: str = "period") -> tuple[date, date]:
    rule = _rule(procedure)
    bounds = rule.parse(period) if isinstance(period, str) else None
    if bounds is None:
        shown = repr(period)
        if not isinstance(period, str):
            shown += f" ({type(period).__name__}, not text)"
        raise ValidationError(
            f"{field} {shown} is not a valid period for {procedure}: expected {rule.expected}",
            field=field,
            expected=rule.expected,
            got=period,
            code="invalid_period",
        )
    year = bounds[0].year  # the year the period is named by
    if not FIRST_YEAR <= year <= LAST_YEAR:
        why = (
            f"Kiroku's holiday calendar ends with {CALENDAR_LAST_YEAR} (the last year the holidays "
            f"package, version {holidays.__version__}, publishes Japan's holidays for), and a "
            f"period's deadline can fall in the year after it"
            if year > LAST_YEAR
            else f"Kiroku takes periods from {FIRST_YEAR} on"
        )
        raise ValidationError(
            f"{field} {period!r} for {procedure} is outside the years {FIRST_YEAR} to {LAST_YEAR}: {why}",
            field=field,
            expected=rule.expected,
            got=period,
            code="invalid_period",
        )
    return bounds


def latest_year(now: datetime) -> int:
    """The last year a period may name at ``now``: the next year in Japan time.

    Nothing is filed for a year that has not begun — a 給与支払報告書 for 2025 is filed in January
    2026, a 算定基礎届 for 2026 in July 2026 — so 2090 is a typo, not a filing. The one year of
    margin keeps the rule from failing on its edges: a period that starts on 1 January prepared in
    the last days of December (a 賃金台帳 month, a bonus paid on 4 January), a disposition for the
    fiscal year that begins in April, and clocks either side of midnight JST on New Year's Eve.
    """
    return now.astimezone(JST).year + 1


def validate_period(procedure: str, period: str, field: str = "period", *, now: datetime | None = None) -> str:
    """Return ``period`` if it is well-formed for ``procedure`` and names no year after
    :func:`latest_year` at ``now`` (default: the wall clock), else raise ``ValidationError``.

    Earlier periods stay valid here, however old: a late filing (期限後提出) is legal and old
    filings are read for as long as they are kept. What may still be *recorded* is bounded by
    retention too (:func:`ledger.domain.procedures.validate_filing_period`)."""
    first, _last = _bounds(procedure, period, field)
    at = datetime.now(UTC) if now is None else now
    _require_aware(at, "now")
    latest = latest_year(at)
    if first.year > latest:
        raise ValidationError(
            f"{field} {period!r} for {procedure} is in the future: a period may name {latest} at the latest "
            f"(nothing is filed for a year that has not begun)",
            field=field,
            expected=f"{_rule(procedure).expected}, no later than {latest}",
            got=period,
            code="period_in_future",
        )
    return period


def period_bounds(procedure: str, period: str) -> tuple[date, date]:
    """The first and last day the period covers (both inclusive)."""
    return _bounds(procedure, period)


def period_sort_key(procedure: str, period: str) -> tuple[date, date]:
    """A key that orders one procedure's periods chronologically."""
    return _bounds(procedure, period)


# --- deadlines -----------------------------------------------------------------------------


def due_date(procedure: str, period: str) -> date | None:
    """The last day a filing for ``period`` is on time — rolled forward to a business day unless
    the law keeps that deadline fixed (``_Rule.rolls``); None if there is none."""
    first, last = _bounds(procedure, period)
    rule = _rule(procedure)
    if rule.due is None:
        return None
    due = rule.due(first, last)
    return roll_forward(due) if rule.rolls else due


def _passes_at(due: date) -> datetime:
    return datetime.combine(due + timedelta(days=1), time(0), tzinfo=JST).astimezone(UTC)


def deadline(procedure: str, period: str) -> datetime | None:
    """The instant the deadline passes (00:00 JST after the due date), in UTC; None if none."""
    due = due_date(procedure, period)
    return None if due is None else _passes_at(due)


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def is_on_time(procedure: str, period: str, recorded_at: datetime) -> bool | None:
    """Whether a filing recorded at ``recorded_at`` met the deadline; None if there is none."""
    _require_aware(recorded_at, "recorded_at")
    passes = deadline(procedure, period)
    return None if passes is None else recorded_at < passes


def _year_deadlines(procedure: str) -> tuple[tuple[str, datetime], ...]:
    rule = _rule(procedure)
    if not rule.enumerable:
        # Bonus periods are per payment, wage-ledger months and decisions have no deadline.
        return ()
    return _listed_deadlines(procedure)


@cache
def _listed_deadlines(procedure: str) -> tuple[tuple[str, datetime], ...]:
    return tuple(
        (str(year), passes)
        for year in range(FIRST_YEAR, LAST_YEAR + 1)
        if (passes := deadline(procedure, str(year))) is not None
    )


def deadlines_between(
    procedure: str, start: datetime, end: datetime
) -> list[tuple[str, datetime]]:
    """Periods whose deadline passed in ``(start, end]``, oldest first.

    The window is open at the start and closed at the end so that a job run at successive
    instants t0 < t1 < t2 sees each passed deadline exactly once. Empty for procedures whose
    periods cannot be listed (``BONUS_PAYMENT``) or that have no deadline.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    return [(p, at) for p, at in _year_deadlines(procedure) if start < at <= end]


def previous_deadlines(procedure: str, now: datetime) -> list[tuple[str, datetime]]:
    """Every period (from 2000) whose deadline has passed at ``now``, oldest first."""
    _require_aware(now, "now")
    return [(p, at) for p, at in _year_deadlines(procedure) if at <= now]


def next_deadline(procedure: str, now: datetime) -> tuple[str, datetime] | None:
    """The first period whose deadline has not yet passed at ``now`` (for reminders)."""
    _require_aware(now, "now")
    return next(((p, at) for p, at in _year_deadlines(procedure) if at > now), None)


def month_deadlines_between(
    procedure: str, months: frozenset[int] | set[int], start: datetime, end: datetime
) -> list[tuple[str, datetime]]:
    """Monthly periods ``YYYY-MM`` whose month is in ``months`` (1-12) and whose deadline passed
    in ``(start, end]``, oldest first — e.g. a company's 賞与支払予定月 for ``BONUS_NON_PAYMENT``.

    Open at the start and closed at the end, as :func:`deadlines_between`, so successive runs see
    each passed deadline once."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    if not months:
        return []
    out: list[tuple[str, datetime]] = []
    # A month's deadline falls after the month ends, so months from the one before ``start`` on.
    first = max(start.astimezone(JST).year - 1, FIRST_YEAR)
    last = min(end.astimezone(JST).year, LAST_YEAR)
    for year in range(first, last + 1):
        for month in sorted(months):
            period = f"{year:04d}-{month:02d}"
            passes = deadline(procedure, period)
            if passes is not None and start < passes <= end:
                out.append((period, passes))
    return sorted(out, key=lambda pa: pa[1])
