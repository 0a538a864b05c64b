"""Decoding the CSV files vendors produce: UTF-8, UTF-8 with a BOM, CP932 (Windows' Shift_JIS) — detected
or asked for — and refusing UTF-16/32, undecodable and mixed files by line (issue 15, item 6). No I/O."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ledger.encoding.text_files import CP932, UTF8, LineDecoder, codec_named, text_lines
from ledger.errors import ValidationError

pytestmark = pytest.mark.unit

NAME, NUMBER = "髙橋 ①郎", "123456789018"  # what a line may hold: never in an error


def _cp932_alphabet() -> list[str]:
    """Every character CP932 encodes and decodes back to itself (single bytes and lead × trail pairs)."""
    found = set()
    singles = [bytes([b]) for b in (*range(0x20, 0x7F), *range(0xA1, 0xE0))]
    pairs = [bytes([lead, trail]) for lead in (*range(0x81, 0xA0), *range(0xE0, 0xFD))
             for trail in (*range(0x40, 0x7F), *range(0x80, 0xFD))]
    for raw in singles + pairs:
        try:
            char = raw.decode(CP932)
        except UnicodeDecodeError:
            continue
        if len(char) == 1 and char.encode(CP932) == raw:
            found.add(char)
    return sorted(found)


ALPHABET = _cp932_alphabet()
LINES = st.lists(st.text(alphabet=st.sampled_from(ALPHABET), max_size=30), min_size=1, max_size=8)


def decoded(data: bytes, encoding: str = "auto") -> list[str]:
    return list(text_lines(io.BytesIO(data), encoding))


def refusal(data: bytes, encoding: str = "auto") -> ValidationError:
    with pytest.raises(ValidationError) as info:
        decoded(data, encoding)
    assert NAME not in repr(info.value.to_dict()) and NUMBER not in repr(info.value.to_dict())
    return info.value


def _in(encoding: str, lines: list[str], ending: str = "\r\n") -> bytes:
    codec, bom = {"utf-8": (UTF8, b""), "utf-8-bom": (UTF8, b"\xef\xbb\xbf"), "cp932": (CP932, b"")}[encoding]
    return bom + "".join(line + ending for line in lines).encode(codec)


@settings(max_examples=300, deadline=None)
@given(lines=LINES, encoding=st.sampled_from(["utf-8", "utf-8-bom", "cp932"]), ending=st.sampled_from(["\r\n", "\n"]),
       asked=st.booleans())
def test_any_lines_cp932_can_hold_decode_back_to_themselves_in_each_encoding(lines, encoding, ending, asked):
    """Any text lines CP932 can encode, saved as UTF-8, UTF-8 with a BOM or CP932, read back as the
    same lines, endings kept — detected, or with the encoding named."""
    data = _in(encoding, lines, ending)
    if encoding == "cp932" and not asked:
        # Detection reads a line valid in both as UTF-8 (see the next test): not the case here.
        assume(not any(not line.isascii() and _valid_utf8(line.encode(CP932)) for line in lines))
    named = {"utf-8": "utf-8", "utf-8-bom": "utf-8", "cp932": "shift_jis"}[encoding] if asked else "auto"
    assert decoded(data, named) == [line + ending for line in lines]


def _valid_utf8(raw: bytes) -> bool:
    try:
        raw.decode(UTF8)
    except UnicodeDecodeError:
        return False
    return True


def test_cp932_that_is_also_valid_utf8_is_read_as_utf8_unless_cp932_is_asked():
    """The one ambiguity: ﾃ｡ in CP932 is the bytes C3 A1, which are á in UTF-8. UTF-8 wins
    detection (Japanese CP932 text is almost never valid UTF-8); --encoding cp932 settles it."""
    data = "ﾃ｡\n".encode(CP932)
    assert decoded(data) == ["á\n"]
    assert decoded(data, "cp932") == ["ﾃ｡\n"]


def test_the_same_rows_in_utf8_utf8_with_bom_and_cp932_give_the_same_csv_cells():
    """A quoted cell holding a line break stays one cell in every encoding."""
    text = f'氏名,住所\r\n{NAME},"東京都千代田区\r\n霞が関1-1-1"\r\n'
    rows = {enc: list(csv.reader(text_lines(io.BytesIO(data))))
            for enc, data in (("utf-8", text.encode(UTF8)), ("bom", b"\xef\xbb\xbf" + text.encode(UTF8)),
                              ("cp932", text.encode(CP932)))}
    assert rows["utf-8"] == rows["bom"] == rows["cp932"] == [["氏名", "住所"], [NAME, "東京都千代田区\r\n霞が関1-1-1"]]


def test_line_endings_are_those_a_text_file_opened_with_newline_empty_gives():
    assert decoded(b"a,b\r\nc\rd\ne") == ["a,b\r\n", "c\r", "d\n", "e"]
    assert decoded("山田\r太郎\r\n".encode(CP932)) == ["山田\r", "太郎\r\n"]


def test_no_cp932_character_holds_the_bytes_lf_or_cr_so_splitting_bytes_at_lf_is_safe():
    """WHATWG Encoding Standard §13.3.1 (Shift_JIS decoder): a lead byte is 0x81–0x9F or 0xE0–0xFC
    and a trail byte 0x40–0x7E or 0x80–0xFC. Checked on Python's cp932 codec, every lead byte."""
    for lead in range(0x80, 0x100):
        for control in (0x0A, 0x0D):
            try:
                text = bytes([lead, control]).decode(CP932)
            except UnicodeDecodeError:
                continue
            assert text.endswith(chr(control)), hex(lead)  # the control is a character of its own


