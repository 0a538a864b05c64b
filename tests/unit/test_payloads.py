"""Payload rules, without I/O."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import accelerator
from ledger.domain.fields import FORBIDDEN_TEXT, FieldRule, _check, _clean_lines, _compiled_rules
from ledger.domain.identifiers import make_personal_number
from ledger.domain.procedures import PROCEDURES, V1, _fast_lines, get_procedure, validate_agency_id, validate_payload
from ledger.domain.text_cells import from_text_cells
from ledger.errors import ValidationError, ValidationErrors
from tests.factories import payroll, payroll_line
from tests.payload_strategies import municipality_codes

pytestmark = pytest.mark.unit


PAYROLL = PROCEDURES["PAYROLL_REPORT"]


def test_every_problem_in_a_payload_is_reported_with_its_line_number() -> None:
    bad = payroll([payroll_line(1), payroll_line(2, payment_amount=-1, employee_name=""), payroll_line(3, municipality="131017")])
    with pytest.raises(ValidationErrors) as err:
        validate_payload(PAYROLL, bad)
    found = {(e.field, e.code) for e in err.value.errors}
    assert found == {("lines[2].payment_amount", "negative_amount"), ("lines[2].person.name", "required"),
                     ("lines[3].municipality_code", "check_digit")}


def test_amounts_must_be_whole_yen_not_floats_or_booleans() -> None:
    for value, code in ((1.5, "invalid_amount"), (True, "invalid_amount"), ("12a", "invalid_amount"), (10**16, "amount_too_large")):
        with pytest.raises(ValidationErrors) as err:
            validate_payload(PAYROLL, payroll([payroll_line(1, withholding_tax=value)]))
        assert [(e.field, e.code) for e in err.value.errors] == [("lines[1].withholding_tax", code)]


@pytest.mark.parametrize(("value", "got"), [("120000", "120000"), ("１２０", "１２０"), ("120,000", "120,000"),
                                            (120000.0, 120000.0), (1.2e5, 1.2e5), (-1, -1)])
def test_numbers_sent_as_text_or_fractions_or_below_zero_are_refused_naming_the_field(value: Any, got: Any) -> None:
    # Issue 14, item 9: "120000" used to be taken as 120000 (JSON has numbers; a string is a sender's bug).
    with pytest.raises(ValidationErrors) as err:
        validate_payload(PAYROLL, payroll([payroll_line(1, withholding_tax=value)]))
    [e] = err.value.errors
    assert (e.code, e.field, e.got) == ("negative_amount" if value == -1 else "invalid_amount", "lines[1].withholding_tax", got)


def test_text_cells_are_read_into_numbers_and_ascii_codes_before_the_rules_see_them() -> None:
    # CSV has no numbers: its reader, not the payload rules, turns "5,000,000" and full-width digits into them.
    # The CSV reader still reads v1 lines (氏名, 個人番号, 住所 as columns): read under the v1 form explicitly.
    line = payroll_line(1)
    who = line.pop("person")
    del line["employee_number"]
    v1_line = {**line, "employee_name": who["name"], "employee_kana": who["kana"], "personal_number": who["personal_number"],
               "address": who["address"]}
    cells = {**{k: str(v) for k, v in v1_line.items()}, "payment_amount": "5,000,000", "withholding_tax": "１２０",
             "municipality_code": "１３１０１６", "dependents": "x"}
    read = from_text_cells(V1["PAYROLL_REPORT"], cells)
    assert (read["payment_amount"], read["withholding_tax"], read["municipality_code"], read["dependents"]) == (
        5_000_000, 120, "１３１０１６", "x")  # a cell that is no number, and a code, are left for the rules to judge
    assert read["employee_name"] == cells["employee_name"]


@pytest.mark.parametrize(("procedure", "field", "ceiling"), [
    ("PAYROLL_REPORT", "payment_amount", 9_999_999_999), ("WITHHOLDING_SLIP", "withholding_tax", 9_999_999_999),
    ("PAYROLL_REPORT", "dependents", 99), ("STANDARD_REMUNERATION", "days_april", 30), ("STANDARD_REMUNERATION", "days_may", 31),
    ("STANDARD_REMUNERATION", "remuneration_june", 999_999_999), ("BONUS_PAYMENT", "bonus_amount", 999_999_999),
    ("WAGE_LEDGER", "minutes_worked", 44_640), ("WAGE_LEDGER", "days_worked", 31),
    # v2: a decision gives each scheme's grade and amount (健康保険 up to 第50級; 厚生年金 ceilings as wide, the tables judge the rest)
    ("STANDARD_REMUNERATION_DECISION", "health_grade", 50), ("STANDARD_REMUNERATION_DECISION", "health_amount", 1_390_000),
    ("STANDARD_REMUNERATION_DECISION", "pension_grade", 50), ("STANDARD_REMUNERATION_DECISION", "pension_amount", 1_390_000),
])
def test_each_amount_and_count_has_the_ceiling_of_its_form(procedure: str, field: str, ceiling: int) -> None:
    # Issue 14, item 9: ¥10¹³ used to pass. Amounts of the 給与支払報告書・源泉徴収票 are at most 10 digits
    # (総務省 総税市第49号 技術基準); 標準報酬月額 tops at 第50級 ¥1,390,000 (健康保険法第40条第1項), whose
    # grades are 50; 支払基礎日数 are a month's days (日本年金機構 算定基礎届の記入方法).
    rule = next(r for r in PROCEDURES[procedure].line if r.name == field)
    assert _check(rule, ceiling, field, "") == ceiling
    with pytest.raises(ValidationError) as err:
        _check(rule, ceiling + 1, field, "")
    assert (err.value.code, err.value.field, err.value.expected, err.value.got) == (
        "amount_too_large", field, f"at most {ceiling:,}", ceiling + 1)
    with pytest.raises(ValidationError) as err:
        _check(rule, 10**40, field, "")
    assert err.value.got == "41 digits"  # a huge number is described, not echoed


def test_unknown_line_fields_are_named() -> None:
    with pytest.raises(ValidationErrors) as err:
        validate_payload(PAYROLL, payroll([payroll_line(1, bonus=3)]))
    assert [(e.field, e.code) for e in err.value.errors] == [("lines[1].bonus", "unknown_field")]


def test_misspelt_fields_of_the_header_and_the_payload_are_refused_not_dropped() -> None:
    # Issue 14, item 9: {"employer": {..., "nmae": …}} and a top-level "linse" used to be dropped with a 201.
    payload = payroll()
    payload["employer"] = {**payload["employer"], "nmae": "株式会社記録"}
    payload["remarks"] = "x"
    with pytest.raises(ValidationErrors) as err:
        validate_payload(PROCEDURES["PAYROLL_REPORT"], payload)
    assert sorted((e.code, e.field, e.got) for e in err.value.errors) == [
        ("unknown_field", "employer.nmae", "nmae"), ("unknown_field", "remarks", "remarks")]
    notice = {"municipality_code": "131016", "lines": [{"person": {"name": "山田 太郎"}, "employee_number": "E0001",
                                                        "annual_tax": 12, "june_amount": 1, "monthly_amount": 1}],
              "municipalty": "131016"}
    with pytest.raises(ValidationErrors) as err:
        validate_payload(PROCEDURES["SPECIAL_COLLECTION_NOTICE"], notice)
    assert [(e.code, e.field) for e in err.value.errors] == [("unknown_field", "municipalty")]


def test_a_payload_without_lines_or_header_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        validate_payload(PAYROLL, {"lines": [payroll_line(1)]})
    assert (err.value.field, err.value.code) == ("employer", "required")
    with pytest.raises(ValidationErrors) as err2:
        validate_payload(PAYROLL, {"employer": {"name": "x", "address": "y"}, "lines": []})
    assert [(e.field, e.code) for e in err2.value.errors] == [("lines", "required")]


def test_unknown_procedures_and_agencies_are_refused_listing_what_is_known() -> None:
    with pytest.raises(ValidationError) as err:
        get_procedure("PAYROLL")
    assert err.value.code == "unknown_procedure" and "PAYROLL_REPORT" in err.value.expected
    with pytest.raises(ValidationError) as err:
        get_procedure("PAYROLL_REPORT", disposition=True, field_name="kind")
    assert err.value.field == "kind" and "SPECIAL_COLLECTION_NOTICE" in err.value.expected
    with pytest.raises(ValidationError) as err:
        validate_agency_id("city:131016")
    assert err.value.code == "invalid_agency"
    with pytest.raises(ValidationError) as err:
        validate_agency_id("municipality:131017")
    assert err.value.code == "check_digit"



class Text(str):
    pass


class Number(int):
    pass


_values = st.one_of(st.none(), st.integers(min_value=-5, max_value=10**16), st.booleans(), st.floats(allow_nan=False),
                    st.text(max_size=14), st.sampled_from(["131016", "131017", "123456789018", "123456789019", " 12", "１２３",
                                                           "5,000", "2026-13", "2026-01", "", "1899-12", "2099-12", "2100-01",
                                                           "2026-01\n", "20２6-01", "2026-1", "x", " x", "x\u3000", "xxxxxx"]),
                    st.sampled_from(["131016", "2026-01", "x", 10**15, 10**15 + 1, 0, 2**64]).map(
                        lambda v: Text(v) if isinstance(v, str) else Number(v)))

#: One field of every kind, some optional (no procedure's lines have a month).
EVERY_KIND = (FieldRule("text", "text", max_length=5), FieldRule("note", "text", required=False, default="-"),
              FieldRule("yen", "yen"), FieldRule("count", "count", required=False, default=0),
              FieldRule("personal_number", "personal_number"), FieldRule("municipality_code", "municipality_code"),
              FieldRule("month", "month"), FieldRule("since", "month", required=False))
#: The fast path checks the v1 forms' lines only (``procedures._fast_lines``: a v2 line's sealed
#: person is an object it does not take, so every v2 line goes the careful way).
RULE_SETS = {code: p.line for code, p in V1.items()} | {"every kind": EVERY_KIND}


def _digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


def clean_value(rule: FieldRule) -> st.SearchStrategy[Any]:
    """A value the careful path returns unchanged."""
    return {
        "text": st.text(min_size=1, max_size=rule.max_length).filter(lambda t: t == t.strip()),
        "yen": st.integers(0, rule.ceiling), "count": st.integers(0, rule.ceiling),
        "personal_number": _digits(11).map(make_personal_number),
        "municipality_code": municipality_codes(),
        "month": st.builds("{:04d}-{:02d}".format, st.integers(1900, 2099), st.integers(1, 12)),
    }[rule.kind]


def edges(rule: FieldRule) -> list[Any]:
    """Values just outside, or just inside, what the kind takes: its limits and its edge cases."""
    return {
        "text": ["x" * rule.max_length, "x" * (rule.max_length + 1), " x", "x ", "x\u3000", "\x1fx", "\u200bx", "\ud800",
                 "a\x00b", "a\x7fb", "a\x85b", "a\x9fb", "a\u202ab", "a\u202eb", "a\u2066b", "a\u2069b", "a\u2029b",
                 "a\udfffb", "\x00", "a\u200fb", "a\u2065b", "a\u206ab", "a\u2029"],
        "yen": [-1, 0, rule.ceiling, rule.ceiling + 1, 2**63, -2**63 - 1, 2**64, True, 1.0, "1"],
        "count": [-1, 0, rule.ceiling, rule.ceiling + 1, 2**63, False, "1"],
        "personal_number": ["123456789018", "123456789019", "12345678901８", "12345678901", "1234567890188", " 123456789018"],
        # 130001 東京都 (a prefecture) and 123455 (no one's) pass the check digit; 141011 is a ward of 横浜市
        "municipality_code": ["131016", "131017", "13101６", "13101", "1310166", "131016 ", "130001", "123455", "141011", "016951"],
        "month": ["1899-12", "1900-01", "2099-12", "2100-01", "2026-00", "2026-13", "2026-01\n", "20２6-01", "2026-０1",
                  "2026/01", "0000-01", "9999-12", "2026-1", "2026-001"],
    }[rule.kind]


def a_clean_line(rules: tuple[FieldRule, ...]) -> dict[str, Any]:
    examples = {"text": "x", "yen": 1, "count": 1, "personal_number": "123456789018", "municipality_code": "131016",
                "month": "2026-01"}
    return {r.name: examples[r.kind] for r in rules}


def lines_of(rules: tuple[FieldRule, ...]) -> st.SearchStrategy[Any]:
    """Lines of clean values with a few of them dropped, replaced by anything at all or by a
    value at the edge of the kind, or retyped."""
    @st.composite
    def line(draw: st.DrawFn) -> Any:
        out = {r.name: draw(clean_value(r), label=r.name) for r in rules}
        for name in draw(st.lists(st.sampled_from([r.name for r in rules]), max_size=2, unique=True), label="damaged"):
            how = draw(st.sampled_from(["drop", "other", "edge", "subclass"]), label=f"how {name}")
            if how == "drop":
                del out[name]
            elif how == "other":
                out[name] = draw(_values, label=f"other {name}")
            elif how == "edge":
                out[name] = draw(st.sampled_from(edges(next(r for r in rules if r.name == name))), label=f"edge {name}")
            else:  # the same value, of a subclass of its type
                out[name] = Text(out[name]) if isinstance(out[name], str) else Number(out[name])
        if draw(st.integers(0, 9), label="an unknown field") == 0:
            out["bonus"] = 1
        return out

    return line()


def fast(rules: tuple[FieldRule, ...], lines: list) -> list:
    """The fast path's answer (the Python specification), checked against its compiled twin."""
    python = _clean_lines(rules, lines)
    if accelerator.clean_lines is not None:
        compiled = accelerator.clean_lines(_compiled_rules(rules), lines)
        assert compiled == python
        assert [list(c) for c in compiled if c is not None] == [list(c) for c in python if c is not None]  # same order
    return python


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(RULE_SETS)), st.data())
def test_the_fast_line_path_accepts_exactly_what_the_careful_path_returns_unchanged(name: str, data: st.DataObject) -> None:
    rules = RULE_SETS[name]
    line = data.draw(lines_of(rules), label="line")
    [taken] = fast(rules, [line])
    careful: dict | None = {}
    for rule in rules:
        try:
            value = _check(rule, line.get(rule.name), rule.name, "")
        except ValidationError:
            careful = None
            break
        careful[rule.name] = value
    if "bonus" in line:
        careful = None  # the careful path reports it as an unknown field
    if taken is not None:
        assert careful == taken
        assert all(line.get(k) in (None, v) for k, v in taken.items())
    # And the other way round: a line the careful path leaves exactly as it came, each value of
    # its kind's own type (str, or int for amounts and counts), is taken by the fast path.
    unchanged = careful is not None and all(
        line.get(k) is None or (line[k] == v and type(line[k]) in (str, int)) for k, v in careful.items())
    if unchanged:
        assert taken == careful


