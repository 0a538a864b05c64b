"""What errors may repeat (issue 14, item 7): never a personal number, in any spelling; short,
harmless values and corporate numbers in their own field still show."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.identifiers import PERSONAL_NUMBER_WITHHELD, make_personal_number
from ledger.encoding.echo import MAX_SHOWN, redact, shown

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@st.composite
def spelled_personal_numbers(draw: st.DrawFn) -> tuple[str, str]:
    number = make_personal_number(draw(st.text("0123456789", min_size=11, max_size=11)))
    text = number
    if draw(st.booleans()):
        text = f"{number[:4]}{draw(st.sampled_from('- 　－'))}{number[4:8]}-{number[8:]}"
    if draw(st.booleans()):
        text = text.translate(FULL_WIDTH)
    return number, text


def _holds(text: object, number: str) -> bool:
    flat = unicodedata.normalize("NFKC", str(text))
    return number in "".join(c for c in flat if c.isdigit())


@given(spelled_personal_numbers(), st.sampled_from([None, "period", "lines[1].municipality_code", "idempotency_key"]))
def test_a_personal_number_is_never_shown_whatever_the_field(pn, field):
    number, text = pn
    assert shown(text, field) == PERSONAL_NUMBER_WITHHELD
    if number[0] != "0":  # as an int, leading zeros (and so the number) are lost anyway
        assert shown(int(number), field) == PERSONAL_NUMBER_WITHHELD


@given(spelled_personal_numbers(), st.sampled_from(["emp-", "emp_", "ID ", "社員番号:", "x."]), st.sampled_from(["", "-a", " 様"]))
def test_a_personal_number_behind_a_prefix_is_never_shown(pn, prefix, suffix):
    number, text = pn
    assert shown(f"{prefix}{text}{suffix}", "idempotency_key") == PERSONAL_NUMBER_WITHHELD


@given(spelled_personal_numbers(), st.text(alphabet="漢字 かな:,()'\"", max_size=20))
def test_a_message_quoting_a_personal_number_is_redacted(pn, around):
    number, text = pn
    assert not _holds(redact(f"{around}got {text!r}{around}"), number)


def test_short_values_corporate_numbers_and_digests_still_show():
    assert shown("many", "lines[1].payment_amount") == "many"
    assert shown(-1, "lines[1].payment_amount") == -1
    assert shown("7000012050002", "corporate_number") == "7000012050002"
    assert redact("7000012050002 is not enrolled") == "7000012050002 is not enrolled"
    digest = "ab123456789012cd" * 4
    assert redact(f"expected {digest}") == f"expected {digest}"


def test_long_or_structured_values_are_described_not_shown():
    assert shown("x" * (MAX_SHOWN + 1)) == f"{MAX_SHOWN + 1} characters (not shown)"
    assert shown(["a"]) == "a list of 1 item(s) (not shown)"
    assert shown({"a": 1}) == "an object with 1 key(s) (not shown)"
    assert shown("anything", "lines[2].personal_number") == PERSONAL_NUMBER_WITHHELD


@given(st.sampled_from(["lines[3].person.name", "/payload/lines/0/person/birth_date", "person.spouse.name",
                                   "lines[1].person.dependants[2].name"]))
def test_nothing_of_a_v2_person_is_shown_however_short(field):
    """A v2 line's person (name, 生年月日, address) is sealed as personal data: an error describes what
    came in that place, never repeats it."""
    assert shown("山田 太郎", field) == "5 characters (not shown)"
    assert shown("1985-07-14", field) == "10 characters (not shown)"
    assert shown(1985, field) == "a int (not shown)"


def test_a_field_merely_named_like_person_still_shows():
    assert shown("E0001", "lines[1].employee_number") == "E0001"
    assert shown("3", "persons") == "3"
