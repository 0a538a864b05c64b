"""The rules of the v2 forms (issue 15, item 5; japan-forms-review.md Part 3), each with its source,
and the v2 payloads' round trip through validation, sealing, Avro and unsealing (property tests)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.forms import ABSENCES, ORDINARY_REASONS, V2
from ledger.domain.procedures import validate_payload
from ledger.encoding.codec import SchemaRegistry
from ledger.errors import ValidationErrors
from ledger.ports import DataKey
from ledger.service.sealing import MASK, Sealer
from tests.factories import personal

pytestmark = pytest.mark.unit

REGISTRY = SchemaRegistry.load()
PAYROLL = V2["PAYROLL_REPORT"]
BONUS = V2["BONUS_PAYMENT"]
SR = V2["STANDARD_REMUNERATION"]


def person(**over: Any) -> dict[str, Any]:
    return {"name": "高橋 一郎", "birth_date": "1985-07-14", "address": "東京都千代田区", "personal_number": personal(70_001), **over}


def slip(**over: Any) -> dict[str, Any]:
    return {"employee_number": "E1", "municipality_code": "131016", "person": person(), "payment_amount": 5_000_000,
            "income_after_deduction": 3_560_000, "total_deductions": 1_200_000, "withholding_tax": 120_000, **over}


def report(*lines: dict[str, Any]) -> dict[str, Any]:
    return {"employer": {"name": "株式会社記録", "address": "東京都千代田区丸の内1-1"}, "lines": list(lines)}


def errors(proc: Any, payload: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationErrors) as err:
        validate_payload(proc, payload)
    return [(e.field, e.code) for e in err.value.errors]


def bonus_line(**over: Any) -> dict[str, Any]:
    return {"insured_number": 12, "person": {"name": "高橋 一郎", "birth_date": "1950-01-02"}, "bonus_amount": 500_000, **over}


def office() -> dict[str, Any]:
    return {"name": "株式会社記録", "address": "東京都千代田区", "office_symbol": "01イロハ", "office_number": "12345"}


# -- E2: a blank personal number with its reason -------------------------------------------------------

def test_a_blank_personal_number_is_filed_with_its_reason() -> None:
    """国税庁 国税分野FAQ Q2-10 (番号法 and 所得税法施行規則第93条): if the employee does not give the
    number, record how it was asked for and file the 源泉徴収票 / 給与支払報告書 with the field blank."""
    blank = slip(person=person(personal_number=None, personal_number_absence="NOT_PROVIDED"))
    assert validate_payload(PAYROLL, report(blank))["lines"][0]["person"]["personal_number"] is None
    assert errors(PAYROLL, report(slip(person=person(personal_number=None)))) == [
        ("lines[1].person.personal_number_absence", "personal_number_absence_required")]
    assert errors(PAYROLL, report(slip(person=person(personal_number_absence="NOT_PROVIDED")))) == [
        ("lines[1].person.personal_number_absence", "unexpected_absence")]


def test_a_dependants_blank_personal_number_needs_its_reason_too() -> None:
    """The spouse's and dependants' 個人番号 are on the forms since 2016 (所得税法施行規則第93条第1項):
    the same rule holds for each of them."""
    kid = {"name": "高橋 次郎", "relation": "UNDER_16"}
    assert errors(PAYROLL, report(slip(person=person(dependants=[kid])))) == [
        ("lines[1].person.dependants[1].personal_number_absence", "personal_number_absence_required")]


# -- E3: slips without 年末調整 --------------------------------------------------------------------

def test_a_slip_without_year_end_adjustment_leaves_both_totals_blank() -> None:
    """国税庁「給与所得の源泉徴収票の記載要領」: for 中途退職者 (and 乙欄, 2,000万円超) no 年末調整 is
    done, and 給与所得控除後の金額 and 所得控除の額の合計額 are left blank."""
    leaver = slip(year_end_adjusted=False, employment_end="2026-06-30", income_after_deduction=None, total_deductions=None)
    line = validate_payload(PAYROLL, report(leaver))["lines"][0]
    assert (line["income_after_deduction"], line["total_deductions"]) == (None, None)
    assert errors(PAYROLL, report(slip(year_end_adjusted=False, total_deductions=None))) == [
        ("lines[1].income_after_deduction", "unexpected_amount")]
    assert errors(PAYROLL, report(slip(income_after_deduction=None))) == [("lines[1].income_after_deduction", "required")]


def test_a_leaving_date_before_the_joining_date_is_refused() -> None:
    assert errors(PAYROLL, report(slip(employment_start="2026-04-01", employment_end="2026-03-31"))) == [
        ("lines[1].employment_end", "inconsistent_dates")]


# -- 普通徴収 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("reason", ORDINARY_REASONS)
def test_ordinary_collection_is_filed_with_one_of_the_six_reasons(reason: str) -> None:
    """普通徴収切替理由書 (e.g. 那須烏山市, 市川市): "普A~普Fの6項目以外の切替理由は認められません", and on
    eLTAX the 普通徴収 flag with the reason's 符号 in 摘要."""
    assert validate_payload(PAYROLL, report(slip(collection="ORDINARY", ordinary_reason=reason)))["lines"][0]["ordinary_reason"] == reason


