"""和暦 dates as the national file formats write them: each era from its first day to the day before
the next (元号を改める政令 昭和64年政令第1号: 平成 from 1989-01-08; 平成31年政令第143号: 令和 from
2019-05-01), so a date that falls outside its era is refused, not shifted into the next."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain import wareki

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("era", "yymmdd", "iso"), [
    ("平成", "310430", "2019-04-30"), ("令和", "010501", "2019-05-01"), ("昭和", "640107", "1989-01-07"),
    ("平成", "010108", "1989-01-08"), ("昭和", "011225", "1926-12-25"), ("大正", "010730", "1912-07-30"),
    ("昭和", "600714", "1985-07-14"),
])
def test_the_first_and_last_days_of_each_era(era: str, yymmdd: str, iso: str) -> None:
    assert wareki.to_date(era, yymmdd).isoformat() == iso


@pytest.mark.parametrize(("era", "yymmdd", "message"), [
    ("平成", "310501", "平成31年5月1日 is outside 平成 (1989-01-08–2019-04-30)"),
    ("令和", "010430", "令和1年4月30日 is outside 令和 (2019-05-01–)"),
    ("昭和", "640108", "昭和64年1月8日 is outside 昭和 (1926-12-25–1989-01-07)"),
    ("平成", "010107", "平成1年1月7日 is outside 平成 (1989-01-08–2019-04-30)"),
    ("大正", "151225", "大正15年12月25日 is outside 大正 (1912-07-30–1926-12-24)"),
])
def test_a_date_outside_its_era_is_refused(era: str, yymmdd: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        wareki.to_date(era, yymmdd)
    assert str(err.value) == message


def test_a_day_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError, match="day is out of range"):
        wareki.to_date("令和", "070229")  # 2025 has no 29 February


@given(st.dates(min_value=date(1868, 1, 1), max_value=date(2099, 12, 31)))
def test_every_day_round_trips_through_its_era(day: date) -> None:
    era, year = wareki.from_date(day)
    end = wareki.last_day(era)
    assert wareki.FIRST_DAYS[era] <= day and (end is None or day <= end)  # the era in force that day
    assert year >= 1 and wareki.gregorian_year(era, year) == day.year
    assert wareki.to_date(era, f"{year:02d}{day.month:02d}{day.day:02d}") == day
