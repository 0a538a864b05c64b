"""The payload property layer end to end (issue 14, item 9): generated payloads recorded through the
service come back from a snapshot exactly as they went in; mutated ones are refused naming the field,
and nothing of them is recorded (bounded examples, so that it runs in CI with the rest)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.domain.model import Principal
from ledger.domain.procedures import FILING_CODES, PROCEDURES
from ledger.errors import ValidationError, ValidationErrors
from tests.factories import corp
from tests.integration.helpers import company, log_ends
from tests.payload_strategies import mutated, normalized, payloads

pytestmark = pytest.mark.integration

#: A period of each filing procedure that may be recorded today.
PERIODS = {"PAYROLL_REPORT": "2026", "WITHHOLDING_SLIP": "2026", "STANDARD_REMUNERATION": "2026",
           "BONUS_PAYMENT": "2026-06-25", "WAGE_LEDGER": "2026-05", "BONUS_NON_PAYMENT": "2026-06"}
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_companies = itertools.count(500)


def test_every_filing_procedure_has_a_period_here() -> None:
    assert sorted(PERIODS) == sorted(FILING_CODES)


@FUZZ
@given(st.sampled_from(sorted(PERIODS)).flatmap(lambda code: st.tuples(st.just(code), payloads(code, period=PERIODS[code]))))
def test_a_generated_valid_payload_is_recorded_and_read_back_as_it_went_in(kiroku, case) -> None:
    code, payload = case
    number = corp(next(_companies))  # a company of its own: every example is an original filing
    receipt = company(kiroku, number).record(number, code, PERIODS[code], payload)
    snapshot = kiroku.queries.snapshot(Principal.company(number), receipt.submission_id)
    assert snapshot.personal_numbers == "shown" or not PROCEDURES[code].sensitive_fields
    assert snapshot.payload == normalized(PROCEDURES[code], payload)


@FUZZ
@given(st.sampled_from(sorted(PERIODS)).flatmap(lambda code: st.tuples(st.just(code), mutated(code, period=PERIODS[code]))))
def test_a_mutated_payload_is_refused_naming_its_field_and_nothing_is_recorded(kiroku, case) -> None:
    code, (payload, what, path) = case
    number = corp(next(_companies))
    before = log_ends(kiroku)
    with pytest.raises(ValidationError) as err:
        company(kiroku, number).record(number, code, PERIODS[code], payload)
    errors = err.value.errors if isinstance(err.value, ValidationErrors) else [err.value]
    assert path in [e.field for e in errors], (what, [(e.field, e.code) for e in errors])
    assert log_ends(kiroku) == before  # not a byte appended
    assert kiroku.queries.filings(Principal.company(number)) == []