def test_ordinary_collection_without_a_reason_or_a_reason_for_special_collection_is_refused() -> None:
    assert errors(PAYROLL, report(slip(collection="ORDINARY"))) == [("lines[1].ordinary_reason", "ordinary_reason_required")]
    assert errors(PAYROLL, report(slip(ordinary_reason="LOW_PAY"))) == [("lines[1].ordinary_reason", "unexpected_reason")]
    assert errors(PAYROLL, report(slip(collection="ORDINARY", ordinary_reason="普G"))) == [("lines[1].ordinary_reason", "invalid_choice")]


# -- E1: personal numbers only where the form asks -------------------------------------------------

@pytest.mark.parametrize("proc", [BONUS, SR], ids=["賞与支払届", "算定基礎届"])
def test_the_social_insurance_forms_take_a_personal_number_only_for_employees_aged_70_or_over(proc: Any) -> None:
    """日本年金機構, 平成30年3月の様式改正: on the 賞与支払届 (and the 算定基礎届, merged with the 70歳以上被用者
    届) the 個人番号 [基礎年金番号] box is filled only for 70歳以上被用者; anyone else's is not asked for,
    and a number the form does not ask for is not collected (番号法第20条)."""
    def line(**over: Any) -> dict[str, Any]:
        if proc is BONUS:
            return bonus_line(**over)
        return {"insured_number": 12, "person": {"name": "高橋 一郎", "birth_date": "1950-01-02"}, "remuneration_april": 300_000,
                "remuneration_may": 300_000, "remuneration_june": 300_000, "days_april": 30, "days_may": 31, "days_june": 30, **over}

    number = {"name": "高橋 一郎", "birth_date": "1950-01-02", "personal_number": personal(70_002)}
    assert validate_payload(proc, {"office": office(), "lines": [line()]})["lines"][0]["person"]["personal_number"] is None
    assert validate_payload(proc, {"office": office(), "lines": [line(person=number, remarks=["AGE_70_PLUS"])]})
    assert errors(proc, {"office": office(), "lines": [line(person=number)]}) == [
        ("lines[1].person.personal_number", "personal_number_not_asked")]


def test_the_social_insurance_forms_take_no_spouse_or_dependants() -> None:
    """The 賞与支払届 (and 算定基礎届) have no box for the insured's family (日本年金機構 様式 健康保険・厚生年金保険
    被保険者賞与支払届): a spouse or dependant sent on one is refused, not kept unseen in the sealed person."""
    spouse = {"name": "高橋 花子", "relation": "SPOUSE", "personal_number": personal(70_003)}
    got = errors(BONUS, {"office": office(), "lines": [bonus_line(person={"name": "高橋 一郎", "birth_date": "1950-01-02",
                                                                          "spouse": spouse, "dependants": [spouse]})]})
    assert got == [("lines[1].person.spouse", "not_on_form"), ("lines[1].person.dependants", "too_many_items")]


# -- what errors say ---------------------------------------------------------------------------------

