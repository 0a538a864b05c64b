"""Text cells read as the payload's types (``ledger.domain.text_cells``): every spelling of a date a
Japanese spreadsheet or form writes is the same day, and what is no date stays as it came."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain import wareki
from ledger.domain.forms import V2
from ledger.domain.text_cells import from_text_cells

pytestmark = pytest.mark.unit

PAYROLL = V2["PAYROLL_REPORT"]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def birth(cell: str) -> object:
    return from_text_cells(PAYROLL, {"person": {"birth_date": cell}})["person"]["birth_date"]


@given(st.dates(date(1868, 1, 1), date(2099, 12, 31)))
def test_every_spelling_of_a_day_reads_as_that_day(day: date) -> None:
    """和暦 as 元号法 counts it (元年 = the era's first year), 西暦 with slashes or dashes, full-width digits too."""
    era, year = wareki.from_date(day)
    spelt = [day.isoformat(), f"{day.year}/{day.month}/{day.day}", f"{day.year}/{day.month:02d}/{day.day:02d}",
             f"{era}{'元' if year == 1 else year}年{day.month}月{day.day}日", day.isoformat().translate(FULL_WIDTH)]
    assert {birth(cell) for cell in spelt} == {day.isoformat()}


@given(st.dates(date(1868, 1, 1), date(2099, 12, 31)))
def test_a_day_written_in_an_era_it_is_not_in_is_left_for_the_rules_to_refuse(day: date) -> None:
    era, _ = wareki.from_date(day)
    eras = list(wareki.FIRST_DAYS)
    later = eras[eras.index(era) + 1:]
    for other in later:  # a day before the other era began, in that era's years: no such day
        year = day.year - wareki.FIRST_YEARS[other] + 1
        if year >= 1:
            cell = f"{other}{year}年{day.month}月{day.day}日"
            assert birth(cell) == cell


@pytest.mark.parametrize("cell", ["1980/2/30", "1980/13/1", "昭和55年2月30日", "S55.4.1", "19800401", "一九八〇年", ""])
def test_what_is_no_date_is_left_as_it_came(cell: str) -> None:
    assert birth(cell) == cell


@pytest.mark.parametrize(("cell", "value"), [("1", True), ("0", False), ("TRUE", True), ("false", False), (" 1 ", True),
                                             ("はい", "はい"), ("2", "2")])
def test_flag_cells_are_read_as_spreadsheets_write_them(cell: str, value: object) -> None:
    assert from_text_cells(PAYROLL, {"year_end_adjusted": cell})["year_end_adjusted"] == value


@pytest.mark.parametrize(("cell", "value"), [("５,０００,０００", 5_000_000), ("1,200", 1200), ("-5", -5), ("五千", "五千"),
                                             ("1.5", "1.5")])
def test_amount_cells_become_numbers_where_they_are_numbers(cell: str, value: object) -> None:
    assert from_text_cells(PAYROLL, {"payment_amount": cell})["payment_amount"] == value


@given(st.text("ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｰﾞﾟ ", min_size=1, max_size=20))
def test_a_half_width_furigana_cell_reads_full_width_and_the_form_takes_it(cell: str) -> None:
    """Payroll software writes フリガナ in half-width kana; e-Tax takes none (国税庁「e-Taxで利用可能な文字」:
    半角カナ FF66–FF9F を除く), so the cell is widened (NFKC: ﾀﾞ → ダ) and nothing half-width is left."""
    from ledger.domain.forms import _KANA

    kana = from_text_cells(PAYROLL, {"person": {"kana": cell}})["person"]["kana"]
    # Every character is full-width katakana or a space — or a voiced mark with no kana before it to take it
    # (ﾞ alone: U+3099), which the form then refuses as it should.
    assert all(_KANA.match(ch) or ch in "\u3099\u309a" for ch in kana), kana


def test_a_half_width_furigana_reads_as_its_full_width_spelling() -> None:
    assert from_text_cells(PAYROLL, {"person": {"kana": "ﾔﾏﾀﾞ ﾀﾛｳ"}})["person"]["kana"] == "ヤマダ タロウ"
    assert from_text_cells(PAYROLL, {"person": {"kana": "ﾊﾟｰｸ"}})["person"]["kana"] == "パーク"
