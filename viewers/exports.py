"""Exports agency staff can open (issue 16, item 5): a snapshot as an XLSX workbook or a CSV file.

Everything here works from a snapshot *as the reader got it* — the object ``Queries.snapshot``
(or ``effective``) returned, already masked where the reader's legal basis does not cover a field,
and already recorded in the company's access log. Nothing here reads or authorizes anything: an
export shows exactly what the JSON snapshot shows, in another shape.

- :func:`sheet` — one row per line (the line number the reader sees first), the form's fields
  flattened in form order (``person.name`` → 氏名, ``person.spouse.name`` → 控除対象配偶者 氏名;
  a list — dependants, remarks, monthly amounts — one cell of JSON), with Japanese headers taken
  from the fields' definitions (the ``doc`` of each field in the payload's Avro schema, the
  Japanese name it opens with; :data:`JA_HEADERS` names the fields whose doc does not open with
  one) or, with ``lang="en"``, the field paths of the JSON snapshot;
- :func:`to_xlsx` — XlsxWriter: the lines on a first sheet (header row bold and frozen, an
  autofilter, widths from the contents), the export's identity on a second; every identifier-like
  value (個人番号, 法人番号, codes, 受給者番号, 被保険者整理番号, dates in ISO) is written as text, so a
  spreadsheet keeps ``012345678901`` as it is; amounts are numbers;
- :func:`to_csv` — the csv module, CRLF, UTF-8 with a BOM (Excel reads it as UTF-8) or CP932 on
  request; a character CP932 cannot encode is a :class:`ValidationError` naming the line and the
  field (never the text: it is a person's name);
- :func:`neutralise` — OWASP "CSV Injection": a text cell that a spreadsheet would read as a
  formula gets a ``'`` prefixed, in both formats (numbers stay numbers, negative ones too).
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Final, Literal
from urllib.parse import quote

from ledger.domain.fields import FieldRule
from ledger.domain.model import Snapshot
from ledger.domain.procedures import PROCEDURES, Procedure
from ledger.encoding.codec import SchemaRegistry
from ledger.errors import ValidationError

__all__ = ["FORMULA_TRIGGERS", "JA_HEADERS", "XLSX_MEDIA", "Column", "Sheet", "check_options", "columns", "content_disposition",
           "export", "filename", "metadata", "neutralise", "recover", "sheet", "to_csv", "to_xlsx"]

Lang = Literal["ja", "en"]
CsvEncoding = Literal["utf-8-sig", "cp932"]

XLSX_MEDIA: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: First characters a spreadsheet may read as the start of a formula: OWASP's list (``=``, ``+``,
#: ``-``, ``@``, tab, CR), their full-width forms (a Japanese IME types ＝ for =, and spreadsheets
#: have been seen to take it as one), and ``'`` itself, so that :func:`recover` can always undo the
#: prefix (a text that began with a quote keeps it, behind the added one).
FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20", "'")


def neutralise(text: str) -> str:
    """``text`` as a cell no spreadsheet runs: prefixed with ``'`` when it starts like a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def recover(cell: str) -> str:
    """The text :func:`neutralise` was given (it prefixes exactly the texts that start with a trigger)."""
    return cell[1:] if cell.startswith("'") else cell


# -- columns ---------------------------------------------------------------------------------------

