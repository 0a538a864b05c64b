"""The procedures Kiroku files and the dispositions agencies send back, with their payload rules.

Codes are Kiroku's own; the Japanese legal names appear once here. Each procedure names its
agency kind, its payload schema (``schemas/``), whether its lines are routed to different
agencies (as eLTAX routes salary payment reports to each employee's municipality), its retention,
the statute that gives the agency its legal basis to read personal numbers, and field rules used
to validate a payload before anything is recorded.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ledger import accelerator
from ledger.domain.identifiers import validate_municipality_code, validate_personal_number
from ledger.errors import ValidationError, ValidationErrors

# Agency kinds (the part of an agency id before the colon).
MUNICIPALITY = "municipality"  # 市区町村
TAX_OFFICE = "tax-office"  # 税務署
PENSION_OFFICE = "pension-office"  # 年金事務所
LABOUR_BUREAU = "labour-bureau"  # 労働局
LABOUR_STANDARDS_OFFICE = "labour-standards-office"  # 労働基準監督署
AGENCY_KINDS = (MUNICIPALITY, TAX_OFFICE, PENSION_OFFICE, LABOUR_BUREAU, LABOUR_STANDARDS_OFFICE)

MAX_ERRORS = 50  # a submission with more problems than this reports the first fifty


@dataclass(frozen=True, slots=True)
class FieldRule:
    """How one payload field is checked: its kind, whether it is required, and its limits."""

    name: str
    kind: str  # text | yen | count | personal_number | municipality_code | month
    required: bool = True
    max_length: int = 200
    sensitive: bool = False
    default: Any = None  # stored when an optional field is left empty


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

    @property
    def title(self) -> str:
        return f"{self.name_ja} ({self.name_en})"


def _office(*extra: FieldRule) -> tuple[FieldRule, ...]:
    return (FieldRule("name", "text"), FieldRule("address", "text"), FieldRule("office_code", "text", required=False, max_length=40),
            *extra)


_PN = FieldRule("personal_number", "personal_number", sensitive=True)

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
                FieldRule("social_insurance", "yen"), FieldRule("dependents", "count", required=False, default=0),
            ),
            "地方税法第317条の6 (給与支払報告書の提出)", line_routed=True, sensitive_fields=("personal_number",),
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
                FieldRule("insured_number", "count"), FieldRule("employee_name", "text"), _PN,
                FieldRule("remuneration_april", "yen"), FieldRule("remuneration_may", "yen"),
                FieldRule("remuneration_june", "yen"), FieldRule("days_april", "count"),
                FieldRule("days_may", "count"), FieldRule("days_june", "count"),
            ),
            "厚生年金保険法第21条・健康保険法第41条 (定時決定)", sensitive_fields=("personal_number",),
        ),
        Procedure(
            "BONUS_PAYMENT", "賞与支払届", "bonus payment report", PENSION_OFFICE,
            "kiroku.payloads.BonusPayment", 2, "office", _office(),
            (FieldRule("insured_number", "count"), FieldRule("employee_name", "text"), _PN, FieldRule("bonus_amount", "yen")),
            "厚生年金保険法第24条の4・健康保険法第45条 (標準賞与額)", sensitive_fields=("personal_number",),
        ),
        Procedure(
            "WAGE_LEDGER", "賃金台帳", "wage ledger", LABOUR_STANDARDS_OFFICE,
            "kiroku.payloads.WageLedger", 5, "office", _office(),
            (
                FieldRule("employee_id", "text", max_length=40), FieldRule("employee_name", "text"),
                FieldRule("days_worked", "count"), FieldRule("minutes_worked", "count"),
                FieldRule("overtime_minutes", "count"), FieldRule("base_pay", "yen"),
                FieldRule("overtime_pay", "yen"), FieldRule("allowances", "yen"),
                FieldRule("deductions", "yen"), FieldRule("net_pay", "yen"),
            ),
            "労働基準法第101条・第108条 (賃金台帳の調製と臨検)",
        ),
        Procedure(
            "SPECIAL_COLLECTION_NOTICE", "特別徴収税額決定通知", "special-collection tax amounts", MUNICIPALITY,
            "kiroku.payloads.SpecialCollectionNotice", 7, None, (FieldRule("municipality_code", "municipality_code"),),
            (
                FieldRule("employee_name", "text"), FieldRule("line_ref", "count", required=False),
                FieldRule("annual_tax", "yen"), FieldRule("june_amount", "yen"), FieldRule("monthly_amount", "yen"),
            ),
            "地方税法第321条の4 (特別徴収税額の通知)", disposition=True, answers="PAYROLL_REPORT",
        ),
        Procedure(
            "STANDARD_REMUNERATION_DECISION", "標準報酬決定通知", "standard remuneration decision", PENSION_OFFICE,
            "kiroku.payloads.StandardRemunerationDecision", 2, None,
            (FieldRule("office_code", "text", max_length=40), FieldRule("effective_from", "month")),
            (
                FieldRule("insured_number", "count"), FieldRule("employee_name", "text"),
                FieldRule("standard_monthly_remuneration", "yen"), FieldRule("grade", "count"),
            ),
            "厚生年金保険法第21条 (標準報酬月額の決定の通知)", disposition=True, answers="STANDARD_REMUNERATION",
        ),
    )
}

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


_AGENCY_RE = re.compile(r"^(?P<kind>[a-z-]+):(?P<code>[0-9A-Za-z-]{1,20})$")


def validate_agency_id(value: Any, field_name: str = "agency_id") -> str:
    """An agency id is ``<kind>:<code>``; a municipality's code must pass its check digit."""
    m = _AGENCY_RE.match(value) if isinstance(value, str) else None
    if m is None or m["kind"] not in AGENCY_KINDS:
        raise ValidationError(
            f"{field_name} must look like municipality:131016 or tax-office:01101 (kinds: {', '.join(AGENCY_KINDS)}), got {value!r}",
            field=field_name, expected="<kind>:<code> with kind one of " + ", ".join(AGENCY_KINDS), got=value,
            code="invalid_agency",
        )
    if m["kind"] == MUNICIPALITY:
        validate_municipality_code(m["code"], field=field_name)
    return value