def test_a_malformed_birth_date_is_named_but_not_echoed() -> None:
    """A birth date is personal data: the error names the field and its shape, never the value."""
    with pytest.raises(ValidationErrors) as err:
        validate_payload(PAYROLL, report(slip(person=person(birth_date="1985-02-30"))))
    (one,) = err.value.errors
    assert (one.field, one.code, one.got) == ("lines[1].person.birth_date", "invalid_date", "str of 10")
    assert "1985" not in str(one) and "1985" not in str(one.got)


def test_an_unknown_field_of_the_person_is_refused_not_dropped() -> None:
    assert errors(PAYROLL, report(slip(person=person(nickname="イチ")))) == [("lines[1].person.nickname", "unknown_field")]


def test_a_v1_shaped_line_is_refused_naming_where_each_item_goes_in_v2() -> None:
    """An old client's line (its person items at the top) is refused, never half-read: v1 lines lack
    the 生年月日 the 給与支払報告書 asks for (地方税法施行規則 第十号様式), so nothing is guessed."""
    old = {k: v for k, v in slip().items() if k != "person"} | {"employee_name": "高橋 一郎", "personal_number": personal(70_001),
                                                               "address": "東京都千代田区"}
    with pytest.raises(ValidationErrors) as err:
        validate_payload(PAYROLL, report(old))
    got = {e.field: e for e in err.value.errors}
    assert [(f, e.code, e.expected) for f, e in got.items() if e.code == "v1_field"] == [
        ("lines[1].address", "v1_field", "person.address"), ("lines[1].employee_name", "v1_field", "person.name"),
        ("lines[1].personal_number", "v1_field", "person.personal_number")]
    assert "send it as person.name" in str(got["lines[1].employee_name"])
    assert got["lines[1].person"].code == "required"
    assert personal(70_001) not in str(err.value.to_dict())  # the field's name is echoed, never its value


# -- round trips ---------------------------------------------------------------------------------------

class Keys:
    """The two calls of a KeyService the sealer makes here, without I/O."""

    key = AESGCM.generate_key(bit_length=256)

    def data_key(self, scope: str) -> DataKey:
        return DataKey("k1", self.key)

    def key_by_id(self, key_id: str) -> bytes:
        return self.key


names = st.text(alphabet=st.characters(categories=["Lo", "Lu", "Ll", "Nd"]), min_size=1, max_size=20)
numbers = st.integers(0, 10**11 - 1).map(personal)
relatives = st.fixed_dictionaries({"name": names, "relation": st.sampled_from(["SPECIFIC", "ELDERLY", "OTHER", "UNDER_16"])},
                                  optional={"personal_number": numbers, "birth_date": st.dates().map(lambda d: d.isoformat())})


@st.composite
def payroll_lines(draw: Any) -> dict[str, Any]:
    deps = draw(st.lists(relatives, max_size=4))
    for d in deps:
        if "personal_number" not in d:
            d["personal_number_absence"] = draw(st.sampled_from(ABSENCES))
    who = {"name": draw(names), "birth_date": draw(st.dates()).isoformat(), "address": draw(names), "dependants": deps}
    if draw(st.booleans()):
        who["personal_number"] = draw(numbers)
    else:
        who["personal_number_absence"] = draw(st.sampled_from(ABSENCES))
    pay = draw(st.integers(0, 9_999_999_999))
    adjusted = draw(st.booleans())
    line = {"employee_number": draw(st.text("0123456789E", min_size=1, max_size=20)), "municipality_code": "131016", "person": who,
            "payment_amount": pay, "withholding_tax": draw(st.integers(0, pay)), "year_end_adjusted": adjusted,
            "dependants_under_16": draw(st.integers(0, 99)), "remarks": draw(st.one_of(st.none(), names))}
    if adjusted:
        line |= {"income_after_deduction": draw(st.integers(0, pay)), "total_deductions": draw(st.integers(0, 9_999_999_999))}
    return line


@settings(max_examples=60, deadline=None)
@given(st.lists(payroll_lines(), min_size=1, max_size=5, unique_by=(lambda line: line["employee_number"],
                                                                  lambda line: line["person"].get("personal_number") or id(line))),
       st.booleans())