#: Japanese headers of the fields whose definition (the Avro ``doc``) does not open with the form's
#: name for them, or opens with one shared by several fields (their detail follows a colon).
JA_HEADERS: Final[dict[str, str]] = {
    "line": "行番号",
    "municipality_code": "提出先市区町村コード",
    "person.personal_number_absence": "個人番号の記載がない理由",
    "person.spouse.personal_number_absence": "控除対象配偶者 個人番号の記載がない理由",
    "person.spouse.relation": "控除対象配偶者 区分",
    "person.spouse.cohabiting": "控除対象配偶者 同居",
    "employment_start": "中途就職年月日",
    "employment_end": "中途退職年月日",
    "dependants_specific": "控除対象扶養親族の数（特定）",
    "dependants_elderly": "控除対象扶養親族の数（老人）",
    "dependants_elderly_cohabiting": "控除対象扶養親族の数（老人のうち同居老親等）",
    "dependants_other": "控除対象扶養親族の数（その他）",
    "disabled_special": "障害者の数（特別障害者）",
    "disabled_special_cohabiting": "障害者の数（特別障害者のうち同居）",
    "disabled_other": "障害者の数（その他）",
    "housing_loans": "住宅借入金等特別控除の内訳",
    "line_action": "追加・訂正・取消の区分",
    "collection": "特別徴収・普通徴収の別",
    "pay_change_month": "昇(降)給月",
    "employee_id": "労働者番号",
    "pay_period_start": "賃金計算期間の初日",
    "pay_period_end": "賃金計算期間の末日",
    "allowance_items": "手当の内訳",
    "deduction_items": "控除の内訳",
    "line_ref": "給与支払報告書の行番号",
    "monthly_amounts": "月割額（6月～翌年5月）",
    "decision_kind": "決定の区分",
    "in_kind_april": "4月の現物",
    "deductions": "控除額の合計",
}

#: Integer fields that identify rather than count: written as text (a spreadsheet must not sum them).
_IDENTIFIER_COUNTS: Final = frozenset({"insured_number", "line_ref"})
_TEXT_KINDS: Final = frozenset({"text", "personal_number", "municipality_code", "date", "month", "choice"})
_LIST_KINDS: Final = frozenset({"records", "choices", "yens"})


@dataclass(frozen=True, slots=True)
class Column:
    """One column of an export: the field's path in the JSON snapshot, its headers, how it is written."""

    path: str
    ja: str
    en: str
    #: text (written as text whatever it holds: identifiers, codes, dates), yen, number, flag or json.
    kind: str

    def header(self, lang: Lang) -> str:
        return self.ja if lang == "ja" else self.en


@dataclass(frozen=True, slots=True)
class Sheet:
    """An export before it is written: the identity of what was read, the columns, one row per line."""

    metadata: list[tuple[str, str]]
    columns: tuple[Column, ...]
    #: The cells of each line as the snapshot holds them (not yet neutralised), in column order.
    rows: list[list[Any]]
    #: The number of each row's line in the submission (the reader may see only some lines).
    line_numbers: list[int]
    lang: Lang

    @property
    def header(self) -> list[str]:
        return [c.header(self.lang) for c in self.columns]


def _cjk(ch: str) -> bool:
    return not ch.isascii()


_LEAD: Final = re.compile(r"[^\x00-\x7f]|[0-9 ()]")


def label_from_doc(doc: str | None) -> str:
    """The Japanese name a field's doc opens with (``"支払金額, yen."`` → 支払金額, ``"氏名 of the
    employee"`` → 氏名, ``"従前の標準報酬月額 (健康保険), yen."`` → 従前の標準報酬月額 (健康保険)), or ""."""
    if not doc:
        return ""
    end = 0
    while end < len(doc) and _LEAD.match(doc[end]) and doc[end] != ":":
        end += 1
    text = doc[:end]
    if not any(_cjk(c) for c in text[:1]) and not text[:1].isdigit():
        return ""
    # Drop an unbalanced "(" and what follows it, then a parenthesis that holds no Japanese.
    if text.count("(") > text.count(")"):
        text = text[:text.rfind("(")]
    text = re.sub(r"\s*\([^()]*\)", lambda m: m.group() if any(_cjk(c) for c in m.group()) else "", text)
    return text.strip()


def _fields_doc(schema: Any) -> dict[str, Any]:
    """The fields of a record schema (or of the record a union or array holds) by name."""
    while True:
        if isinstance(schema, list):
            schema = next((s for s in schema if s != "null"), None)
        elif isinstance(schema, dict) and schema.get("type") == "array":
            schema = schema["items"]
        elif isinstance(schema, dict) and isinstance(schema.get("type"), (dict, list)):
            schema = schema["type"]
        else:
            break
    return {f["name"]: f for f in schema.get("fields", ())} if isinstance(schema, dict) else {}


