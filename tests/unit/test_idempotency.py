"""Keyed request fingerprints (issue 14, item 2): deterministic per key, unlike under another key,
never an unkeyed hash of the request, and old unkeyed fingerprints still compare (no I/O)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.identifiers import make_personal_number
from ledger.domain.model import SubmissionRequest
from ledger.service.idempotency import (
    KEYED_V1,
    canonical_request,
    fingerprint_key,
    keyed_fingerprint,
    legacy_fingerprint,
    same_request,
)

pytestmark = pytest.mark.unit

numbers = st.integers(min_value=0, max_value=10**11 - 1).map(lambda n: make_personal_number(f"{n:011d}"))
keys = st.binary(min_size=32, max_size=32)


def request(number: str, corp: str = "7000012050002") -> SubmissionRequest:
    return SubmissionRequest(corporate_number=corp, procedure="WITHHOLDING_SLIP", period="2026", idempotency_key="k",
                             payload={"payer": {"name": "株式会社記録"}, "lines": [{"personal_number": number, "amount": 1}]})


@settings(max_examples=200, deadline=None)
@given(keys, numbers, numbers)
def test_a_fingerprint_is_the_same_for_the_same_request_and_differs_for_another_number(data_key, a, b) -> None:
    k = fingerprint_key(data_key)
    fa = keyed_fingerprint(k, request(a))
    assert fa.startswith(KEYED_V1) and fa == keyed_fingerprint(fingerprint_key(data_key), request(a))
    assert same_request(fa, keyed_fingerprint(k, request(a)), request(a))
    if a != b:
        assert fa != keyed_fingerprint(k, request(b))
        assert not same_request(fa, keyed_fingerprint(k, request(b)), request(b))


@settings(max_examples=200, deadline=None)
@given(keys, keys, numbers)
def test_without_the_key_the_fingerprint_is_no_hash_anyone_can_recompute(k1, k2, number) -> None:
    req = request(number)
    fp = keyed_fingerprint(fingerprint_key(k1), req)[len(KEYED_V1):]
    assert fp not in {legacy_fingerprint(req), hashlib.sha256(canonical_request(req)).hexdigest()}
    assert fp != hashlib.sha256(k1 + canonical_request(req)).hexdigest()
    if k1 != k2:
        assert keyed_fingerprint(fingerprint_key(k2), req) != KEYED_V1 + fp


@settings(max_examples=100, deadline=None)
@given(numbers, numbers)
def test_an_old_unkeyed_fingerprint_compares_as_it_was_made(a, b) -> None:
    stored = legacy_fingerprint(request(a))
    assert len(stored) == 64 and not stored.startswith(KEYED_V1)
    assert same_request(stored, "h1:unused", request(a))
    assert same_request(stored, "h1:unused", request(b)) is (a == b)


def test_the_derived_key_is_hkdf_expand_of_the_data_key_with_its_label() -> None:
    """RFC 5869 §2.3 with L = 32: T(1) = HMAC-Hash(PRK, info | 0x01)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

    data_key = bytes(range(32))
    want = HKDFExpand(hashes.SHA256(), 32, b"kiroku/request-fingerprint/v1").derive(data_key)
    assert fingerprint_key(data_key) == want
