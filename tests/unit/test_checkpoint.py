"""C2SP tlog-checkpoint bodies, C2SP signed notes with Ed25519, signer keys and verifier keys.

Interop vectors: the C2SP signed-note spec example (example.com/foo) and the key pair, notes
and signatures of golang.org/x/mod/sumdb/note's note_test.go (PeterNeumann, EnochRoot).
Ed25519 is deterministic (RFC 8032), so signing the Go text must reproduce Go's note exactly.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import ConfigurationError, IntegrityError, ValidationError
from ledger.transparency.checkpoint import Checkpoint, open_checkpoint, open_note, parse_checkpoint, sign_note
from ledger.transparency.signer import LocalSigner, Verifier, key_id

pytestmark = pytest.mark.unit

EM = "\u2014"

# c2sp.org/signed-note, "Example"
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    f"{EM} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)
# golang.org/x/mod/sumdb/note note_test.go
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = f"{EM} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_SIG = f"{EM} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
# c2sp.org/tlog-checkpoint, "Example" (its public key is not published)
SPEC_CHECKPOINT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_CHECKPOINT_SIG = (
    f"{EM} example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)


def go_signer() -> LocalSigner:
    """The PeterNeumann key, decoded from Go's PRIVATE+KEY+<name>+<id>+<base64(0x01 ‖ seed)>."""
    raw = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert raw[0] == 1
    return LocalSigner(Ed25519PrivateKey.from_private_bytes(raw[1:]), "PeterNeumann")


def signer(name: str = "kiroku.example/log0", seed: int = 1) -> LocalSigner:
    return LocalSigner(Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32), name)


def expect(code: str, fn: object, *args: object) -> IntegrityError:
    with pytest.raises(IntegrityError) as e:
        fn(*args)  # type: ignore[operator]
    assert e.value.code == code, e.value.message
    return e.value


# --- key IDs and verifier keys --------------------------------------------------------------

def test_key_id_is_sha256_of_name_newline_type_and_public_key() -> None:
    s = signer()
    independent = hashlib.sha256(b"kiroku.example/log0" + b"\x0a" + b"\x01" + s.public_key_bytes).digest()[:4]
    assert s.key_id == independent == key_id("kiroku.example/log0", s.public_key_bytes)
    assert s.verifier_key() == (
        f"kiroku.example/log0+{independent.hex()}+"
        + base64.b64encode(b"\x01" + s.public_key_bytes).decode()
    )


@pytest.mark.parametrize("vkey", [SPEC_VKEY, PETER_VKEY, ENOCH_VKEY])
def test_published_verifier_keys_parse_and_round_trip(vkey: str) -> None:
    v = Verifier.parse(vkey)
    name, hex_id, _ = vkey.split("+", 2)
    assert (v.key_name, v.key_id.hex()) == (name, hex_id)
    assert v.verifier_key() == vkey


def test_the_go_signing_key_yields_the_go_verifier_key() -> None:
    assert go_signer().verifier_key() == PETER_VKEY


def test_mangled_verifier_keys_are_rejected() -> None:
    # As Go's TestNewVerifier: every truncation and every single-byte increment fails.
    b = PETER_VKEY.encode()
    mangled = {b[i:j] for i in range(len(b)) for j in range(i + 1, len(b) + 1) if (i, j) != (0, len(b))}
    mangled |= {b[:i] + bytes([b[i] + 1]) + b[i + 1 :] for i in range(len(b))}
    for m in mangled:
        with pytest.raises(ValidationError) as e:
            Verifier.parse(m.decode("latin-1"))
        assert (e.value.code, e.value.field) == ("verifier_key", "verifier_key")


@pytest.mark.parametrize("name", ["", "has space", "a+b", "tab\there"])
def test_key_names_with_spaces_or_plus_are_refused(name: str) -> None:
    with pytest.raises(ValidationError) as e:
        signer(name)
    assert (e.value.code, e.value.field) == ("key_name", "key_name")


# --- signed notes: interop vectors ------------------------------------------------------------

def test_signing_the_go_text_reproduces_the_go_note_byte_for_byte() -> None:
    assert sign_note(GO_TEXT.encode(), go_signer()) == GO_TEXT + "\n" + PETER_SIG


