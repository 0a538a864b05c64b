"""和暦: the Japanese era years the national file formats write dates in.

Each era's year 1 is the Gregorian year it began (元号法; 明治 1868, 大正 1912, 昭和 1926, 平成 1989,
令和 2019), so era year N is that year + N − 1. The formats number the eras differently (the
national 給与支払報告書 record 1 明治 … 5 令和, the 日本年金機構 files 1, 3, 5, 7, 9): each reader maps
its codes to these names.
"""

from __future__ import annotations

from datetime import date
from typing import Final

#: Era → the Gregorian year of its year 1.
FIRST_YEARS: Final = {"明治": 1868, "大正": 1912, "昭和": 1926, "平成": 1989, "令和": 2019}


def gregorian_year(era: str, year: int) -> int:
    """The Gregorian year of ``era`` year ``year`` (元年 = 1)."""
    return FIRST_YEARS[era] + year - 1


def to_date(era: str, yymmdd: str) -> date:
    """``era`` and YYMMDD (six digits) as a date; ValueError for a month or day that does not exist."""
    return date(gregorian_year(era, int(yymmdd[:2])), int(yymmdd[2:4]), int(yymmdd[4:6]))