def test_a_v2_payload_comes_back_as_it_was_validated_through_sealing_avro_and_unsealing(lines: list[dict[str, Any]], reveal: bool) -> None:
    payload = validate_payload(PAYROLL, report(*lines))
    sealer = Sealer(Keys(), REGISTRY)  # type: ignore[arg-type]
    stored, key_id = sealer.seal(PAYROLL, payload, "scope", "sub-1")
    data = REGISTRY.encode(PAYROLL.schema, stored, version=2)
    assert all(line["employee_name"] == "" and line["personal_number"] == b"" for line in stored["lines"])
    read = REGISTRY.decode_body(data[10:], PAYROLL.schema, 2)
    back, status = sealer.unseal(PAYROLL, read, key_id, "sub-1", reveal=reveal)
    if not reveal:
        def masked(p: dict[str, Any]) -> dict[str, Any]:
            return {**p, "personal_number": None if p["personal_number"] is None else MASK}
        for line in payload["lines"]:
            line["person"] = {**masked(line["person"]), "dependants": [masked(d) for d in line["person"]["dependants"]]}
    assert (back, status) == (payload, "shown" if reveal else "masked")


@settings(max_examples=30, deadline=None)
@given(st.lists(payroll_lines(), min_size=1, max_size=3, unique_by=(lambda line: line["employee_number"],
                                                                      lambda line: line["person"].get("personal_number") or id(line))))
def test_a_sealed_person_moved_to_another_line_does_not_authenticate(lines: list[dict[str, Any]]) -> None:
    from ledger.errors import IntegrityError

    # The same persons under other keys — without their numbers, since one 個人番号 is on one line only.
    again = [{**line, "employee_number": "D" + line["employee_number"][:19],
              "person": {**line["person"], "personal_number": None, "personal_number_absence": "NOT_PROVIDED"}} for line in lines]
    payload = validate_payload(PAYROLL, report(*lines, *again))
    sealer = Sealer(Keys(), REGISTRY)  # type: ignore[arg-type]
    stored, key_id = sealer.seal(PAYROLL, payload, "scope", "sub-1")
    swapped = [dict(x) for x in stored["lines"]]
    swapped[0]["person"], swapped[-1]["person"] = swapped[-1]["person"], swapped[0]["person"]
    with pytest.raises(IntegrityError) as err:
        sealer.unseal(PAYROLL, {**stored, "lines": swapped}, key_id, "sub-1", reveal=True)
    assert (err.value.code, err.value.field) == ("sealed_field", "lines[1].person")


def test_every_field_of_every_v2_form_is_in_the_schema_version_it_writes() -> None:
    """The domain's v2 rules and the schemas they write (v2, v3 for the 算定基礎届) name the same fields
    (the stored form is the schema's)."""
    def names(schema: dict[str, Any]) -> dict[str, Any]:
        return {f["name"]: f for f in schema["fields"]}

    for code, proc in V2.items():
        schema = REGISTRY.version(proc.schema, proc.version).schema
        top = names(schema)
        line = names(top["lines"]["type"]["items"])
        assert {r.name for r in proc.line} <= set(line), (code, {r.name for r in proc.line} - set(line))
        assert {r.name for r in proc.blocks} <= set(top), code
        header = top[proc.header_name]["type"] if proc.header_name else schema
        assert {r.name for r in proc.header} <= set(names(header)), (code, {r.name for r in proc.header} - set(names(header)))


# -- E7: 健康保険 and 厚生年金 grades apart, from dated tables ---------------------------------------------

DECISION = V2["STANDARD_REMUNERATION_DECISION"]


def decision(effective_from: str, **line: Any) -> dict[str, Any]:
    return {"office_code": "01イロハ", "effective_from": effective_from,
            "lines": [{"insured_number": 7, "person": {"name": "高橋 一郎"}, **line}]}


