"""The national 給与支払報告書 CSV (法定資料の種類 315) read as v2 PAYROLL_REPORT groups.

Layout: 総務省 平成25年11月21日 総税市第49号, record 315; items 1–13 as 網走市「給与支払報告書 光ディスク等
提出データ仕様書 レコードの作成要領」 (https://expydoc.com/doc/7167626/) gives them. Items from 14 on sit at
the positions :data:`ledger.encoding.eltax_315.PROVISIONAL` names (not yet confirmed, see the module).
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.forms import V2
from ledger.domain.procedures import validate_payload
from ledger.encoding import eltax_315 as m
from ledger.encoding.text_files import text_lines
from tests.factories import personal

pytestmark = pytest.mark.unit

PAYROLL = V2["PAYROLL_REPORT"]
NAME, KANA, ADDRESS = "高橋 一郎", "タカハシ イチロウ", "東京都新宿区西新宿2-8-1"


def record(**over: str) -> dict[int, str]:
    """A 315 record's cells by 項目番号 (網走市 レコードの作成要領 items 1–13; the rest provisional)."""
    cells = {1: "315", 2: "0123456789", 3: "1", 4: "東京都千代田区丸の内1-1", 5: "株式会社記録", 6: "03-1234-5678",
             7: "", 8: "", 9: "", 10: "0", 11: "07", 12: ADDRESS, 13: "0", 14: NAME, 17: "5000000", 19: "3560000",
             20: "1200000", 21: "120000", 36: "700000", 45: "3600714", 48: KANA, 49: "E1", 50: "131016",
             51: personal(70_001), 54: "1234567890123"}
    cells.update({int(k[1:]): v for k, v in over.items()})
    return cells


def line_of(cells: dict[int, str], width: int = m.MIN_CELLS) -> str:
    return ",".join(cells.get(n, "") for n in range(1, width + 1)) + "\r\n"


def cp932_file(*records: dict[int, str]) -> bytes:
    return "".join(line_of(r) for r in records).encode("cp932")


def groups_of(data: bytes) -> list[m.ImportGroup]:
    return list(m.read_groups(text_lines(io.BytesIO(data), "auto")))


def payload(group: m.ImportGroup) -> dict[str, Any]:
    return validate_payload(PAYROLL, {**group.header, "lines": [x.line for x in group.lines]}, group.period)


def codes(group: m.ImportGroup) -> list[tuple[int, str, str]]:
    return [(e["row"], e["column"], e["code"]) for e in group.errors]


def test_sniff_knows_a_315_record() -> None:
    """網走市 レコードの作成要領 item 1: 法定資料の種類 is "315"."""
    assert m.sniff(line_of(record()))
    assert m.sniff("\ufeff315,0123456789")
    assert not m.sniff("corporate_number,period,employer_name")
    assert (m.FORMAT, m.RECORD_KIND) == ("eltax-315", "315") and "総税市第49号" in m.LAYOUT


def test_a_cp932_file_round_trips_to_a_valid_v2_payroll_report() -> None:
    """網走市 レコードの作成要領 (https://expydoc.com/doc/7167626/): 年分 in 和暦 ("07" = 令和7 = 2025),
    訂正表示 "1" a correcting record, "0" otherwise; the 提出義務者 items 2–7 make the employer."""
    data = cp932_file(record(), record(i10="1", i49="E2", i14="高橋 二郎"))
    [group] = groups_of(data)
    assert group.errors == []
    assert (group.procedure, group.period, group.corporate_number, group.first_row) == ("PAYROLL_REPORT", "2025", "1234567890123", 1)
    assert group.header == {"employer": {"tax_office_reference": "0123456789", "branch_number": "1", "name": "株式会社記録",
                                         "address": "東京都千代田区丸の内1-1", "phone": "03-1234-5678"}}
    assert [(x.row, x.change) for x in group.lines] == [(1, None), (2, "CORRECT")]
    out = payload(group)
    first = out["lines"][0]
    assert first["person"]["birth_date"] == "1985-07-14"  # 3 昭和 60年7月14日
    assert (first["person"]["name"], first["person"]["kana"], first["person"]["address"]) == (NAME, KANA, ADDRESS)
    assert first["person"]["personal_number"] == personal(70_001)
    assert (first["employee_number"], first["municipality_code"]) == ("E1", "131016")
    assert (first["payment_amount"], first["income_after_deduction"], first["total_deductions"], first["withholding_tax"],
            first["social_insurance"]) == (5_000_000, 3_560_000, 1_200_000, 120_000, 700_000)
    assert first["year_end_adjusted"] is True and first["collection"] == "SPECIAL"


