"""The procedures Kiroku files and the dispositions agencies send back, with their payload rules.

Codes are Kiroku's own; the Japanese legal names appear once here. Each procedure names its
agency kind, its payload schema (``schemas/``), whether its lines are routed to different
agencies (as eLTAX routes salary payment reports to each employee's municipality), its retention,
the statute that gives the agency its legal basis to read personal numbers, and field rules used
to validate a payload before anything is recorded.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from ledger import accelerator
from ledger.domain import calendar, municipalities
from ledger.domain.fields import MAX_ERRORS, FieldRule, _check, _clean_lines, _collecting, _compiled_rules, _unknown_field, check_text
from ledger.domain.identifiers import validate_municipality_code
from ledger.errors import ValidationError, ValidationErrors

# Agency kinds (the part of an agency id before the colon).
MUNICIPALITY = "municipality"  # 市区町村
TAX_OFFICE = "tax-office"  # 税務署
PENSION_OFFICE = "pension-office"  # 年金事務所
LABOUR_BUREAU = "labour-bureau"  # 労働局
LABOUR_STANDARDS_OFFICE = "labour-standards-office"  # 労働基準監督署
HEALTH_INSURANCE_SOCIETY = "health-insurance-society"  # 健康保険組合 (its id: the 8-digit 保険者番号)
AGENCY_KINDS = (MUNICIPALITY, TAX_OFFICE, PENSION_OFFICE, LABOUR_BUREAU, LABOUR_STANDARDS_OFFICE, HEALTH_INSURANCE_SOCIETY)

#: 保険者番号 of a 健康保険組合: 8 digits, the first two its 法別番号 06 (厚生労働省「診療報酬請求書等の
#: 記載要領」, 法別番号及び制度の略称表: 01 全国健康保険協会管掌健康保険, 06 組合管掌健康保険).
_SOCIETY_CODE = re.compile(r"06[0-9]{6}")


# -- ceilings of amounts and counts (issue 14, item 9) -------------------------------------------
# An amount of ¥10¹³ is a typo or an attack, never a salary. Each yen field of the forms the payloads
# model is written in the form's digit boxes, and the data formats fix their widths: the
# 給与支払報告書・源泉徴収票 record (総務省「光ディスク等への給与支払報告書…記載事項の記録に関する技術基準」,
# 総税市第49号 平成25年11月21日, and the 国税庁 法定調書 e-Tax/光ディスク 仕様) carries each amount
# as up to 10 half-width digits, so no annual amount exceeds ¥9,999,999,999.
#: A month's pay or one bonus (算定基礎届 報酬月額, 賞与支払届 賞与額, 賃金台帳): 9 digits (¥999,999,999), a
#: tenth of the annual ceiling and still far above any salary.
_MAX_MONTHLY = 999_999_999
#: 標準報酬月額: the top of the 健康保険 table, 第50級 ¥1,390,000 (健康保険法第40条第1項); the 厚生年金
#: table stops lower (第32級 ¥650,000, 厚生年金保険法第20条第1項).
_MAX_STANDARD_REMUNERATION = 1_390_000
#: 標準報酬の等級: 健康保険 has 50 grades (健康保険法第40条第1項), 厚生年金 32 (厚生年金保険法第20条第1項).
_MAX_GRADE = 50
#: Persons counted on one line (扶養親族の数): two digits on the form.
_MAX_PERSONS = 99
#: Minutes in the longest month (31 × 24 × 60): 労働時間数 of a 賃金台帳 month cannot exceed it.
_MONTH_MINUTES = 31 * 24 * 60
#: A reference to a line of a submission (1-based): no submission has more lines than this.
_MAX_LINES = 10_000_000


@dataclass(frozen=True)
class Procedure:
    """A filing procedure (or, with ``disposition=True``, a decision an agency sends back)."""

    code: str
    name_ja: str
    name_en: str
    agency_kind: str
    schema: str
    retention_years: int
    header_name: str | None
    header: tuple[FieldRule, ...]
    line: tuple[FieldRule, ...]
    legal_basis: str
    line_routed: bool = False
    disposition: bool = False
    header_required: bool = True
    sensitive_fields: tuple[str, ...] = field(default=())
    #: For a disposition: the filing procedure it answers (a grant of that procedure covers it).
    answers: str | None = None
    #: Other agency kinds the procedure may also be filed with, and their legal basis: an employer in
    #: a 健康保険組合 files the 健康保険 part of its 算定基礎届 and 賞与支払届 with the 組合 as well as
    #: the 厚生年金 part with the 年金事務所 (健康保険法第48条; japan-forms-review.md E12).
    also_kinds: tuple[str, ...] = ()
    also_basis: str | None = None
    #: Blocks of the payload beside its header and lines (the 総括表 of a 給与支払報告書, v2 on).
    blocks: tuple[FieldRule, ...] = ()
    #: Where retention starts: ``period_end`` (the day after the period's last day) or
    #: ``pay_month_end`` (the day after the last day of the month after the period: a wage paid the
    #: month after, 翌月払い — see ``retention_ends``).
    retention_starts: str = "period_end"  # | "pay_month_end" (賃金台帳) | "special_collection_end" (給与支払報告書)
    #: The version of ``schema`` the domain writes and reads payloads as. Older versions stay
    #: readable for their whole retention through Avro schema resolution (FULL_TRANSITIVE, ``kiroku
    #: schemas check``); a newer version in ``schemas/`` is not written until the domain speaks it.
    version: int = 1
    #: The line field that names the person a line is about, once per filing (v2 on: 受給者番号,
    #: 被保険者整理番号, the 賃金台帳's employee id) — what a person-level correction will name.
    person_key: str | None = None
    #: The header fields that name the office a filing is made for, where the law has one filing per
    #: office (v2 on): the 本支店等区分番号 of a 給与支払事務所 (給与支払報告書・源泉徴収票), the 事業所整理記号 and
    #: 事業所番号 of a 適用事業所 (算定基礎届, 賞与支払届), the 事業場 of a 賃金台帳. A company files once per
    #: (procedure, period, office); blank fields name the company as a whole (japan-forms-review.md E13).
    #: They are fields of the header (``header_name``: employer, payer, office).
    office_fields: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return f"{self.name_ja} ({self.name_en})"

    def office_of(self, payload: dict[str, Any] | None) -> str:
        """The office a payload's filing is for ("" for the company as a whole): its office fields joined by "-"."""
        header = payload.get(self.header_name) if payload and self.header_name else None
        if not self.office_fields or not isinstance(header, dict):
            return ""
        parts = [str(header.get(f) or "").strip() for f in self.office_fields]
        return "-".join(parts) if any(parts) else ""