def test_a_decision_gives_each_schemes_grade_and_amount_from_its_own_table() -> None:
    """健康保険法第40条第1項: 50 grades, 第1級 ¥58,000 to 第50級 ¥1,390,000; 厚生年金保険法第20条第1項:
    第1級 ¥88,000 to 第32級 ¥650,000 (第32級 from 2020-09-01). The same person is 健康保険 第40級 ¥830,000
    and 厚生年金 第32級 ¥650,000: v1's one grade and one amount could not say so."""
    ok = validate_payload(DECISION, decision("2026-09", health_grade=40, health_amount=830_000, pension_grade=32, pension_amount=650_000))
    assert ok["lines"][0]["health_amount"] == 830_000
    assert errors(DECISION, decision("2026-09", health_grade=40, health_amount=650_000)) == [
        ("lines[1].health_amount", "grade_amount_mismatch")]
    assert errors(DECISION, decision("2026-09", pension_grade=33, pension_amount=680_000)) == [("lines[1].pension_grade", "unknown_grade")]
    assert errors(DECISION, decision("2026-09")) == [("lines[1].health_grade", "required")]
    assert errors(DECISION, decision("2026-09", health_grade=4)) == [("lines[1].health_amount", "required")]


@pytest.mark.parametrize(("month", "top"), [("2020-08", (31, 620_000)), ("2020-09", (32, 650_000)), ("2027-08", (32, 650_000)),
                                            ("2027-09", (33, 680_000)), ("2028-09", (34, 710_000)), ("2029-09", (35, 750_000))])
def test_the_pension_ceiling_is_the_one_in_force_in_the_month_the_decision_applies_from(month: str, top: tuple[int, int]) -> None:
    """第32級 from 2020-09-01 (令和2年政令); the 2025 reform raises the ceiling to ¥680,000 from
    2027-09, ¥710,000 from 2028-09 and ¥750,000 from 2029-09 (japan-forms-review.md, E7)."""
    grade, amount = top
    assert validate_payload(DECISION, decision(month, pension_grade=grade, pension_amount=amount))
    too_high = decision(month, pension_grade=grade + 1, pension_amount=amount)
    assert errors(DECISION, too_high) == [("lines[1].pension_grade", "unknown_grade")]


def test_a_v1_reader_of_a_v2_decision_gets_the_health_pair() -> None:
    from ledger.encoding.payload_forms import to_stored

    line = validate_payload(DECISION, decision("2026-09", health_grade=40, health_amount=830_000, pension_grade=32,
                                               pension_amount=650_000))["lines"][0]
    stored = to_stored(REGISTRY, DECISION, line, b"sealed")
    assert (stored["standard_monthly_remuneration"], stored["grade"], stored["person"]) == (830_000, 40, b"sealed")


# -- E8: 特別徴収 in 100円 units, twelve months, three taxes ---------------------------------------------

NOTICE = V2["SPECIAL_COLLECTION_NOTICE"]


def notice(**line: Any) -> dict[str, Any]:
    return {"municipality_code": "131016", "lines": [{"person": {"name": "高橋 一郎"}, **line}]}


def test_a_notice_collects_each_month_after_the_first_in_100_yen_units() -> None:
    """地方税法第321条の5第1項: the 特別徴収税額 is collected in twelve monthly parts from June to May; a
    part under 100円 (or the remainder) is added to the first month. ¥123,456 a year: ¥10,200 from
    July to May, ¥11,256 in June."""
    assert validate_payload(NOTICE, notice(annual_tax=123_456, june_amount=11_256, monthly_amount=10_200))
    assert errors(NOTICE, notice(annual_tax=123_456, june_amount=10_299, monthly_amount=10_287)) == [
        ("lines[1].monthly_amount", "not_in_100_yen")]
    twelve = [11_256] + [10_200] * 11
    assert validate_payload(NOTICE, notice(annual_tax=123_456, june_amount=11_256, monthly_amount=10_200, monthly_amounts=twelve))
    assert errors(NOTICE, notice(annual_tax=123_456, june_amount=11_256, monthly_amount=10_250,
                                 monthly_amounts=[11_256, 10_250] + [10_195] * 10)) == [
        ("lines[1].monthly_amounts[2]", "not_in_100_yen"), *[(f"lines[1].monthly_amounts[{m}]", "not_in_100_yen") for m in range(3, 13)]]


def test_a_year_whose_june_is_not_collected_puts_the_remainder_in_july() -> None:
    """令和6年度: "令和6年6月分は徴収せず、定額減税「後」の税額を令和6年7月分~令和7年5月分の11ケ月で特別徴収する"
    (階上町, from 地方税法附則第5条の8): twelve amounts, June 0, July the remainder."""
    months = [0, 11_256 + 10_200] + [10_200] * 10
    assert validate_payload(NOTICE, notice(annual_tax=sum(months), june_amount=0, monthly_amount=months[1], monthly_amounts=months))