def test_a_utf8_file_with_a_cp932_line_is_refused_as_mixed_naming_the_line():
    data = "法人番号,氏名\r\n".encode(UTF8) + b"7000012050002,x\r\n" + f"7000012050002,{NAME} {NUMBER}\r\n".encode(CP932)
    err = refusal(data)
    assert (err.code, err.field, err.expected) == ("mixed_encoding", "line 3", "UTF-8, as line 1 was")
    assert err.message == ("line 3 of the file is CP932 (Shift_JIS) text, but the file is UTF-8 (as line 1 was): "
                           "save the whole file in one encoding")
    assert err.got == "a CP932 (Shift_JIS) line (byte 15 of 36 is not UTF-8)"


def test_a_cp932_file_with_a_utf8_line_is_refused_as_mixed_naming_the_line():
    data = b"a,b\n" + f"{NAME},1\n".encode(CP932) + f"{NAME},{NUMBER}\n".encode(UTF8)
    err = refusal(data)
    assert (err.code, err.field, err.expected, err.got) == ("mixed_encoding", "line 3", "CP932 (Shift_JIS), as line 2 was",
                                                            "a UTF-8 line of 26 bytes")


def test_a_utf8_bom_decides_utf8_and_a_later_cp932_line_is_a_mix():
    err = refusal(b"\xef\xbb\xbfa,b\n" + f"{NAME},1\n".encode(CP932))
    assert (err.code, err.field, err.expected) == ("mixed_encoding", "line 2", "UTF-8, as its byte order mark said")
    assert decoded("\ufeff山田\n".encode(UTF8)) == ["山田\n"]  # the BOM is dropped


@pytest.mark.parametrize(("text_encoding", "name", "bom_bytes"), [
    ("utf-16", "UTF-16", 2), ("utf-16-be", "UTF-16", 2), ("utf-32", "UTF-32", 4), ("utf-32-be", "UTF-32", 4)])
def test_utf16_and_utf32_files_are_refused_at_their_byte_order_mark(text_encoding, name, bom_bytes):
    data = ("\ufeff" if text_encoding.endswith("-be") else "") + f"法人番号,氏名\n7000012050002,{NAME}\n"
    err = refusal(data.encode(text_encoding))
    assert (err.code, err.field) == ("invalid_encoding", "line 1")
    assert err.message == f"the file is {name} text (it starts with a {name} byte order mark): save it as UTF-8 or Shift_JIS (CP932)"
    assert err.got == f"a {name} byte order mark (bytes 1–{bom_bytes})"