@cache
def _registry() -> SchemaRegistry:
    return SchemaRegistry.load()


def _line_docs(proc: Procedure) -> dict[str, Any]:
    try:
        schema = _registry().version(proc.schema, proc.version).schema
    except Exception:  # noqa: BLE001 - a procedure without a schema still exports, with path headers
        return {}
    return _fields_doc(_fields_doc(schema).get("lines", {}).get("type"))


def _person_docs() -> dict[str, Any]:
    try:
        return _fields_doc(_registry().latest("kiroku.payloads.Person").schema)
    except Exception:  # noqa: BLE001
        return {}


def _kind(rule: FieldRule) -> str:
    """How a field is written: text (identifiers, codes, dates, choices), yen, number, flag, or json (a list)."""
    if rule.kind in _LIST_KINDS:
        return "json"
    if rule.kind in _TEXT_KINDS or rule.name in _IDENTIFIER_COUNTS:
        return "text"
    return {"yen": "yen", "count": "number", "flag": "flag"}.get(rule.kind, "text")


def _walk(rules: Sequence[FieldRule], docs: Mapping[str, Any], prefix: str, ja_prefix: str,
          identifiers: frozenset[str]) -> list[Column]:
    out: list[Column] = []
    for rule in rules:
        path = prefix + rule.name
        if rule.kind in ("record", "records") and rule.max_items == 0:
            continue  # a part this form leaves out (the 算定基礎届 has no spouse)
        doc = docs.get(rule.name, {})
        ja = JA_HEADERS.get(path) or label_from_doc(doc.get("doc")) or rule.name
        if rule.kind == "record":
            inner = _person_docs() if path == "person" else _fields_doc(doc.get("type"))
            out += _walk(rule.fields, inner, path + ".", "" if path == "person" else f"{ja_prefix}{ja} ", identifiers)
            continue
        kind = "text" if path in identifiers else _kind(rule)
        out.append(Column(path, JA_HEADERS.get(path) or ja_prefix + ja, path, kind))
    return out


@cache
def columns(procedure: str) -> tuple[Column, ...]:
    """The columns of a procedure's export, in form order (the line number first)."""
    proc = PROCEDURES[procedure]
    identifiers = frozenset({proc.person_key} if proc.person_key else ())
    return (Column("line", JA_HEADERS["line"], "line", "number"),
            *_walk(proc.line, _line_docs(proc), "", "", identifiers))


def _value(line: Mapping[str, Any], path: str) -> Any:
    value: Any = line
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


# -- the export's identity -------------------------------------------------------------------------

_META: Final = {  # key: (ja, en)
    "submission_id": ("提出ID", "Submission ID"), "corporate_number": ("法人番号", "Corporate number"),
    "company": ("事業者名", "Company"), "procedure": ("手続", "Procedure"), "period": ("対象期間", "Period"),
    "office": ("事業所", "Office"), "kind": ("提出の種類", "Kind"), "version": ("版", "Version"),
    "replaces": ("訂正・取消の対象", "Replaces"), "recorded_at": ("記録日時", "Recorded at"),
    "as_of": ("時点", "As of"), "position": ("台帳上の位置", "Ledger position"),
    "payload_digest": ("記録データのSHA-256", "Payload SHA-256"), "lines": ("表示している行", "Lines shown"),
    "personal_numbers": ("個人番号", "Personal numbers"), "legal_basis": ("閲覧の根拠", "Legal basis"),
    "access_log": ("アクセスログ", "Access log"),
}
_ACCESS_NOTE: Final = {"ja": "この出力は閲覧として会社のアクセスログに記録されています（閲覧者・日時・根拠）",
                       "en": "This export was recorded as a read in the company's access log (who, when, on which basis)"}