def test_a_notice_names_its_three_taxes_and_they_add_up_to_the_year() -> None:
    """From 令和6年度 the notice separates 市町村民税, 道府県民税 and 森林環境税 (森林環境税及び森林環境譲与税に
    関する法律, ¥1,000 a year assessed with the 住民税)."""
    good = notice(annual_tax=123_456, june_amount=11_256, monthly_amount=10_200, municipal_tax=73_474, prefectural_tax=48_982,
                  forest_tax=1_000)
    assert validate_payload(NOTICE, good)
    bad = {**good["lines"][0], "forest_tax": 0}
    assert errors(NOTICE, {**good, "lines": [bad]}) == [("lines[1].annual_tax", "inconsistent_amounts")]


@pytest.mark.parametrize(("over", "field"), [({"relation": "山田花子"}, "relation"), ({"cohabiting": "山田花子"}, "cohabiting"),
                                             ({"birth_date": "花子"}, "birth_date")])
def test_what_was_typed_into_a_persons_field_is_never_echoed(over: dict[str, Any], field: str) -> None:
    """A name typed into the wrong box of a dependant is still personal data: the error names the
    field and what kind of value came, not the value (a short value elsewhere, like a reason code, is shown)."""
    kid = {"name": "高橋 次郎", "relation": "UNDER_16", "personal_number_absence": "NOT_PROVIDED", **over}
    with pytest.raises(ValidationErrors) as err:
        validate_payload(PAYROLL, report(slip(person=person(dependants=[kid]))))
    (one,) = err.value.errors
    assert one.field == f"lines[1].person.dependants[1].{field}" and one.got == f"str of {len(over[field])}"
    assert "花子" not in str(one) and "花子" not in str(one.got)
    with pytest.raises(ValidationErrors) as other:
        validate_payload(PAYROLL, report(slip(collection="ORDINARY", ordinary_reason="普G")))
    assert other.value.errors[0].got == "普G"


def test_a_leaving_date_on_a_payroll_report_is_in_its_payment_year() -> None:
    """E5: the 給与支払報告書 of payment year 2026 lists those paid in 2026; a retiree's 退職日 on it is in
    2026, and its line goes to the municipality of the address on that day (地方税法第317条の6第3項;
    japan-forms-review.md E5)."""
    leaver = slip(year_end_adjusted=False, employment_end="2026-06-30", income_after_deduction=None, total_deductions=None)
    assert validate_payload(PAYROLL, report(leaver), "2026")["lines"][0]["employment_end"] == "2026-06-30"
    with pytest.raises(ValidationErrors) as err:
        validate_payload(PAYROLL, report(leaver), "2027")
    assert [(e.field, e.code) for e in err.value.errors] == [("lines[1].employment_end", "date_outside_year")]


# -- one line per person ------------------------------------------------------------------------------

def test_a_filing_has_one_line_per_person() -> None:
    """The 個人別明細書 is made per recipient (地方税法第317条の6第1項) and the 賞与支払届 per insured
    person (厚生年金保険法第27条: 報酬月額及び賞与額 of each 被保険者): a second line with the same 受給者番号 / 被保険者整理番号 is
    refused, on the second line — the key a person-level correction will name."""
    other = person(personal_number=personal(70_030))
    assert errors(PAYROLL, report(slip(), slip(employee_number="E2", person=other), slip())) == [
        ("lines[3].employee_number", "duplicate_person")]
    payload = {"office": office(), "lines": [bonus_line(), bonus_line(insured_number=13), bonus_line(insured_number=13)]}
    with pytest.raises(ValidationErrors) as err:
        validate_payload(BONUS, payload, "2026-06-30")
    [e] = err.value.errors
    assert (e.field, e.code, e.got, e.expected) == ("lines[3].insured_number", "duplicate_person", "the insured_number of line 2",
                                                    "a insured_number no other line has")
    assert len(validate_payload(PAYROLL, report(slip(), slip(employee_number="E2", person=other)))["lines"]) == 2
    assert {code: V2[code].person_key for code in ("PAYROLL_REPORT", "WITHHOLDING_SLIP", "STANDARD_REMUNERATION", "BONUS_PAYMENT",
                                                     "WAGE_LEDGER")} == {
        "PAYROLL_REPORT": "employee_number", "WITHHOLDING_SLIP": "employee_number", "STANDARD_REMUNERATION": "insured_number",
        "BONUS_PAYMENT": "insured_number", "WAGE_LEDGER": "employee_id"}


