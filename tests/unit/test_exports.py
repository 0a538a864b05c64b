"""Exports agency staff open (issue 16, item 5): ``viewers.exports`` from a snapshot as the reader got it.

Japanese headers from the forms' field definitions, identifiers kept as text in XLSX, formula-like
text neutralised in both formats (numbers stay numbers), UTF-8 with a BOM or CP932 with CRLF, and a
character CP932 cannot encode refused by line and field — never echoing the name."""

from __future__ import annotations

import csv
import io
import string
from datetime import UTC, datetime
from typing import Any

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ledger.domain  # noqa: F401 - puts the v2 forms in PROCEDURES
from ledger.domain.forms import V2
from ledger.domain.identifiers import make_personal_number
from ledger.domain.model import Snapshot, SubmissionInfo, SubmissionKind
from ledger.errors import ValidationError
from ledger.service.sealing import MASK
from viewers import exports
from viewers.exports import columns, neutralise, recover, to_csv, to_xlsx

CORP = "0700012050002"  # a 法人番号 with a leading zero: a spreadsheet would drop it from a number
PN = make_personal_number("01234567890")  # 012345678901-like: a leading zero, twelve digits
OWASP = ("=", "+", "-", "@", "\t", "\r")
FORMULAS = ['=HYPERLINK("http://x")', "@SUM(A1:A9)", "+81 3 1234", "-2+3", "\uff1d1+1"]


def info(procedure: str = "PAYROLL_REPORT", period: str = "2026", lines: int = 2) -> SubmissionInfo:
    return SubmissionInfo(submission_id="sub_01TEST", corporate_number=CORP, procedure=procedure, period=period,
                          kind=SubmissionKind.ORIGINAL, replaces=None, version=1,
                          recorded_at=datetime(2027, 1, 20, 1, 2, 3, tzinfo=UTC), recorded_by=f"company:{CORP}",
                          position="kiroku.filings/0/7", payload_digest="ab" * 32, deadline=None, on_time=True,
                          line_count=lines, targets=[], unreached=[])


def payroll_line(n: int, name: str = "山田 太郎", number: str | None = PN, **over: Any) -> dict[str, Any]:
    line = {"municipality_code": "131016", "employee_number": f"E{n:04d}",
            "person": {"name": name, "kana": "ヤマダ タロウ", "birth_date": "1985-07-14", "address": "東京都千代田区",
                       "personal_number": number, "spouse": None, "dependants": []},
            "payment_amount": 5_000_000, "withholding_tax": 120_000, "year_end_adjusted": True, "remarks": None,
            "line_action": "ORIGINAL"}
    return line | over


def snapshot(lines: list[dict[str, Any]], procedure: str = "PAYROLL_REPORT", visible: list[int] | None = None,
             numbers: str = "shown") -> Snapshot:
    header = {"PAYROLL_REPORT": "employer"}.get(procedure, "office")
    return Snapshot(info=info(procedure, lines=len(lines)), payload={header: {"name": "株式会社記録"}, "lines": lines},
                    visible_lines=visible, personal_numbers=numbers, legal_basis="地方税法第317条の6")


def read_xlsx(data: bytes) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], Any]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    lines, about = book.worksheets
    return list(lines.iter_rows(values_only=True)), list(about.iter_rows(values_only=True)), lines


def read_csv(data: bytes, encoding: str = "utf-8-sig") -> tuple[list[list[str]], list[dict[str, str]]]:
    rows = list(csv.reader(io.StringIO(data.decode(encoding), newline="")))
    blank = rows.index([])
    return rows[:blank], [dict(zip(rows[blank + 1], r)) for r in rows[blank + 2:]]


# -- headers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("procedure", sorted(V2))
def test_every_v2_field_has_a_japanese_header_unique_in_its_form_and_its_path_in_english(procedure: str) -> None:
    cols = columns(procedure)
    assert len({c.ja for c in cols}) == len(cols) and len({c.en for c in cols}) == len(cols)
    for col in cols:
        assert not col.ja.isascii(), (procedure, col.path, col.ja)  # a Japanese name, not the field's English one
        assert col.en == col.path
    paths = [c.path for c in cols]
    top = [r.name for r in V2[procedure].line if r.name != "person"]
    assert [p for p in paths if p in top] == top  # form order