_NUMBERS: Final = {"ja": {"shown": "表示", "masked": "マスク済み（閲覧の根拠が及ばない）", "erased": "消去済み（保存期間の終了）",
                          "none": "なし"},
                   "en": {"shown": "shown", "masked": "masked (outside the reader's legal basis)",
                          "erased": "erased (end of retention)", "none": "none"}}


def _company_name(snap: Snapshot) -> str | None:
    proc = PROCEDURES.get(snap.info.procedure)
    header = (snap.payload or {}).get(proc.header_name) if proc and proc.header_name else None
    name = header.get("name") if isinstance(header, Mapping) else None
    return name if isinstance(name, str) else None


def _metadata(snap: Snapshot, lang: Lang, as_of: datetime | None) -> list[tuple[str, str, str]]:
    """The export's identity as (key, header in ``lang``, value)."""
    info = snap.info
    proc = PROCEDURES.get(info.procedure)
    procedure = f"{proc.name_ja if lang == 'ja' else proc.name_en} ({info.procedure})" if proc else info.procedure
    count = len((snap.payload or {}).get("lines") or ())
    if snap.visible_lines is None:
        lines = f"全{count}行" if lang == "ja" else f"all {count}"
    else:
        shown = ", ".join(map(str, snap.visible_lines))
        lines = (f"{shown}（全{info.line_count}行のうち閲覧できる行）" if lang == "ja"
                 else f"{shown} (of {info.line_count}: the lines you may see)")
    values: dict[str, str | None] = {
        "submission_id": info.submission_id, "corporate_number": info.corporate_number, "company": _company_name(snap),
        "procedure": procedure, "period": info.period, "office": info.office or None, "kind": info.kind.value,
        "version": str(info.version), "replaces": info.replaces, "recorded_at": info.recorded_at.isoformat(),
        "as_of": as_of.isoformat() if as_of else None, "position": info.position, "payload_digest": info.payload_digest,
        "lines": lines, "personal_numbers": _NUMBERS[lang].get(snap.personal_numbers, snap.personal_numbers),
        "legal_basis": snap.legal_basis, "access_log": _ACCESS_NOTE[lang],
    }
    return [(key, _META[key][0 if lang == "ja" else 1], value) for key, value in values.items() if value is not None]


def metadata(snap: Snapshot, lang: Lang = "ja", as_of: datetime | None = None) -> list[tuple[str, str]]:
    """What the export is of, as (header, value) rows: submission, company, procedure, period, version,
    as of, who may see what, and that the export was recorded in the access log."""
    return [(label, value) for _, label, value in _metadata(snap, lang, as_of)]


def sheet(snap: Snapshot, lang: Lang = "ja", as_of: datetime | None = None) -> Sheet:
    """The export of ``snap`` before it is written: its identity, its columns, one row per line it shows."""
    if lang not in ("ja", "en"):
        raise ValidationError(f"an export's headers are in ja or en, not {lang!r}", field="lang", expected="ja or en", got=lang,
                              code="invalid_lang")
    cols = columns(snap.info.procedure)
    lines = (snap.payload or {}).get("lines") or []
    numbers = snap.visible_lines or list(range(1, len(lines) + 1))
    rows = []
    for number, line in zip(numbers, lines):
        row: list[Any] = [number]
        for col in cols[1:]:
            value = _value(line, col.path)
            if col.kind == "json":
                value = json.dumps(value, ensure_ascii=False) if value else None
            row.append(value)
        rows.append(row)
    return Sheet(metadata(snap, lang, as_of), cols, rows, list(numbers[:len(rows)]), lang)