def agency_kind(agency_id: str) -> str:
    return agency_id.split(":", 1)[0]


def municipality_agency(code: str) -> str:
    return f"{MUNICIPALITY}:{code}"


# -- payload validation --------------------------------------------------------------------------

_MAX_AMOUNT = 10**15
#: The years a month field (YYYY-MM) may name.
_MONTH_YEARS = (1900, 2099)


def _is_month(value: str) -> bool:
    """YYYY-MM in ASCII digits, a year of ``_MONTH_YEARS`` and a month 01-12."""
    year, month = value[:4], value[5:]
    return (len(value) == 7 and value[4] == "-" and (year + month).isascii() and (year + month).isdigit()
            and _MONTH_YEARS[0] <= int(year) <= _MONTH_YEARS[1] and 1 <= int(month) <= 12)


def _check(rule: FieldRule, value: Any, path: str, where: str) -> Any:
    """Return the normalized value, or raise a ValidationError that names ``path``."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if rule.required:
            raise ValidationError(f"{where}{rule.name} is required but was empty", field=path, expected="a value", got=value,
                                  code="required")
        return rule.default
    kind = rule.kind
    if kind == "text":
        if not isinstance(value, str):
            raise ValidationError(f"{where}{rule.name} must be text, got {type(value).__name__}", field=path, expected="text", got=value,
                                  code="invalid_type")
        value = value.strip()
        if len(value) > rule.max_length:
            raise ValidationError(
                f"{where}{rule.name} is {len(value)} characters long; at most {rule.max_length} are allowed",
                field=path, expected=f"at most {rule.max_length} characters", got=f"{len(value)} characters", code="too_long",
            )
        return value
    if kind in ("yen", "count"):
        unit = "an amount in whole yen" if kind == "yen" else "a whole number"
        if isinstance(value, str):
            # CSV cells: full-width digits and thousands separators (5,000,000) are common.
            text = unicodedata.normalize("NFKC", value).strip().replace(",", "")
            if re.fullmatch(r"-?[0-9]+", text):
                value = int(text)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"{where}{rule.name} must be {unit}, got {value!r}", field=path, expected=unit, got=value,
                                  code="invalid_amount")
        if value < 0:
            raise ValidationError(f"{where}{rule.name} must not be negative, got {value}", field=path, expected=f"{unit} ≥ 0", got=value,
                                  code="negative_amount")
        if value > _MAX_AMOUNT:
            raise ValidationError(f"{where}{rule.name} is implausibly large: {value}", field=path, expected="at most 10^15", got=value,
                                  code="amount_too_large")
        return value
    if kind == "personal_number":
        return validate_personal_number(value, field=path)
    if kind == "municipality_code":
        return validate_municipality_code(value, field=path)
    if kind == "month":
        if not isinstance(value, str) or not _is_month(value):
            raise ValidationError(f"{where}{rule.name} must be a month YYYY-MM, got {value!r}", field=path, expected="YYYY-MM", got=value,
                                  code="invalid_month")
        return value
    raise AssertionError(f"unknown field kind {kind}")  # a bug in the table above, not bad input


#: The Python type a clean value of each field kind has (a subclass is left to the careful path).
_CLEAN_TYPES: dict[str, type] = {"text": str, "yen": int, "count": int, "personal_number": str, "municipality_code": str,
                                 "month": str}


def _clean_lines(rules: tuple[FieldRule, ...], lines: list[Any]) -> list[dict[str, Any] | None]:
    """Each line's normalized form if every field is already clean, else None (then the careful
    path runs and names the problem).

    A line is clean when it is a dict of known fields and ``_check`` returns each of its values
    unchanged and of its kind's own type; a missing or None optional value takes its default.
    This is the specification; the compiled ``clean_lines`` (``ledger/_hotpath.c``) is its
    twin, and a property test holds the two to the same answers.
    """
    known = {r.name for r in rules}
    out: list[dict[str, Any] | None] = []
    for line in lines:
        clean: dict[str, Any] | None = None
        if type(line) is dict and line.keys() <= known:
            clean = {}
            for rule in rules:
                value = line.get(rule.name)
                if value is None:
                    if rule.required:
                        clean = None
                        break
                    clean[rule.name] = rule.default
                    continue
                try:
                    unchanged = type(value) is _CLEAN_TYPES[rule.kind] and _check(rule, value, rule.name, "") == value
                except ValidationError:
                    unchanged = False
                if not unchanged:
                    clean = None
                    break
                clean[rule.name] = value
        out.append(clean)
    return out


def _compiled_rules(rules: tuple[FieldRule, ...]) -> tuple[tuple[str, str, bool, Any, int, int], ...]:
    """Field rules in the compiled checker's form: (name, check, required, default, low, high),
    the limits being the domain's (the C code holds none of its own)."""
    def compiled(r: FieldRule) -> tuple[str, str, bool, Any, int, int]:
        if r.kind == "text":
            return (r.name, "text", r.required, r.default, 1, r.max_length)
        if r.kind in ("yen", "count"):
            return (r.name, "whole_number", r.required, r.default, 0, _MAX_AMOUNT)
        if r.kind == "month":
            return (r.name, "month", r.required, r.default, *_MONTH_YEARS)
        return (r.name, r.kind, r.required, r.default, 0, 0)  # the check digits: no limits to pass

    return tuple(compiled(r) for r in rules)