@pytest.mark.parametrize(("procedure", "path", "header"), [
    ("PAYROLL_REPORT", "person.name", "氏名"), ("PAYROLL_REPORT", "employee_number", "受給者番号"),
    ("PAYROLL_REPORT", "payment_amount", "支払金額"), ("PAYROLL_REPORT", "person.personal_number", "個人番号"),
    ("PAYROLL_REPORT", "person.spouse.name", "控除対象配偶者 氏名"), ("PAYROLL_REPORT", "withholding_tax", "源泉徴収税額"),
    ("STANDARD_REMUNERATION", "insured_number", "被保険者整理番号"), ("STANDARD_REMUNERATION", "remuneration_april", "4月の報酬月額 合計"),
    ("STANDARD_REMUNERATION", "previous_health_amount", "従前の標準報酬月額 (健康保険)"),
    ("BONUS_PAYMENT", "bonus_amount", "賞与額 合計"), ("BONUS_PAYMENT", "paid_on", "賞与支払年月日"),
    ("WAGE_LEDGER", "net_pay", "差引支給額"),
])
def test_headers_are_the_forms_names(procedure: str, path: str, header: str) -> None:
    assert {c.path: c.ja for c in columns(procedure)}[path] == header


def test_a_form_that_leaves_the_spouse_out_has_no_spouse_columns() -> None:
    assert not any(c.path.startswith("person.spouse") for c in columns("STANDARD_REMUNERATION"))
    assert "person.spouse.name" in {c.path for c in columns("PAYROLL_REPORT")}


# -- XLSX ------------------------------------------------------------------------------------------

def test_identifiers_stay_text_and_amounts_numbers_when_read_back() -> None:
    data = to_xlsx(snapshot([payroll_line(1), payroll_line(2, number=None, person={"name": "佐藤 花子", "personal_number": None,
                                                                                     "personal_number_absence": "NOT_PROVIDED"})]))
    rows, about, sheet = read_xlsx(data)
    header, first, second = rows
    cell = dict(zip(header, first))
    assert cell["個人番号"] == PN and PN.startswith("0") and isinstance(cell["個人番号"], str)
    assert cell["提出先市区町村コード"] == "131016" and cell["受給者番号"] == "E0001" and cell["生年月日"] == "1985-07-14"
    assert cell["支払金額"] == 5_000_000 and isinstance(cell["支払金額"], int) and cell["行番号"] == 1
    assert cell["年末調整の有無"] is True
    assert dict(zip(header, second))["個人番号の記載がない理由"] == "NOT_PROVIDED"
    meta = dict(about)
    assert meta["法人番号"] == CORP and isinstance(meta["法人番号"], str)  # the leading 0 kept
    assert meta["提出ID"] == "sub_01TEST" and meta["対象期間"] == "2026" and meta["版"] == "1"
    assert meta["手続"] == "給与支払報告書 (PAYROLL_REPORT)" and meta["事業者名"] == "株式会社記録"
    assert "アクセスログに記録" in meta["アクセスログ"]
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    assert sheet["I2"].data_type == "s" and sheet["T2"].data_type == "n"  # 個人番号 text, 支払金額 a number
    assert sheet.column_dimensions["D"].width >= 10  # 氏名: sized to its contents


def test_an_insured_number_is_written_as_text_and_the_english_headers_are_the_json_paths() -> None:
    line = {"insured_number": 7, "person": {"name": "高橋 一郎", "birth_date": "1952-04-01", "personal_number": MASK},
            "bonus_amount": 500_000, "remarks": ["AGE_70_PLUS"]}
    rows, about, _ = read_xlsx(to_xlsx(snapshot([line], "BONUS_PAYMENT", numbers="masked"), "en"))
    cell = dict(zip(rows[0], rows[1]))
    assert cell["insured_number"] == "7" and cell["bonus_amount"] == 500_000
    assert cell["person.personal_number"] == MASK  # masked as the snapshot shows it
    assert cell["remarks"] == '["AGE_70_PLUS"]'
    assert dict(about)["Personal numbers"].startswith("masked")


def test_formula_cells_are_neutralised_and_negative_amounts_stay_numbers_in_xlsx() -> None:
    lines = [payroll_line(i, name=name) for i, name in enumerate(FORMULAS, 1)]
    lines[0]["payment_amount"] = -500  # not a value the form takes, but an export writes what it is given
    rows, _, _ = read_xlsx(to_xlsx(snapshot(lines)))
    names = [dict(zip(rows[0], r))["氏名"] for r in rows[1:]]
    assert names == ["'" + n for n in FORMULAS]
    assert dict(zip(rows[0], rows[1]))["支払金額"] == -500


def test_only_the_lines_the_reader_sees_with_their_numbers_in_the_submission() -> None:
    rows, about, _ = read_xlsx(to_xlsx(snapshot([payroll_line(1), payroll_line(3)], visible=[1, 3])))
    assert [r[0] for r in rows[1:]] == [1, 3]
    assert dict(about)["表示している行"].startswith("1, 3")


def test_a_cancellation_exports_its_identity_and_no_lines() -> None:
    snap = Snapshot(info=info(), payload=None, personal_numbers="none")
    rows, about, _ = read_xlsx(to_xlsx(snap))
    assert len(rows) == 1 and rows[0][0] == "行番号" and dict(about)["提出ID"] == "sub_01TEST"
    meta, body = read_csv(to_csv(snap))
    assert body == [] and meta[0] == ["提出ID", "sub_01TEST"]


