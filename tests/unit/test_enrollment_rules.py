"""What an enrollment carries beyond its target (issue 15): identifiers agencies assign, bonus months,
and the 賞与不支給報告書's period and (inferred) deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain import calendar
from ledger.domain.assigned import validate_assigned
from ledger.domain.enrollment_rules import enrolled_as, validate_bonus_months
from ledger.domain.procedures import PROCEDURES, validate_payload
from ledger.errors import ValidationError, ValidationErrors

MUNI, PENSION, TAX = "municipality:131016", "pension-office:0101", "tax-office:01101"


@given(st.text(alphabet="0123456789", min_size=1, max_size=10))
def test_any_designation_number_of_up_to_ten_digits_is_taken_as_given(digits: str) -> None:
    """指定番号: "6桁や8桁など10桁以内であれば…受付可能" (尾張旭市, https://www.city.owariasahi.lg.jp/page/50232.html)."""
    assert validate_assigned(MUNI, digits).assigned_id == digits


@given(st.text(alphabet="0123456789", min_size=11, max_size=20))
def test_a_designation_number_of_more_than_ten_digits_is_refused(digits: str) -> None:
    with pytest.raises(ValidationError) as err:
        validate_assigned(MUNI, digits)
    assert (err.value.code, err.value.field) == ("invalid_assigned_id", "assigned_id")


@pytest.mark.parametrize(("given_id", "shown"), [
    ("01-イロハ", "01-イロハ"), ("01イロハ", "01-イロハ"), ("０１－ｲﾛﾊ".replace("－", "-"), "01-イロハ"),
    ("21-AB12", "21-AB12"), ("2101-ア", "2101-ア"), ("21-ab", "21-AB"),
])
def test_an_office_symbol_is_two_or_four_digits_then_one_to_four_kana_or_alphanumerics(given_id: str, shown: str) -> None:
    """事業所整理記号: "「数字2桁」ー「英数カナ1~4桁」" (https://viva-la-normal-life.com/?p=9865); e-Gov forms
    may ask 4 digits, 都道府県 + 郡市区 (https://niugnep.net/nenkin-jigyousho-seirikigou)."""
    assert validate_assigned(PENSION, given_id, "00123").assigned_id == shown


@pytest.mark.parametrize("bad", ["1-イロハ", "012-イロハ", "01-イロハニホ", "01-", "イロハ", "01-い"])
def test_other_office_symbols_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError) as err:
        validate_assigned(PENSION, bad)
    assert (err.value.code, err.value.field) == ("invalid_assigned_id", "assigned_id")
    assert err.value.expected is not None and "事業所整理記号" in err.value.expected


@pytest.mark.parametrize(("value", "ok"), [("12345678", True), ("0012345678", True), ("123456789", False), ("1234567", False)])
def test_a_tax_office_reference_number_has_eight_or_ten_digits(value: str, ok: bool) -> None:
    """整理番号1: 10 digits in the 法定調書 record (網走市 データ仕様書, japan-forms-review.md 2.1)."""
    if ok:
        assert validate_assigned(TAX, value).assigned_id == value
    else:
        with pytest.raises(ValidationError) as err:
            validate_assigned(TAX, value)
        assert (err.value.code, err.value.expected) == ("invalid_assigned_id", "a 整理番号 of 8 or 10 digits")


def test_no_identifier_is_no_identifier() -> None:
    assert validate_assigned(MUNI, None).assigned_id is None
    assert validate_assigned(MUNI, "  ").assigned_id is None


def test_bonus_months_are_sorted_and_at_most_three() -> None:
    """賞与: "三月を超える期間ごとに受けるもの" (健康保険法第3条第6項) — at most three a year."""
    assert validate_bonus_months("BONUS_PAYMENT", [12, 6, 7]) == [6, 7, 12]
    assert validate_bonus_months("BONUS_PAYMENT", None) == []
    with pytest.raises(ValidationError) as err:
        validate_bonus_months("BONUS_PAYMENT", [True])
    assert (err.value.code, err.value.field) == ("invalid_month", "bonus_months[0]")


def test_a_non_payment_report_is_filed_under_the_bonus_payment_enrollment() -> None:
    assert enrolled_as("BONUS_NON_PAYMENT") == "BONUS_PAYMENT"
    assert enrolled_as("PAYROLL_REPORT") == "PAYROLL_REPORT"
    proc = PROCEDURES["BONUS_NON_PAYMENT"]
    assert (proc.name_ja, proc.agency_kind, proc.retention_years) == ("賞与不支給報告書", "pension-office", 2)


@pytest.mark.parametrize(("period", "due"), [
    ("2027-06", date(2027, 7, 5)),  # 30 Jun + 5 = Monday 5 Jul
    ("2027-12", date(2028, 1, 5)),  # 31 Dec + 5 = Wednesday 5 Jan (after the 12/29-1/3 closure)
    ("2026-07", date(2026, 8, 5)),
    ("2027-04", date(2027, 5, 6)),  # 5 May is こどもの日, 4 May みどりの日: Thursday 6 May
    ("2028-02", date(2028, 3, 6)),  # leap year: 29 Feb + 5 = Sunday 5 Mar → Monday 6 Mar
])
def test_a_non_payment_report_is_due_five_days_after_the_expected_month_rolled_forward(period: str, due: date) -> None:
    """INFERENCE (no source names the due date): the 賞与支払届 for a bonus paid on the month's last
    day would be due 5 days later; rolled as social-insurance deadlines are (行政機関の休日に関する法律第2条)."""
    assert calendar.due_date("BONUS_NON_PAYMENT", period) == due


def test_the_months_of_an_enrollment_list_their_deadlines_once_across_successive_runs() -> None:
    months = {6, 12}
    cuts = [datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 7, 5, 15, 0, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC),
            datetime(2028, 1, 1, tzinfo=UTC)]
    seen = [p for a, b in zip(cuts, cuts[1:]) for p, _ in calendar.month_deadlines_between("BONUS_NON_PAYMENT", months, a, b)]
    assert seen == ["2025-12", "2026-06", "2026-12", "2027-06"]  # 2025-12 passes on 6 Jan 2026 JST
    assert calendar.month_deadlines_between("BONUS_NON_PAYMENT", set(), cuts[0], cuts[-1]) == []


def test_the_non_payment_payload_carries_the_form_fields_and_refuses_a_misspelt_one() -> None:
    proc = PROCEDURES["BONUS_NON_PAYMENT"]
    office = {"name": "株式会社記録", "address": "東京都千代田区", "office_code": "01-イロハ", "office_number": "12345"}
    out = validate_payload(proc, {"office": office, "lines": [{"scheduled_month": "2027-06"}]})
    assert out["lines"] == [{"scheduled_month": "2027-06", "not_paid": 1, "changed_months": None}]
    with pytest.raises(ValidationErrors) as err:
        validate_payload(proc, {"office": office, "lines": [{"scheduled_month": "2027-06", "not_paid": 2}]})
    assert [(e.code, e.field) for e in err.value.errors] == [("amount_too_large", "lines[1].not_paid")]