# -- E14: who the year's 算定基礎届 leaves out ------------------------------------------------------------

def sr_line(**over: Any) -> dict[str, Any]:
    return {"insured_number": 12, "person": {"name": "高橋 一郎", "birth_date": "1980-01-02"}, "remuneration_april": 300_000,
            "remuneration_may": 300_000, "remuneration_june": 300_000, "days_april": 30, "days_may": 31, "days_june": 30, **over}


def sr_errors(*lines: dict[str, Any], period: str = "2026") -> list[tuple[str, str]]:
    with pytest.raises(ValidationErrors) as err:
        validate_payload(SR, {"office": office(), "lines": list(lines)}, period)
    return [(e.field, e.code) for e in err.value.errors]


@pytest.mark.parametrize(("over", "field"), [
    ({"insured_since": "2026-06-01"}, "insured_since"), ({"insured_since": "2026-07-01"}, "insured_since"),
    ({"insured_since": "2026-07-05"}, "insured_since"), ({"insured_until": "2026-07-01"}, "insured_until"),
    ({"insured_until": "2026-03-31"}, "insured_until"),
    ({"pay_change_month": "2026-04", "remarks": ["MONTHLY_CHANGE_EXPECTED"]}, "pay_change_month"),
], ids=["joined 1 June", "joined 1 July", "joined after 1 July", "left 30 June", "left in March", "July 月額変更"])
def test_the_standard_remuneration_report_leaves_out_whom_the_regular_decision_does_not_apply_to(over: dict[str, Any],
                                                                                                  field: str) -> None:
    """健康保険法第41条第1項・第3項 (and 施行規則第25条: "毎年七月一日現に使用する被保険者(法第四十一条第三項に該当する者
    を除く。)"): the 算定基礎届 reports those used on 1 July, except who became insured from 1 June to 1 July and who
    is revised from July by a 随時改定 (第43条: the pay changed in April) — japan-forms-review.md E14."""
    assert sr_errors(sr_line(), sr_line(insured_number=13, **over)) == [(f"lines[2].{field}", "not_on_regular_decision")]


@pytest.mark.parametrize("over", [
    {"insured_since": "2026-05-31"}, {"insured_since": "1998-04-01"}, {"insured_until": "2026-07-02"},
    {"pay_change_month": "2026-05", "remarks": ["MONTHLY_CHANGE_EXPECTED"]},  # 月額変更予定 from August: stays on the form
    {"pay_change_month": "2026-04"},  # raised in April, not by two grades: the 定時決定 decides
], ids=["joined 31 May", "long insured", "left 1 July", "August 月額変更予定", "April raise"])
def test_those_the_regular_decision_applies_to_stay_on_the_report(over: dict[str, Any]) -> None:
    """The same article's other side: insured by 31 May and still on 1 July (喪失日 2 July: left on 1 July) are on
    the form; a 月額変更 from August or September is filed on it with 備考 月額変更予定 (日本年金機構
    「算定基礎届の記入方法」)."""
    assert validate_payload(SR, {"office": office(), "lines": [sr_line(**over)]}, "2026")["lines"][0]["insured_since"] == (
        over.get("insured_since"))


