"""和暦: the Japanese era years the national file formats write dates in.

Each era's year 1 is the Gregorian year it began (元号法; 明治 1868, 大正 1912, 昭和 1926, 平成 1989,
令和 2019), so era year N is that year + N − 1. The formats number the eras differently (the
national 給与支払報告書 record 1 明治 … 5 令和, the 日本年金機構 files 1, 3, 5, 7, 9): each reader maps
its codes to these names.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final

#: Era → its first day. 大正 from 1912-07-30 and 昭和 from 1926-12-25 (each 天皇's accession, 旧皇室典範
#: 第12条 践祚の後元号を建て); 平成 from 1989-01-08 (元号を改める政令, 昭和64年政令第1号: 「公布の日の翌日から
#: 施行する」, promulgated 1月7日); 令和 from 2019-05-01 (元号を改める政令, 平成31年政令第143号). 明治 is
#: counted from the start of 慶応4年 (明治改元の詔, 1868: 「慶応四年ヲ改テ明治元年ト為ス」).
FIRST_DAYS: Final = {"明治": date(1868, 1, 1), "大正": date(1912, 7, 30), "昭和": date(1926, 12, 25), "平成": date(1989, 1, 8),
                     "令和": date(2019, 5, 1)}
#: Era → the Gregorian year of its year 1 (the year of its first day).
FIRST_YEARS: Final = {era: first.year for era, first in FIRST_DAYS.items()}
_ORDER: Final = tuple(FIRST_DAYS)


def gregorian_year(era: str, year: int) -> int:
    """The Gregorian year of ``era`` year ``year`` (元年 = 1)."""
    return FIRST_YEARS[era] + year - 1


def last_day(era: str) -> date | None:
    """The last day of ``era`` (None for the era in force)."""
    after = _ORDER.index(era) + 1
    return FIRST_DAYS[_ORDER[after]] - timedelta(days=1) if after < len(_ORDER) else None


def to_date(era: str, yymmdd: str) -> date:
    """``era`` and YYMMDD (six digits) as a date; ValueError for a month or day that does not exist,
    or a date outside the era (平成31年5月1日 is 令和元年5月1日; there is no 昭和64年1月8日)."""
    day = date(gregorian_year(era, int(yymmdd[:2])), int(yymmdd[2:4]), int(yymmdd[4:6]))
    end = last_day(era)
    if day < FIRST_DAYS[era] or (end is not None and day > end):
        until = end.isoformat() if end is not None else ""
        raise ValueError(f"{era}{int(yymmdd[:2])}年{int(yymmdd[2:4])}月{int(yymmdd[4:6])}日 is outside {era} "
                         f"({FIRST_DAYS[era].isoformat()}–{until})")
    return day


def from_date(day: date) -> tuple[str, int]:
    """The era and era year of ``day`` (from 明治 on)."""
    era = next(e for e in reversed(_ORDER) if day >= FIRST_DAYS[e])
    return era, day.year - FIRST_YEARS[era] + 1
