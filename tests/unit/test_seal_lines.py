"""The compiled sealing loop lays out nonces, ciphertexts and associated data as specified."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger._hotpath import seal_lines

pytestmark = pytest.mark.unit

KEY = AESGCM(b"k" * 32)
fields = st.lists(st.sampled_from(["personal_number", "spouse_number", "番号"]), min_size=1, max_size=3, unique=True)
lines = st.lists(st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2), min_size=1, max_size=30)


@settings(max_examples=100, deadline=None)
@given(lines, fields, st.binary(min_size=8, max_size=8), st.text(min_size=1, max_size=30), st.data())
def test_each_field_is_sealed_under_its_own_nonce_and_place(plain: list[dict], names: list[str], prefix: bytes,
                                                            submission_id: str, data: st.DataObject) -> None:
    for line in plain:
        for name in names:
            line[name] = data.draw(st.text(max_size=14))
    sealed = seal_lines(plain, tuple(names), KEY.encrypt, prefix, submission_id.encode())
    counter = 0
    for number, (before, after) in enumerate(zip(plain, sealed, strict=True), start=1):
        assert {k: v for k, v in after.items() if k not in names} == {k: v for k, v in before.items() if k not in names}
        for name in names:
            counter += 1
            blob = after[name]
            # nonce(12) = the submission's 8 random bytes ‖ a 4-byte big-endian counter from 1
            assert blob[:12] == prefix + counter.to_bytes(4, "big")
            aad = f"{submission_id}/lines[{number}].{name}".encode()
            assert KEY.decrypt(blob[:12], blob[12:], aad) == before[name].encode()
    assert all(isinstance(line[name], str) for line in plain for name in names)  # the input is left as it was


def test_a_line_without_its_sensitive_field_or_with_no_text_there_is_refused() -> None:
    with pytest.raises(KeyError, match="line 2 has no 'personal_number'"):
        seal_lines([{"personal_number": "1"}, {}], ("personal_number",), KEY.encrypt, b"12345678", b"sub")
    with pytest.raises(TypeError, match="line 1: 'personal_number' is a int, not text"):
        seal_lines([{"personal_number": 1}], ("personal_number",), KEY.encrypt, b"12345678", b"sub")
    with pytest.raises(ValueError, match="the nonce prefix is 8 bytes"):
        seal_lines([], ("personal_number",), KEY.encrypt, b"1234", b"sub")


def test_an_error_raised_by_encrypt_reaches_the_caller() -> None:
    def broken(nonce: bytes, data: bytes, aad: bytes) -> bytes:
        raise RuntimeError("the key service is gone")

    with pytest.raises(RuntimeError, match="the key service is gone"):
        seal_lines([{"personal_number": "1"}], ("personal_number",), broken, b"12345678", b"sub")
