"""Field sealing of personal numbers with the real local keyring."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.adapters.local_keyring import LocalKeyring
from ledger.domain.procedures import PROCEDURES, validate_payload
from ledger.encoding.codec import SchemaRegistry
from ledger.errors import IntegrityError
from ledger.service.sealing import ERASED, MASK, Sealer
from tests.factories import payroll, payroll_line, personal, run_in_threads

pytestmark = pytest.mark.integration
PAYROLL = PROCEDURES["PAYROLL_REPORT"]
REGISTRY = SchemaRegistry.load()  # a v2 Sealer encodes each person before sealing it


def _keys() -> LocalKeyring:
    return LocalKeyring(Path(tempfile.mkdtemp()) / "keyring")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=20, unique=True))  # one number per person
def test_sealed_personal_numbers_open_only_with_their_key_and_place(seeds: list[int]) -> None:
    keys = _keys()
    sealer = Sealer(keys, REGISTRY)
    payload = validate_payload(PAYROLL, payroll([payroll_line(i, personal_number=personal(s)) for i, s in enumerate(seeds)]))
    stored, key_id = sealer.seal(PAYROLL, payload, "scope", "sub_1")
    # v2: the whole person is sealed as one blob, nothing of it (number or name) stays in the clear.
    assert all(isinstance(ln["person"], bytes) and personal(s).encode() not in ln["person"]
               and "山田".encode() not in ln["person"] and ln["personal_number"] == b"" and ln["employee_name"] == ""
               for ln, s in zip(stored["lines"], seeds))
    shown, status = sealer.unseal(PAYROLL, stored, key_id, "sub_1", reveal=True)
    assert status == "shown" and [ln["person"]["personal_number"] for ln in shown["lines"]] == [personal(s) for s in seeds]
    assert shown == payload
    masked, status = sealer.unseal(PAYROLL, stored, key_id, "sub_1", reveal=False)
    assert status == "masked" and {ln["person"]["personal_number"] for ln in masked["lines"]} == {MASK}
    with pytest.raises(IntegrityError) as err:
        sealer.unseal(PAYROLL, stored, key_id, "sub_2", reveal=True)  # moved to another submission
    assert err.value.code == "sealed_field"


def test_a_destroyed_key_shows_the_erased_marker() -> None:
    keys = _keys()
    sealer = Sealer(keys, REGISTRY)
    stored, key_id = sealer.seal(PAYROLL, validate_payload(PAYROLL, payroll()), "scope", "sub_1")
    sealer.persist({key_id})  # what recording does before it appends
    keys.destroy(key_id)
    sealer = Sealer(_reopen(keys), REGISTRY)
    out, status = sealer.unseal(PAYROLL, stored, key_id, "sub_1", reveal=True)
    assert status == "erased" and out["lines"][0]["person"]["name"] == ERASED
    assert out["lines"][0]["person"]["personal_number"] is None  # the whole person is gone with its key


def _reopen(keys: LocalKeyring) -> LocalKeyring:
    return LocalKeyring(keys.root)


def test_a_key_reserved_for_a_rejected_submission_is_never_stored() -> None:
    keys = _keys()
    sealer = Sealer(keys, REGISTRY)
    _, key_id = sealer.seal(PAYROLL, validate_payload(PAYROLL, payroll()), "7000012050002|PAYROLL_REPORT|2026", "sub_1")
    assert _reopen(keys).scopes() == []  # not persisted: the batch never appended it
    sealer.persist({key_id})
    assert _reopen(keys).scopes() == [(key_id, "7000012050002|PAYROLL_REPORT|2026", False)]


def test_threads_sealing_and_unsealing_under_many_scopes_share_one_sealer() -> None:
    keys = _keys()
    sealer = Sealer(keys, REGISTRY)
    payload = validate_payload(PAYROLL, payroll([payroll_line(1, personal_number=personal(7))]))

    def work(offset: int) -> None:
        for i in range(50):
            scope, sid = f"7000012050002|PAYROLL_REPORT|{2000 + (i + offset) % 8}", f"sub_{offset}_{i}"
            stored, key_id = sealer.seal(PAYROLL, payload, scope, sid)
            shown, status = sealer.unseal(PAYROLL, stored, key_id, sid, reveal=True)
            assert status == "shown" and shown["lines"][0]["person"]["personal_number"] == personal(7)

    assert run_in_threads(work) == []