def test_the_same_snapshot_gives_the_same_bytes() -> None:
    snap = snapshot([payroll_line(1)])
    assert to_xlsx(snap) == to_xlsx(snap) and to_csv(snap) == to_csv(snap)


# -- CSV -------------------------------------------------------------------------------------------

def test_csv_is_utf8_with_a_bom_crlf_and_neutralised() -> None:
    data = to_csv(snapshot([payroll_line(1, name='=1+1,"q"'), payroll_line(2)]))
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    meta, body = read_csv(data)
    assert dict(meta)["法人番号"] == CORP
    assert [r["氏名"] for r in body] == ["'=1+1,\"q\"", "山田 太郎"]
    assert body[0]["個人番号"] == PN and body[0]["支払金額"] == "5000000" and body[0]["年末調整の有無"] == "TRUE"


def test_cp932_round_trips_japanese_text() -> None:
    names = ["髙橋 﨑子", "渡邊 ①", "山田 ～"]  # IBM and NEC extensions and the full-width tilde are CP932's
    data = to_csv(snapshot([payroll_line(i, name=n) for i, n in enumerate(names, 1)]), encoding="cp932")
    assert not data.startswith(b"\xef\xbb\xbf")
    meta, body = read_csv(data, "cp932")
    assert [r["氏名"] for r in body] == names and dict(meta)["事業者名"] == "株式会社記録"


def test_a_name_cp932_cannot_encode_is_refused_by_line_and_field_without_echoing_it() -> None:
    snap = snapshot([payroll_line(1), payroll_line(2, name="𠮷田 太郎")], visible=[1, 4])
    with pytest.raises(ValidationError) as err:
        to_csv(snap, encoding="cp932")
    e = err.value
    assert (e.code, e.field, e.got) == ("not_cp932", "lines[4].person.name", "U+20BB7 at position 1")
    assert e.expected == "characters CP932 can encode, or encoding=utf-8"
    assert "𠮷" not in e.message and "田 太郎" not in e.message and e.message.startswith("line 4: ")
    assert "𠮷田 太郎" in to_csv(snap).decode("utf-8-sig")  # UTF-8 takes it


def test_a_company_name_cp932_cannot_encode_names_the_company() -> None:
    snap = snapshot([payroll_line(1)])
    assert snap.payload is not None
    snap.payload["employer"]["name"] = "株式会社𠮷野家"
    with pytest.raises(ValidationError) as err:
        to_csv(snap, encoding="cp932")
    assert (err.value.field, err.value.got) == ("company", "U+20BB7 at position 5")


@pytest.mark.parametrize(("option", "value"), [("format", "pdf"), ("lang", "fr"), ("encoding", "latin-1")])
def test_an_unknown_format_language_or_encoding_is_refused_naming_it(option: str, value: str) -> None:
    kw = {"format": "csv", "lang": "ja", "encoding": "utf-8"} | {option: value}
    with pytest.raises(ValidationError) as err:
        exports.export(snapshot([payroll_line(1)]), **kw)  # type: ignore[arg-type]
    assert (err.value.field, err.value.got, err.value.code) == (option, value, f"invalid_{option}")


def test_the_file_name_is_safe_ascii_with_the_japanese_name_in_filename_star() -> None:
    value = exports.content_disposition(snapshot([payroll_line(1)]), "xlsx")
    assert value.startswith('attachment; filename="kiroku_PAYROLL_REPORT_2026_sub_01TEST.xlsx"; filename*=UTF-8\'\'')
    assert value.isascii() and "%E7%B5%A6%E4%B8%8E" in value  # 給与 percent-encoded


# -- neutralisation (hypothesis) -----------------------------------------------------------------------

texts = st.text(alphabet=st.sampled_from(list(string.printable) + list("＝＋－＠'山田ｱ𠮷")), max_size=12) | st.text(max_size=12)


@given(texts)
def test_no_neutralised_text_starts_a_formula_and_the_text_is_recovered(text: str) -> None:
    out = neutralise(text)
    assert not out.startswith(OWASP + ("\uff1d", "\uff0b", "\uff0d", "\uff20"))
    assert recover(out) == text
    assert out == text or out == "'" + text


@given(st.lists(texts.filter(lambda t: t.strip() != ""), min_size=1, max_size=4))
def test_no_cell_of_an_export_starts_a_formula(names: list[str]) -> None:
    snap = snapshot([payroll_line(i, name=n, remarks=n) for i, n in enumerate(names, 1)])
    _, body = read_csv(to_csv(snap))
    for row in body:
        assert not any(v.startswith(OWASP) for v in row.values())
    assert [recover(r["氏名"]) for r in body] == names
    rows, about, _ = read_xlsx(to_xlsx(snap))
    for value in (v for r in rows + about for v in r):
        assert not (isinstance(value, str) and value.startswith(OWASP))
