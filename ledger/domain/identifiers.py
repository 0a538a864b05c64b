"""Japanese identifiers and their check digits, as DESIGN.md "Domain facts" states them.

- corporate number (法人番号): 13 digits, the *first* is the check digit (mod 9).
- personal number (個人番号, My Number): 12 digits, the *last* is the check digit (mod 11).
- municipality code (地方公共団体コード): 6 digits, the *last* is the check digit (mod 11) — and
  the code must be on 総務省's list (``ledger.domain.municipalities``).

An identifier has one spelling: ASCII digits and nothing else (issue 14, item 9). Validators
return the value they are given, unchanged, or refuse it — full-width digits (０-９), surrounding
or inner spaces, hyphens, other scripts' digits — naming the field and the position. Normalising
instead would leave two spellings of one company in play: every caller that keeps the text it was
sent (a batch's grant lookup, an idempotency key's scope, a principal's name, a URL) would disagree
with the one that kept the normalised form — a full-width 法人番号 was recorded for the company and
refused for its vendor as "no active grant". Readers of text formats (CSV cells) turn what a clerk
typed into ASCII before it gets here (``ledger.domain.text_cells.from_text_cells``).

A personal number is legally restricted data, so no error about one ever repeats its digits —
not in the message, not in ``expected``, not in ``got``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Final

from ledger.domain import municipalities
from ledger.errors import ValidationError

__all__ = [
    "PERSONAL_NUMBER_WITHHELD",
    "corporate_check_digit",
    "make_corporate_number",
    "make_municipality_code",
    "make_personal_number",
    "municipality_check_digit",
    "personal_check_digit",
    "validate_corporate_number",
    "validate_municipality_code",
    "validate_personal_number",
]

#: What an error about a personal number says it got, instead of the number.
PERSONAL_NUMBER_WITHHELD: Final = "(withheld: personal numbers are never echoed)"

_ASCII_DIGITS: Final = frozenset("0123456789")
_FULL_WIDTH_DIGITS: Final = frozenset("０１２３４５６７８９")


# --- check digits ----------------------------------------------------------------------------


def _require_base(base: object, length: int, field: str, *, secret: bool = False) -> str:
    """Return ``base`` if it is exactly ``length`` ASCII digits, else raise ``invalid_format``."""
    if isinstance(base, str) and len(base) == length and all(c in _ASCII_DIGITS for c in base):
        return base
    raise ValidationError(
        f"{field} must be exactly {length} ASCII digits to compute a check digit",
        field=field,
        expected=f"{length} digits",
        got=PERSONAL_NUMBER_WITHHELD if secret else base,
        code="invalid_format",
    )


def _sum_from_right(base: str, weight: Callable[[int], int]) -> int:
    """Σ P_n·weight(n), P_n the n-th digit counted from the right (n starts at 1)."""
    return sum(int(ch) * weight(n) for n, ch in enumerate(reversed(base), start=1))


def _corporate_weight(n: int) -> int:
    return 1 if n % 2 == 1 else 2


def _personal_weight(n: int) -> int:
    return n + 1 if n <= 6 else n - 5


_MUNICIPALITY_WEIGHTS: Final = (6, 5, 4, 3, 2)


def corporate_check_digit(base12: str) -> int:
    """Check digit of a corporate number (法人番号) for its 12-digit base.

    ``9 - (Σ_{n=1..12} P_n·Q_n mod 9)``, P_n the n-th digit from the right, Q_n = 1 for odd n and
    2 for even n (DESIGN.md "Domain facts"). The result is 1..9, never 0.
    """
    base = _require_base(base12, 12, "base12")
    return 9 - _sum_from_right(base, _corporate_weight) % 9


def personal_check_digit(base11: str) -> int:
    """Check digit of a personal number (個人番号) for its 11-digit base.

    ``11 - (Σ_{n=1..11} P_n·Q_n mod 11)``, P_n the n-th digit from the right, Q_n = n+1 for
    n ≤ 6 and n−5 for n ≥ 7; a remainder of 0 or 1 gives 0 (DESIGN.md "Domain facts").
    """
    base = _require_base(base11, 11, "base11", secret=True)
    remainder = _sum_from_right(base, _personal_weight) % 11
    return 0 if remainder <= 1 else 11 - remainder


#: The weights of a personal number's first eleven digits, left to right (``_personal_weight`` of each
#: digit's place from the right).
_PERSONAL_WEIGHTS: tuple[int, ...] = tuple(_personal_weight(11 - i) for i in range(11))


def is_clean_personal_number(text: object) -> bool:
    """Whether ``text`` is a 個人番号 exactly as ``validate_personal_number`` returns one — 12 ASCII
    digits whose last is the check digit of the others — decided without building an error (the
    bulk path asks this of every line)."""
    if type(text) is not str or len(text) != 12 or not text.isascii() or not text.isdigit():
        return False
    remainder = sum(map(operator.mul, map(int, text[:11]), _PERSONAL_WEIGHTS)) % 11
    return (0 if remainder <= 1 else 11 - remainder) == ord(text[11]) - 48


def municipality_check_digit(base5: str) -> int:
    """Check digit of a municipality code (地方公共団体コード) for its 5-digit base.

    The last digit of ``11 - (Σ d_i·w_i mod 11)`` with weights 6,5,4,3,2 from the left
    (DESIGN.md "Domain facts"); remainders 0 and 10 both give 1, remainder 1 gives 0.
    """
    base = _require_base(base5, 5, "base5")
    total = sum(int(d) * w for d, w in zip(base, _MUNICIPALITY_WEIGHTS, strict=True))
    return (11 - total % 11) % 10


# --- normalisation -------------------------------------------------------------------------


def _normalize_digits(
    value: object, length: int, field: str, label: str, *, secret: bool
) -> str:
    """``value`` itself if it is exactly ``length`` ASCII digits, else the ValidationError saying
    which character, at which position, is not one."""
    expected = f"{length} digits ({label})"
    shown = PERSONAL_NUMBER_WITHHELD if secret else value

    if not isinstance(value, str):
        # An int would already have lost any leading zeros, so refuse rather than guess.
        raise ValidationError(
            f"{field} must be given as text of {length} digits ({label}), "
            f"not as {type(value).__name__}; numbers lose their leading zeros",
            field=field,
            expected=expected,
            got=shown if secret else repr(value),
            code="invalid_format",
        )

    quoted = "the value given" if secret else repr(value)
    for position, ch in enumerate(value, start=1):
        if ch not in _ASCII_DIGITS:
            what = "a character" if secret else repr(ch)
            if ch in _FULL_WIDTH_DIGITS:
                why = "a full-width digit; send ASCII digits 0-9"
            elif ch.isspace():
                why = "a space; send the digits alone"
            else:
                why = "not a digit; remove hyphens and other separators"
            raise ValidationError(
                f"{field} must be {length} ASCII digits only ({label}), but {quoted} has {what} at position "
                f"{position} that is {why}",
                field=field,
                expected=expected,
                got=shown,
                code="invalid_format",
            )
    if len(value) != length:
        raise ValidationError(
            f"{field} must be exactly {length} digits ({label}), but {quoted} has "
            f"{len(value)} digit(s)",
            field=field,
            expected=expected,
            got=shown,
            code="invalid_format",
        )
    return value


# --- validators --------------------------------------------------------------------------------


def validate_corporate_number(value: object, field: str = "corporate_number") -> str:
    """Return the corporate number (法人番号) as 13 ASCII digits, or raise ``ValidationError``."""
    number = _normalize_digits(value, 13, field, "法人番号", secret=False)
    expected = corporate_check_digit(number[1:])
    got = int(number[0])
    if got != expected:
        raise ValidationError(
            f"{field} {number} fails its check digit: the first digit (position 1, the check "
            f"digit) should be {expected} for the 12 digits that follow it, but it is {got}; "
            f"look for a mistyped or swapped digit",
            field=field,
            expected=f"check digit {expected}",
            got=f"check digit {got}",
            code="check_digit",
        )
    return number


def validate_personal_number(value: object, field: str = "personal_number") -> str:
    """Return the personal number (個人番号) as 12 ASCII digits, or raise ``ValidationError``.

    Errors never contain the number or any part of it.
    """
    number = _normalize_digits(value, 12, field, "個人番号", secret=True)
    if personal_check_digit(number[:11]) != int(number[11]):
        raise ValidationError(
            f"{field} is a 12-digit number whose check digit does not match (個人番号); look "
            f"for a mistyped or swapped digit (the number is not shown: personal numbers are "
            f"never echoed)",
            field=field,
            expected="a 12-digit 個人番号 whose last digit is its check digit",
            got=PERSONAL_NUMBER_WITHHELD,
            code="check_digit",
        )
    return number


def validate_municipality_code(value: object, field: str = "municipality_code") -> str:
    """Return the municipality code (地方公共団体コード) as 6 ASCII digits, or raise.

    The code must pass its check digit and name, on 総務省's list (``ledger.domain.municipalities``),
    a body that receives 給与支払報告書: a 市町村 or 特別区, or a ward of a 政令指定都市 (routed to its
    city). A prefecture, a code not on the list (一部事務組合 and the like) and the 北方領土 villages are
    refused.
    """
    code = _check_digit_ok(value, field)
    row = municipalities.lookup(code)
    if row is not None and code in municipalities.receiving_codes():
        return code
    listed = f"{municipalities.LIST_NAME} list of {municipalities.LIST_DATE.isoformat()}"
    expected = f"the code of a 市区町村 on the {listed}"
    if row is None:
        raise ValidationError(
            f"{field} {code} is not a 市区町村 on the {listed}: 給与支払報告書 go to a 市区町村 "
            f"(地方税法第317条の6), and 一部事務組合, 広域連合 and other 特別地方公共団体 have codes of their own "
            f"but receive none; look for a mistyped code, or a municipality merged away",
            field=field, expected=expected, got=code, code="unknown_municipality",
        )
    what = municipalities.KIND_NAMES[row.kind]
    why = ("a prefecture" if row.kind == "prefecture"
           else "a village of the Northern Territories with no municipal office to file with")
    raise ValidationError(
        f"{field} {code} is {row.name}, {why} ({what}): 給与支払報告書 go to a 市区町村 (地方税法第317条の6)",
        field=field, expected=expected, got=f"{code} ({row.name}, {what})", code="not_a_municipality",
    )


def _check_digit_ok(value: object, field: str) -> str:
    """``value`` if it is 6 ASCII digits whose last is the 地方公共団体コード check digit, else raise."""
    code = _normalize_digits(value, 6, field, "地方公共団体コード", secret=False)
    expected = municipality_check_digit(code[:5])
    got = int(code[5])
    if got != expected:
        raise ValidationError(
            f"{field} {code} fails its check digit: the last digit (position 6, the check "
            f"digit) should be {expected} for {code[:5]}, but it is {got}; look for a mistyped "
            f"or swapped digit",
            field=field,
            expected=f"check digit {expected}",
            got=f"check digit {got}",
            code="check_digit",
        )
    return code


# --- generators (demo data, fixtures) -------------------------------------------------------


def make_corporate_number(base12: str) -> str:
    """The valid 13-digit corporate number (法人番号) for a 12-digit base."""
    return f"{corporate_check_digit(base12)}{base12}"


def make_personal_number(base11: str) -> str:
    """The valid 12-digit personal number (個人番号) for an 11-digit base."""
    return f"{base11}{personal_check_digit(base11)}"


def make_municipality_code(base5: str) -> str:
    """The valid 6-digit municipality code (地方公共団体コード) for a 5-digit base."""
    return f"{base5}{municipality_check_digit(base5)}"