#: The longest office name a filing key takes: a 事業所整理記号 and 事業所番号 joined (10 + 1 + 10), or a
#: 事業場's office code (40) — ``Procedure.office_of``.
MAX_OFFICE: Final = 41


def validate_office(value: object, field: str = "office") -> str:
    """The office of a filing as a query names it ("" for the company as a whole), stripped."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be text", field=field, expected="text, e.g. 001 or 01-イロハ-12345",
                              got=type(value).__name__, code="invalid_office")
    office = value.strip()
    if len(office) > MAX_OFFICE:
        raise ValidationError(f"{field} is at most {MAX_OFFICE} characters", field=field,
                              expected=f"at most {MAX_OFFICE} characters", got=f"{len(office)} characters", code="invalid_office")
    return check_text(office, field)


def _office(*extra: FieldRule) -> tuple[FieldRule, ...]:
    return (FieldRule("name", "text"), FieldRule("address", "text"), FieldRule("office_code", "text", required=False, max_length=40),
            *extra)


_PN = FieldRule("personal_number", "personal_number", sensitive=True)


def _days(name: str, month_days: int) -> FieldRule:
    """支払基礎日数 of a month: at most the days the month has (算定基礎届 記入方法, 日本年金機構)."""
    return FieldRule(name, "count", max_value=month_days)


#: 被保険者整理番号: assigned by the pension office to each insured person of an office, 1 to 6 digits
#: on the 算定基礎届 and 賞与支払届 (日本年金機構「届書の記入方法」).
_INSURED = FieldRule("insured_number", "count", max_value=999_999)

#: A 健康保険組合 receives the 健康保険 part of the social-insurance reports (健康保険法第48条: 被保険者の
#: 報酬月額・賞与額 are reported to the 保険者, which for its members is the 組合).
_SOCIETY: dict[str, Any] = {"also_kinds": (HEALTH_INSURANCE_SOCIETY,),
                            "also_basis": "健康保険法第48条 (報酬月額・賞与額の届出: 健康保険組合)"}

PROCEDURES: dict[str, Procedure] = {
    p.code: p
    for p in (
        Procedure(
            "PAYROLL_REPORT", "給与支払報告書", "salary payment report", MUNICIPALITY,
            "kiroku.payloads.PayrollReport", 7, "employer", _office(),
            (
                FieldRule("municipality_code", "municipality_code"), FieldRule("employee_name", "text"),
                FieldRule("employee_kana", "text", required=False), _PN, FieldRule("address", "text"),
                FieldRule("payment_amount", "yen"), FieldRule("income_after_deduction", "yen"),
                FieldRule("total_deductions", "yen"), FieldRule("withholding_tax", "yen"),
                FieldRule("social_insurance", "yen"),
                FieldRule("dependents", "count", required=False, default=0, max_value=_MAX_PERSONS),
            ),
            "地方税法第317条の6 (給与支払報告書の提出)", line_routed=True, sensitive_fields=("personal_number",),
            retention_starts="special_collection_end",
        ),
        Procedure(
            "WITHHOLDING_SLIP", "源泉徴収票・法定調書合計表", "withholding slips and summary", TAX_OFFICE,
            "kiroku.payloads.WithholdingSlip", 7, "payer", _office(),
            (
                FieldRule("employee_name", "text"), _PN, FieldRule("address", "text"),
                FieldRule("payment_amount", "yen"), FieldRule("income_after_deduction", "yen"),
                FieldRule("total_deductions", "yen"), FieldRule("withholding_tax", "yen"),
            ),
            "所得税法第226条 (源泉徴収票の提出)", sensitive_fields=("personal_number",),
        ),
        Procedure(
            "STANDARD_REMUNERATION", "算定基礎届", "report for the standard monthly remuneration", PENSION_OFFICE,
            "kiroku.payloads.StandardRemuneration", 2, "office", _office(),
            (
                _INSURED, FieldRule("employee_name", "text"), _PN,
                FieldRule("remuneration_april", "yen", max_value=_MAX_MONTHLY),
                FieldRule("remuneration_may", "yen", max_value=_MAX_MONTHLY),
                FieldRule("remuneration_june", "yen", max_value=_MAX_MONTHLY), _days("days_april", 30),
                _days("days_may", 31), _days("days_june", 30),
            ),
            "厚生年金保険法第21条・健康保険法第41条 (定時決定)", sensitive_fields=("personal_number",), **_SOCIETY,
        ),
        Procedure(
            "BONUS_PAYMENT", "賞与支払届", "bonus payment report", PENSION_OFFICE,
            "kiroku.payloads.BonusPayment", 2, "office", _office(),
            (_INSURED, FieldRule("employee_name", "text"), _PN, FieldRule("bonus_amount", "yen", max_value=_MAX_MONTHLY)),
            "厚生年金保険法第24条の4・健康保険法第45条 (標準賞与額)", sensitive_fields=("personal_number",), **_SOCIETY,
        ),
        Procedure(
            "WAGE_LEDGER", "賃金台帳", "wage ledger", LABOUR_STANDARDS_OFFICE,
            "kiroku.payloads.WageLedger", 5, "office", _office(),
            (
                FieldRule("employee_id", "text", max_length=40), FieldRule("employee_name", "text"),
                FieldRule("days_worked", "count", max_value=31), FieldRule("minutes_worked", "count", max_value=_MONTH_MINUTES),
                FieldRule("overtime_minutes", "count", max_value=_MONTH_MINUTES), FieldRule("base_pay", "yen", max_value=_MAX_MONTHLY),
                FieldRule("overtime_pay", "yen", max_value=_MAX_MONTHLY), FieldRule("allowances", "yen", max_value=_MAX_MONTHLY),
                FieldRule("deductions", "yen", max_value=_MAX_MONTHLY), FieldRule("net_pay", "yen", max_value=_MAX_MONTHLY),
            ),
            "労働基準法第101条・第108条 (賃金台帳の調製と臨検)", retention_starts="pay_month_end",
        ),
        Procedure(
            "SPECIAL_COLLECTION_NOTICE", "特別徴収税額決定通知", "special-collection tax amounts", MUNICIPALITY,
            "kiroku.payloads.SpecialCollectionNotice", 7, None, (FieldRule("municipality_code", "municipality_code"),),
            (
                FieldRule("employee_name", "text"), FieldRule("line_ref", "count", required=False, max_value=_MAX_LINES),
                FieldRule("annual_tax", "yen"), FieldRule("june_amount", "yen"), FieldRule("monthly_amount", "yen"),
            ),
            "地方税法第321条の4 (特別徴収税額の通知)", disposition=True, answers="PAYROLL_REPORT",
        ),
        Procedure(
            "STANDARD_REMUNERATION_DECISION", "標準報酬決定通知", "standard remuneration decision", PENSION_OFFICE,
            "kiroku.payloads.StandardRemunerationDecision", 2, None,
            (FieldRule("office_code", "text", max_length=40), FieldRule("effective_from", "month")),
            (
                _INSURED, FieldRule("employee_name", "text"),
                FieldRule("standard_monthly_remuneration", "yen", max_value=_MAX_STANDARD_REMUNERATION),
                FieldRule("grade", "count", max_value=_MAX_GRADE),
            ),
            "厚生年金保険法第21条 (標準報酬月額の決定の通知)", disposition=True, answers="STANDARD_REMUNERATION",
            also_kinds=(HEALTH_INSURANCE_SOCIETY,), also_basis="健康保険法第41条・第49条 (標準報酬月額の決定と通知)",
        ),
        # 賞与不支給報告書 (from April 2021, 日本年金機構 2021-03-04 notice): an office registered with its
        # 賞与支払予定月 reports a registered month in which no bonus was paid. The form carries the
        # office (事業所整理記号, name, address), the 賞与支払予定年月, 支給の状況 (不支給) and the
        # 変更後の賞与支払予定月. Period: the month YYYY-MM of the expected payment.
        Procedure(
            "BONUS_NON_PAYMENT", "賞与不支給報告書", "bonus non-payment report", PENSION_OFFICE,
            "kiroku.payloads.BonusNonPayment", 2, "office",
            _office(FieldRule("office_number", "text", required=False, max_length=5)),
            (
                FieldRule("scheduled_month", "month"),
                FieldRule("not_paid", "count", required=False, default=1, max_value=1),
                FieldRule("changed_months", "text", required=False, max_length=8),
            ),
            "厚生年金保険法第24条の4・健康保険法第45条 (標準賞与額: 賞与支払予定月の不支給の報告)",
        ),
    )
}

#: The procedures at version 1, as Kiroku wrote them until the v2 forms: what data recorded then was
#: written as (it is read through Avro schema resolution, ``ledger.encoding.payload_forms``).
#: ``ledger.domain.forms`` puts version 2 in ``PROCEDURES`` when ``ledger.domain`` is imported.
V1: dict[str, Procedure] = dict(PROCEDURES)

FILING_CODES = tuple(c for c, p in PROCEDURES.items() if not p.disposition)
DISPOSITION_CODES = tuple(c for c, p in PROCEDURES.items() if p.disposition)


def get_procedure(code: Any, *, disposition: bool = False, field_name: str = "procedure") -> Procedure:
    """The procedure for ``code``, or a ValidationError listing the known codes."""
    known = DISPOSITION_CODES if disposition else FILING_CODES
    proc = PROCEDURES.get(code) if isinstance(code, str) else None
    if proc is None or proc.disposition != disposition:
        what = "disposition kind" if disposition else "procedure"
        raise ValidationError(
            f"Unknown {what} {code!r}. Use one of: {', '.join(known)}.",
            field=field_name, expected="one of " + ", ".join(known), got=code, code="unknown_procedure",
        )
    return proc


_AGENCY_RE = re.compile(r"(?P<kind>[a-z-]+):(?P<code>[0-9A-Za-z-]{1,20})")


def validate_agency_id(value: Any, field_name: str = "agency_id") -> str:
    """An agency id is ``<kind>:<code>``; a municipality's code must name a 市区町村 on 総務省's list
    (``validate_municipality_code``), and not a 政令指定都市's ward: the city is the agency (地方自治法
    第252条の20: the wards are its internal organs), and lines naming a ward are routed to it."""
    m = _AGENCY_RE.fullmatch(value) if isinstance(value, str) else None  # whole: "$" would let "…\n" through
    if m is None or m["kind"] not in AGENCY_KINDS:
        raise ValidationError(
            f"{field_name} must look like municipality:131016 or tax-office:01101 (kinds: {', '.join(AGENCY_KINDS)}), got {value!r}",
            field=field_name, expected="<kind>:<code> with kind one of " + ", ".join(AGENCY_KINDS), got=value,
            code="invalid_agency",
        )
    if m["kind"] == MUNICIPALITY:
        code = validate_municipality_code(m["code"], field=field_name)
        if (city := municipalities.municipality_of(code)) != code:
            ward, parent = municipalities.lookup(code), municipalities.lookup(city)
            raise ValidationError(
                f"{field_name} {value} is {ward.name if ward else code}, a ward (行政区) of a 政令指定都市: the city receives "
                f"its 給与支払報告書 and is the agency — use {MUNICIPALITY}:{city} ({parent.name if parent else city})",
                field=field_name, expected=f"{MUNICIPALITY}:{city}", got=value, code="ward_of_city",
            )
    if m["kind"] == HEALTH_INSURANCE_SOCIETY and _SOCIETY_CODE.fullmatch(m["code"]) is None:
        raise ValidationError(f"{field_name}: a 健康保険組合 is named by its 8-digit 保険者番号, which starts with 06, got {value!r}",
                              field=field_name, expected="health-insurance-society:06xxxxxx", got=value, code="invalid_agency")
    return value


def retention_ends(proc: Procedure, period: str) -> datetime:
    """The instant (00:00 JST) a period's legal retention is over — when ``ledger.service.retention``
    destroys its key: the procedure's retention years from the day after the period's last day; for
    the 給与支払報告書, from the day after the last 法定納期限 of the 住民税 it assesses (10 June two
    years after the payment year, rolled); for the 賃金台帳, from the day after the last day of the
    month after its month. 労働基準法施行規則
    第56条第2項 (令和2年改正) starts the 賃金台帳's retention at the 賃金の支払期日 when that is later
    than the record's completion, and wages are paid at least monthly on a fixed day (労働基準法
    第24条第2項), commonly the month after (翌月払い): counting from that month's end keeps a ledger
    at least as long as the law asks for any pay day up to then."""
    _first, last = calendar.period_bounds(proc.code, period)
    if proc.retention_starts == "pay_month_end":
        after = last + timedelta(days=1)
        last = date(after.year, after.month, calendar_month_days(after.year, after.month))
    elif proc.retention_starts == "special_collection_end":
        # A 給与支払報告書 of payment year Y assesses the 住民税 of 年度 Y+1, collected from June Y+1 to May
        # Y+2; May's is paid in by 10 June Y+2 (地方税法第321条の5第1項), rolled past holidays (第20条の5).
        # An assessment for 偽りその他不正 may be made for 7 years from the day after that 法定納期限
        # (第17条の5第7項): the agency may need the data, of which Kiroku may be the only copy, until then.
        last = calendar.roll_forward(date(last.year + 2, 6, 10))
    start = last + timedelta(days=1)
    try:
        end = start.replace(year=start.year + proc.retention_years)
    except ValueError:  # 29 February in a year without one
        end = date(start.year + proc.retention_years, 3, 1)
    return datetime.combine(end, time(0), tzinfo=calendar.JST)


def validate_filing_period(proc: Procedure, period: str, now: datetime, field: str = "period") -> str:
    """``period`` if a filing (or a disposition) may be recorded for it at ``now``, else the
    ValidationError naming ``field``.

    The window: no year after :func:`ledger.domain.calendar.latest_year` (nothing is filed for a
    year that has not begun), and no period whose retention is already over — a late filing
    (期限後提出) is legal for as long as the record must be kept (給与支払報告書 and 源泉徴収票 7
    years, 算定基礎届 2, 賃金台帳 5: the table in ``PROCEDURES``), but one recorded after that would
    be crypto-shredded at the next retention run, and the agency's right to assess it has lapsed
    with it (国税通則法第70条, 地方税法第17条の5: 5 years; 厚生年金保険法第92条: 2 years).
    """
    calendar.validate_period(proc.code, period, field, now=now)
    ended = retention_ends(proc, period)
    if ended <= now:
        raise ValidationError(
            f"{field} {period!r} for {proc.code} is past its retention: its {proc.retention_years}-year retention ended at "
            f"00:00 JST on {ended.date().isoformat()}, and a record made now would be erased at once",
            field=field, expected=f"a period whose {proc.retention_years}-year retention has not ended",
            got=period, code="period_past_retention",
        )
    opens = FILING_OPENS.get(proc.code)
    if opens is not None and now < (first := opens(period)):
        raise ValidationError(
            f"{field} {period!r} for {proc.code} cannot be filed yet: its filing period opens at 00:00 JST on "
            f"{first.date().isoformat()}, once the April–June pay it reports is known",
            field=field, expected=f"a period whose filing has opened (from {first.date().isoformat()})", got=period,
            code="filing_not_open",
        )
    return period


#: Procedures filed only from a given day (E14): the 算定基礎届 reports the pay of April, May and June
#: and is filed "毎年7月1日から同月10日までの間" (健康保険法施行規則第25条第1項, 厚生年金保険法施行規則
#: 第18条第1項): one dated before 1 July cannot hold its June. A late one is still taken (期限後).
FILING_OPENS: dict[str, Callable[[str], datetime]] = {
    "STANDARD_REMUNERATION": lambda period: datetime(int(period), 7, 1, tzinfo=calendar.JST),
}


def agency_kind(agency_id: str) -> str:
    return agency_id.split(":", 1)[0]


def municipality_agency(code: str) -> str:
    return f"{MUNICIPALITY}:{code}"


_RULES: dict[str, tuple[tuple[Any, ...], ...]] = {}


def _line_rules(proc: Procedure) -> tuple[tuple[Any, ...], ...]:
    """The procedure's line rules in the compiled checker's form (made once per procedure)."""
    rules = _RULES.get(proc.code)
    if rules is None:
        rules = _RULES[proc.code] = _compiled_rules(proc.line)
    return rules


def _fast_lines(proc: Procedure, lines: list[Any]) -> list[dict[str, Any] | None]:
    """``_clean_lines`` for the procedure's lines, compiled when the accelerator is there.

    Bulk recording checks every field of every line (a national January is tens of millions of
    lines), so the common case — every value already clean — is checked in compiled code
    (``ledger/_hotpath.c``; docs/benchmarks.md, item 10) where it is built.
    """
    if accelerator.clean_lines is not None and proc.version == 1:  # the compiled checker knows the v1 kinds
        return accelerator.clean_lines(_line_rules(proc), lines)
    return _clean_lines(proc.line, lines)


def validate_payload(proc: Procedure, payload: Any, period: str | None = None) -> dict[str, Any]:
    """Check a payload (domain form: plain personal numbers) against the procedure's rules.

    Returns the normalized payload. Collects every problem (up to MAX_ERRORS) into one
    ValidationErrors, each naming its field path — ``lines[3].payment_amount`` with 1-based line
    numbers — what was expected and what came.
    """
    errors: list[ValidationError] = []

    def guard(fn: Callable[..., Any]) -> Any:  # called with no arguments (the lambdas bind r as a default)
        return _collecting(errors, fn)

    if not isinstance(payload, dict):
        raise ValidationError("payload must be an object with its header and lines", field="payload", expected="an object",
                              got=type(payload).__name__, code="invalid_type")
    out: dict[str, Any] = {}
    top = {proc.header_name} if proc.header_name is not None else {r.name for r in proc.header}
    top |= {r.name for r in proc.blocks}
    for key in sorted(set(payload) - top - {"lines"}, key=str):  # a misspelt field is refused, never dropped
        errors.append(_unknown_field(str(key), str(key), sorted(top) + ["lines"], ""))
    if proc.header_name is not None:
        header = payload.get(proc.header_name)
        if not isinstance(header, dict):
            raise ValidationError(
                f"payload.{proc.header_name} is required: the {proc.header_name}'s name and address",
                field=proc.header_name, expected="an object with name and address", got=header, code="required",
            )
        for key in sorted(set(header) - {r.name for r in proc.header}, key=str):
            errors.append(_unknown_field(str(key), f"{proc.header_name}.{key}", [r.name for r in proc.header],
                                         f"{proc.header_name}: "))
        out[proc.header_name] = {r.name: guard(lambda r=r: _check(r, header.get(r.name), f"{proc.header_name}.{r.name}",
                                                                  f"{proc.header_name}: ")) for r in proc.header}
    else:
        for r in proc.header:
            out[r.name] = guard(lambda r=r: _check(r, payload.get(r.name), r.name, ""))
    for r in proc.blocks:
        out[r.name] = guard(lambda r=r: _check(r, payload.get(r.name), r.name, ""))
    lines = payload.get("lines")
    if not isinstance(lines, list) or not lines:
        errors.append(ValidationError("payload.lines must list at least one line", field="lines", expected="a non-empty list",
                                      got=lines if not isinstance(lines, list) else "[]", code="required"))
        lines = []
    known = {r.name for r in proc.line}
    out_lines = cleaned = _fast_lines(proc, lines)
    if None in cleaned:  # some line is not clean: the careful path names every problem
        out_lines = []
        for number, (line, clean) in enumerate(zip(lines, cleaned), start=1):
            if clean is not None:
                out_lines.append(clean)
                continue
            if len(errors) >= MAX_ERRORS:
                break
            if not isinstance(line, dict):
                errors.append(ValidationError(f"line {number} must be an object", field=f"lines[{number}]", expected="an object",
                                              got=type(line).__name__, code="invalid_type"))
                continue
            for key in sorted(set(line) - known, key=str):  # each misspelt field is named, none dropped
                errors.append(_unknown_field(str(key), f"lines[{number}].{key}", [r.name for r in proc.line],
                                             f"line {number}: "))
            out_lines.append({r.name: guard(lambda r=r: _check(r, line.get(r.name), f"lines[{number}].{r.name}",
                                                               f"line {number}: ")) for r in proc.line})
    if not errors:
        for number, line in enumerate(out_lines, start=1):
            if len(errors) >= MAX_ERRORS:
                break
            if line is not None:  # every line is clean here: the careful path found no problem
                errors.extend(_inconsistencies(proc, line, number, {**out, "_period": period}))
        if proc.person_key is not None and not errors:
            errors.extend(_one_line_per_person(proc.person_key, out_lines))
    if errors:
        raise ValidationErrors(errors[:MAX_ERRORS])
    out["lines"] = out_lines
    return out


def _one_line_per_person(key: str, lines: Sequence[dict[str, Any] | None]) -> list[ValidationError]:
    """A filing has one line per person: the 個人別明細書 of a 給与支払報告書 and the 源泉徴収票 are
    made per recipient (地方税法第317条の6第1項, 所得税法第226条第1項), the 算定基礎届 and 賞与支払届
    per insured person (厚生年金保険法第27条, 健康保険法第48条), the 賃金台帳 per worker (労働基準法第108条).
    A second line with the same key is refused, naming both lines — and so is a second line with the
    same 個人番号 under another key: the number identifies one person (番号法第2条第5項), so two lines with
    it are one person filed twice (the number is never echoed: the error names the other line)."""
    first: dict[Any, int] = {}
    numbers: dict[str, int] = {}
    out = []
    for number, line in enumerate(lines, start=1):
        if line is None:  # not reached: the rule runs once every line is clean
            continue
        value = line[key]
        personal = (line.get("person") or {}).get("personal_number")
        if value in first:
            out.append(ValidationError(
                f"line {number}: {key} is the same as on line {first[value]}: a filing has one line per person "
                f"(put a person's amounts on one line)", field=f"lines[{number}].{key}",
                expected=f"a {key} no other line has", got=f"the {key} of line {first[value]}", code="duplicate_person"))
        elif personal is not None and personal in numbers:
            out.append(ValidationError(
                f"line {number}: the personal number is the same as on line {numbers[personal]}, under another {key}: "
                "one person has one 個人番号 — check which line's number is wrong, or put the person on one line",
                field=f"lines[{number}].person.personal_number", expected="a personal number no other line has",
                got=f"the personal number of line {numbers[personal]}", code="duplicate_personal_number"))
        else:
            first[value] = number
            if personal is not None:
                numbers[personal] = number
        if len(out) >= MAX_ERRORS:
            break
    return out


# -- rules between the fields of one line (issue 14, item 9) -----------------------------------------

@dataclass(frozen=True, slots=True)
class CrossRule:
    """``field`` of a line must be at most (``<=``) or equal to (``==``) the sum of ``terms`` (field
    names, each with a factor), as the form's own arithmetic demands; ``source`` cites it."""

    field: str
    relation: str  # "<=" | "=="
    terms: tuple[tuple[int, str], ...]
    source: str

    def bound(self, line: dict[str, Any]) -> int:
        return sum(factor * line[name] for factor, name in self.terms)

    def describe(self) -> str:
        parts = [(f"{abs(f)} × " if abs(f) != 1 else "") + name for f, name in self.terms]
        text = parts[0]
        for (f, _), part in zip(self.terms[1:], parts[1:], strict=True):
            text += (" − " if f < 0 else " + ") + part
        return text


