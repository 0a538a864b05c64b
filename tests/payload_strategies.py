"""Hypothesis strategies for payloads of every procedure and disposition: valid ones (every field
rule and cross-field rule kept — ``ledger.domain.procedures`` for the v1 forms, the v2 rules between
the fields of a line in ``ledger.domain.forms``) and mutations of them that the rules must refuse,
each with the field the refusal must name. Both the v2 forms Kiroku writes (``PROCEDURES``) and the
v1 forms (``V1``) are generated: pass ``forms``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from hypothesis import strategies as st

from ledger.domain import grades, municipalities
from ledger.domain.fields import FieldRule
from ledger.domain.forms import ABSENCES
from ledger.domain.identifiers import make_municipality_code, make_personal_number
from ledger.domain.procedures import CROSS_RULES, PROCEDURES, Procedure

#: Printable text a clerk types: kana, kanji, Latin, digits and a few separators (no controls).
_ALPHABET = st.sampled_from(list("山田太郎花子鈴木一郎株式会社記録東京都千代田区丸の内ヤマダタロウabcXYZ0123456789-・ "))


def text(rule: FieldRule) -> st.SearchStrategy[str]:
    return st.text(_ALPHABET, min_size=1, max_size=min(rule.max_length, 24)).map(str.strip).filter(bool)


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


def municipality_codes() -> st.SearchStrategy[str]:
    """A code a payroll line may name: a 市区町村 or 政令市の区 on 総務省's list (not just any code
    with a good check digit, which may be a prefecture's or no one's)."""
    return st.sampled_from(sorted(municipalities.receiving_codes()))


def value(rule: FieldRule) -> st.SearchStrategy[Any]:
    """A valid value of one field, as the rules return it (so a valid payload round-trips)."""
    if rule.kind == "text" and rule.name == "kana":  # full-width katakana (E14: the characters eLTAX and e-Tax take)
        return st.text("アイウエオカガキサシスタダナハパマヤラワンヴー・ 　", min_size=1, max_size=min(rule.max_length, 24)).filter(
            lambda t: bool(t.strip()) and t == t.strip())
    if rule.kind == "text" and rule.name == "employee_number":  # 受給者番号: half-width letters, digits, symbols
        return st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_#/.", min_size=1, max_size=rule.max_length)
    if rule.kind == "text":
        return text(rule)
    if rule.kind in ("yen", "count"):
        return st.integers(0, rule.ceiling)
    if rule.kind == "personal_number":
        return _digits(11).map(make_personal_number)
    if rule.kind == "municipality_code":
        return municipality_codes()
    if rule.kind == "month":
        return st.builds("{:04d}-{:02d}".format, st.integers(2020, 2026), st.integers(1, 12))
    if rule.kind == "date":
        return st.dates(date(1940, 1, 1), date(2026, 12, 31)).map(date.isoformat)
    if rule.kind == "flag":
        return st.booleans()
    if rule.kind == "choice":
        return st.sampled_from(rule.choices)
    if rule.kind == "choices":
        return st.lists(st.sampled_from(rule.choices), max_size=min(rule.max_items, 3), unique=True)
    if rule.kind == "yens":
        return st.lists(st.integers(0, rule.ceiling), max_size=min(rule.max_items, 3))
    if rule.kind == "record":
        return record(rule.fields)
    if rule.kind == "records":
        return st.lists(record(rule.fields), max_size=min(rule.max_items, 2))
    raise AssertionError(rule.kind)


@st.composite
def record(draw: st.DrawFn, rules: tuple[FieldRule, ...]) -> dict[str, Any]:
    """An object of ``rules``' fields: every required one, each optional one or not. A field the
    form does not take (``max_items=0``, the spouse on a 算定基礎届) is left out."""
    return {r.name: draw(value(r)) for r in rules if r.max_items and (r.required or draw(st.booleans()))}


def _consistent(proc: Procedure, line: dict[str, Any]) -> dict[str, Any]:
    """The line with its cross-field rules made true (bounded fields lowered, equalities computed)."""
    rules = {r.name: r for r in proc.line}
    for cross in CROSS_RULES.get(proc.code, ()):
        bound = cross.bound(line)
        if cross.relation == "<=":
            line[cross.field] = min(line[cross.field], max(bound, 0))
        else:
            line[cross.field] = bound
    for cross in CROSS_RULES.get(proc.code, ()):  # an equality may leave its range: move a term instead
        if cross.relation == "==" and not 0 <= line[cross.field] <= rules[cross.field].ceiling:
            line[cross.field] = 0
            (factor, name), *_ = cross.terms
            line[name] = -sum(f * line[n] for f, n in cross.terms[1:]) // factor
            if not 0 <= line[name] <= rules[name].ceiling:
                for _, n in cross.terms:
                    line[n] = 0
                line[cross.field] = 0
    return line


def _numbers_or_reasons(draw: st.DrawFn, person: dict[str, Any]) -> None:
    """Each person on the line (employee, spouse, dependants) has a 個人番号 or the reason it is blank, not both."""
    for who in [person, person.get("spouse"), *(person.get("dependants") or [])]:
        if not who:
            continue
        if who.get("personal_number") is None:
            who["personal_number_absence"] = draw(st.sampled_from(ABSENCES))
        else:
            who.pop("personal_number_absence", None)


def _in_year(value: str | None, year: str | None) -> str | None:
    return value if value is None or year is None else f"{year}{value[4:]}" if value[5:] != "02-29" else f"{year}-02-28"


def _consistent_v2(draw: st.DrawFn, proc: Procedure, line: dict[str, Any], header: Mapping[str, Any],
                   period: str | None) -> dict[str, Any]:
    """The v2 line with the rules between its fields (``ledger.domain.forms``) made true."""
    code = proc.code
    if code in ("PAYROLL_REPORT", "WITHHOLDING_SLIP"):
        _numbers_or_reasons(draw, line["person"])
        adjusted = line.get("year_end_adjusted", True)
        for name in ("income_after_deduction", "total_deductions"):
            if adjusted and line.get(name) is None:
                line[name] = draw(st.integers(0, line["payment_amount"]))
            elif not adjusted:
                line.pop(name, None)
        for name in ("withholding_tax", "income_after_deduction"):
            if line.get(name) is not None:
                line[name] = min(line[name], line["payment_amount"])
        year = period[:4] if period else None
        start, end = _in_year(line.get("employment_start"), year), _in_year(line.get("employment_end"), year)
        if start is not None and end is not None and end < start:
            start, end = end, start
        for name, when in (("employment_start", start), ("employment_end", end)):
            if when is not None:
                line[name] = when
        if code == "PAYROLL_REPORT":
            if line.get("collection", "SPECIAL") == "ORDINARY":
                line["ordinary_reason"] = draw(st.sampled_from(next(r for r in proc.line if r.name == "ordinary_reason").choices))
            else:
                line.pop("ordinary_reason", None)
    elif code in ("STANDARD_REMUNERATION", "BONUS_PAYMENT"):
        # 個人番号 only for 70歳以上被用者 (日本年金機構, 平成30年3月 様式改正).
        person, remarks = line["person"], list(line.get("remarks") or [])
        if person.get("personal_number") is not None and "AGE_70_PLUS" not in remarks:
            line["remarks"] = [*remarks, "AGE_70_PLUS"]
        elif person.get("personal_number") is None and "AGE_70_PLUS" in remarks:
            person["personal_number_absence"] = draw(st.sampled_from(ABSENCES))
        if code == "STANDARD_REMUNERATION" and period:
            # On the year's 定時決定 only (健康保険法第41条第3項): insured before 1 June, still on 2 July, no July 月額変更.
            if (line.get("insured_since") or "") >= f"{period}-06-01":
                line["insured_since"] = f"{period}-05-31"
            if line.get("insured_until") is not None and line["insured_until"] <= f"{period}-07-01":
                line["insured_until"] = None
            if line.get("pay_change_month") == f"{period}-04":
                line["remarks"] = [r for r in line.get("remarks") or [] if r != "MONTHLY_CHANGE_EXPECTED"]
    elif code == "WAGE_LEDGER":
        ceiling = next(r for r in proc.line if r.name == "net_pay").ceiling
        wages = line["base_pay"] + line["overtime_pay"] + line["allowances"]
        if wages > ceiling:
            line["overtime_pay"] = line["allowances"] = 0
            wages = line["base_pay"]
        line["deductions"] = min(line["deductions"], wages)
        line["net_pay"] = wages - line["deductions"]
    elif code == "SPECIAL_COLLECTION_NOTICE":
        # 地方税法第321条の5第1項: twelve parts, July on in 100円 units, the remainder in June.
        monthly = draw(st.integers(0, 10_000)) * 100
        june = draw(st.integers(0, 2_000_000))
        annual = june + 11 * monthly
        line.update(annual_tax=annual, june_amount=june, monthly_amount=monthly)
        line["monthly_amounts"] = [june] + [monthly] * 11 if draw(st.booleans()) else []
        if draw(st.booleans()):
            prefectural = annual * 4 // 10
            line.update(municipal_tax=annual - prefectural, prefectural_tax=prefectural, forest_tax=0)
        else:
            line.update(municipal_tax=0, prefectural_tax=0, forest_tax=0)
    elif code == "STANDARD_REMUNERATION_DECISION":
        applies = date.fromisoformat(header["effective_from"] + "-01")
        schemes = draw(st.sampled_from([("health",), ("pension",), ("health", "pension")]))
        for scheme, table in (("health", grades.health_table(applies)), ("pension", grades.pension_table(applies))):
            if scheme in schemes and table:
                grade = draw(st.integers(1, len(table)))
                line.update({f"{scheme}_grade": grade, f"{scheme}_amount": table[grade - 1]})
            else:
                line.pop(f"{scheme}_grade", None)
                line.pop(f"{scheme}_amount", None)
    return line


@st.composite
def lines(draw: st.DrawFn, proc: Procedure, max_lines: int = 4, header: Mapping[str, Any] | None = None,
          period: str | None = None) -> list[dict[str, Any]]:
    out = []
    seen: set[object] = set()  # the 個人番号 drawn so far
    for number in range(1, draw(st.integers(1, max_lines)) + 1):
        line = {r.name: draw(value(r)) for r in proc.line if r.required or draw(st.booleans())}
        if proc.version >= 2:
            line = _consistent_v2(draw, proc, line, header or {}, period)
        else:
            line = _consistent(proc, line)
        if "line_action" in line:  # a whole filing's lines (person-level corrections: ledger.domain.person_changes)
            line["line_action"] = "ORIGINAL"
        if proc.person_key is not None:  # one line per person (地方税法第317条の6第1項 …)
            line[proc.person_key] = f"P{number}" if proc.person_key != "insured_number" else number
            person = line.get("person") or {}
            if person.get("personal_number") is not None and person["personal_number"] in seen:  # 番号法第2条第5項
                person["personal_number"] = make_personal_number(f"{90_000_000_000 + number:011d}")
            seen.add(person.get("personal_number"))
        out.append(line)
    return out


@st.composite
def payloads(draw: st.DrawFn, code: str, forms: Mapping[str, Procedure] = PROCEDURES, period: str | None = None) -> dict[str, Any]:
    """A valid payload of procedure ``code`` (under ``forms``; for ``period`` where its dates must fall in it)."""
    proc = forms[code]
    header = {r.name: draw(value(r)) for r in proc.header if r.required or draw(st.booleans())}
    payload: dict[str, Any] = {proc.header_name: header} if proc.header_name else dict(header)
    for block in proc.blocks:
        if block.required or draw(st.booleans()):
            payload[block.name] = draw(value(block))
    payload["lines"] = draw(lines(proc, header=header, period=period))
    return payload


def normalized(proc: Procedure, payload: dict[str, Any]) -> dict[str, Any]:
    """What ``validate_payload`` returns for a valid payload: every field present, defaults filled,
    in objects and lists of objects too."""
    def one(rule: FieldRule, given: Any) -> Any:
        if given is None:
            return list(rule.default) if isinstance(rule.default, tuple) else rule.default
        if rule.kind == "record":
            return full(rule.fields, given)
        if rule.kind == "records":
            return [full(rule.fields, item) for item in given]
        return given

    def full(rules: tuple[FieldRule, ...], given: dict[str, Any]) -> dict[str, Any]:
        return {r.name: one(r, given.get(r.name)) for r in rules}

    out: dict[str, Any] = {proc.header_name: full(proc.header, payload[proc.header_name])} if proc.header_name else full(
        proc.header, payload)
    for block in proc.blocks:
        out[block.name] = one(block, payload.get(block.name))
    out["lines"] = [full(proc.line, line) for line in payload["lines"]]
    return out


# -- mutations: (what, path) where path is the field the refusal must name -----------------------------

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
FORBIDDEN = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u202a", "\u202e", "\u2066", "\u2069", "\ud800"]


def _line_mutations(rule: FieldRule) -> list[tuple[str, Callable[[Any], Any]]]:
    if rule.kind == "text":
        return [(f"forbidden {c!r}", lambda v, c=c: f"{v}{c}{v}") for c in FORBIDDEN] + [
            ("too long", lambda v: "x" * (rule.max_length + 1)), ("a number", lambda v: 12), ("an object", lambda v: {"x": v})]
    if rule.kind in ("yen", "count"):
        return [("as text", str), ("a float", float), ("negative", lambda v: -1 - v), ("over the ceiling", lambda v: rule.ceiling + 1),
                ("huge", lambda v: 10**30), ("a bool", lambda v: True), ("a list", lambda v: [v])]
    if rule.kind in ("personal_number", "municipality_code"):
        prefecture = [("its prefecture", lambda v: make_municipality_code(v[:2] + "000"))] if rule.kind == "municipality_code" else []
        return [("full-width", lambda v: v.translate(FULL_WIDTH)), ("padded", lambda v: f" {v}"),
                ("hyphenated", lambda v: f"{v[:3]}-{v[3:]}"), ("a number", int),
                ("wrong check digit", lambda v: v[:-1] + str((int(v[-1]) + 1) % 10)), *prefecture]
    if rule.kind == "month":
        return [("month 13", lambda v: v[:5] + "13"), ("slash", lambda v: v.replace("-", "/"))]
    if rule.kind == "date":
        return [("slash", lambda v: v.replace("-", "/")), ("day 32", lambda v: v[:8] + "32"),
                ("full-width", lambda v: v.translate(FULL_WIDTH)), ("a number", lambda v: 20260101)]
    if rule.kind == "flag":
        return [("as text", lambda v: "true" if v else "false"), ("a number", lambda v: int(bool(v))), ("a list", lambda v: [v])]
    if rule.kind == "choice":
        return [("lower case", lambda v: (v or rule.choices[0]).lower()), ("unknown", lambda v: "UNKNOWN_CHOICE"),
                ("a number", lambda v: 1)]
    if rule.kind in ("choices", "yens", "records"):
        mutations: list[tuple[str, Callable[[Any], Any]]] = [("an object", lambda v: {"x": v}), ("text", lambda v: "x")]
        if rule.kind == "choices":
            mutations.append(("an unknown item", lambda v: [*(v or []), "UNKNOWN_CHOICE"]))
        if rule.kind == "yens":
            mutations.append(("a negative item", lambda v: [*(v or []), -1]))
        if rule.max_items < 99:
            mutations.append(("too many items", lambda v: [(v or [None])[0]] * (rule.max_items + 1)))
        return mutations
    if rule.kind == "record":
        return [("a list", lambda v: [v]), ("text", lambda v: "x")]
    raise AssertionError(rule.kind)


#: A v2 rule between fields broken: (procedure, what, how to break the line, the field named).
_V2_BREAKS: dict[str, list[tuple[str, Callable[[dict[str, Any]], None], str]]] = {
    "PAYROLL_REPORT": [
        ("普通徴収 without its reason", lambda ln: ln.update(collection="ORDINARY", ordinary_reason=None), "ordinary_reason"),
        ("特別徴収 with a reason", lambda ln: ln.update(collection="SPECIAL", ordinary_reason="LOW_PAY"), "ordinary_reason"),
    ],
    "WAGE_LEDGER": [("net pay off by one", lambda ln: ln.update(net_pay=ln["net_pay"] + 1 if ln["net_pay"] < 1 else ln["net_pay"] - 1),
                     "net_pay")],
    "SPECIAL_COLLECTION_NOTICE": [("june off by one", lambda ln: ln.update(june_amount=ln["june_amount"] + 1), "june_amount")],
}
for _slip in ("PAYROLL_REPORT", "WITHHOLDING_SLIP"):
    _V2_BREAKS.setdefault(_slip, []).extend([
        ("a blank personal number without its reason",
         lambda ln: ln["person"].update(personal_number=None, personal_number_absence=None), "person.personal_number_absence"),
        ("a personal number with a reason to be blank",
         lambda ln: ln["person"].update(personal_number=make_personal_number("12345678901"), personal_number_absence="NOT_PROVIDED"),
         "person.personal_number_absence"),
        ("年末調整 without its totals", lambda ln: ln.update(year_end_adjusted=True, total_deductions=None), "total_deductions"),
        ("the tax above the payment", lambda ln: ln.update(withholding_tax=ln["payment_amount"] + 1), "withholding_tax"),
        ("a full-width 受給者番号", lambda ln: ln.update(employee_number="Ｅ０００１"), "employee_number"),
    ])
for _social in ("STANDARD_REMUNERATION", "BONUS_PAYMENT"):
    _V2_BREAKS[_social] = [("a personal number under 70", lambda ln: ln.update(remarks=[])
                            or ln["person"].update(personal_number=make_personal_number("12345678901")), "person.personal_number")]
for _kana in ("PAYROLL_REPORT", "WITHHOLDING_SLIP", "STANDARD_REMUNERATION", "BONUS_PAYMENT"):
    _V2_BREAKS[_kana].append(("フリガナ in hiragana", lambda ln: ln["person"].update(kana="やまだ たろう"), "person.kana"))
#: Rules that need the period (checked only when the payload is validated for one): (what, break(line, period), field).
_PERIOD_BREAKS: dict[str, list[tuple[str, Callable[[dict[str, Any], str], None], str]]] = {
    "STANDARD_REMUNERATION": [  # the year's 定時決定 (健康保険法第41条第3項)
        ("insured from June", lambda ln, year: ln.update(insured_since=f"{year}-06-15"), "insured_since"),
        ("insurance ended by 1 July", lambda ln, year: ln.update(insured_until=f"{year}-07-01"), "insured_until"),
        ("a July 月額変更", lambda ln, year: ln.update(pay_change_month=f"{year}-04", remarks=["MONTHLY_CHANGE_EXPECTED"])
         or ln["person"].update(personal_number=None), "pay_change_month"),
    ],
}


def _nested(draw: st.DrawFn, rules: tuple[FieldRule, ...], obj: dict[str, Any], path: str) -> tuple[str, str]:
    """One value inside ``obj`` (an object of ``rules``) made wrong, descending into objects: (what, path)."""
    rule = draw(st.sampled_from([r for r in rules if r.max_items]))
    current = obj.get(rule.name)
    if rule.kind == "record" and isinstance(current, dict) and draw(st.booleans()):
        return _nested(draw, rule.fields, current, f"{path}.{rule.name}")
    what, how = draw(st.sampled_from(_line_mutations(rule)))
    obj[rule.name] = how(current if current is not None else draw(value(rule)))
    if what in ("an unknown item", "a negative item"):  # the item is named, counted from 1
        return f"{rule.name} {what}", f"{path}.{rule.name}[{len(obj[rule.name])}]"
    return f"{rule.name} {what}", f"{path}.{rule.name}"


@st.composite
def mutated(draw: st.DrawFn, code: str, forms: Mapping[str, Procedure] = PROCEDURES,
            period: str | None = None) -> tuple[dict[str, Any], str, str]:
    """A payload of ``code`` with one thing wrong: (payload, what was done, the field path named)."""
    proc = forms[code]
    payload = draw(payloads(code, forms, period))
    n = draw(st.integers(0, len(payload["lines"]) - 1))
    line = payload["lines"][n]
    kinds = ["line value", "unknown line field", "unknown header field", "missing", "cross"]
    if proc.person_key is not None and len(payload["lines"]) > 1:
        kinds.append("same person twice")
    kind = draw(st.sampled_from(kinds))
    if kind == "unknown line field":
        key = draw(st.sampled_from(["nmae", "Employee_name", "payment_amout", "bonus", "", "lines", "\u202e"]))
        line[key] = 1
        return payload, f"unknown field {key!r}", f"lines[{n + 1}].{key}"
    if kind == "unknown header field":
        key = draw(st.sampled_from(["adress", "Name", "remarks_x"]))
        if proc.header_name:
            payload[proc.header_name][key] = "x"
            return payload, f"unknown header field {key!r}", f"{proc.header_name}.{key}"
        payload[key] = "x"
        return payload, f"unknown field {key!r}", key
    if kind == "missing":
        rule = draw(st.sampled_from([r for r in proc.line if r.required]))
        line.pop(rule.name, None)
        return payload, f"without {rule.name}", f"lines[{n + 1}].{rule.name}"
    if kind == "same person twice" and proc.person_key is not None:
        other = payload["lines"][n - 1 if n else 1]
        other[proc.person_key] = line[proc.person_key]
        later = max(n, n - 1 if n else 1)
        return payload, f"{proc.person_key} twice", f"lines[{later + 1}].{proc.person_key}"
    if kind == "cross" and proc.version >= 2 and _V2_BREAKS.get(code):
        cases = [(what, lambda ln, _year, b=b: b(ln), field) for what, b, field in _V2_BREAKS[code]]
        if period is not None:
            cases += _PERIOD_BREAKS.get(code, [])
        what, breaks, field = draw(st.sampled_from(cases))
        breaks(line, period)
        return payload, what, f"lines[{n + 1}].{field}"
    if kind == "cross" and proc.version < 2 and CROSS_RULES.get(code):
        cross = draw(st.sampled_from(CROSS_RULES[code]))
        line[cross.field] = cross.bound(line) + draw(st.integers(1, 1000))
        if line[cross.field] <= next(r for r in proc.line if r.name == cross.field).ceiling:
            return payload, f"{cross.field} {cross.relation} broken", f"lines[{n + 1}].{cross.field}"
        line[cross.field] = -1
        return payload, f"{cross.field} negative", f"lines[{n + 1}].{cross.field}"
    what, path = _nested(draw, proc.line, line, f"lines[{n + 1}]")
    return payload, what, path