def test_the_signed_note_spec_example_opens() -> None:
    body, v = open_note(SPEC_NOTE, [SPEC_VKEY])
    assert body == b"This is an example message.\n"
    assert v.key_name == "example.com/foo"


def test_the_go_note_with_two_signatures_opens_with_either_key() -> None:
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert open_note(note, [PETER_VKEY]) == (GO_TEXT.encode(), Verifier.parse(PETER_VKEY))
    assert open_note(note, [ENOCH_VKEY])[1] == Verifier.parse(ENOCH_VKEY)
    assert open_note(note.encode(), [ENOCH_VKEY, PETER_VKEY])[1] == Verifier.parse(PETER_VKEY)


@pytest.mark.parametrize("bad", [
    GO_TEXT,
    GO_TEXT + "\n",
    GO_TEXT + "\n" + PETER_SIG[:-1],
    "\x01" + GO_TEXT + "\n" + PETER_SIG,
    GO_TEXT + "\n" + f"{EM} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
    GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    GO_TEXT + "\n" + PETER_SIG.replace(EM, "-"),
    GO_TEXT + "\n" + PETER_SIG * 101,
])
def test_malformed_notes_are_rejected(bad: str) -> None:
    # The malformed-message table of Go's TestOpen, plus a hyphen for the em dash.
    expect("malformed_note", open_note, bad, [PETER_VKEY])


def test_invalid_utf8_is_a_malformed_note() -> None:
    expect("malformed_note", open_note, b"\xff" + GO_TEXT.encode() + b"\n" + PETER_SIG.encode(), [PETER_VKEY])


# --- signed notes: tampering and unknown keys -------------------------------------------------

def _checkpoint_note() -> tuple[str, LocalSigner]:
    s = signer()
    cp = Checkpoint("kiroku.example/log0", 1234, hashlib.sha256(b"root").digest())
    return sign_note(cp.body(), s), s


def _edit_blob(note: str, edit: int) -> str:
    """Flip one byte of the signature line's base64 blob (0-3: key ID, 4+: signature)."""
    head, _, b64 = note.rstrip("\n").rpartition(" ")
    blob = bytearray(base64.b64decode(b64))
    blob[edit] ^= 0x01
    return f"{head} {base64.b64encode(bytes(blob)).decode()}\n"


def test_a_flipped_signature_byte_is_rejected() -> None:
    note, s = _checkpoint_note()
    for i in (4, 30, 67):
        e = expect("signature", open_note, _edit_blob(note, i), [s.verifier_key()])
        assert e.field == "signature"


def test_a_flipped_body_byte_is_rejected() -> None:
    note, s = _checkpoint_note()
    tampered = note.replace("1234", "1235", 1)
    assert tampered != note
    expect("signature", open_note, tampered, [s.verifier_key()])


def test_a_wrong_key_name_or_key_id_is_rejected_as_no_trusted_signature() -> None:
    note, s = _checkpoint_note()
    expect("signature", open_note, note.replace(f"{EM} kiroku.example/log0 ", f"{EM} kiroku.example/log1 "),
           [s.verifier_key()])
    expect("signature", open_note, _edit_blob(note, 0), [s.verifier_key()])


def test_a_note_signed_by_nobody_we_trust_is_rejected_naming_the_keys() -> None:
    note, s = _checkpoint_note()
    e = expect("signature", open_note, note, [PETER_VKEY])
    assert s.key_name in e.message and "PeterNeumann" in e.message


def test_signatures_by_unknown_keys_are_ignored_among_twenty() -> None:
    body = Checkpoint("kiroku.example/log0", 7, bytes(32)).body()
    cosigners = [signer(f"witness.example/w{i}", seed=10 + i) for i in range(19)]
    known = signer()
    note = sign_note(body, cosigners[0], *cosigners[1:], known)
    assert note.count(f"\n{EM} ") == 20
    assert open_note(note, [known.verifier_key()]) == (body, Verifier.parse(known.verifier_key()))
    # A bad signature by a key we do not know is ignored, too.
    note2 = sign_note(body, known) + PETER_SIG
    assert open_note(note2, [known.verifier_key()])[0] == body


# --- checkpoints ------------------------------------------------------------------------------