def _cell_text(value: Any) -> str:
    """A cell as CSV text: blank for none, TRUE/FALSE for a flag (as a spreadsheet writes them)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return neutralise(value)
    return str(value)


# -- CSV -------------------------------------------------------------------------------------------

def _not_cp932(text: str, field: str, where: str) -> ValidationError | None:
    try:
        text.encode("cp932")
    except UnicodeEncodeError as err:
        ch = text[err.start]
        return ValidationError(
            f"{where}{field} holds U+{ord(ch):04X} at position {err.start + 1}, which CP932 (Shift_JIS) cannot encode: "
            "ask for the export in UTF-8 (encoding=utf-8)", field=field, expected="characters CP932 can encode, or encoding=utf-8",
            got=f"U+{ord(ch):04X} at position {err.start + 1}", code="not_cp932")
    return None


def to_csv(snap: Snapshot, lang: Lang = "ja", encoding: CsvEncoding | str = "utf-8-sig", as_of: datetime | None = None) -> bytes:
    """The export as CSV bytes: the identity rows (項目, 値), a blank row, the header row, one row per
    line; CRLF line ends; UTF-8 with a BOM (``utf-8-sig``, what Excel needs to read UTF-8) or CP932.

    In CP932 a character it cannot encode (𠮷, an em dash —, …) is refused with a ValidationError
    naming the line and field — ``lines[3].person.name`` — and the character's code point, never
    the text; the whole export is refused, not written with the character replaced. (Python's
    cp932 is Windows': it writes 〜 U+301C and − U+2212 as its own wave dash and minus, which read
    back as ～ and －, as Excel shows them.)"""
    codec = {"utf-8": "utf-8-sig", "utf-8-sig": "utf-8-sig", "utf8": "utf-8-sig", "cp932": "cp932",
             "shift_jis": "cp932", "windows-31j": "cp932"}.get(str(encoding).lower())
    if codec is None:
        raise ValidationError(f"a CSV export is in UTF-8 or CP932, not {encoding!r}", field="encoding",
                              expected="utf-8 or cp932", got=encoding, code="invalid_encoding")
    data = sheet(snap, lang, as_of)
    if codec == "cp932":
        for key, _, value in _metadata(snap, lang, as_of):
            err = _not_cp932(value, key, "the export's ")
            if err is not None:
                raise err
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    for key, value in data.metadata:
        writer.writerow([neutralise(key), neutralise(value)])
    writer.writerow([])
    writer.writerow(data.header)
    for number, row in zip(data.line_numbers, data.rows):
        cells = [_cell_text(v) for v in row]
        if codec == "cp932":
            for col, cell in zip(data.columns, cells):
                err = _not_cp932(cell, f"lines[{number}].{col.path}", f"line {number}: ")
                if err is not None:
                    raise err
        writer.writerow(cells)
    return out.getvalue().encode(codec)


# -- XLSX ------------------------------------------------------------------------------------------

def _width(text: str) -> int:
    """How many columns ``text`` takes in a spreadsheet cell (East Asian wide characters two)."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def to_xlsx(snap: Snapshot, lang: Lang = "ja", as_of: datetime | None = None) -> bytes:
    """The export as an XLSX workbook (XlsxWriter, in memory): the lines on the first sheet, the
    export's identity on the second. Identifier-like values are written with ``write_string`` —
    no spreadsheet turns 012345678901 into a number, a code into a date, or text into a formula —
    amounts with ``write_number`` (formatted #,##0), flags as booleans."""
    import xlsxwriter  # type: ignore[import-untyped]  # the web extra; it ships no type information

    data = sheet(snap, lang, as_of)
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                     "strings_to_urls": False})
    # The recorded time, not now: the same snapshot gives the same bytes.
    book.set_properties({"title": f"{snap.info.procedure} {snap.info.period} {snap.info.submission_id}", "author": "Kiroku",
                         "created": snap.info.recorded_at.replace(tzinfo=None)})
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"})
    text = book.add_format({"num_format": "@"})
    yen = book.add_format({"num_format": "#,##0"})
    lines = book.add_worksheet("明細" if lang == "ja" else "Lines")
    widths = [_width(h) for h in data.header]
    for row in data.rows:
        for i, value in enumerate(row):
            if value is not None:
                widths[i] = max(widths[i], _width(_cell_text(value)))
    for i, (col, width) in enumerate(zip(data.columns, widths)):
        lines.set_column(i, i, min(max(width + 2, 6), 60), text if col.kind in ("text", "json") else None)
    for i, head in enumerate(data.header):
        lines.write_string(0, i, neutralise(head), bold)
    for r, row in enumerate(data.rows, start=1):
        for i, (col, value) in enumerate(zip(data.columns, row)):
            if value is None:
                continue
            if isinstance(value, bool):
                lines.write_boolean(r, i, value)
            elif isinstance(value, (int, float)) and col.kind in ("yen", "number"):
                lines.write_number(r, i, value, yen if col.kind == "yen" else None)
            else:
                lines.write_string(r, i, _cell_text(value), text)
    lines.freeze_panes(1, 0)
    lines.autofilter(0, 0, max(len(data.rows), 1), len(data.columns) - 1)
    about = book.add_worksheet("出力情報" if lang == "ja" else "About")
    about.set_column(0, 0, max(_width(k) for k, _ in data.metadata) + 2)
    about.set_column(1, 1, min(max(_width(v) for _, v in data.metadata) + 2, 100), text)
    for r, (key, value) in enumerate(data.metadata):
        about.write_string(r, 0, neutralise(key), bold)
        about.write_string(r, 1, neutralise(value), text)
    book.close()
    return buf.getvalue()


