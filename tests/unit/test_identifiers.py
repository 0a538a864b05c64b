"""Check digits of 法人番号, 個人番号 and 地方公共団体コード (DESIGN.md "Domain facts")."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import accelerator
from ledger.domain import municipalities
from ledger.domain.fields import FieldRule, _clean_lines, _compiled_rules
from ledger.domain.identifiers import (
    PERSONAL_NUMBER_WITHHELD,
    corporate_check_digit,
    is_clean_personal_number,
    make_corporate_number,
    make_municipality_code,
    make_personal_number,
    municipality_check_digit,
    personal_check_digit,
    validate_corporate_number,
    validate_municipality_code,
    validate_personal_number,
)
from ledger.errors import ValidationError

pytestmark = pytest.mark.unit

# The formulas again, written independently of the module: DESIGN.md counts P_n from the right,
# so these are the same weights read left to right.
CORPORATE_WEIGHTS = [2, 1] * 6  # n = 12 (even, 2) down to n = 1 (odd, 1)
PERSONAL_WEIGHTS = [6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2]  # n = 11 (n−5 = 6) down to n = 1 (n+1 = 2)
MUNICIPALITY_WEIGHTS = [6, 5, 4, 3, 2]


def corporate_remainder(base12: str) -> int:
    return sum(int(d) * w for d, w in zip(base12, CORPORATE_WEIGHTS)) % 9


def personal_remainder(base11: str) -> int:
    return sum(int(d) * w for d, w in zip(base11, PERSONAL_WEIGHTS)) % 11


def municipality_remainder(base5: str) -> int:
    return sum(int(d) * w for d, w in zip(base5, MUNICIPALITY_WEIGHTS)) % 11


def expected_corporate(base12: str) -> int:
    return 9 - corporate_remainder(base12)


def expected_personal(base11: str) -> int:
    r = personal_remainder(base11)
    return 0 if r in (0, 1) else 11 - r


def expected_municipality(base5: str) -> int:
    return int(str(11 - municipality_remainder(base5))[-1])


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


def substitutions(n: int) -> st.SearchStrategy[tuple[str, int, str]]:
    """A base of n digits, a position in it and a different digit for that position."""
    return digits(n).flatmap(
        lambda base: st.integers(0, n - 1).flatmap(
            lambda i: st.sampled_from([d for d in "0123456789" if d != base[i]]).map(
                lambda d: (base, i, d)
            )
        )
    )


def error_of(call: Callable[..., object], *args: object, **kwargs: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        call(*args, **kwargs)
    return info.value


# --- DESIGN.md's vectors ---------------------------------------------------------------------


@pytest.mark.parametrize("number", ["7000012050002", "1000011000005"])
def test_designs_corporate_numbers_are_valid(number: str) -> None:
    assert validate_corporate_number(number) == number
    assert make_corporate_number(number[1:]) == number


def test_designs_personal_number_is_valid() -> None:
    assert validate_personal_number("123456789018") == "123456789018"
    assert make_personal_number("12345678901") == "123456789018"


# 130001 (東京都) passes its check digit but is a prefecture, not a 市区町村: tests/unit/test_municipalities.py.
@pytest.mark.parametrize("code", ["131016", "011002", "271004", "141003"])
def test_designs_municipality_codes_are_valid(code: str) -> None:
    assert validate_municipality_code(code) == code
    assert make_municipality_code(code[:5]) == code


# --- the check digit functions agree with the formula written independently ------------------


@given(digits(12))
def test_corporate_check_digit_matches_the_formula(base: str) -> None:
    assert corporate_check_digit(base) == expected_corporate(base)  # 1 to 9: 9 - (x mod 9) is never 0


@given(digits(11))
def test_personal_check_digit_matches_the_formula(base: str) -> None:
    assert personal_check_digit(base) == expected_personal(base)


@given(digits(5))
def test_municipality_check_digit_matches_the_formula(base: str) -> None:
    assert municipality_check_digit(base) == expected_municipality(base)


def fast_check(kind: str, value: str) -> bool:
    """Whether bulk recording's fast check takes ``value`` as clean: its Python specification
    and, where it is built, its compiled twin, which must agree."""
    rules = (FieldRule("v", kind),)
    clean = _clean_lines(rules, [{"v": value}])[0] is not None
    if accelerator.clean_lines is not None:
        assert (accelerator.clean_lines(_compiled_rules(rules), [{"v": value}])[0] is not None) is clean
    return clean


@given(st.one_of(digits(12), st.text(max_size=14), st.text(alphabet="0123456789０１２３４５６７８９ -", min_size=11, max_size=14)))
def test_the_fast_personal_number_check_accepts_exactly_the_clean_valid_numbers(value: str) -> None:
    # Clean: 12 ASCII digits whose last is the formula's check digit (what validation returns unchanged).
    clean = len(value) == 12 and value.isascii() and value.isdigit() and int(value[11]) == expected_personal(value[:11])
    assert fast_check("personal_number", value) is clean
    assert is_clean_personal_number(value) is clean
    if clean:
        assert validate_personal_number(value) == value


@given(st.one_of(digits(6), st.text(max_size=8), st.text(alphabet="0123456789０１２ ", min_size=5, max_size=7),
                 st.sampled_from(sorted(municipalities.table()))))
def test_the_fast_municipality_code_check_accepts_exactly_the_clean_valid_codes(value: str) -> None:
    # Clean: 6 ASCII digits with the formula's check digit, naming a body a payroll line may go to
    # on 総務省's list (a 市区町村, or a ward of a 政令指定都市; not a prefecture).
    clean = (len(value) == 6 and value.isascii() and value.isdigit() and int(value[5]) == expected_municipality(value[:5])
             and value in municipalities.receiving_codes())
    assert fast_check("municipality_code", value) is clean
    if clean:
        assert validate_municipality_code(value) == value


# --- generated numbers validate; a wrong check digit never does -----------------------------


@given(digits(12), st.sampled_from("0123456789"))
def test_generated_corporate_number_validates_and_any_other_check_digit_fails(
    base: str, other: str
) -> None:
    number = make_corporate_number(base)
    assert validate_corporate_number(number) == number
    if other != number[0]:
        err = error_of(validate_corporate_number, other + base)
        assert (err.code, err.field) == ("check_digit", "corporate_number")
        assert err.expected == f"check digit {number[0]}"
        assert err.got == f"check digit {other}"


@given(digits(11), st.sampled_from("0123456789"))
def test_generated_personal_number_validates_and_any_other_check_digit_fails(
    base: str, other: str
) -> None:
    number = make_personal_number(base)
    assert validate_personal_number(number) == number
    if other != number[-1]:
        err = error_of(validate_personal_number, base + other)
        assert (err.code, err.field) == ("check_digit", "personal_number")
        assert err.got == PERSONAL_NUMBER_WITHHELD


@given(digits(5), st.sampled_from("0123456789"))
def test_generated_municipality_code_validates_and_any_other_check_digit_fails(
    base: str, other: str
) -> None:
    code = make_municipality_code(base)
    assert _is_valid(validate_municipality_code, code)
    if other != code[-1]:
        err = error_of(validate_municipality_code, base + other)
        assert (err.code, err.field) == ("check_digit", "municipality_code")
        assert err.expected == f"check digit {code[-1]}"
        assert err.got == f"check digit {other}"


# --- single-digit changes in the base: what each check can and cannot see ---------------------


def _is_valid(validate: Callable[[str], str], value: str) -> bool:
    """Whether ``value`` passes its check digit (a municipality code may still be off 総務省's list)."""
    try:
        validate(value)
    except ValidationError as err:
        if err.code in ("unknown_municipality", "not_a_municipality"):
            return True
        assert err.code == "check_digit"
        return False
    return True


@given(substitutions(12))
def test_corporate_check_misses_a_base_digit_change_only_when_it_is_0_for_9(
    change: tuple[str, int, str],
) -> None:
    # Weights are 1 and 2 and the modulus is 9: a change Δ is invisible iff Δ·w ≡ 0 (mod 9),
    # which for |Δ| ≤ 9 and w ∈ {1, 2} means Δ = ±9, i.e. a 0 typed as 9 or the reverse.
    base, i, new = change
    changed = make_corporate_number(base)[0] + base[:i] + new + base[i + 1 :]
    missed = {base[i], new} == {"0", "9"}
    assert _is_valid(validate_corporate_number, changed) is missed


@given(substitutions(11))
def test_personal_check_misses_a_base_digit_change_only_between_remainders_0_and_1(
    change: tuple[str, int, str],
) -> None:
    # 11 is prime and no weight is a multiple of it, so every change moves the remainder; but
    # remainders 0 and 1 share check digit 0, so a move between those two goes unseen.
    base, i, new = change
    changed_base = base[:i] + new + base[i + 1 :]
    changed = changed_base + make_personal_number(base)[-1]
    missed = {personal_remainder(base), personal_remainder(changed_base)} == {0, 1}
    assert _is_valid(validate_personal_number, changed) is missed


@given(substitutions(5))
def test_municipality_check_misses_a_base_digit_change_only_between_remainders_0_and_10(
    change: tuple[str, int, str],
) -> None:
    # Taking the last digit of 11 - r folds r = 0 (11) and r = 10 (1) onto the same digit 1.
    base, i, new = change
    changed_base = base[:i] + new + base[i + 1 :]
    changed = changed_base + make_municipality_code(base)[-1]
    missed = {municipality_remainder(base), municipality_remainder(changed_base)} == {0, 10}
    assert _is_valid(validate_municipality_code, changed) is missed


def test_known_blind_spots_of_each_check_exist() -> None:
    # One witness each, so that the properties above are not vacuously true.
    assert validate_corporate_number("7900012050002")  # DESIGN's 7000012050002, a 0 typed as 9
    assert validate_personal_number("595748906820")
    assert validate_personal_number("795748906820")  # first digit 5 -> 7, remainder 0 -> 1
    assert _is_valid(validate_municipality_code, "000001")
    assert _is_valid(validate_municipality_code, "900001")  # remainder 0 -> 10


def test_a_corporate_number_starting_with_0_never_validates() -> None:
    err = error_of(validate_corporate_number, "0000012050002")
    assert (err.code, err.expected, err.got) == ("check_digit", "check digit 7", "check digit 0")


# --- normalisation -------------------------------------------------------------------------


@pytest.mark.parametrize(("validate", "value", "position", "why"), [
    (validate_corporate_number, "７００００１２０５０００２", 1, "a full-width digit"),
    (validate_corporate_number, " 7000012050002", 1, "a space"),
    (validate_corporate_number, "7000012050002\n", 14, "a space"),
    (validate_personal_number, "１２３４５６７８９０１８", 1, "a full-width digit"),
    (validate_personal_number, "123456789018 ", 13, "a space"),
    (validate_municipality_code, "13101６", 6, "a full-width digit"),
    (validate_municipality_code, "\t131016", 1, "a space"),
])
def test_an_identifier_has_one_spelling_full_width_digits_and_spaces_are_refused(validate, value, position, why) -> None:
    # Issue 14, item 9: a full-width 法人番号 was normalised for the company but, kept as sent by
    # the batch's grant lookup, refused for its vendor as "no active grant". One spelling, everywhere.
    err = error_of(validate, value)
    assert err.code == "invalid_format" and f"position {position}" in err.message and why in err.message
    assert validate(value.translate(str.maketrans("０１２３４５６７８９", "0123456789")).strip()) != value


@given(st.text(alphabet="0123456789０１２３４５６７８９ \t", min_size=6, max_size=14))
def test_a_validator_returns_what_it_was_given_or_refuses_it(value: str) -> None:
    for validate in (validate_corporate_number, validate_personal_number, validate_municipality_code):
        try:
            assert validate(value) == value  # never another spelling: every caller then agrees
        except ValidationError:
            pass


@pytest.mark.parametrize(
    "value",
    [
        "7000-0120-50002",  # hyphens
        "7000012050002\u3000",  # ideographic space is not ASCII whitespace
        "7000 012050002",  # a space inside
        "①000012050002",  # NFKC would make this 1, but it is not a digit anyone types
        "7000012050002".replace("2", "²"),  # superscript two
        "٧000012050002",  # Arabic-Indic seven
        "",
    ],
)
def test_corporate_number_with_anything_but_digits_is_refused(value: str) -> None:
    err = error_of(validate_corporate_number, value)
    assert (err.code, err.field) == ("invalid_format", "corporate_number")
    assert err.expected == "13 digits (法人番号)"
    assert err.got == value


def test_non_digit_position_is_counted_in_the_value_as_given() -> None:
    err = error_of(validate_corporate_number, "7000-012050002")
    assert "'-'" in err.message and "position 5" in err.message


@pytest.mark.parametrize("value", ["700001205000", "70000120500020"])
def test_corporate_number_of_the_wrong_length_is_refused(value: str) -> None:
    err = error_of(validate_corporate_number, value)
    assert (err.code, err.field, err.expected, err.got) == (
        "invalid_format",
        "corporate_number",
        "13 digits (法人番号)",
        value,
    )


@pytest.mark.parametrize("value", [7000012050002, None, b"7000012050002"])
def test_corporate_number_that_is_not_text_is_refused(value: object) -> None:
    err = error_of(validate_corporate_number, value)
    assert (err.code, err.field) == ("invalid_format", "corporate_number")


@pytest.mark.parametrize("value", ["13101", "1310166", "13-101", "13101X"])
def test_municipality_code_of_the_wrong_shape_is_refused(value: str) -> None:
    err = error_of(validate_municipality_code, value)
    assert (err.code, err.field, err.expected, err.got) == (
        "invalid_format",
        "municipality_code",
        "6 digits (地方公共団体コード)",
        value,
    )


def test_errors_name_the_field_they_were_given() -> None:
    assert error_of(validate_corporate_number, "1", field="employer.corporate_number").field == (
        "employer.corporate_number"
    )
    assert error_of(validate_personal_number, "1", field="lines[3].personal_number").field == (
        "lines[3].personal_number"
    )
    assert error_of(validate_municipality_code, "131017", field="lines[0].city").field == (
        "lines[0].city"
    )


def test_corporate_check_digit_error_says_what_to_fix() -> None:
    err = error_of(validate_corporate_number, "7000012050003")
    assert err.to_dict() == {
        "code": "check_digit",
        "message": (
            "corporate_number 7000012050003 fails its check digit: the first digit (position 1, "
            "the check digit) should be 6 for the 12 digits that follow it, but it is 7; look for "
            "a mistyped or swapped digit"
        ),
        "retriable": False,
        "field": "corporate_number",
        "expected": "check digit 6",
        "got": "check digit 7",
    }


def test_municipality_check_digit_error_says_what_to_fix() -> None:
    err = error_of(validate_municipality_code, "131017")
    assert (err.code, err.expected, err.got) == ("check_digit", "check digit 6", "check digit 7")
    assert "131017" in err.message and "position 6" in err.message


@pytest.mark.parametrize(
    ("call", "bad"),
    [
        (corporate_check_digit, "12345678901"),
        (corporate_check_digit, "１２３４５６７８９０１２"),
        (personal_check_digit, "1234567890"),
        (municipality_check_digit, "1310a"),
        (make_corporate_number, "0000120500021"),
        (make_personal_number, 12345678901),
        (make_municipality_code, "1310"),
    ],
)
def test_check_digit_functions_want_an_exact_ascii_base(
    call: Callable[[object], object], bad: object
) -> None:
    assert error_of(call, bad).code == "invalid_format"


# --- personal numbers are never echoed -------------------------------------------------------


def _error_text(err: ValidationError) -> str:
    return " ".join([str(err), repr(err.args), json.dumps(err.to_dict(), ensure_ascii=False)])


@pytest.mark.parametrize(
    "value",
    [
        "123456789019",  # bad check digit
        "1234-5678-9018",  # hyphenated
        "12345678901",  # too short
        "1234567890188",  # too long
        " 123456789019 ",
        "１２３４５６７８９０１９",
    ],
)
def test_personal_number_errors_say_what_is_wrong_without_the_digits(value: str) -> None:
    err = error_of(validate_personal_number, value)
    assert err.field == "personal_number"
    assert err.got == PERSONAL_NUMBER_WITHHELD
    assert err.code in ("check_digit", "invalid_format")
    text = _error_text(err)
    assert not re.search(r"\d{3,}", text), text
    assert not re.search(r"[０-９]{3,}", text), text


def test_personal_number_error_codes_match_the_other_identifiers() -> None:
    assert error_of(validate_personal_number, "123456789019").code == "check_digit"
    assert error_of(validate_personal_number, "123456789019").expected == (
        "a 12-digit 個人番号 whose last digit is its check digit"
    )
    err = error_of(validate_personal_number, "1234-5678-9018")
    assert (err.code, err.expected) == ("invalid_format", "12 digits (個人番号)")
    assert error_of(validate_personal_number, 123456789018).code == "invalid_format"
    assert error_of(personal_check_digit, "1234567890a").got == PERSONAL_NUMBER_WITHHELD


@given(
    st.one_of(
        digits(12),
        st.text(alphabet="0123456789０１２３４５６７８９- x", min_size=1, max_size=20),
        st.integers(min_value=10**10, max_value=10**13),
    )
)
def test_no_personal_number_error_contains_a_run_of_its_digits(value: object) -> None:
    try:
        validate_personal_number(value)
    except ValidationError as err:
        text = _error_text(err)
        assert not re.search(r"[0-9０-９]{3,}", text), text
        assert err.__cause__ is None and err.__context__ is None