def test_a_standard_remuneration_report_written_under_v2_reads_under_v3_with_no_insurance_dates() -> None:
    """v3 adds 資格取得・喪失年月日 with null defaults: a v2 record reads as v3 (Avro schema resolution), FULL_TRANSITIVE."""
    from ledger.encoding.payload_forms import to_stored

    assert SR.version == 3
    line = validate_payload(SR, {"office": office(), "lines": [sr_line(insured_since="2001-04-01")]}, "2026")["lines"][0]
    stored = to_stored(REGISTRY, SR, line, b"sealed")
    assert stored["insured_since"] == "2001-04-01"
    as_v2 = {k: v for k, v in stored.items() if k not in ("insured_since", "insured_until")}
    header = {"name": "株式会社記録", "address": "東京都千代田区丸の内1-1", "office_code": None, "phone": None,
              "office_symbol": None, "office_number": None}
    data = REGISTRY.encode(SR.schema, {"office": header, "lines": [as_v2]}, version=2)
    _, back = REGISTRY.decode(data)
    assert (back["lines"][0]["insured_since"], back["lines"][0]["insured_until"], back["lines"][0]["remuneration_june"]) == (
        None, None, 300_000)


# -- E14: the characters eLTAX and e-Tax accept ----------------------------------------------------------

def test_a_recipient_number_takes_half_width_letters_digits_and_symbols_only() -> None:
    """鹿児島市「eLTAXにおける電子申告等データの受付時エラーチェック強化による留意事項」(2019年9月の更改から):
    「受給者番号」欄に入力可能な文字は、半角英数字、一部記号のみ — kana or kanji there is a 受付エラー."""
    assert validate_payload(PAYROLL, report(slip(employee_number="E-0001/a")))["lines"][0]["employee_number"] == "E-0001/a"
    for bad in ("Ｅ０００１", "社員1", "ｴ1", "E 1"):
        assert errors(PAYROLL, report(slip(employee_number=bad))) == [("lines[1].employee_number", "not_half_width")], bad


def test_furigana_is_full_width_katakana_for_the_employee_and_each_relative() -> None:
    """e-Tax takes no half-width kana (国税庁「e-Taxで利用可能な文字」: 半角形・全角形 ただし半角カナ FF66–FF9F を除く),
    and eLTAX refuses characters outside its specification (the same 鹿児島市 page): フリガナ is 全角カタカナ."""
    good = person(kana="ヤマダ　タロウ")
    assert validate_payload(PAYROLL, report(slip(person=good)))["lines"][0]["person"]["kana"] == "ヤマダ　タロウ"
    assert errors(PAYROLL, report(slip(person=person(kana="やまだ")))) == [("lines[1].person.kana", "invalid_kana")]
    assert errors(PAYROLL, report(slip(person=person(kana="ﾔﾏﾀﾞ")))) == [("lines[1].person.kana", "invalid_kana")]
    spouse = {"name": "山田 花子", "kana": "Hanako", "relation": "SPOUSE", "personal_number": personal(70_010)}
    assert errors(PAYROLL, report(slip(person=person(spouse=spouse)))) == [("lines[1].person.spouse.kana", "invalid_kana")]
    with pytest.raises(ValidationErrors) as err:
        validate_payload(PAYROLL, report(slip(person=person(kana="ヤマダ太郎"))))
    assert err.value.errors[0].got == "a kanji at position 4"  # what kind, never the character (it is part of a name)


def test_one_personal_number_on_two_lines_is_one_person_filed_twice() -> None:
    """番号法第2条第5項: the 個人番号 is given "当該住民票コードが記載された住民票に係る者を識別するために" — it
    identifies one person; the 個人別明細書 is per recipient
    (地方税法第317条の6第1項). Two 受給者番号 with one 個人番号 is one person twice; the number is not echoed."""
    same = personal(70_020)
    lines = [slip(employee_number="E1", person=person(personal_number=same)),
             slip(employee_number="E2", person=person(personal_number=personal(70_021))),
             slip(employee_number="E3", person=person(personal_number=same))]
    with pytest.raises(ValidationErrors) as err:
        validate_payload(PAYROLL, report(*lines))
    [e] = err.value.errors
    assert (e.field, e.code, e.got) == ("lines[3].person.personal_number", "duplicate_personal_number", "the personal number of line 1")
    assert same not in e.message
    blanks = [slip(employee_number=f"E{i}", person=person(personal_number=None, personal_number_absence="NOT_PROVIDED"))
              for i in (1, 2)]
    assert len(validate_payload(PAYROLL, report(*blanks))["lines"]) == 2  # two blanks are no duplicate
