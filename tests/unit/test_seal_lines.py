"""The sealing loop lays out nonces, ciphertexts and associated data as specified: the Python
``seal_lines`` (the specification, which ``Sealer.unseal`` reads) and, where it is built, its
compiled twin, which writes the very same bytes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import accelerator
from ledger.domain.procedures import V1
from ledger.ports import DataKey
from ledger.service import sealing

pytestmark = pytest.mark.unit

KEY = AESGCM(b"k" * 32)
fields = st.lists(st.sampled_from(["personal_number", "spouse_number", "番号"]), min_size=1, max_size=3, unique=True)
lines = st.lists(st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2), min_size=1, max_size=30)

#: Every implementation there is here: the Python twin always, the compiled one where built.
IMPLEMENTATIONS = [pytest.param(sealing.seal_lines, id="python")] + (
    [pytest.param(accelerator.seal_lines, id="compiled")] if accelerator.seal_lines is not None else [])
SealLines = Callable[..., list[dict[str, Any]]]


@pytest.mark.parametrize("seal_lines", IMPLEMENTATIONS)
@settings(max_examples=100, deadline=None)
@given(lines, fields, st.binary(min_size=8, max_size=8), st.text(min_size=1, max_size=30), st.data())
def test_each_field_is_sealed_under_its_own_nonce_and_place(seal_lines: SealLines, plain: list[dict], names: list[str],
                                                            prefix: bytes, submission_id: str, data: st.DataObject) -> None:
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


@pytest.mark.skipif(accelerator.seal_lines is None, reason=f"the accelerator is {accelerator.describe()}")
@settings(max_examples=100, deadline=None)
@given(lines, fields, st.binary(min_size=8, max_size=8), st.text(min_size=1, max_size=30), st.data())
def test_the_compiled_twin_writes_the_same_bytes_as_the_specification(plain: list[dict], names: list[str], prefix: bytes,
                                                                      submission_id: str, data: st.DataObject) -> None:
    assert accelerator.seal_lines is not None
    for line in plain:
        for name in names:
            line[name] = data.draw(st.text(max_size=14))
    args = (plain, tuple(names), KEY.encrypt, prefix, submission_id.encode())
    assert accelerator.seal_lines(*args) == sealing.seal_lines(*args)


def test_what_is_sealed_is_unsealed_by_the_sealer() -> None:
    """The layout ``seal_lines`` writes is the one ``Sealer.unseal`` reads back.

    ``seal_lines`` is the v1 layout (each personal number sealed alone), so the v1 form is used
    explicitly: the v2 forms seal the whole person (tests/unit/test_forms_v2.py)."""
    class Keys:  # the two calls of a KeyService the sealer makes here, without I/O
        def data_key(self, scope: str) -> DataKey:
            return DataKey("k1", b"k" * 32)

        def key_by_id(self, key_id: str) -> bytes:
            return b"k" * 32

    proc = V1["PAYROLL_REPORT"]
    assert proc.version == 1
    sealer = sealing.Sealer(Keys())  # type: ignore[arg-type]
    payload = {"lines": [{"personal_number": "123456789018"}, {"personal_number": "123456789026"}]}
    stored, key_id = sealer.seal(proc, payload, "scope", "sub-1")
    assert all(isinstance(line["personal_number"], bytes) for line in stored["lines"])
    assert sealer.unseal(proc, stored, key_id, "sub-1", reveal=True) == (payload, "shown")


@pytest.mark.parametrize("seal_lines", IMPLEMENTATIONS)
def test_a_line_without_its_sensitive_field_or_with_no_text_there_is_refused(seal_lines: SealLines) -> None:
    with pytest.raises(KeyError, match="line 2 has no 'personal_number'"):
        seal_lines([{"personal_number": "1"}, {}], ("personal_number",), KEY.encrypt, b"12345678", b"sub")
    with pytest.raises(TypeError, match="^line 1: 'personal_number' is a int, not text$"):
        seal_lines([{"personal_number": 1}], ("personal_number",), KEY.encrypt, b"12345678", b"sub")
    with pytest.raises(TypeError, match="^line 1 is a list, not a dict$"):
        seal_lines([["personal_number"]], ("personal_number",), KEY.encrypt, b"12345678", b"sub")
    with pytest.raises(ValueError, match="the nonce prefix is 8 bytes"):
        seal_lines([], ("personal_number",), KEY.encrypt, b"1234", b"sub")


@pytest.mark.parametrize("seal_lines", IMPLEMENTATIONS)
def test_an_error_raised_by_encrypt_reaches_the_caller(seal_lines: SealLines) -> None:
    def broken(nonce: bytes, data: bytes, aad: bytes) -> bytes:
        raise RuntimeError("the key service is gone")

    with pytest.raises(RuntimeError, match="the key service is gone"):
        seal_lines([{"personal_number": "1"}], ("personal_number",), broken, b"12345678", b"sub")


def test_the_sealer_uses_the_compiled_twin_where_it_is_built() -> None:
    assert sealing._seal_lines is (accelerator.seal_lines or sealing.seal_lines)