#: 給与所得の源泉徴収票 / 給与支払報告書 (個人別明細書): the tax withheld is withheld *from* the
#: payment, and 給与所得控除後の金額 is the payment less the 給与所得控除 (所得税法第28条第2項), so
#: neither exceeds 支払金額 (国税庁「給与所得の源泉徴収票等の法定調書の作成と提出の手引」,
#: 給与所得の源泉徴収票の記載要領). 社会保険料等の金額 and 所得控除の額の合計額 are *not* bounded by
#: it: the former includes premiums the employee paid himself and declared at 年末調整
#: (所得税法第74条, e.g. a spouse's 国民年金保険料), the latter the 基礎控除 (所得税法第86条).
_SLIP_RULES = (
    CrossRule("withholding_tax", "<=", ((1, "payment_amount"),),
              "所得税法第183条第1項 (withheld from the payment); 国税庁 源泉徴収票の記載要領"),
    CrossRule("income_after_deduction", "<=", ((1, "payment_amount"),), "所得税法第28条第2項; 国税庁 源泉徴収票の記載要領"),
)

CROSS_RULES: dict[str, tuple[CrossRule, ...]] = {
    "PAYROLL_REPORT": _SLIP_RULES,
    "WITHHOLDING_SLIP": _SLIP_RULES,
    # 賃金台帳: what is paid is the wages less the deductions 労働基準法第24条第1項ただし書 allows, and the
    # deductions cannot exceed the wages (全額払の原則, 労働基準法第24条第1項; 労働基準法施行規則第54条第1項第6号).
    "WAGE_LEDGER": (
        CrossRule("deductions", "<=", ((1, "base_pay"), (1, "overtime_pay"), (1, "allowances")), "労働基準法第24条第1項"),
        CrossRule("net_pay", "==", ((1, "base_pay"), (1, "overtime_pay"), (1, "allowances"), (-1, "deductions")),
                  "労働基準法第24条第1項; 労働基準法施行規則第54条第1項"),
    ),
    # 特別徴収税額: the year's tax in twelve parts, June to May; the part under ¥100 (or the whole
    # rounding remainder) is collected in June (地方税法第321条の5第1項).
    "SPECIAL_COLLECTION_NOTICE": (
        CrossRule("june_amount", "==", ((1, "annual_tax"), (-11, "monthly_amount")), "地方税法第321条の5第1項"),
    ),
}