def test_a_leaver_and_ordinary_collection() -> None:
    """中途退職 (items 46–47, provisional): the leaving date in 和暦 becomes employment_end; no 年末調整 leaves
    items 19–20 blank (国税庁 源泉徴収票の記載要領); 普通徴収 with its reason 普F (普通徴収切替理由書)."""
    [group] = groups_of(cp932_file(record(i19="", i20="", i46="2", i47="5070630", i52="1", i53="普F")))
    line = payload(group)["lines"][0]
    assert (line["employment_end"], line["year_end_adjusted"]) == ("2025-06-30", False)
    assert (line["collection"], line["ordinary_reason"]) == ("ORDINARY", "LEAVING")


def test_rows_of_another_payer_or_year_start_a_new_group() -> None:
    """One group per consecutive run of one 提出義務者 (items 2–7) and 年分 (item 11)."""
    groups = groups_of(cp932_file(record(), record(), record(i11="06"), record(i5="有限会社別")))
    assert [(g.first_row, g.period, len(g.lines)) for g in groups] == [(1, "2025", 2), (3, "2024", 1), (4, "2025", 1)]


@pytest.mark.parametrize(("over", "column", "code"), [
    ({"i11": "7"}, "項目11 年分", "invalid_year"),
    ({"i11": "00"}, "項目11 年分", "invalid_year"),
    ({"i11": "30"}, "項目11 年分", "unsupported_year"),  # 平成30年 is not read as 令和30 (2048)
    ({"i45": "3601399"}, "項目45 生年月日", "invalid_date"),
    ({"i45": "9600714"}, "項目45 生年月日", "invalid_date"),
    ({"i45": "4310501"}, "項目45 生年月日", "invalid_date"),  # 平成31年5月1日 is 令和元年 (平成31年政令第143号)
    ({"i17": "500万"}, "項目17 支払金額", "invalid_amount"),
    ({"i10": "2"}, "項目10 訂正表示", "invalid_flag"),
    ({"i2": "12345"}, "項目2 整理番号1", "invalid_reference"),
    ({"i7": "12345678901"}, "項目7 整理番号2", "invalid_reference"),
    ({"i53": "普G"}, "項目53 普通徴収切替理由", "invalid_choice"),
])
def test_cells_not_as_the_layout_says_are_placed_errors(over: dict[str, str], column: str, code: str) -> None:
    """網走市 レコードの作成要領: 年分 two digits of the 令和 year, 訂正表示 "1"/"0", 整理番号1 10 digits and
    整理番号2 13 digits (also 国税庁 375 記録要領, https://dokumen.tips/documents/fffeeoeee-cci375.html)."""
    groups = groups_of(cp932_file(record(), record(**over)))
    assert [c for g in groups for c in codes(g)] == [(2, column, code)]
    assert [x.row for g in groups for x in g.lines] == [1]  # the refused row gives no line


def test_a_wrong_record_kind_or_too_few_cells_is_an_error_on_its_row() -> None:
    """網走市 レコードの作成要領 item 1: every record is 法定資料の種類 "315"."""
    data = (line_of(record()) + line_of(record(i1="316")) + ",".join(["315"] * 20) + "\r\n").encode("cp932")
    [group] = groups_of(data)
    assert codes(group) == [(2, "項目1 法定資料の種類", "wrong_record_kind"), (3, "row", "too_few_cells")]
    assert group.errors[1]["expected"] == f"at least {m.MIN_CELLS} cells"


