"""Strict input, named fields (issue 14, item 9, in part): what used to pass silently is refused,
naming the field, what was expected and what came."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.domain.calendar import latest_year
from ledger.domain.model import Principal
from ledger.domain.procedures import PROCEDURES, validate_agency_id, validate_payload
from ledger.errors import ValidationError, ValidationErrors
from ledger.service.queries import parse_cursor
from tests.factories import CHIYODA, CORP_A, payroll, payroll_line, withholding
from tests.integration.helpers import (
    agency,
    bonus_payment,
    company,
    company_view,
    enroll_payroll,
    firm_view,
    grant_until,
    producer,
    special_collection,
    standard_remuneration,
    wage_ledger,
)

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


# -- the rest of item 9: nested fields, one spelling of an identifier, periods, amounts, text ----------

def bonus_non_payment() -> dict:
    """賞与不支給報告書 (issue 15, E9): office header with 事業所整理記号/番号, one line per unpaid scheduled month."""
    return {"office": {"name": "株式会社記録", "address": "東京都千代田区丸の内1-1", "office_code": "01-イロハ", "office_number": "12345"},
            "lines": [{"scheduled_month": "2026-06", "not_paid": 1, "changed_months": "07,12"}]}


def _decision() -> dict:
    return {"office_code": "01-イロハ-12345", "effective_from": "2026-09",
            "lines": [{"insured_number": 10, "person": {"name": "鈴木 一郎"}, "health_grade": 22, "health_amount": 300_000}]}


#: A valid payload of every procedure and disposition, and the name of its header object (if any).
PAYLOADS = {
    "PAYROLL_REPORT": (payroll, "employer"), "WITHHOLDING_SLIP": (withholding, "payer"),
    "STANDARD_REMUNERATION": (standard_remuneration, "office"), "BONUS_PAYMENT": (bonus_payment, "office"),
    "WAGE_LEDGER": (wage_ledger, "office"), "SPECIAL_COLLECTION_NOTICE": (special_collection, None),
    "STANDARD_REMUNERATION_DECISION": (_decision, None),
    "BONUS_NON_PAYMENT": (bonus_non_payment, "office"),
}


def test_every_procedure_and_disposition_is_listed_here() -> None:
    assert sorted(PAYLOADS) == sorted(PROCEDURES)


@pytest.mark.parametrize("code", sorted(PAYLOADS))
def test_a_misspelt_field_of_any_nested_object_of_any_payload_is_refused_by_its_path(code: str) -> None:
    # Issue 14, item 9: every misspelt field is named — in the header object and in each line, all of them.
    make, header = PAYLOADS[code]
    proc = PROCEDURES[code]
    assert validate_payload(proc, make())  # the payload as made is valid
    payload = make()
    payload["lines"] = [*payload["lines"], {**payload["lines"][0], "nmae": "x", "Employee_name": "y"}]
    n = len(payload["lines"])
    expected = [("unknown_field", f"lines[{n}].Employee_name"), ("unknown_field", f"lines[{n}].nmae")]
    if header is not None:
        payload[header] = {**payload[header], "adress": "x"}
        expected.append(("unknown_field", f"{header}.adress"))
    with pytest.raises(ValidationErrors) as err:
        validate_payload(proc, payload)
    assert sorted((e.code, e.field) for e in err.value.errors) == sorted(expected)
    assert {e.got for e in err.value.errors} == {f.rsplit(".", 1)[1] for _, f in expected}


FULL_WIDTH_A = CORP_A.translate(str.maketrans("0123456789", "０１２３４５６７８９"))


def test_a_full_width_corporate_number_is_refused_alike_for_the_company_and_its_vendor_and_no_denial_is_logged(kiroku) -> None:
    # Issue 14, item 9: it was recorded for the company, but refused for its vendor as "no active grant",
    # and a false DENIED was logged. One spelling, one answer, for whoever sends it.
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    company_view(kiroku, CORP_A).grant("vendor:acme", ["PAYROLL_REPORT"], ["submit"], grant_until(kiroku))
    before = company_view(kiroku, CORP_A).access_log()
    for who in (f"company:{CORP_A}", "vendor:acme"):
        with pytest.raises(ValidationError) as err:
            producer(kiroku, who).record(FULL_WIDTH_A, "PAYROLL_REPORT", "2026", payroll())
        assert (err.value.code, err.value.field, err.value.got) == ("invalid_format", "corporate_number", FULL_WIDTH_A)
        assert "full-width digit" in err.value.message
    assert company_view(kiroku, CORP_A).access_log() == before  # no false DENIED
    assert kiroku.queries.filings(Principal.company(CORP_A)) == []
    assert producer(kiroku, "vendor:acme").record(CORP_A, "PAYROLL_REPORT", "2026", payroll()).corporate_number == CORP_A


@pytest.mark.parametrize("entry", ["query", "company view", "principal", "token", "grantee company", "enrollment"])
def test_a_full_width_corporate_number_is_refused_at_every_other_entry(kiroku, tmp_path, entry: str) -> None:
    from ledger.service.principals import TokenStore, validate_principal
    from viewers.company import CompanyView

    calls = {
        "query": lambda: kiroku.queries.filings(Principal.company(CORP_A), corporate_number=FULL_WIDTH_A),
        "company view": lambda: CompanyView(kiroku, FULL_WIDTH_A),
        "principal": lambda: validate_principal(f"company:{FULL_WIDTH_A}"),
        "token": lambda: TokenStore(tmp_path / "t.db").add(f"company:{FULL_WIDTH_A}"),
        "grantee company": lambda: company_view(kiroku, CORP_A).grant(f"company:{FULL_WIDTH_A}", ["PAYROLL_REPORT"], ["read"],
                                                                     grant_until(kiroku)),
        "enrollment": lambda: company(kiroku, CORP_A).enroll(FULL_WIDTH_A, "PAYROLL_REPORT"),
    }
    with pytest.raises(ValidationError) as err:
        calls[entry]()
    assert err.value.code in ("invalid_format", "invalid_grantee")
    assert "full-width digit" in err.value.message or err.value.code == "invalid_grantee"


@pytest.mark.parametrize(("field", "value"), [("personal_number", "１２３４５６７８９０１８"), ("municipality_code", "１３１０１６"),
                                              ("municipality_code", " 131016")])
def test_full_width_or_padded_codes_in_a_payload_are_refused_naming_the_field(kiroku, field: str, value: str) -> None:
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    with pytest.raises(ValidationErrors) as err:
        company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, **{field: value})]))
    where = f"person.{field}" if field == "personal_number" else field  # v2: the personal number is the person's
    assert [(e.code, e.field) for e in err.value.errors] == [("invalid_format", f"lines[1].{where}")]
    assert kiroku.queries.filings(Principal.company(CORP_A)) == []


def test_a_period_after_next_year_is_refused_for_a_filing_and_a_disposition(kiroku) -> None:
    # Issue 14, item 9: 2090 was accepted. Nothing is filed for a year that has not begun (a
    # 給与支払報告書 for 2025 is filed in January 2026, 地方税法第317条の6第1項).
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    latest = latest_year(kiroku.queries.clock())
    with pytest.raises(ValidationError) as err:
        company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", str(latest + 1), payroll())
    assert (err.value.code, err.value.field, err.value.got) == ("period_in_future", "period", str(latest + 1))
    assert err.value.expected.endswith(f"no later than {latest}")
    with pytest.raises(ValidationError) as err:
        company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2090", payroll())
    assert err.value.code == "period_in_future"
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", str(latest - 1), payroll())  # this year's filing is taken
    with pytest.raises(ValidationError) as err:
        agency(kiroku, f"municipality:{CHIYODA}").issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2090", special_collection())
    assert (err.value.code, err.value.field) == ("period_in_future", "period")


@pytest.mark.parametrize(("over", "code", "got"), [
    ({"payment_amount": 10**13}, "amount_too_large", 10**13), ({"withholding_tax": "120000"}, "invalid_amount", "120000"),
    ({"withholding_tax": 120000.0}, "invalid_amount", 120000.0), ({"withholding_tax": -1}, "negative_amount", -1),
    ({"dependents": 100}, "amount_too_large", 100),
])
def test_amounts_beyond_the_form_text_fractions_and_negatives_are_refused_and_nothing_is_recorded(kiroku, over, code, got) -> None:
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    with pytest.raises(ValidationErrors) as err:
        company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, **over)]))
    [e] = err.value.errors
    assert (e.code, e.field, e.got) == (code, f"lines[1].{next(iter(over))}", got)
    assert kiroku.queries.filings(Principal.company(CORP_A)) == []


@pytest.mark.parametrize(("over", "field", "expected"), [
    # 源泉徴収税額 is withheld from 支払金額 (所得税法第183条第1項); 給与所得控除後の金額 is 支払金額 less the
    # 給与所得控除 (所得税法第28条第2項) — 国税庁「給与所得の源泉徴収票等の法定調書の作成と提出の手引」.
    ({"payment_amount": 1_000_000, "withholding_tax": 1_000_001, "income_after_deduction": 0}, "withholding_tax",
     "at most payment_amount = 1,000,000"),
    ({"payment_amount": 1_000_000, "withholding_tax": 0, "income_after_deduction": 1_000_001}, "income_after_deduction",
     "at most payment_amount = 1,000,000"),
])
def test_a_slip_whose_amounts_contradict_each_other_is_refused(kiroku, over, field: str, expected: str) -> None:
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    with pytest.raises(ValidationErrors) as err:
        company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, **over)]))
    [e] = err.value.errors
    assert (e.code, e.field, e.expected, e.got) == ("inconsistent_amounts", f"lines[1].{field}", expected, over[field])
    assert kiroku.queries.filings(Principal.company(CORP_A)) == []
    # a social insurance total above the payment is legal: it includes premiums the employee paid himself
    # and declared at 年末調整 (所得税法第74条), so it is not refused
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, payment_amount=1_000_000,
                                                                                             social_insurance=1_500_000)]))


def test_a_wage_ledger_line_whose_net_pay_is_not_its_wages_less_deductions_is_refused() -> None:
    # 労働基準法第24条第1項 (全額払; deductions only as its ただし書 allows), 労働基準法施行規則第54条第1項.
    line = {**wage_ledger()["lines"][0], "net_pay": 275_001}
    with pytest.raises(ValidationErrors) as err:
        validate_payload(PROCEDURES["WAGE_LEDGER"], {**wage_ledger(), "lines": [line]})
    assert [(e.code, e.field, e.got) for e in err.value.errors] == [("inconsistent_amounts", "lines[1].net_pay", 275_001)]
    line = {**wage_ledger()["lines"][0], "deductions": 335_001, "net_pay": 0}
    with pytest.raises(ValidationErrors) as err:
        validate_payload(PROCEDURES["WAGE_LEDGER"], {**wage_ledger(), "lines": [line]})
    assert ("inconsistent_amounts", "lines[1].deductions") in [(e.code, e.field) for e in err.value.errors]


def test_a_special_collection_notice_whose_months_do_not_add_up_to_the_year_is_refused(kiroku) -> None:
    # 地方税法第321条の5第1項: the year's tax is collected in 12 parts June to May, the remainder in June.
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    sid = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll()).submission_id
    notice = special_collection()
    notice["lines"][0] = {**notice["lines"][0], "june_amount": 20_700}  # 20,700 + 11 × 19,900 ≠ 240,000
    with pytest.raises(ValidationErrors) as err:
        agency(kiroku, f"municipality:{CHIYODA}").issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2026", notice,
                                                                   based_on=[sid])
    assert [(e.code, e.field, e.expected) for e in err.value.errors] == [("inconsistent_amounts", "lines[1].june_amount", "21,100")]
    assert "annual_tax less eleven monthly_amount" in err.value.errors[0].message  # the rule the amount comes from
    assert company_view(kiroku, CORP_A).dispositions() == []


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x85", "\u202e", "\u2066", "\ud800"])
@pytest.mark.parametrize("where", ["line", "header"])
def test_control_surrogate_and_bidi_characters_in_names_are_refused_naming_the_field(kiroku, char: str, where: str) -> None:
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    name = f"山田{char}太郎"
    payload = payroll([payroll_line(1, employee_name=name)]) if where == "line" else payroll(name=name)
    field = "lines[1].person.name" if where == "line" else "employer.name"
    with pytest.raises(ValidationErrors) as err:
        company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payload)
    assert [(e.code, e.field, e.got) for e in err.value.errors] == [
        ("invalid_character", field, f"U+{ord(char):04X} at position 3")]
    assert kiroku.queries.filings(Principal.company(CORP_A)) == []


@pytest.mark.parametrize("grantee", ["vendor:acme\n", "vendor:ACME", "vendor:acme.", "firm:tanaka-", "vendor:acme\u200f"])
def test_a_grantee_that_is_not_the_one_canonical_spelling_of_a_name_is_refused(kiroku, grantee: str) -> None:
    # "vendor:acme\n" passed a "$"-anchored pattern; upper case and a trailing separator make a lookalike
    # of another principal that the grant would reach while the vendor meant does not.
    a = company_view(kiroku, CORP_A)
    with pytest.raises(ValidationError) as err:
        a.grant(grantee, ["PAYROLL_REPORT"], ["read"], grant_until(kiroku))
    assert (err.value.code, err.value.field, err.value.got) == ("invalid_grantee", "grantee", grantee)
    assert a.grants() == []


def test_an_agency_id_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        validate_agency_id("tax-office:01101\n")
    assert (err.value.code, err.value.field) == ("invalid_agency", "agency_id")


def test_a_filing_for_a_period_whose_retention_has_ended_is_refused_and_nothing_is_recorded(kiroku, clock) -> None:
    # 期限後提出 is legal while the record must be kept (給与支払報告書: 7 years from the day after the last
    # 法定納期限 of the 住民税 it assesses, 地方税法第17条の5第7項); recorded after that, the next retention
    # run would erase it at once.
    from tests.integration.helpers import jst, log_ends

    clock.set(jst(2026, 12, 4, 10, 0))
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    assert company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2018", payroll()).submission_id  # kept until 11 June 2027
    before = log_ends(kiroku)
    with pytest.raises(ValidationError) as err:
        company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2017", payroll())  # its retention ended 11 June 2026
    assert (err.value.code, err.value.field, err.value.got) == ("period_past_retention", "period", "2017")
    assert err.value.expected == "a period whose 7-year retention has not ended"
    assert log_ends(kiroku) == before


@pytest.mark.parametrize("name", ["vendor:acme\n", "vendor:ACME", "vendor:acme.", "firm:-tanaka", "bank:"])
def test_a_token_is_issued_only_for_the_one_spelling_a_grant_accepts(name: str, tmp_path) -> None:
    from ledger.service.principals import TokenStore

    with pytest.raises(ValidationError) as err:
        TokenStore(tmp_path / "t.db").add(name)
    assert (err.value.field, err.value.code) == ("principal", "invalid_principal")
