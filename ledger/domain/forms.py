"""The v2 forms: each procedure's payload as the real form has it (issue 15; japan-forms-review.md 2.2).

A v2 line keeps its money and codes in the clear and puts everything that identifies or describes
the person — name, フリガナ, birth date, address, personal numbers of the employee and of the
spouse and dependants — in one ``person`` object, which the ledger seals whole (one AES-GCM
operation per line, ``ledger.service.sealing``): crypto-shredding then erases the person, not only
the number. Blanks are allowed where the forms allow them, each with its reason:

- a personal number the employee did not give is blank with ``personal_number_absence``
  (国税庁 国税分野FAQ Q2-10: file with the field blank and keep the record of the request) — E2;
- the 算定基礎届 and 賞与支払届 ask for a 個人番号 only for 70歳以上被用者 (日本年金機構, 平成30年3月
  様式改正): anyone else's is refused, not collected — E1;
- a slip without 年末調整 (中途退職, 乙欄, 2,000万円超) leaves 給与所得控除後の金額 and 所得控除の額の
  合計額 blank (国税庁 源泉徴収票の記載要領) — E3;
- 普通徴収 needs one of the reasons 普A–普F (the only ones municipalities accept: 普通徴収切替理由書).

``V2`` holds each procedure at version 2, and importing this module (``ledger.domain`` does) puts it
in :data:`ledger.domain.procedures.PROCEDURES`: Kiroku writes v2 and reads what v1 recorded through
Avro schema resolution (``procedures.V1`` keeps the v1 table).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Any, Final

from ledger.domain import grades
from ledger.domain.fields import FieldRule
from ledger.domain.person_changes import LINE_ACTIONS
from ledger.domain.procedures import (
    _MAX_MONTHLY,
    _MAX_PERSONS,
    _MAX_STANDARD_REMUNERATION,
    _MONTH_MINUTES,
    LINE_RULES,
    PROCEDURES,
    Procedure,
)
from ledger.errors import ValidationError

R = FieldRule

# -- the person ----------------------------------------------------------------------------------

ABSENCES: Final = ("NOT_PROVIDED", "NOT_ISSUED", "NON_RESIDENT", "NOT_REQUIRED", "OTHER")
RELATIONS: Final = ("SPOUSE", "SPECIFIC", "ELDERLY", "OTHER", "SPECIFIC_RELATIVE", "UNDER_16")

RELATIVE: Final = (
    R("name", "text", max_length=100), R("kana", "text", required=False, max_length=100),
    R("personal_number", "personal_number", required=False, sensitive=True),
    R("personal_number_absence", "choice", required=False, choices=ABSENCES),
    R("relation", "choice", choices=RELATIONS), R("birth_date", "date", required=False),
    R("non_resident", "flag", required=False, default=False), R("cohabiting", "flag", required=False, default=False),
)


def person(*, birth_date: bool, address: bool, gender: bool = False, relatives: bool = False) -> FieldRule:
    """The ``person`` of a line: which of its items the form requires."""
    fields = [
        R("name", "text", max_length=100), R("kana", "text", required=False, max_length=100),
        R("birth_date", "date", required=birth_date),
        R("gender", "choice", required=gender, choices=("FEMALE", "MALE", "UNSTATED")),
        R("address", "text", required=address),
        R("personal_number", "personal_number", required=False, sensitive=True),
        R("personal_number_absence", "choice", required=False, choices=ABSENCES),
    ]
    if relatives:
        fields += [R("spouse", "record", required=False, fields=RELATIVE),
                   R("dependants", "records", required=False, default=(), fields=RELATIVE, max_items=_MAX_PERSONS)]
    else:
        fields += [R("spouse", "record", required=False, fields=RELATIVE, max_items=0),
                   R("dependants", "records", required=False, default=(), fields=RELATIVE, max_items=0)]
    return R("person", "record", fields=tuple(fields), sensitive=True)


def _count(name: str) -> FieldRule:
    return R(name, "count", required=False, default=0, max_value=_MAX_PERSONS)


def _yen0(name: str, ceiling: int | None = None) -> FieldRule:
    return R(name, "yen", required=False, default=0, max_value=ceiling)


def _flag(name: str, default: bool = False) -> FieldRule:
    return R(name, "flag", required=False, default=default)


def _text(name: str, length: int = 200) -> FieldRule:
    return R(name, "text", required=False, max_length=length)


def _office(*, social: bool = False) -> tuple[FieldRule, ...]:
    fields = [R("name", "text"), R("address", "text"), _text("office_code", 40), _text("phone", 20)]
    if social:
        fields += [_text("office_symbol", 10), _text("office_number", 10)]
    return tuple(fields)


# -- 給与支払報告書 and 源泉徴収票 ------------------------------------------------------------------

HOUSING_LOAN: Final = (R("residence_start", "date"), _text("kind", 20), R("year_end_balance", "yen", required=False))

_SLIP: Final = (
    R("employee_number", "text", max_length=20), person(birth_date=True, address=True, relatives=True),
    R("payment_amount", "yen"), R("income_after_deduction", "yen", required=False), R("total_deductions", "yen", required=False),
    R("withholding_tax", "yen"), R("social_insurance", "yen", required=False, default=0),
    _count("dependents"), _flag("year_end_adjusted", True),
    R("employment_start", "date", required=False), R("employment_end", "date", required=False),
    _flag("retired_by_death"), _flag("officer"), _text("title", 40), _text("category", 40), _flag("otsu"),
    _flag("spouse_deduction_target"), _flag("spouse_elderly"), _yen0("spouse_deduction"), R("spouse_income", "yen", required=False),
    *(_count(n) for n in ("dependants_specific", "dependants_elderly", "dependants_elderly_cohabiting", "dependants_other",
                          "dependants_specific_relative", "dependants_under_16", "disabled_special", "disabled_special_cohabiting",
                          "disabled_other", "non_resident_relatives")),
    *(_flag(n) for n in ("widow", "single_parent", "working_student", "disaster_victim", "foreigner")),
    *(_yen0(n) for n in ("small_enterprise_mutual_aid", "life_insurance", "earthquake_insurance", "housing_loan_credit",
                         "life_insurance_new", "life_insurance_old", "care_medical_insurance", "pension_insurance_new",
                         "pension_insurance_old", "earthquake_old_long_term", "national_pension")),
    R("basic_deduction", "yen", required=False), _yen0("income_adjustment"), _yen0("specific_relative_special"),
    _count("housing_loan_count"), R("housing_loans", "records", required=False, default=(), fields=HOUSING_LOAN, max_items=2),
    _text("remarks", 500),
    # 訂正・追加・取消 per person (ledger.domain.person_changes): ORIGINAL on every line of a whole filing.
    R("line_action", "choice", required=False, default="ORIGINAL", choices=LINE_ACTIONS),
)

ORDINARY_REASONS: Final = ("FEW_EMPLOYEES", "SPECIAL_ELSEWHERE", "LOW_PAY", "IRREGULAR_PAY", "FAMILY_WORKER", "LEAVING")

PAYROLL_LINE: Final = (
    R("municipality_code", "municipality_code"), *_SLIP,
    R("collection", "choice", required=False, default="SPECIAL", choices=("SPECIAL", "ORDINARY")),
    R("ordinary_reason", "choice", required=False, choices=ORDINARY_REASONS),
)

#: 受給者総人員 and the 報告人員 are 7 digits on the 総括表.
_SUMMARY_COUNTS = 9_999_999


def _persons(name: str) -> FieldRule:
    return R(name, "count", required=False, default=0, max_value=_SUMMARY_COUNTS)


PAYROLL_SUMMARY: Final = (
    R("municipality_code", "municipality_code"), _text("designation_number", 20), _text("payment_period", 40),
    *(_persons(n) for n in ("recipients", "reported_special", "reported_ordinary_retired", "reported_ordinary_other")),
    _text("tax_office", 40), _text("payment_method", 100), _text("contact_name", 100), _text("contact_department", 100),
    _text("contact_phone", 20), _text("accounting_firm", 100), _flag("payment_slips", True), _text("business_type", 40),
    R("notice_delivery", "choice", required=False, default="PAPER", choices=("ELECTRONIC", "PAPER")), _text("notice_email", 254),
)

_TOTALS: Final = (_persons("persons"), _yen0("amount"), _yen0("tax"))
SLIP_SUMMARY: Final = (
    R("submission_kind", "choice", required=False, default="NEW", choices=("NEW", "ADDITION", "CORRECTION", "CANCELLATION")),
    *(R(n, "record", fields=_TOTALS) for n in ("adjusted", "not_adjusted", "otsu", "disaster", "total", "submitted")),
)

# -- 算定基礎届 and 賞与支払届 ----------------------------------------------------------------------

_INSURED = R("insured_number", "count", max_value=999_999)
SR_REMARKS: Final = ("AGE_70_PLUS", "MULTIPLE_OFFICES", "MONTHLY_CHANGE_EXPECTED", "JOINED_MIDWAY", "ON_LEAVE", "SHORT_TIME_WORKER",
                     "PART_TIME", "ANNUAL_AVERAGE", "OTHER")
STANDARD_REMUNERATION_LINE: Final = (
    _INSURED, person(birth_date=True, address=False),
    *(R(f"remuneration_{m}", "yen", max_value=_MAX_MONTHLY) for m in ("april", "may", "june")),
    R("days_april", "count", max_value=30), R("days_may", "count", max_value=31), R("days_june", "count", max_value=30),
    R("applies_from", "month", required=False), R("previous_health_amount", "yen", required=False, max_value=_MAX_STANDARD_REMUNERATION),
    R("previous_pension_amount", "yen", required=False, max_value=_MAX_STANDARD_REMUNERATION),
    R("previous_revision", "month", required=False), R("pay_change_month", "month", required=False),
    R("pay_change", "choice", required=False, choices=("RAISE", "CUT")), _yen0("retroactive_amount", _MAX_MONTHLY),
    *(_yen0(f"in_kind_{m}", _MAX_MONTHLY) for m in ("april", "may", "june")),
    R("adjusted_average", "yen", required=False, max_value=_MAX_MONTHLY),
    R("remarks", "choices", required=False, default=(), choices=SR_REMARKS, max_items=len(SR_REMARKS)), _text("remarks_note", 200),
    # v3 (E14): who the year's 定時決定 leaves out (健康保険法第41条第3項) is told by these dates.
    R("insured_since", "date", required=False), R("insured_until", "date", required=False),
)

BONUS_REMARKS: Final = ("AGE_70_PLUS", "MULTIPLE_OFFICES", "SAME_MONTH_COMBINED", "OTHER")
BONUS_LINE: Final = (
    _INSURED, person(birth_date=True, address=False), R("bonus_amount", "yen", max_value=_MAX_MONTHLY),
    R("paid_on", "date", required=False), R("first_paid_on", "date", required=False), _yen0("in_kind", _MAX_MONTHLY),
    R("remarks", "choices", required=False, default=(), choices=BONUS_REMARKS, max_items=len(BONUS_REMARKS)),
)

# -- 賃金台帳 ------------------------------------------------------------------------------------

WAGE_ITEM: Final = (R("name", "text", max_length=40), R("amount", "yen", max_value=_MAX_MONTHLY))
WAGE_LEDGER_LINE: Final = (
    R("employee_id", "text", max_length=40), person(birth_date=False, address=False, gender=True),
    R("days_worked", "count", max_value=31), R("minutes_worked", "count", max_value=_MONTH_MINUTES),
    R("overtime_minutes", "count", max_value=_MONTH_MINUTES),
    *(R(n, "yen", max_value=_MAX_MONTHLY) for n in ("base_pay", "overtime_pay", "allowances", "deductions", "net_pay")),
    R("pay_period_start", "date", required=False), R("pay_period_end", "date", required=False), R("paid_on", "date", required=False),
    R("holiday_minutes", "count", required=False, default=0, max_value=_MONTH_MINUTES),
    R("night_minutes", "count", required=False, default=0, max_value=_MONTH_MINUTES),
    R("allowance_items", "records", required=False, default=(), fields=WAGE_ITEM, max_items=50),
    R("deduction_items", "records", required=False, default=(), fields=WAGE_ITEM, max_items=50),
)

# -- dispositions --------------------------------------------------------------------------------

SPECIAL_COLLECTION_LINE: Final = (
    person(birth_date=False, address=False), R("line_ref", "count", required=False, max_value=10_000_000),
    R("annual_tax", "yen"), R("june_amount", "yen"), R("monthly_amount", "yen"),
    _text("employee_number", 20), _text("addressee_number", 20),
    _yen0("municipal_tax"), _yen0("prefectural_tax"), _yen0("forest_tax"),
    R("monthly_amounts", "yens", required=False, default=(), max_items=12),
    *(R(n, "yen", required=False) for n in ("per_capita_levy", "income_levy", "taxable_income", "deductions_total")),
)
SPECIAL_COLLECTION_HEADER: Final = (
    R("municipality_code", "municipality_code"), _text("designation_number", 20), _text("supersedes", 40),
    R("effective_from", "month", required=False),
)
_SRM = _MAX_STANDARD_REMUNERATION
DECISION_LINE: Final = (
    _INSURED, person(birth_date=False, address=False),
    R("health_grade", "count", required=False, max_value=50), R("health_amount", "yen", required=False, max_value=_SRM),
    R("pension_grade", "count", required=False, max_value=50), R("pension_amount", "yen", required=False, max_value=_SRM),
    R("decision_kind", "choice", required=False, default="REGULAR", choices=("REGULAR", "REVISION", "ACQUISITION", "OTHER")),
    R("previous_health_amount", "yen", required=False, max_value=_SRM),
    R("previous_pension_amount", "yen", required=False, max_value=_SRM),
)
DECISION_HEADER: Final = (R("office_code", "text", max_length=40), R("effective_from", "month"), _text("office_number", 10),
                          R("notified_on", "date", required=False))


#: The field naming the person of a line, once per filing (``Procedure.person_key``): the
#: 受給者番号 the employer gives each recipient, the 被保険者整理番号 the pension office assigned.
PERSON_KEYS: Final = {"PAYROLL_REPORT": "employee_number", "WITHHOLDING_SLIP": "employee_number",
                      "STANDARD_REMUNERATION": "insured_number", "BONUS_PAYMENT": "insured_number", "WAGE_LEDGER": "employee_id"}


#: The header fields naming the office each filing is made for (``Procedure.office_fields``, E13). 源泉徴収票 are
#: made per 給与支払事務所: the 源泉 所得税's 納税地 is the office that handles the payment (所得税法第17条, read at the
#: 日本法令外国語訳 copy), and the national 給与支払報告書・源泉徴収票 record tells the offices of one 提出義務者 apart by
#: its 本支店等区分番号 (総税市第49号 item 3, "本店等で一括して提出する場合に…各提出義務者を区分する番号").
#: 算定基礎届 and 賞与支払届 are made by the 事業主 of each 適用事業所 (健康保険法第48条, 厚生年金保険法第27条), named
#: by its 事業所整理記号 and 事業所番号; a 賃金台帳 per 事業場 (労働基準法第108条: "各事業場ごとに賃金台帳を調製し").
OFFICE_FIELDS: Final = {"PAYROLL_REPORT": ("branch_number",), "WITHHOLDING_SLIP": ("branch_number",),
                        "STANDARD_REMUNERATION": ("office_symbol", "office_number"),
                        "BONUS_PAYMENT": ("office_symbol", "office_number"), "WAGE_LEDGER": ("office_code",)}


def _v2(code: str, line: tuple[FieldRule, ...], header: tuple[FieldRule, ...] | None = None,
        blocks: tuple[FieldRule, ...] = (), version: int = 2) -> Procedure:
    """The form of the real law (v2 on; a later schema version where a form gained fields since)."""
    base = PROCEDURES[code]
    return replace(base, version=version, line=line, header=header if header is not None else base.header, blocks=blocks,
                   sensitive_fields=("person",), person_key=PERSON_KEYS.get(code), office_fields=OFFICE_FIELDS.get(code, ()))


V2: Final[dict[str, Procedure]] = {
    "PAYROLL_REPORT": _v2("PAYROLL_REPORT", PAYROLL_LINE, (*_office(), _text("branch_number", 20), _text("tax_office_reference", 10)),
                          (R("summaries", "records", required=False, default=(), fields=PAYROLL_SUMMARY, max_items=1_741),)),
    "WITHHOLDING_SLIP": _v2("WITHHOLDING_SLIP", _SLIP, (*_office(), _text("branch_number", 20), _text("tax_office_reference", 10)),
                            (R("summary", "record", required=False, fields=SLIP_SUMMARY),)),
    # v3: 資格取得・喪失年月日, for the persons the 定時決定 leaves out (E14).
    "STANDARD_REMUNERATION": _v2("STANDARD_REMUNERATION", STANDARD_REMUNERATION_LINE, _office(social=True), version=3),
    "BONUS_PAYMENT": _v2("BONUS_PAYMENT", BONUS_LINE, _office(social=True)),
    "WAGE_LEDGER": _v2("WAGE_LEDGER", WAGE_LEDGER_LINE, _office()),
    "SPECIAL_COLLECTION_NOTICE": _v2("SPECIAL_COLLECTION_NOTICE", SPECIAL_COLLECTION_LINE, SPECIAL_COLLECTION_HEADER),
    "STANDARD_REMUNERATION_DECISION": _v2("STANDARD_REMUNERATION_DECISION", DECISION_LINE, DECISION_HEADER),
}


# -- rules between the fields of a line ----------------------------------------------------------

def _error(number: int, field: str, detail: str, expected: str, got: Any, code: str) -> ValidationError:
    return ValidationError(f"line {number}: {detail}", field=f"lines[{number}].{field}", expected=expected, got=got, code=code)


def _personal_numbers(line: dict[str, Any], number: int, _payload: dict[str, Any]) -> list[ValidationError]:
    """E2: a blank 個人番号 needs its reason, and a given one has none (国税分野FAQ Q2-10) — for the
    employee, the spouse and each dependant."""
    who = line["person"]
    out = []
    people = [("person", who)]
    if who.get("spouse"):
        people.append(("person.spouse", who["spouse"]))
    people += [(f"person.dependants[{i}]", d) for i, d in enumerate(who.get("dependants") or [], start=1)]
    for path, p in people:
        if p["personal_number"] is None and p["personal_number_absence"] is None:
            out.append(_error(number, f"{path}.personal_number_absence",
                              "a blank personal number needs its reason (personal_number_absence): file the line blank and keep the record "
                              "of how the number was asked for (国税庁 国税分野FAQ Q2-10)",
                              "one of " + ", ".join(ABSENCES), None, "personal_number_absence_required"))
        elif p["personal_number"] is not None and p["personal_number_absence"] is not None:
            out.append(_error(number, f"{path}.personal_number_absence", "a personal number is given, so it has no reason to be blank",
                              "null when personal_number is given", p["personal_number_absence"], "unexpected_absence"))
    return out


def _year_end(line: dict[str, Any], number: int, _payload: dict[str, Any]) -> list[ValidationError]:
    """E3: with 年末調整 both totals are given; without it (中途退職, 乙欄, 2,000万円超) both are blank
    (国税庁「給与所得の源泉徴収票の記載要領」)."""
    out = []
    for name in ("income_after_deduction", "total_deductions"):
        value = line[name]
        if line["year_end_adjusted"] and value is None:
            out.append(_error(number, name, f"{name} is required when year_end_adjusted is true (年末調整をした)",
                              "an amount in whole yen", None, "required"))
        elif not line["year_end_adjusted"] and value is not None:
            out.append(_error(number, name, f"{name} is left blank without 年末調整 (year_end_adjusted is false)",
                              "null without 年末調整", value, "unexpected_amount"))
    return out


def _slip_sums(line: dict[str, Any], number: int, _payload: dict[str, Any]) -> list[ValidationError]:
    """The tax is withheld from the payment (所得税法第183条第1項) and 給与所得控除後の金額 is the payment
    less the 給与所得控除 (所得税法第28条第2項): neither exceeds 支払金額."""
    out = []
    for name in ("withholding_tax", "income_after_deduction"):
        value = line[name]
        if value is not None and value > line["payment_amount"]:
            out.append(_error(number, name, f"{name} ({value:,}) must be at most payment_amount ({line['payment_amount']:,})",
                              f"at most payment_amount = {line['payment_amount']:,}", value, "inconsistent_amounts"))
    return out


def _employment_dates(line: dict[str, Any], number: int, payload: dict[str, Any]) -> list[ValidationError]:
    """E5: a report of payment year Y lists who was paid in Y — a 中途就職 or 退職 date on it is in Y
    (a retiree paid over 30万円 is reported, to the municipality of the address on the leaving date:
    地方税法第317条の6第3項 — that is what ``municipality_code`` then names)."""
    start, end = line["employment_start"], line["employment_end"]
    if start is not None and end is not None and end < start:
        return [_error(number, "employment_end", "the leaving date is before the joining date", f"on or after {start}", end,
                       "inconsistent_dates")]
    year = payload.get("_period")
    out = []
    if year is not None:
        for name, value in (("employment_start", start), ("employment_end", end)):
            if value is not None and value[:4] != year:
                out.append(_error(number, name, f"a {name.replace('_', ' ')} on the report of payment year {year} is in {year}",
                                  f"a date in {year}", value, "date_outside_year"))
    return out


def _collection(line: dict[str, Any], number: int, _payload: dict[str, Any]) -> list[ValidationError]:
    """普通徴収 needs one of the reasons 普A–普F, the only ones municipalities accept (普通徴収切替理由書;
    on eLTAX the 普通徴収 flag and the reason's 符号 in 摘要); 特別徴収 has none."""
    if line["collection"] == "ORDINARY" and line["ordinary_reason"] is None:
        return [_error(number, "ordinary_reason", "普通徴収 (collection ORDINARY) needs its reason, one of 普A–普F",
                       "one of " + ", ".join(ORDINARY_REASONS), None, "ordinary_reason_required")]
    if line["collection"] == "SPECIAL" and line["ordinary_reason"] is not None:
        return [_error(number, "ordinary_reason", "a reason for 普通徴収 was given, but collection is SPECIAL (特別徴収)",
                       "null for 特別徴収", line["ordinary_reason"], "unexpected_reason")]
    return []


def _seventy_plus_only(line: dict[str, Any], number: int, _payload: dict[str, Any]) -> list[ValidationError]:
    """E1: the 算定基礎届 and 賞与支払届 ask for the 個人番号 only of 70歳以上被用者 (日本年金機構,
    平成30年3月 様式改正: 「70歳以上被用者のみ個人番号を記入」); anyone else's is not collected."""
    who = line["person"]
    if who["personal_number"] is not None and "AGE_70_PLUS" not in line["remarks"]:
        return [_error(number, "person.personal_number",
                       "this form asks for a personal number only for an employee aged 70 or over (remarks AGE_70_PLUS): "
                       "leave it out for everyone else", "no personal number unless remarks has AGE_70_PLUS", "a personal number",
                       "personal_number_not_asked")]
    if who["personal_number"] is None and who["personal_number_absence"] is None and "AGE_70_PLUS" in line["remarks"]:
        return [_error(number, "person.personal_number_absence",
                       "a 70歳以上被用者's personal number is blank: give its reason (personal_number_absence)",
                       "one of " + ", ".join(ABSENCES), None, "personal_number_absence_required")]
    return []


def _on_the_regular_decision(line: dict[str, Any], number: int, payload: dict[str, Any]) -> list[ValidationError]:
    """E14: the 算定基礎届 of year Y reports those used on 1 July of Y (健康保険法第41条第1項, 施行規則第25条:
    "毎年七月一日現に使用する被保険者(法第四十一条第三項に該当する者を除く。)"), leaving out for that year
    (第41条第3項) whoever became insured from 1 June to 1 July, and whoever is revised from July to
    September by a 随時改定 (第43条) — the one from July is already known: the pay changed in April
    (three months April–June), so the 月額変更届 is filed instead; those from August or September stay
    on the form with 備考 月額変更予定. 厚生年金保険法第21条第3項 has the same rule."""
    year = payload.get("_period")
    if year is None:
        return []
    out = []
    since, until = line.get("insured_since"), line.get("insured_until")
    if since is not None and f"{year}-06-01" <= since <= f"{year}-07-01":
        out.append(_error(number, "insured_since",
                          f"insured from {since}: who became insured from 1 June to 1 July {year} is not on the {year} 算定基礎届 "
                          "(健康保険法第41条第3項; the 資格取得時決定 stands) — leave the line out",
                          f"a date before {year}-06-01, or leave the line out", since, "not_on_regular_decision"))
    if since is not None and since > f"{year}-07-01":
        out.append(_error(number, "insured_since", f"insured from {since}: not yet insured on 1 July {year}",
                          f"a date before {year}-06-01", since, "not_on_regular_decision"))
    if until is not None and until <= f"{year}-07-01":
        out.append(_error(number, "insured_until",
                          f"insurance ended on {until}: the {year} 算定基礎届 reports those used on 1 July {year} "
                          "(健康保険法第41条第1項) — leave the line out", f"a date after {year}-07-01, or leave the line out", until,
                          "not_on_regular_decision"))
    if line["pay_change_month"] == f"{year}-04" and "MONTHLY_CHANGE_EXPECTED" in line["remarks"]:
        out.append(_error(number, "pay_change_month",
                          f"a 月額変更 from July {year} (pay changed in April, 備考 月額変更予定) is revised by the 月額変更届, not "
                          f"the 算定基礎届 (健康保険法第41条第3項, 第43条) — file that and leave the line out",
                          "a pay change in May or June (月額変更予定 from August or September), or leave the line out",
                          line["pay_change_month"], "not_on_regular_decision"))
    return out


#: 受給者番号 takes "半角英数字、一部記号のみ": eLTAX refuses anything else as a 受付エラー since its 2019 update
#: (鹿児島市「eLTAXにおける電子申告等データの受付時エラーチェック強化による留意事項」, E14).
_HALF_WIDTH: Final = re.compile(r"^[!-~]+$")
#: フリガナ in full-width katakana (片仮名 ァ–ヺ, ー, ・) and spaces; e-Tax takes no half-width kana (FF66–FF9F,
#: 国税庁「e-Taxで利用可能な文字」) and eLTAX refuses characters outside its specification (E14).
_KANA: Final = re.compile(r"^[\u30a1-\u30fa\u30fb\u30fc\u3000 ]+$")


def _characters(line: dict[str, Any], number: int, _payload: dict[str, Any]) -> list[ValidationError]:
    """E14: the characters eLTAX and e-Tax accept in 受給者番号 and フリガナ (the employee's and relatives')."""
    out = []
    key = line.get("employee_number")
    if isinstance(key, str) and not _HALF_WIDTH.match(key):
        at = next(i for i, ch in enumerate(key, 1) if not ("!" <= ch <= "~"))
        out.append(_error(number, "employee_number", "a 受給者番号 takes half-width letters, digits and symbols only (eLTAX refuses "
                          "kana, kanji and full-width characters as a 受付エラー)", "半角英数字 and symbols, e.g. E0001",
                          f"{_script(key[at - 1])} at position {at}", "not_half_width"))
    who = line.get("person") or {}
    relatives = [("person", who)] + ([("person.spouse", who["spouse"])] if who.get("spouse") else []) + [
        (f"person.dependants[{i}]", d) for i, d in enumerate(who.get("dependants") or (), 1)]
    for path, person in relatives:
        kana = person.get("kana")
        if isinstance(kana, str) and kana and not _KANA.match(kana):
            at = next(i for i, ch in enumerate(kana, 1) if not _KANA.match(ch))
            out.append(_error(number, f"{path}.kana", "フリガナ is written in full-width katakana (ヤマダ タロウ): no hiragana, "
                              "half-width kana, letters or other characters", "全角カタカナ and spaces",
                              f"{_script(kana[at - 1])} at position {at}", "invalid_kana"))
    return out


def _script(ch: str) -> str:
    """What kind of character ``ch`` is, said without the character (it is part of a person's name)."""
    code = ord(ch)
    for low, high, what in ((0x3041, 0x309F, "a hiragana character"), (0xFF66, 0xFF9F, "a half-width kana character"),
                            (0x4E00, 0x9FFF, "a kanji"), (0xFF01, 0xFF5E, "a full-width letter, digit or symbol")):
        if low <= code <= high:
            return what
    return "a letter or digit" if ch.isascii() and ch.isalnum() else "another character"


def _wage_sums(line: dict[str, Any], number: int, _payload: dict[str, Any]) -> list[ValidationError]:
    """賃金台帳: what is paid is the wages less the deductions (労働基準法第24条第1項)."""
    wages = line["base_pay"] + line["overtime_pay"] + line["allowances"]
    out = []
    if line["deductions"] > wages:
        out.append(_error(number, "deductions", f"deductions ({line['deductions']:,}) exceed the wages ({wages:,})",
                          f"at most {wages:,}", line["deductions"], "inconsistent_amounts"))
    elif line["net_pay"] != wages - line["deductions"]:
        due = wages - line["deductions"]
        out.append(_error(number, "net_pay", f"net_pay ({line['net_pay']:,}) must be the wages less the deductions ({due:,})",
                          f"{due:,}", line["net_pay"], "inconsistent_amounts"))
    return out


def _monthly(line: dict[str, Any], number: int, _payload: dict[str, Any]) -> list[ValidationError]:
    """特別徴収税額 (地方税法第321条の5第1項): the year's tax in twelve parts, June to May; each month's
    part is in 100円 units and the 端数 (the part under 100円) goes to the first month collected.
    Given as twelve amounts they add up to the year, the first collected month holds the remainder
    (in 令和6年度 June was not collected and July took it — 定額減税, 地方税法附則第5条の8), and the
    year's tax is its 市町村民税, 道府県民税 and 森林環境税 where they are given (令和6年度から)."""
    out = []
    parts = (line["municipal_tax"], line["prefectural_tax"], line["forest_tax"])
    if any(parts) and sum(parts) != line["annual_tax"]:
        out.append(_error(number, "annual_tax",
                          f"annual_tax ({line['annual_tax']:,}) must be 市町村民税 + 道府県民税 + 森林環境税 ({sum(parts):,})",
                          f"{sum(parts):,}", line["annual_tax"], "inconsistent_amounts"))
    amounts = line["monthly_amounts"]
    if not amounts:
        if line["monthly_amount"] % 100:
            out.append(_error(number, "monthly_amount",
                              "each month from July is collected in 100円 units; the part under 100円 goes to June",
                              "a multiple of 100", line["monthly_amount"], "not_in_100_yen"))
        if line["june_amount"] != line["annual_tax"] - 11 * line["monthly_amount"]:
            out.append(_error(number, "june_amount", "june_amount must be annual_tax less eleven monthly_amount (地方税法第321条の5第1項)",
                              f"{line['annual_tax'] - 11 * line['monthly_amount']:,}", line["june_amount"], "inconsistent_amounts"))
        return out
    if len(amounts) != 12:
        return [*out, _error(number, "monthly_amounts", "monthly_amounts lists the twelve months, June to May", "12 amounts",
                             f"{len(amounts)} amounts", "monthly_amounts_count")]
    if sum(amounts) != line["annual_tax"]:
        out.append(_error(number, "monthly_amounts", f"the twelve monthly amounts add up to {sum(amounts):,}, not annual_tax",
                          f"{line['annual_tax']:,}", sum(amounts), "inconsistent_amounts"))
    first = next((i for i, a in enumerate(amounts) if a), 0)
    for month, amount in enumerate(amounts[first + 1:], start=first + 2):
        if amount % 100:
            out.append(_error(number, f"monthly_amounts[{month}]", "after the first month collected, each month is in 100円 units",
                              "a multiple of 100", amount, "not_in_100_yen"))
    if (line["june_amount"], line["monthly_amount"]) != (amounts[0], amounts[1]):
        out.append(_error(number, "june_amount", "june_amount and monthly_amount are the first two of monthly_amounts (June, July)",
                          f"{amounts[0]:,} and {amounts[1]:,}", line["june_amount"], "inconsistent_amounts"))
    return out


def _grades(line: dict[str, Any], number: int, payload: dict[str, Any]) -> list[ValidationError]:
    """E7: each scheme's grade and amount come from its own table as in force in the month the
    decision applies from (健康保険法第40条第1項: 50 grades; 厚生年金保険法第20条第1項: 32, rising to 35
    by 2029-09): ``ledger.domain.grades``. At least one scheme is decided."""
    applies = date.fromisoformat(payload["effective_from"] + "-01")
    out = []
    if line["health_grade"] is None and line["pension_grade"] is None:
        return [_error(number, "health_grade", "a decision gives the 健康保険 or the 厚生年金保険 grade (or both)",
                       "health_grade and health_amount, or pension_grade and pension_amount", None, "required")]
    for scheme, table in (("health", grades.health_table(applies)), ("pension", grades.pension_table(applies))):
        grade, amount = line[f"{scheme}_grade"], line[f"{scheme}_amount"]
        if grade is None and amount is None:
            continue
        if grade is None or amount is None:
            missing = f"{scheme}_grade" if grade is None else f"{scheme}_amount"
            out.append(_error(number, missing, f"{scheme}_grade and {scheme}_amount go together", "both or neither", None, "required"))
        elif table is None:
            out.append(_error(number, f"{scheme}_grade", f"Kiroku holds no {scheme} grade table for {payload['effective_from']}",
                              "a decision applying from 2016-10 on", payload["effective_from"], "no_grade_table"))
        elif not 1 <= grade <= len(table):
            out.append(_error(number, f"{scheme}_grade", f"the {scheme} table of {payload['effective_from']} has grades 1 to {len(table)}",
                              f"1 to {len(table)}", grade, "unknown_grade"))
        elif table[grade - 1] != amount:
            out.append(_error(number, f"{scheme}_amount", f"{scheme} grade {grade} is ¥{table[grade - 1]:,} in {payload['effective_from']}",
                              f"{table[grade - 1]:,}", amount, "grade_amount_mismatch"))
    return out


LINE_RULES.update({
    "PAYROLL_REPORT": (_personal_numbers, _year_end, _slip_sums, _employment_dates, _collection, _characters),
    "WITHHOLDING_SLIP": (_personal_numbers, _year_end, _slip_sums, _employment_dates, _characters),
    "STANDARD_REMUNERATION": (_seventy_plus_only, _on_the_regular_decision, _characters),
    "BONUS_PAYMENT": (_seventy_plus_only, _characters),
    "WAGE_LEDGER": (_wage_sums,),
    "SPECIAL_COLLECTION_NOTICE": (_monthly,),
    "STANDARD_REMUNERATION_DECISION": (_grades,),
})

PROCEDURES.update(V2)  # the domain writes the v2 forms (procedures.V1 keeps what v1 wrote)