def test_no_personal_datum_appears_in_any_error() -> None:
    """総税市第49号 record 315 carries the person's 氏名, 住所 and 個人番号: an error never repeats them."""
    number = personal(70_002)
    bad = record(i1="999", i45=NAME, i17=number, i11=ADDRESS)
    bad2 = record(i45=number, i17=NAME, i10=ADDRESS)
    [group] = groups_of(cp932_file(record(), bad, bad2))
    assert group.errors
    text = json.dumps(group.errors, ensure_ascii=False)
    for secret in (NAME, ADDRESS, number, KANA):
        assert secret not in text


def test_the_key_material_leaves_the_person_out() -> None:
    """The idempotency key is derived from the rows without the person's cells (import_groups.ImportGroup)."""
    [a] = groups_of(cp932_file(record()))
    [b] = groups_of(cp932_file(record(i14="別人 花子", i51=personal(70_003), i12="大阪府大阪市", i45="4010101")))
    [c] = groups_of(cp932_file(record(i17="5000001")))
    assert a.idempotency_key("x:") == b.idempotency_key("x:") != c.idempotency_key("x:")
    for secret in (NAME, ADDRESS, personal(70_001), KANA):
        assert secret not in a.key_material


def test_decoding_goes_through_text_lines_of_the_cp932_bytes() -> None:
    """総務省告示第429号 第2の2: the file is Shift_JIS; the reader takes text_lines(…, "auto") of its bytes."""
    data = cp932_file(record())
    assert data.decode("cp932").encode("cp932") == data and "株式会社記録".encode("cp932") in data
    [group] = list(m.read_groups(text_lines(data.splitlines(keepends=True), "auto")))
    assert group.header["employer"]["name"] == "株式会社記録" and group.lines[0].line["person"]["name"] == NAME


@settings(max_examples=50, deadline=None)
@given(year=st.integers(1, 7), yy=st.integers(2, 63), month=st.integers(1, 12), day=st.integers(1, 28),
       pay=st.integers(3_560_000, 20_000_000), tax=st.integers(0, 999_999), insurance=st.integers(0, 999_999),
       correct=st.booleans(), name=st.text(alphabet="山田太郎花子一二三", min_size=1, max_size=10))
def test_records_written_by_the_layout_decode_back(year: int, yy: int, month: int, day: int, pay: int, tax: int,
                                                   insurance: int, correct: bool, name: str) -> None:
    """網走市 レコードの作成要領 items 10–11 (訂正表示, 年分 01–09 with a leading zero) and the 和暦 birth date
    (元号 3 昭和 + YYMMDD): what the builder writes, the reader gives back."""
    cells = record(i11=f"{year:02d}", i45=f"3{yy:02d}{month:02d}{day:02d}", i17=str(pay), i21=str(tax), i36=str(insurance),
                   i10="1" if correct else "0", i14=name)
    [group] = groups_of(cp932_file(cells))
    assert group.errors == [] and group.period == str(2018 + year)
    line = payload(group)["lines"][0]
    assert line["person"]["birth_date"] == f"{1925 + yy}-{month:02d}-{day:02d}"
    got = (line["payment_amount"], line["withholding_tax"], line["social_insurance"], line["person"]["name"])
    assert got == (pay, tax, insurance, name)
    assert group.lines[0].change == ("CORRECT" if correct else None)


def test_on_row_is_told_every_row_and_blank_lines_are_skipped() -> None:
    """import_groups: ``read_groups(lines, on_row)`` tells each row's number (the first line is 1) as it reads."""
    seen: list[int] = []
    text = line_of(record()) + "\r\n" + line_of(record())
    [group] = list(m.read_groups(text_lines(io.BytesIO(text.encode("cp932")), "auto"), on_row=seen.append))
    assert seen == [1, 2, 3] and [x.row for x in group.lines] == [1, 3]
    person = group.lines[0].line["person"]
    assert (person["personal_number"], person.get("personal_number_absence")) == (personal(70_001), None)
    [blank] = groups_of(cp932_file(record(i51="")))
    assert blank.lines[0].line["person"]["personal_number_absence"] == "NOT_PROVIDED"
