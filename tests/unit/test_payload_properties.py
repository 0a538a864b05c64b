"""Property tests over payloads (issue 14, the property layer of item 9): every valid payload of every
procedure and disposition is taken and returned as it came; every mutation of one is refused with
the field at fault named, and nothing but a ValidationError ever comes out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.procedures import PROCEDURES, V1, validate_payload
from ledger.errors import ValidationError, ValidationErrors
from tests.payload_strategies import mutated, normalized, payloads

pytestmark = pytest.mark.unit

#: The forms Kiroku writes (v2) and those it wrote before (v1, still what an upgrade's old release checks).
FORMS = {"v2": PROCEDURES, "v1": V1}
CASES = st.sampled_from([(version, code) for version, forms in FORMS.items() for code in sorted(forms)])


@settings(max_examples=300, deadline=None)
@given(CASES.flatmap(lambda c: st.tuples(st.just(c), payloads(c[1], FORMS[c[0]]))))
def test_every_valid_payload_is_taken_and_returned_as_it_came(case) -> None:
    (version, code), payload = case
    proc = FORMS[version][code]
    assert validate_payload(proc, payload) == normalized(proc, payload)


@settings(max_examples=600, deadline=None)
@given(CASES.flatmap(lambda c: st.tuples(st.just(c), mutated(c[1], FORMS[c[0]]))))
def test_every_mutated_payload_is_refused_naming_the_field_at_fault(case) -> None:
    (version, code), (payload, what, path) = case
    with pytest.raises(ValidationError) as err:  # and nothing else: no TypeError, no KeyError, no crash
        validate_payload(FORMS[version][code], payload)
    errors = err.value.errors if isinstance(err.value, ValidationErrors) else [err.value]
    assert path in [e.field for e in errors], (what, [(e.field, e.code) for e in errors])
    for e in errors:
        assert e.field and e.code and e.code != "invalid", (what, e.field, e.code)
        assert e.expected is not None, (what, e.field)