#: Rules of a v2 line that are not sums (a blank with its reason, a field only some persons have):
#: (procedure code) → functions of (line, its number, the payload's header and blocks) giving the
#: errors; ``ledger.domain.forms`` fills it.
LINE_RULES: dict[str, tuple[Callable[[dict[str, Any], int, dict[str, Any]], list[ValidationError]], ...]] = {}


def _inconsistencies(proc: Procedure, line: dict[str, Any], number: int, payload: dict[str, Any]) -> list[ValidationError]:
    """The cross-field rules a clean line breaks, each naming the field that cannot be so."""
    if proc.version >= 2:
        return [e for check in LINE_RULES.get(proc.code, ()) for e in check(line, number, payload)]
    out = []
    for rule in CROSS_RULES.get(proc.code, ()):
        value, bound = line[rule.field], rule.bound(line)
        if (value > bound) if rule.relation == "<=" else (value != bound):
            relation = "at most" if rule.relation == "<=" else "equal to"
            out.append(ValidationError(
                f"line {number}: {rule.field} ({value:,}) must be {relation} {rule.describe()} ({bound:,}) ({rule.source})",
                field=f"lines[{number}].{rule.field}", expected=f"{relation} {rule.describe()} = {bound:,}", got=value,
                code="inconsistent_amounts"))
    return out