@pytest.mark.parametrize("rule", EVERY_KIND, ids=[r.name for r in EVERY_KIND])
def test_values_at_the_edges_of_each_kind_are_judged_as_the_careful_path_judges_them(rule: FieldRule) -> None:
    lines = [{**a_clean_line(EVERY_KIND), rule.name: value} for value in edges(rule)]
    for line, taken in zip(lines, fast(EVERY_KIND, lines), strict=True):
        try:
            unchanged = _check(rule, line[rule.name], rule.name, "") == line[rule.name]
        except ValidationError:
            unchanged = False
        assert (taken is not None) is (unchanged and type(line[rule.name]) in (str, int)), line[rule.name]


compiled_only = pytest.mark.skipif(accelerator.clean_lines is None, reason=f"the accelerator is {accelerator.describe()}")


@compiled_only
def test_the_compiled_checker_knows_checks_not_field_kinds() -> None:
    assert accelerator.clean_lines is not None
    with pytest.raises(ValueError, match="^unknown check 'yen'$"):
        accelerator.clean_lines((("amount", "yen", True, None, 0, 10**15),), [{"amount": 1}])


@compiled_only
def test_the_compiled_text_check_knows_whitespace_and_forbidden_characters_as_the_python_twin_does() -> None:
    assert accelerator.clean_lines is not None
    rules = _compiled_rules((FieldRule("t", "text"),))
    for start in range(0, 0x110000, 0x10000):
        chars = [chr(c) for c in range(start, start + 0x10000)]
        taken = accelerator.clean_lines(rules, [{"t": c} for c in chars])
        refused = [c.isspace() or FORBIDDEN_TEXT.search(c) is not None for c in chars]
        assert [c for c, t, r in zip(chars, taken, refused) if (t is None) is not r] == []