def test_utf16_without_a_byte_order_mark_is_refused_at_its_first_nul_byte():
    err = refusal(f"a,b\n{NAME}\n".encode("utf-16-le"))
    assert (err.code, err.field, err.got) == ("invalid_encoding", "line 1", "a NUL byte at byte 2 of 6")


def test_a_line_in_neither_encoding_is_refused_naming_it_and_byte_positions_only():
    err = refusal(b"a,b\n" + NUMBER.encode() + b",\x81\x0a")  # a lead byte with no trail
    assert (err.code, err.field, err.expected) == ("invalid_encoding", "line 2", "UTF-8 or Shift_JIS (CP932)")
    assert err.got == "byte 14 of 14 as UTF-8, byte 14 as CP932"


def test_after_detection_a_line_in_neither_encoding_is_refused_as_invalid_not_mixed():
    err = refusal(f"{NAME}\n".encode(UTF8) + b"ok\n" + NUMBER.encode() + b"\x81 \n")
    assert (err.code, err.field, err.expected, err.got) == ("invalid_encoding", "line 3", "UTF-8, as line 1 was", "byte 13 of 14")
    assert err.message == "line 3 of the file is not UTF-8 text (byte 13 of the line)"


def test_an_encoding_asked_for_that_the_file_is_not_in_says_what_the_line_reads_as():
    err = refusal(f"{NAME},{NUMBER}\n".encode(CP932), "utf-8")
    assert (err.code, err.field, err.expected) == ("invalid_encoding", "line 1", "UTF-8, as asked")
    assert "it reads as CP932 (Shift_JIS)" in err.message
    err = refusal(f"{NAME},{NUMBER}\n".encode(UTF8), "cp932")  # 髙 in UTF-8 is no CP932 pair
    assert (err.code, err.field, err.expected) == ("invalid_encoding", "line 1", "CP932 (Shift_JIS), as asked")


@pytest.mark.parametrize("spelling", ["shift_jis", "Shift_JIS", "sjis", "windows-31j", "Windows-31J", "cp932", "MS932", "shift-jis"])
def test_every_shift_jis_spelling_reads_cp932_with_its_nec_and_ibm_characters(spelling):
    """Windows' Shift_JIS is CP932 (unicode.org MAPPINGS/VENDORS/MICSFT/WINDOWS/CP932.TXT): 髙 (FB FC)
    and ① (87 40) are not JIS X 0208 (Python's strict shift_jis refuses them) but payroll exports hold them."""
    with pytest.raises(UnicodeEncodeError):
        NAME.encode("shift_jis")
    assert codec_named(spelling) == CP932
    assert decoded(f"{NAME}\n".encode(CP932), spelling) == [f"{NAME}\n"]


def test_utf8_spellings_and_auto_are_known_and_anything_else_is_refused():
    assert [codec_named(n) for n in ("utf-8", "UTF8", "auto", None, "")] == [UTF8, UTF8, "auto", "auto", "auto"]
    assert codec_named("euc-jp") is None
    with pytest.raises(ValidationError) as info:
        LineDecoder("euc-jp")
    assert (info.value.code, info.value.field, info.value.got) == ("unknown_encoding", "encoding", "euc-jp")


def test_lines_that_are_text_already_pass_as_they_are():
    assert list(text_lines(io.StringIO("a\r\n山田\n", newline=""))) == ["a\r\n", "山田\n"]
    assert list(text_lines([])) == []


@settings(max_examples=300, deadline=None)
@given(text=st.lists(st.sampled_from(["a", ",", '"', "山", "\r", "\n", "\r\n"]), max_size=40).map("".join),
       encoding=st.sampled_from([UTF8, CP932]))
def test_lines_are_cut_where_a_text_mode_file_with_newline_empty_cuts_them(text, encoding):
    """The reference is Python's own text-mode reading (io.TextIOWrapper, newline=""), which the
    importer used before it read CP932: CR, LF and CRLF each end a line, endings kept."""
    data = text.encode(encoding)
    assert decoded(data, encoding) == list(io.TextIOWrapper(io.BytesIO(data), encoding, newline=""))