_RULES: dict[str, tuple[tuple[str, str, bool, Any, int, int], ...]] = {}


def _line_rules(proc: Procedure) -> tuple[tuple[str, str, bool, Any, int, int], ...]:
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
    if accelerator.clean_lines is not None:
        return accelerator.clean_lines(_line_rules(proc), lines)
    return _clean_lines(proc.line, lines)


def _unknown_field(name: str, path: str, known: list[str], where: str) -> ValidationError:
    return ValidationError(f"{where}unknown field {name!r}: a misspelt field is refused, not dropped", field=path,
                           expected="one of " + ", ".join(known), got=name, code="unknown_field")


def validate_payload(proc: Procedure, payload: Any) -> dict[str, Any]:
    """Check a payload (domain form: plain personal numbers) against the procedure's rules.

    Returns the normalized payload. Collects every problem (up to MAX_ERRORS) into one
    ValidationErrors, each naming its field path — ``lines[3].payment_amount`` with 1-based line
    numbers — what was expected and what came.
    """
    errors: list[ValidationError] = []

    def guard(fn: Callable[..., Any]) -> Any:  # called with no arguments (the lambdas bind r as a default)
        try:
            return fn()
        except ValidationErrors as many:
            errors.extend(many.errors)
        except ValidationError as one:
            errors.append(one)
        return None

    if not isinstance(payload, dict):
        raise ValidationError("payload must be an object with its header and lines", field="payload", expected="an object",
                              got=type(payload).__name__, code="invalid_type")
    out: dict[str, Any] = {}
    top = {proc.header_name} if proc.header_name is not None else {r.name for r in proc.header}
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
            unknown = sorted(set(line) - known)
            if unknown:
                errors.append(ValidationError(
                    f"line {number}: unknown field(s) {', '.join(unknown)}", field=f"lines[{number}].{unknown[0]}",
                    expected="one of " + ", ".join(r.name for r in proc.line), got=unknown[0], code="unknown_field",
                ))
            out_lines.append({r.name: guard(lambda r=r: _check(r, line.get(r.name), f"lines[{number}].{r.name}",
                                                               f"line {number}: ")) for r in proc.line})
    if errors:
        raise ValidationErrors(errors[:MAX_ERRORS])
    out["lines"] = out_lines
    return out