def test_a_month_is_four_ascii_digits_of_a_year_from_1900_to_2099_a_hyphen_and_two_of_a_month() -> None:
    month = FieldRule("effective_from", "month")
    for good in ("1900-01", "2099-12", "2027-09"):
        assert _check(month, good, "effective_from", "") == good
    for bad in ("1899-12", "2100-01", "2027-13", "2027-00", "2027-9", "2027-09\n", "20２7-09", "2027/09", "2027-09-01"):
        with pytest.raises(ValidationError) as err:
            _check(month, bad, "effective_from", "")
        assert (err.value.code, err.value.field) == ("invalid_month", "effective_from")


def test_the_fast_path_leaves_lines_that_are_not_clean_to_the_careful_path() -> None:
    proc = V1["PAYROLL_REPORT"]  # the fast path's forms (see RULE_SETS)
    clean = {"municipality_code": "131016", "employee_name": "山田 太郎", "personal_number": "123456789018",
             "address": "千代田区1-1", "payment_amount": 1, "income_after_deduction": 1, "total_deductions": 0,
             "withholding_tax": 0, "social_insurance": 0}
    lines = [clean, [clean], {**clean, "bonus": 1}, {**clean, "payment_amount": True}, {**clean, "employee_name": " 山田"},
             {**clean, "personal_number": "123456789019"}, {**clean, "municipality_code": "131017"},
             {**clean, "payment_amount": 10**15 + 1}, {**clean, "payment_amount": 2**64}, {**clean, "dependents": None}]
    out = _fast_lines(proc, lines)
    assert out == fast(proc.line, lines)
    assert out[0] == {**clean, "employee_kana": None, "dependents": 0}
    assert out[1:9] == [None] * 8
    assert out[9] == {**clean, "employee_kana": None, "dependents": 0}  # an empty optional field takes its default
    assert list(out[0]) == [r.name for r in proc.line]  # in the schema's order