# -- files -----------------------------------------------------------------------------------------

def filename(snap: Snapshot, fmt: str, lang: Lang = "ja") -> tuple[str, str]:
    """The export's file name as (safe ASCII, UTF-8): ``kiroku_PAYROLL_REPORT_2026_<id>.xlsx`` and,
    for ``ja``, ``給与支払報告書_<法人番号>_2026_<id>.xlsx``."""
    info = snap.info
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", f"kiroku_{info.procedure}_{info.period}_{info.submission_id}.{fmt}")
    proc = PROCEDURES.get(info.procedure)
    title = proc.name_ja if proc and lang == "ja" else info.procedure
    utf8_name = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", f"{title}_{info.corporate_number}_{info.period}_{info.submission_id}.{fmt}")
    return ascii_name, utf8_name


def content_disposition(snap: Snapshot, fmt: str, lang: Lang = "ja") -> str:
    """``attachment`` with a safe ASCII ``filename`` and the UTF-8 ``filename*`` (RFC 6266, RFC 8187)."""
    ascii_name, utf8_name = filename(snap, fmt, lang)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(utf8_name, safe='')}"


# -- one entry point for the SDKs --------------------------------------------------------------------

FORMATS: Final = ("xlsx", "csv")
ENCODINGS: Final = {"utf-8": "utf-8-sig", "utf-8-sig": "utf-8-sig", "cp932": "cp932"}


def check_options(format: str, lang: str, encoding: str = "utf-8") -> None:
    """Refuse an export format, language or encoding Kiroku does not write — before anything is read."""
    for field, value, allowed in (("format", format, FORMATS), ("lang", lang, ("ja", "en")), ("encoding", encoding, tuple(ENCODINGS))):
        if value not in allowed:
            raise ValidationError(f"an export's {field} is one of {', '.join(allowed)}, not {value!r}", field=field,
                                  expected=" or ".join(allowed), got=value, code=f"invalid_{field}")


def export(snap: Snapshot, format: str = "xlsx", lang: Lang = "ja", encoding: str = "utf-8",
           as_of: datetime | None = None) -> bytes:
    """``snap`` as an ``xlsx`` workbook or a ``csv`` file (``encoding`` utf-8, with a BOM, or cp932)."""
    check_options(format, lang, encoding)
    if format == "xlsx":
        return to_xlsx(snap, lang, as_of)
    return to_csv(snap, lang, ENCODINGS[encoding], as_of)