def test_the_tlog_checkpoint_spec_example_parses_and_re_encodes_identically() -> None:
    cp = parse_checkpoint(SPEC_CHECKPOINT)
    assert (cp.origin, cp.size, cp.extensions) == ("example.com/behind-the-sofa", 20852163, ())
    assert cp.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.body() == SPEC_CHECKPOINT.encode()
    # Its signed form is well formed (the signature is ignored: that key is not published) ...
    expect("signature", open_note, SPEC_CHECKPOINT + "\n" + SPEC_CHECKPOINT_SIG, [PETER_VKEY])
    # ... and ours have exactly its shape.
    s = signer("example.com/behind-the-sofa")
    ours = sign_note(cp.body(), s)
    line = re.compile(rf"^{EM} example\.com/behind-the-sofa [A-Za-z0-9+/]{{91}}=\n$")
    assert line.match(SPEC_CHECKPOINT_SIG) and line.match(ours.split("\n\n", 1)[1])


origins = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x2FFF), min_size=1, max_size=40)
ext_lines = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FFF), min_size=1, max_size=30)


@given(origins, st.integers(0, 2**63 - 1), st.binary(min_size=32, max_size=32), st.lists(ext_lines, max_size=3))
def test_checkpoints_round_trip_through_sign_and_open(origin: str, size: int, root: bytes, exts: list[str]) -> None:
    cp = Checkpoint(origin, size, root, tuple(exts))
    s = signer()
    assert parse_checkpoint(cp.body()) == cp
    assert open_checkpoint(sign_note(cp.body(), s), [s.verifier_key()], origin) == (
        cp, Verifier.parse(s.verifier_key()))


@pytest.mark.parametrize(("text", "field"), [
    ("origin\n12\n", None),
    ("origin\n012\n" + base64.b64encode(bytes(32)).decode() + "\n", "size"),
    ("origin\n+12\n" + base64.b64encode(bytes(32)).decode() + "\n", "size"),
    ("origin\n1_2\n" + base64.b64encode(bytes(32)).decode() + "\n", "size"),
    ("origin\n12\n" + base64.b64encode(bytes(31)).decode() + "\n", "root_hash"),
    ("origin\n12\n" + base64.b64encode(bytes(32)).decode(), None),
    ("\n12\n" + base64.b64encode(bytes(32)).decode() + "\n", "origin"),
    ("origin\n12\n" + base64.b64encode(bytes(32)).decode() + "\n\n", "extensions[0]"),
])
def test_malformed_checkpoints_are_rejected(text: str, field: str | None) -> None:
    assert expect("malformed_checkpoint", parse_checkpoint, text).field == field


def test_a_checkpoint_from_another_log_is_rejected() -> None:
    note, s = _checkpoint_note()
    e = expect("checkpoint_origin", open_checkpoint, note, [s.verifier_key()], "kiroku.example/log1")
    assert (e.field, e.expected, e.got) == ("origin", "kiroku.example/log1", "kiroku.example/log0")


def test_invalid_checkpoint_fields_are_refused_before_signing() -> None:
    with pytest.raises(ValidationError) as e:
        Checkpoint("two\nlines", 1, bytes(32))
    assert e.value.field == "origin"
    with pytest.raises(ValidationError) as e:
        Checkpoint("o", -1, bytes(32))
    assert e.value.field == "size"
    with pytest.raises(ValidationError) as e:
        Checkpoint("o", 1, bytes(31))
    assert e.value.field == "root_hash"


# --- LocalSigner key files --------------------------------------------------------------------

def test_a_missing_key_file_is_created_0600_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "log.key"
    a = LocalSigner.open(path, "kiroku.example/log0")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert LocalSigner.open(path, "kiroku.example/log0").verifier_key() == a.verifier_key()
    assert [p.name for p in tmp_path.iterdir()] == ["log.key"]  # no temporary file left


def test_a_raw_32_byte_key_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "raw.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, bytes([1]) * 32)
    os.close(fd)
    assert LocalSigner.open(path, "kiroku.example/log0").verifier_key() == signer().verifier_key()


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "open.key"
    path.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    path.chmod(0o644)
    with pytest.raises(ConfigurationError) as e:
        LocalSigner.open(path, "kiroku.example/log0")
    assert (e.value.code, e.value.field) == ("signing_key", "signing_key_path")
