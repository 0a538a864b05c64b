"""Text files as vendors produce them: UTF-8 (with or without a BOM) or CP932, decoded line by line.

Japanese payroll software exports CSV in CP932 (Windows' Shift_JIS), UTF-8 or UTF-8 with a BOM;
the national salary-payment-report file (給与支払報告書) is Shift_JIS by rule: 総務省告示第429号
(光ディスク等への給与支払報告書記載事項…の記録に関する技術基準) 第2の2 says its characters are coded
as JIS X 0208 附属書1, the shift coded representation. Every path that reads a CSV (``kiroku
import-csv``, :func:`producers.csv_import.import_payroll_csv`, the HTTP bulk upload) decodes
through :class:`LineDecoder`, so they accept the same files and refuse the same ones alike.

Detection (``encoding="auto"``): a UTF-8 BOM means UTF-8 (the BOM is dropped); a UTF-16 or UTF-32
BOM is refused; ASCII-only lines read the same in either; the first line holding other bytes
decides — UTF-8 if it is valid UTF-8, else CP932 if it is valid CP932, else it is refused. A later
line the same rule would give the other encoding is refused as ``mixed_encoding``. Errors name the line
and a byte position, never the bytes (a line may hold a personal number or a name).

Lines are split on the byte 0x0A before decoding, which is safe for both encodings: in UTF-8
every byte of a multi-byte sequence is 0x80 or above (RFC 3629 §3), and in Shift_JIS/CP932 a
lead byte is 0x81–0x9F or 0xE0–0xFC and a trail byte 0x40–0x7E or 0x80–0xFC (WHATWG Encoding
Standard, §13.3.1 "Shift_JIS decoder"), so neither 0x0A nor 0x0D is ever part of a character.
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Iterable, Iterator

from ledger.errors import ValidationError

AUTO = "auto"
UTF8 = "utf-8"
CP932 = "cp932"

#: The encodings' names in messages.
NAMES = {UTF8: "UTF-8", CP932: "CP932 (Shift_JIS)"}

#: Every spelling a user may give (``--encoding``, ``encoding=``, a ``charset`` parameter) → codec.
#: Windows' "Shift_JIS" is CP932 (Microsoft's code page 932, registered as Windows-31J): JIS X 0208
#: plus NEC and IBM extensions (①, ㈱, 髙 …) that payroll exports do use, so every Shift_JIS name
#: decodes as CP932, which reads plain Shift_JIS too — as the WHATWG Encoding Standard does, whose
#: "Shift_JIS" (labels shift_jis, sjis, windows-31j, ms932 …) is this very encoding.
SPELLINGS = {
    UTF8: UTF8, "utf8": UTF8,
    CP932: CP932, "shift_jis": CP932, "shift-jis": CP932, "sjis": CP932, "windows-31j": CP932, "ms932": CP932,
}

#: What a refusal of an unknown encoding says was expected.
ACCEPTED = "utf-8, or cp932 (also spelled shift_jis, sjis, windows-31j, ms932)"

#: Byte order marks of encodings Kiroku does not read, longest first (UTF-32LE's starts like UTF-16LE's).
_OTHER_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))
_UTF8_BOM = b"\xef\xbb\xbf"
_SAVE_AS = "save it as UTF-8 or Shift_JIS (CP932)"

#: A line's pieces ending in CR, LF or CRLF — the lines a text-mode file with ``newline=""`` gives.
_PIECES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def codec_named(name: str | None) -> str | None:
    """The codec a user's spelling names (``"Shift_JIS"`` → ``"cp932"``), ``"auto"`` for none or
    ``auto``, ``None`` for a name Kiroku does not read."""
    if name is None:
        return AUTO
    key = name.strip().strip('"').lower()
    if key in ("", AUTO):
        return AUTO
    return SPELLINGS.get(key)


class LineDecoder:
    """Decodes a file's lines of bytes one at a time, in the encoding asked or detected.

    ``encoding`` is ``auto`` or a spelling of :data:`SPELLINGS`; ``said_by`` is how errors name
    who asked for it (``"as --encoding said"``); ``where`` how they name the input (``"the
    file"``). Feed it the lines in order, the first first: it keeps what it has detected."""

    def __init__(self, encoding: str = AUTO, *, said_by: str = "as asked", where: str = "the file") -> None:
        codec = codec_named(encoding)
        if codec is None:
            raise unknown_encoding(encoding)
        self.codec = codec  # AUTO until a line decides
        self.decided_by = said_by if codec != AUTO else None  # "as line 2 was" once detected
        self.detected = False  # decided by the file itself (a BOM, a line), not by who asked
        self.where = where
        self._first = True
        self._cp932 = codecs.getincrementaldecoder(CP932)().decode

    def decode(self, raw: bytes, line_no: int) -> str:
        """Line ``line_no`` (from 1) as text; ValidationError when it cannot be read (naming the
        line, the encoding expected and a byte position, never the bytes)."""
        # The hot path of every import: once per line, so no more work than a test or two on top
        # of the decoding (``0 in raw`` is a memchr; ``b"\x00" in raw`` a substring search).
        if self._first:
            self._first = False
            raw = self._opening(raw)
        if 0 in raw:  # never in a CSV of either encoding: UTF-16/32 without a BOM
            raise self._nul(raw, line_no)
        codec = self.codec
        try:
            if codec == UTF8:
                return raw.decode(UTF8)
            if codec == CP932:
                if self.detected and not raw.isascii() and _reads_as(raw, UTF8):
                    # The rule that detected CP932 would have called this line UTF-8 (much UTF-8
                    # text is valid CP932 too, as mojibake: 山田 → 螻ｱ逕ｰ); CP932 text that is valid
                    # UTF-8 is rare.
                    raise self._mixed(raw, line_no, f"a UTF-8 line of {_length(raw)} bytes")
                # One incremental decoder for the whole file: a third of bytes.decode's cost per
                # call for the CJK codecs, which set up a decoder on each call.
                return self._cp932(raw, True)
            if raw.isascii():
                return raw.decode("ascii")
            return raw.decode(self._detect(raw, line_no))
        except UnicodeDecodeError as exc:
            raise self._refusal(raw, line_no, exc) from None

    def _nul(self, raw: bytes, line_no: int) -> ValidationError:
        at = raw.index(0) + 1
        return ValidationError(
            f"line {line_no} of {self.where} holds a NUL byte (byte {at} of the line), as UTF-16 or UTF-32 "
            f"text does: {_SAVE_AS}", field=f"line {line_no}", expected="UTF-8 or Shift_JIS (CP932) text",
            got=f"a NUL byte at byte {at} of {_length(raw)}", code="invalid_encoding")

    def _opening(self, raw: bytes) -> bytes:
        """The first line without its BOM: a UTF-8 one decides UTF-8 (unless another encoding was
        asked: then the line is refused as that encoding's), any other BOM is refused."""
        for bom, name in _OTHER_BOMS:
            if raw.startswith(bom):
                raise ValidationError(
                    f"{self.where} is {name} text (it starts with a {name} byte order mark): {_SAVE_AS}", field="line 1",
                    expected="UTF-8 (with or without a byte order mark) or Shift_JIS (CP932)",
                    got=f"a {name} byte order mark (bytes 1–{len(bom)})", code="invalid_encoding")
        if raw.startswith(_UTF8_BOM) and self.codec in (AUTO, UTF8):
            if self.codec == AUTO:
                self.codec, self.decided_by, self.detected = UTF8, "as its byte order mark said", True
            return raw[len(_UTF8_BOM):]
        return raw

    def _detect(self, raw: bytes, line_no: int) -> str:
        """The first line with non-ASCII bytes decides: UTF-8 if it reads as UTF-8, else CP932."""
        for codec in (UTF8, CP932):
            try:
                raw.decode(codec)
            except UnicodeDecodeError:
                continue
            self.codec, self.decided_by, self.detected = codec, f"as line {line_no} was", True
            return codec
        utf8, cp932 = (_failed_at(raw, c) for c in (UTF8, CP932))
        raise ValidationError(
            f"line {line_no} of {self.where} is neither UTF-8 nor Shift_JIS (CP932) text (byte {utf8} of the line "
            f"as UTF-8, byte {cp932} as CP932)", field=f"line {line_no}", expected="UTF-8 or Shift_JIS (CP932)",
            got=f"byte {utf8} of {_length(raw)} as UTF-8, byte {cp932} as CP932", code="invalid_encoding")

    def _refusal(self, raw: bytes, line_no: int, exc: UnicodeDecodeError) -> ValidationError:
        """Why line ``line_no`` does not decode: in the other encoding (a mix, or the wrong one
        asked for), or in neither."""
        name, at = NAMES[self.codec], exc.start + 1
        other = CP932 if self.codec == UTF8 else UTF8
        expected = f"{name}, {self.decided_by}"
        if not _reads_as(raw, other):
            return ValidationError(f"line {line_no} of {self.where} is not {name} text (byte {at} of the line)",
                                   field=f"line {line_no}", expected=expected, got=f"byte {at} of {_length(raw)}",
                                   code="invalid_encoding")
        got = f"a {NAMES[other]} line (byte {at} of {_length(raw)} is not {name})"
        if self.detected:
            return self._mixed(raw, line_no, got)
        return ValidationError(  # the encoding asked for is not the line's
            f"line {line_no} of {self.where} is not {name} text (byte {at} of the line); it reads as {NAMES[other]}: "
            f"was that encoding meant?", field=f"line {line_no}", expected=expected, got=got, code="invalid_encoding")

    def _mixed(self, raw: bytes, line_no: int, got: str) -> ValidationError:
        name, other = NAMES[self.codec], NAMES[CP932 if self.codec == UTF8 else UTF8]
        return ValidationError(
            f"line {line_no} of {self.where} is {other} text, but {self.where} is {name} ({self.decided_by}): "
            "save the whole file in one encoding", field=f"line {line_no}", expected=f"{name}, {self.decided_by}",
            got=got, code="mixed_encoding")


def _length(raw: bytes) -> str:
    """A line's length in bytes, its ending not counted (as the HTTP upload's lines come)."""
    return format(len(raw.rstrip(b"\r\n")), ",")


def _reads_as(raw: bytes, codec: str) -> bool:
    return _failed_at(raw, codec) == 0


def _failed_at(raw: bytes, codec: str) -> int:
    """The 1-based position of the first byte ``codec`` cannot decode; 0 if it decodes them all."""
    try:
        raw.decode(codec)
    except UnicodeDecodeError as exc:
        return exc.start + 1
    return 0


def unknown_encoding(name: str | None, field: str = "encoding") -> ValidationError:
    """The refusal of an encoding Kiroku does not read (its spelling is no personal data)."""
    return ValidationError(f"unknown encoding {str(name)[:40]!r}: Kiroku reads CSV as {ACCEPTED}, or detects which (auto)",
                           field=field, expected=f"auto, {ACCEPTED}", got=str(name)[:40], code="unknown_encoding")


def text_lines(lines: Iterable[bytes] | Iterable[str], encoding: str = AUTO, *, said_by: str = "as asked",
               where: str = "the file") -> Iterator[str]:
    """The lines of a file read in binary (``open(path, "rb")``, a ``BytesIO``: split at each LF,
    ending kept) decoded, as a text-mode file opened with ``newline=""`` gives them to the csv
    module: endings kept, a lone CR ending a line too. Lines that are text already pass as they
    are. Streaming: one line in memory at a time."""
    it = iter(lines)
    first = next(it, None)
    if first is None:
        return
    if isinstance(first, str):
        yield first
        yield from it  # type: ignore[misc]
        return
    decoder = LineDecoder(encoding, said_by=said_by, where=where)
    for line_no, raw in enumerate(itertools.chain((first,), it), start=1):
        text = decoder.decode(raw, line_no)  # type: ignore[arg-type]
        # Only a CR before the line's own ending needs the slow path (classic Mac files).
        cr = text.find("\r")
        if cr < 0 or cr == len(text) - 1 or cr == len(text) - 2 and text[-1] == "\n":
            yield text
        else:
            yield from _PIECES.findall(text)
