"""How one payload field is checked (``FieldRule``), the careful path that names every problem
(``_check``, ``check_record``), and the fast path that takes clean lines as they are
(``_clean_lines``, the specification of the compiled ``clean_lines`` in ``ledger/_hotpath.c``).

``ledger.domain.procedures`` holds the forms (which fields each procedure's payload has) and
``validate_payload``, which runs these checks over a whole payload.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.domain import municipalities
from ledger.domain.identifiers import is_clean_personal_number, validate_municipality_code, validate_personal_number
from ledger.errors import ValidationError, ValidationErrors

MAX_ERRORS = 50  # a submission with more problems than this reports the first fifty

#: An annual amount (支払金額, 源泉徴収税額, …): 10 digits.
_MAX_AMOUNT = 9_999_999_999


@dataclass(frozen=True, slots=True)
class FieldRule:
    """How one payload field is checked: its kind, whether it is required, and its limits."""

    name: str
    #: text | yen | count | personal_number | municipality_code | month, and from the v2 forms on
    #: date (YYYY-MM-DD) | flag (true/false) | choice (one of ``choices``) | choices (a list of
    #: them) | yens (a list of amounts) | record (an object of ``fields``) | records (a list of them)
    kind: str
    required: bool = True
    max_length: int = 200
    sensitive: bool = False
    default: Any = None  # stored when an optional field is left empty
    #: The largest value a yen or count field takes (the form's digit boxes; see ``_MAX_AMOUNT``).
    max_value: int | None = None
    #: The values a choice (or each of choices) may take.
    choices: tuple[str, ...] = ()
    #: The fields of a record (or of each item of records).
    fields: tuple[FieldRule, ...] = ()
    #: The most items a list kind (choices, yens, records) may hold.
    max_items: int = 99

    @property
    def ceiling(self) -> int:
        """The largest value a yen or count field takes."""
        return _MAX_AMOUNT if self.max_value is None else self.max_value


# -- payload validation --------------------------------------------------------------------------

#: The years a month field (YYYY-MM) may name.
_MONTH_YEARS = (1900, 2099)


def _is_month(value: str) -> bool:
    """YYYY-MM in ASCII digits, a year of ``_MONTH_YEARS`` and a month 01-12."""
    year, month = value[:4], value[5:]
    return (len(value) == 7 and value[4] == "-" and (year + month).isascii() and (year + month).isdigit()
            and _MONTH_YEARS[0] <= int(year) <= _MONTH_YEARS[1] and 1 <= int(month) <= 12)


#: Characters no name or text field may hold (issue 14, item 9): C0 controls (NUL included) and DEL,
#: C1 controls, surrogates (a lone one is no character at all and cannot be encoded), and the bidi
#: embeddings, overrides and isolates U+202A–U+202E, U+2066–U+2069 that make text display in another
#: order than it is stored (the "Trojan Source" trick, CVE-2021-42574). The compiled twin
#: (``is_text`` in ``ledger/_hotpath.c``) refuses the same set.
FORBIDDEN_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def forbidden_character(text: str) -> tuple[int, str] | None:
    """The first forbidden character of ``text`` as (1-based position, ``U+XXXX``), or None."""
    m = FORBIDDEN_TEXT.search(text)
    return None if m is None else (m.start() + 1, f"U+{ord(m.group()):04X}")


def check_text(value: str, path: str, where: str = "") -> str:
    """``value`` if it holds no forbidden character, else the ValidationError naming ``path``
    (what it got is the character's code point and position, never the text)."""
    bad = forbidden_character(value)
    if bad is not None:
        position, char = bad
        raise ValidationError(f"{where}{path} has the control or bidi character {char} at position {position}: "
                              "text fields take printable text only", field=path,
                              expected="printable text (no control, surrogate or bidi override characters)",
                              got=f"{char} at position {position}", code="invalid_character")
    return value


def _check(rule: FieldRule, value: Any, path: str, where: str) -> Any:
    """Return the normalized value, or raise a ValidationError that names ``path``."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if rule.required:
            raise ValidationError(f"{where}{rule.name} is required but was empty", field=path, expected="a value", got=value,
                                  code="required")
        return list(rule.default) if isinstance(rule.default, tuple) else rule.default  # a list's default: a new list
    kind = rule.kind
    if kind == "text":
        if not isinstance(value, str):
            raise ValidationError(f"{where}{rule.name} must be text, got {type(value).__name__}", field=path, expected="text",
                                  got=type(value).__name__, code="invalid_type")
        value = value.strip()
        if len(value) > rule.max_length:
            raise ValidationError(
                f"{where}{rule.name} is {len(value)} characters long; at most {rule.max_length} are allowed",
                field=path, expected=f"at most {rule.max_length} characters", got=f"{len(value)} characters", code="too_long",
            )
        return check_text(value, path, where)
    if kind in ("yen", "count"):
        unit = "an amount in whole yen" if kind == "yen" else "a whole number"
        # JSON has numbers: "5000000" (or 5e6, or 5000000.0) is not one, and guessing would hide a
        # sender's bug. Text cells (CSV) are turned into numbers by their reader (``ledger.domain.text_cells``).
        if isinstance(value, bool) or not isinstance(value, int):
            got = value if isinstance(value, (str, float, int)) else type(value).__name__
            raise ValidationError(f"{where}{rule.name} must be {unit} (a JSON integer), got {type(value).__name__}",
                                  field=path, expected=f"{unit}: an integer, not text or a fraction", got=got,
                                  code="invalid_amount")
        if value < 0:
            raise ValidationError(f"{where}{rule.name} must not be negative, got {value}", field=path, expected=f"{unit} ≥ 0", got=value,
                                  code="negative_amount")
        if value > rule.ceiling:
            raise ValidationError(f"{where}{rule.name} is larger than the form takes: {value:,}", field=path,
                                  expected=f"at most {rule.ceiling:,}", got=value if value < 10**20 else f"{len(str(value))} digits",
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
    return _check_v2(rule, value, path, where)


def _check_v2(rule: FieldRule, value: Any, path: str, where: str) -> Any:
    """The kinds the v2 forms add (dates, flags, choices, nested records and lists)."""
    kind = rule.kind
    # What a person's fields hold is personal data (a birth date, a name typed into the wrong box):
    # an error there describes what came, never echoes it.
    got = _described(value) if ".person." in f".{path}." else shown_value(value)
    if kind == "date":
        if not isinstance(value, str) or iso_date(value) is None:
            raise ValidationError(f"{where}{rule.name} must be a date YYYY-MM-DD, got {got}", field=path,
                                  expected="a date YYYY-MM-DD (西暦)", got=got, code="invalid_date")
        return value
    if kind == "flag":
        if not isinstance(value, bool):
            raise ValidationError(f"{where}{rule.name} must be true or false, got {type(value).__name__}", field=path,
                                  expected="true or false", got=got, code="invalid_flag")
        return value
    if kind == "choice":
        if not isinstance(value, str) or value not in rule.choices:
            raise ValidationError(f"{where}{rule.name} must be one of {', '.join(rule.choices)}, got {got}", field=path,
                                  expected="one of " + ", ".join(rule.choices), got=got, code="invalid_choice")
        return value
    if kind in ("choices", "yens", "records"):
        if not isinstance(value, list):
            raise ValidationError(f"{where}{rule.name} must be a list, got {type(value).__name__}", field=path, expected="a list",
                                  got=type(value).__name__, code="invalid_type")
        if len(value) > rule.max_items:
            raise ValidationError(f"{where}{rule.name} has {len(value)} items; at most {rule.max_items} are allowed", field=path,
                                  expected=f"at most {rule.max_items} items", got=f"{len(value)} items", code="too_many_items")
        item = FieldRule(rule.name, {"choices": "choice", "yens": "yen", "records": "record"}[kind], max_value=rule.max_value,
                         choices=rule.choices, fields=rule.fields)
        errors: list[ValidationError] = []
        out = [_collecting(errors, lambda e=element, n=number: _check(item, e, f"{path}[{n}]", where))
               for number, element in enumerate(value, start=1)]
        if errors:
            raise ValidationErrors(errors[:MAX_ERRORS])
        return out
    if kind == "record":
        if rule.max_items == 0:  # a part of the person another form has (the spouse on a 算定基礎届)
            raise ValidationError(f"{where}{rule.name} is not on this form: leave it out", field=path,
                                  expected="nothing (not on this form)", got=_described(value), code="not_on_form")
        return check_record(rule.fields, value, path, where)
    raise AssertionError(f"unknown field kind {kind}")  # a bug in a rule table, not bad input


def _described(value: Any) -> str:
    """A value by its type and size only."""
    return f"{type(value).__name__} of {len(value)}" if isinstance(value, (str, list, dict)) else type(value).__name__


def shown_value(value: Any) -> Any:
    """What an error says came: a short scalar as it is, anything else by its type (never a
    long text, which could be a name or an address)."""
    if isinstance(value, (bool, int)) or (isinstance(value, str) and len(value) <= 20):
        return value
    return _described(value)


def iso_date(value: str) -> date | None:
    """``value`` as a date if it is one written ``YYYY-MM-DD`` in ASCII digits (no other spelling), else None."""
    if len(value) != 10 or value[4] != "-" or value[7] != "-" or not value.replace("-", "").isascii():
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def check_record(rules: tuple[FieldRule, ...], value: Any, path: str, where: str) -> dict[str, Any]:
    """An object of ``rules``' fields, normalized, or every problem of it (unknown fields named)."""
    if not isinstance(value, dict):
        raise ValidationError(f"{where}{path.rpartition('.')[2]} must be an object, got {type(value).__name__}", field=path,
                              expected="an object", got=type(value).__name__, code="invalid_type")
    errors: list[ValidationError] = [_unknown_field(str(k), f"{path}.{k}", [r.name for r in rules], where)
                                     for k in sorted(set(value) - {r.name for r in rules}, key=str)]
    out = {r.name: _collecting(errors, lambda r=r: _check(r, value.get(r.name), f"{path}.{r.name}", where)) for r in rules}
    if errors:
        raise ValidationErrors(errors[:MAX_ERRORS])
    return out


def _collecting(errors: list[ValidationError], check: Callable[..., Any]) -> Any:
    """``check()``, or None with its error(s) added to ``errors``: every problem is named, not the first."""
    try:
        return check()
    except ValidationErrors as many:
        errors.extend(many.errors)
    except ValidationError as one:
        errors.append(one)
    return None


def _clean_lines(rules: tuple[FieldRule, ...], lines: list[Any]) -> list[dict[str, Any] | None]:
    """Each line's normalized form if every field is already clean, else None (then the careful
    path runs and names the problem).

    A line is clean when it is a dict of known fields and ``_check`` returns each of its values
    unchanged and of its kind's own type (an object's and a list of objects' own fields likewise,
    :func:`_clean_value`); a missing or None optional value takes its default.
    This is the specification; the compiled ``clean_lines`` (``ledger/_hotpath.c``) is its
    twin, and a property test holds the two to the same answers.
    """
    by_name, defaults, lists, required = _shape(rules)
    out: list[dict[str, Any] | None] = []
    for line in lines:
        clean: dict[str, Any] | None = None
        if type(line) is dict and line.keys() <= by_name.keys() and all(line.get(name) is not None for name in required):
            clean = dict(defaults)  # every field in the rules' order, at its default …
            for name in lists:
                clean[name] = []  # (a list default is a new list for each line)
            for name, value in line.items():  # … then each value given, if clean
                if value is None:
                    continue
                kept = _clean_value(by_name[name], value)
                if kept is _UNCLEAN:
                    clean = None
                    break
                clean[name] = kept
        out.append(clean)
    return out


_UNCLEAN: Any = object()
_SHAPES: dict[int, tuple[tuple[FieldRule, ...], Any]] = {}


def _shape(rules: tuple[FieldRule, ...]) -> tuple[dict[str, FieldRule], dict[str, Any], tuple[str, ...], tuple[str, ...]]:
    """``rules`` by name, their defaults, the fields whose default is a list, the required fields
    (made once per rule table: a v2 line has some seventy fields, most of them left out)."""
    known = _SHAPES.get(id(rules))
    if known is None or known[0] is not rules:
        shape = ({r.name: r for r in rules}, {r.name: None if isinstance(r.default, tuple) else r.default for r in rules},
                 tuple(r.name for r in rules if isinstance(r.default, tuple)), tuple(r.name for r in rules if r.required))
        known = _SHAPES[id(rules)] = (rules, shape)
    return known[1]  # type: ignore[no-any-return]


def _clean_value(rule: FieldRule, value: Any) -> Any:
    """``value`` as the careful path returns it, if it is clean, else ``_UNCLEAN``. An object (a v2
    person) is clean when its own fields are — it comes back with every field, defaults filled, as
    ``check_record`` returns it; a list of objects when each is."""
    if rule.kind == "record":
        if type(value) is not dict or rule.max_items == 0:  # max_items 0: not on this form (not_on_form)
            return _UNCLEAN
        inner = _clean_lines(rule.fields, [value])[0]
        return _UNCLEAN if inner is None else inner
    if rule.kind == "records":
        if type(value) is not list or len(value) > rule.max_items:
            return _UNCLEAN
        items = _clean_lines(rule.fields, value)
        return _UNCLEAN if None in items else items
    return value if _unchanged(rule, value) else _UNCLEAN


def _unchanged(rule: FieldRule, value: Any) -> bool:
    """Whether ``_check`` would return ``value`` as it is, without raising — decided without
    building the errors the careful path would (a national January checks every value of tens of
    millions of lines); the property tests of ``tests/unit/test_payloads.py`` hold the two alike."""
    kind, t = rule.kind, type(value)
    if kind == "text":
        return (t is str and value != "" and len(value) <= rule.max_length and value.strip() == value
                and forbidden_character(value) is None)
    if kind in ("yen", "count"):
        return t is int and 0 <= value <= rule.ceiling
    if kind == "personal_number":
        return is_clean_personal_number(value)
    if kind == "municipality_code":
        return t is str and value in municipalities.receiving_codes()
    if kind == "month":
        return t is str and _is_month(value)
    if kind == "date":
        return t is str and iso_date(value) is not None
    if kind == "flag":
        return t is bool
    if kind == "choice":
        return t is str and value in rule.choices
    if kind == "choices":
        return t is list and len(value) <= rule.max_items and all(type(v) is str and v in rule.choices for v in value)
    if kind == "yens":
        return t is list and len(value) <= rule.max_items and all(type(v) is int and 0 <= v <= rule.ceiling for v in value)
    raise AssertionError(f"unknown field kind {kind}")  # a bug in a rule table (objects and lists of them: _clean_value)


def _compiled_rules(rules: tuple[FieldRule, ...]) -> tuple[tuple[Any, ...], ...]:
    """Field rules in the compiled checker's form: (name, check, required, default, low, high),
    the limits being the domain's (the C code holds none of its own); a municipality code's rule
    also carries the codes a line may name, from 総務省's list (``ledger.domain.municipalities``)."""
    def compiled(r: FieldRule) -> tuple[Any, ...]:
        if r.kind == "text":
            return (r.name, "text", r.required, r.default, 1, r.max_length)
        if r.kind in ("yen", "count"):
            return (r.name, "whole_number", r.required, r.default, 0, r.ceiling)
        if r.kind == "month":
            return (r.name, "month", r.required, r.default, *_MONTH_YEARS)
        if r.kind == "municipality_code":
            return (r.name, r.kind, r.required, r.default, 0, 0, municipalities.receiving_codes())
        return (r.name, r.kind, r.required, r.default, 0, 0)  # the check digit: no limits to pass

    return tuple(compiled(r) for r in rules)


#: The v1 line fields whose items a v2 line keeps in its sealed ``person`` (an old client's line is
#: refused naming where each item now goes: v1 lines lack items the law requires, such as 生年月日).
V1_PERSON_ITEMS = {"employee_name": "person.name", "employee_kana": "person.kana", "personal_number": "person.personal_number",
                   "address": "person.address"}


def _unknown_field(name: str, path: str, known: list[str], where: str) -> ValidationError:
    if name in V1_PERSON_ITEMS and "person" in known:
        moved = V1_PERSON_ITEMS[name]
        return ValidationError(f"{where}{name} is a field of the v1 forms: since v2 the line's person (name, フリガナ, 生年月日, "
                               f"address, 個人番号) is one sealed object — send it as {moved}", field=path, expected=moved, got=name,
                               code="v1_field")
    return ValidationError(f"{where}unknown field {name!r}: a misspelt field is refused, not dropped", field=path,
                           expected="one of " + ", ".join(known), got=name, code="unknown_field")