def calendar_month_days(year: int, month: int) -> int:
    """The number of days in ``month`` of ``year``."""
    return monthrange(year, month)[1]


@dataclass(frozen=True)
class Deemed:
    """A filing that also counts as another procedure's, filed with that procedure's agencies."""

    procedure: str  # the procedure whose filing it also is
    first_period: str  # from this period on
    legal_basis: str


#: From the 源泉徴収票 due on or after 2027-01-01 (payment year 2026), a 給与支払報告書 filed
#: electronically with the municipalities counts as the 給与所得の源泉徴収票 filed with the tax
#: office (令和5年度税制改正, 所得税法第226条; orion-tax.jp/blog/1146, japan-forms-review.md E10):
#: one filing reaches the municipalities of its lines and the tax office the company enrolled its
#: 源泉徴収票 with — one submission, one receipt. The 法定調書合計表 stays a filing of its own.
DEEMED: dict[str, Deemed] = {
    "PAYROLL_REPORT": Deemed("WITHHOLDING_SLIP", "2026",
                             "所得税法第226条 (給与支払報告書の提出による源泉徴収票の提出, 令和9年1月1日以後に提出すべきもの)"),
}


def deemed_for(proc: Procedure, period: str) -> Deemed | None:
    """The other procedure a filing of ``proc`` for ``period`` also counts as, if any."""
    deemed = DEEMED.get(proc.code)
    if deemed is None or calendar.period_sort_key(proc.code, period) < calendar.period_sort_key(proc.code, deemed.first_period):
        return None
    return deemed


def serves(proc: Procedure, kind: str) -> bool:
    """Whether an agency of ``kind`` receives (or, for a disposition, issues) ``proc``."""
    return kind == proc.agency_kind or kind in proc.also_kinds
