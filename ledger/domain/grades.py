"""The 標準報酬月額 grade tables of 健康保険 and 厚生年金保険, each dated by the day it applies from.

健康保険 has 50 grades, ¥58,000 to ¥1,390,000 (健康保険法第40条第1項; grades 48–50 since
2016-04-01). 厚生年金保険 has fewer and a lower ceiling (厚生年金保険法第20条第1項): from 2016-10-01
31 grades, ¥88,000 to ¥620,000; from 2020-09-01 32, to ¥650,000 (第32級 added by 政令); and the
2025 pension reform raises the ceiling step by step — ¥680,000 from 2027-09-01, ¥710,000 from
2028-09-01, ¥750,000 from 2029-09-01 (japan-forms-review.md, E7). Each pension grade's amount is the
same as a health grade's: 厚生年金 第n級 is 健康保険 第(n+3)級.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date
from typing import Final

#: 健康保険 第1級 … 第50級 (健康保険法第40条第1項, as amended from 2016-04-01).
HEALTH: Final[tuple[int, ...]] = (
    58_000, 68_000, 78_000, 88_000, 98_000, 104_000, 110_000, 118_000, 126_000, 134_000,
    142_000, 150_000, 160_000, 170_000, 180_000, 190_000, 200_000, 220_000, 240_000, 260_000,
    280_000, 300_000, 320_000, 340_000, 360_000, 380_000, 410_000, 440_000, 470_000, 500_000,
    530_000, 560_000, 590_000, 620_000, 650_000, 680_000, 710_000, 750_000, 790_000, 830_000,
    880_000, 930_000, 980_000, 1_030_000, 1_090_000, 1_150_000, 1_210_000, 1_270_000, 1_330_000, 1_390_000,
)

#: 厚生年金保険: (applies from, number of grades); 第1級 is ¥88,000 (健康保険 第4級) throughout.
_PENSION_GRADES: Final = ((date(2016, 10, 1), 31), (date(2020, 9, 1), 32), (date(2027, 9, 1), 33), (date(2028, 9, 1), 34),
                          (date(2029, 9, 1), 35))
_PENSION_OFFSET = 3  # 厚生年金 第1級 = 健康保険 第4級


def pension_table(on: date) -> tuple[int, ...] | None:
    """The 厚生年金保険 grades in force on ``on`` (None before 2016-10-01, a table Kiroku does not hold)."""
    at = bisect_right([d for d, _ in _PENSION_GRADES], on) - 1
    if at < 0:
        return None
    count = _PENSION_GRADES[at][1]
    return HEALTH[_PENSION_OFFSET:_PENSION_OFFSET + count]


def health_table(on: date) -> tuple[int, ...] | None:
    """The 健康保険 grades in force on ``on`` (None before 2016-04-01)."""
    return HEALTH if on >= date(2016, 4, 1) else None
