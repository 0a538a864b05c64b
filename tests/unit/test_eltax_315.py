"""The national 給与支払報告書 CSV (法定資料の種類 315) read as v2 PAYROLL_REPORT groups.

Layout: 総務省 平成25年11月21日 総税市第49号, record 315 as eLTAX takes it. Items 1–13: 網走市「給与支払報告書
光ディスク等提出データ仕様書 レコードの作成要領」 (https://expydoc.com/doc/7167626/); items 14–98 as the eLTAX
CSVレイアウト仕様書 validator arakanema/kyuhou_csv_validator checks them; items 1–143 as chumaltd/luca-jp
(lib/luca_salary/jp_payreport.rb) writes them — each item's source is in :data:`ledger.encoding.eltax_315.SOURCES`.
"""

from __future__ import annotations

import io
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.forms import V2
from ledger.domain.procedures import validate_payload
from ledger.encoding import eltax_315 as m
from ledger.encoding.text_files import text_lines
from ledger.errors import ValidationErrors
from tests.factories import personal

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parents[1] / "fixtures" / "national"

PAYROLL = V2["PAYROLL_REPORT"]
NAME, KANA, ADDRESS = "高橋 一郎", "ﾀｶﾊｼ ｲﾁﾛｳ", "東京都新宿区西新宿2-8-1"
CN = "1234567890123"
WIDTH = 143  # through 143 ひとり親 (令和2年分〜, luca-jp)


def record(**over: str) -> dict[int, str]:
    """A 315 record's cells by 項目番号 (eltax_315.CONFIRMED; 生年月日 44–47 is 元号, 年, 月, 日)."""
    cells = {1: "315", 2: "0123456789", 3: "1", 4: "東京都千代田区丸の内1-1", 5: "株式会社記録", 6: "03-1234-5678",
             7: "", 8: "", 9: "", 10: "0", 11: "07", 12: ADDRESS, 13: "0", 14: NAME, 16: "給料", 17: "5000000", 19: "3560000",
             20: "1200000", 21: "120000", 26: "1", 28: "1", 29: "1", 31: "2", 36: "700000", 38: "40000",
             44: "1", 45: "60", 46: "07", 47: "14", 91: "1", 94: CN, 95: personal(70_001), 137: KANA, 138: "E1", 139: "131016",
             141: "480000"}
    cells.update({int(k[1:]): v for k, v in over.items()})
    return cells


def line_of(cells: dict[int, str], width: int = WIDTH) -> str:
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


def test_every_item_up_to_143_has_a_position_and_a_source() -> None:
    """Each position is given by a source: 網走市 (A), 国税庁 375 (N), kyuhou_csv_validator (K), luca-jp (L)."""
    assert sorted(m.ITEMS) == list(range(1, 144))
    assert all(set(i.source.split()) <= set(m.SOURCES) and i.source for i in m.CONFIRMED)
    assert {n for n, i in m.ITEMS.items() if "A" in i.source} == set(range(1, 14))
    assert (m.ITEMS[44].name, m.ITEMS[86].name, m.ITEMS[137].name, m.ITEMS[139].name) == (
        "受給者の生年月日 元号", "摘要", "支払を受ける者のフリガナ", "提出先市町村コード")


def test_a_cp932_file_round_trips_to_a_valid_v2_payroll_report() -> None:
    """網走市 レコードの作成要領: 年分 in 和暦 ("07" = 令和7 = 2025); the 提出義務者 items 2–7 make the employer;
    kyuhou_csv_validator / luca-jp: 生年月日 in four cells (44 元号, 45 年, 46 月, 47 日), the counts 26–35 and 91,
    法人番号 94, 個人番号 95, フリガナ 137 (半角), 受給者番号 138, 提出先市町村コード 139, 基礎控除の額 141."""
    [group] = groups_of(cp932_file(record(), record(i138="E2", i14="高橋 二郎", i95=personal(70_002))))
    assert group.errors == []
    assert (group.procedure, group.period, group.corporate_number, group.first_row) == ("PAYROLL_REPORT", "2025", CN, 1)
    assert group.header == {"employer": {"tax_office_reference": "0123456789", "branch_number": "1", "name": "株式会社記録",
                                         "address": "東京都千代田区丸の内1-1", "phone": "03-1234-5678"}}
    first = payload(group)["lines"][0]
    assert first["person"]["birth_date"] == "1985-07-14"  # 昭和60年7月14日
    assert (first["person"]["name"], first["person"]["kana"], first["person"]["address"]) == (NAME, "タカハシ イチロウ", ADDRESS)
    assert first["person"]["personal_number"] == personal(70_001)
    assert (first["employee_number"], first["municipality_code"], first["category"]) == ("E1", "131016", "給料")
    assert (first["payment_amount"], first["income_after_deduction"], first["total_deductions"], first["withholding_tax"],
            first["social_insurance"], first["life_insurance"], first["basic_deduction"]) == (
        5_000_000, 3_560_000, 1_200_000, 120_000, 700_000, 40_000, 480_000)
    assert (first["dependants_specific"], first["dependants_elderly"], first["dependants_elderly_cohabiting"],
            first["dependants_other"], first["dependants_under_16"]) == (1, 1, 1, 2, 1)
    assert first["year_end_adjusted"] is True and first["collection"] == "SPECIAL"


def test_a_record_in_the_order_luca_jp_writes_it() -> None:
    """chumaltd/luca-jp jp_payreport.rb 給与支払報告明細行: 315, 提出義務者 (8), 提出区分, 年分, 支払を受ける者 (4),
    支払 (22), 支払を受ける者の詳細 (6 + 4 生年月日 + 8 + 35 cells "col90まで" + 3), 法人番号, 扶養情報 (1 個人番号 + 4 配偶者
    + 16 + 16 + 2 + 普通徴収, 青色専従者, 条約免除, フリガナ（半角）, 受給者番号, 提出先市町村コード, 指定番号), 基礎控除の額,
    所得金額調整控除額, ひとり親 — written here block by block as the writer does, not by item number."""
    payer = ["", "", "東京都港区1-1", "株式会社記録", "03-0000-0000", "", "", ""]
    recipient = [ADDRESS, "", NAME, ""]
    pay = ["給料", "4000000", "", "2760000", "1300000", "80000", "", "2", "", "0", *[""] * 10, "600000", ""]
    detail = [*[""] * 6, "4", "02", "03", "04", "", "0", *[""] * 6, *[""] * 35, "0", "", ""]
    family = [personal(70_004), *[""] * 4, *[""] * 32, "", "", "", "", "", "ｽｽﾞｷ ﾊﾅｺ", "E9", "271004", "000123"]
    cells = ["315", *payer, "0", "07", *recipient, *pay, *detail, CN, *family, "480000", "", ""]
    assert len(cells) == WIDTH
    [group] = groups_of((",".join(cells) + "\r\n").encode("cp932"))
    assert group.errors == [] and group.corporate_number == CN
    line = payload(group)["lines"][0]
    assert (line["person"]["birth_date"], line["person"]["kana"], line["person"]["personal_number"]) == (
        "1990-03-04", "スズキ ハナコ", personal(70_004))  # 平成2年3月4日
    assert (line["employee_number"], line["municipality_code"], line["payment_amount"], line["social_insurance"]) == (
        "E9", "271004", 4_000_000, 600_000)


@pytest.mark.parametrize(("shown_as", "change"), [("0", None), ("1", "ADD"), ("2", "CORRECT"), ("3", "CANCEL")])
def test_the_correction_mark_says_new_add_correct_or_cancel(shown_as: str, change: str | None) -> None:
    """Item 10 on eLTAX: 0 新規, 1 追加, 2 訂正, 3 取消 — kyuhou_csv_validator "訂正表示 必須 数字1 0~3"; luca-jp
    "提出区分（新規0, 追加1, 訂正2, 取消3）"; 板橋区 特別徴収 FAQ (the 申告区分/訂正表示 carries 訂正・追加・取消)."""
    [group] = groups_of(cp932_file(record(i10=shown_as)))
    assert group.errors == [] and [x.change for x in group.lines] == [change]


def test_a_head_office_file_gives_each_branch_its_own_group() -> None:
    """網走市 item 3: 本支店等区分番号 distinguishes the 提出義務者 when a 本店 files for its 支店 — one filing per
    (法人番号 item 94, 年分 item 11, 本支店等区分番号 item 3), the number in the employer header."""
    groups = groups_of(cp932_file(record(i3="1"), record(i3="1", i138="E2"), record(i3="2", i5="株式会社記録 大阪支店"),
                                  record(i3="2", i11="06"), record(i3="2", i11="06", i94="9876543210987")))
    assert [(g.first_row, g.period, g.corporate_number, g.header["employer"].get("branch_number"), len(g.lines))
            for g in groups] == [(1, "2025", CN, "1", 2), (3, "2025", CN, "2", 1), (4, "2024", CN, "2", 1),
                                 (5, "2024", "9876543210987", "2", 1)]
    assert groups[1].header["employer"]["name"] == "株式会社記録 大阪支店"
    assert len({g.idempotency_key("k:") for g in groups}) == 4


def test_an_individual_payers_personal_number_is_no_corporate_number() -> None:
    """Item 94 is the 提出義務者's number — luca-jp writes the company's 法人番号 (13 digits); an individual employer has a
    12-digit 個人番号 instead, which is neither the group's corporate number nor part of its key material."""
    number = personal(70_007)
    [group] = groups_of(cp932_file(record(i94=number, i5="記録 太郎")))
    assert (group.errors, group.corporate_number) == ([], "") and number not in group.key_material


def test_a_personal_number_padded_to_13_cells_is_read_without_its_zero() -> None:
    """国税庁 標準規格等 (375, SOURCES "T"): 個人番号 is 半角13文字, a 12-digit number recorded with a leading zero
    (「123456789012」⇒「0123456789012」). In 95 it is the employee's number without the zero; in 94 a 13-digit number
    led by 0 is an individual 提出義務者's 個人番号 — a 法人番号 begins with its check digit 1–9 — so it is no
    company and stays out of the key material."""
    employee, payer = personal(70_011), personal(70_012)
    [group] = groups_of(cp932_file(record(i95="0" + employee, i94="0" + payer, i5="記録 太郎")))
    assert (group.errors, group.corporate_number) == ([], "")
    assert group.lines[0].line["person"]["personal_number"] == employee
    assert payer not in group.key_material and employee not in group.key_material
    [same] = groups_of(cp932_file(record(i95=employee, i94=payer, i5="記録 太郎")))
    assert same.lines[0].line == group.lines[0].line


def test_from_reiwa_7_the_specific_relative_items_follow_143() -> None:
    """eLTAX 統一CSVレイアウト (SOURCES "U"): 令和7年分 adds 144 特定親族 主, 145 特定親族 従, 146 特定親族特別控除の額
    (then 147 作成区分); in 令和6年分 144 is the 作成区分 (0 国税のみ, 1 地方のみ, 2 両方), read past."""
    r7 = record(i11="07", i144="1", i145="0", i146="630000", i147="2")
    [group] = groups_of(line_of(r7, 147).encode("cp932"))
    assert group.errors == [] and group.period == "2025"
    line = group.lines[0].line
    assert (line["dependants_specific_relative"], line["specific_relative_special"]) == (1, 630_000)
    assert payload(group)["lines"][0]["specific_relative_special"] == 630_000
    [r6] = groups_of(line_of(record(i11="06", i144="2"), 144).encode("cp932"))
    assert r6.errors == [] and "dependants_specific_relative" not in r6.lines[0].line
    [bad] = groups_of(line_of(record(i11="07", i144="x", i146=""), 147).encode("cp932"))
    assert codes(bad) == [(1, "項目144 控除対象扶養親族等の数 特定親族 主", "invalid_amount")]


def test_a_leaver_collected_ordinarily_with_the_reason_in_the_remarks() -> None:
    """kyuhou_csv_validator items 60–63 (中途就・退職 区分, 年, 月, 日), 86 摘要, and luca-jp 134 普通徴収: on eLTAX the
    普通徴収 box is set and the 符号 普A–普F goes in 摘要 (普通徴収切替理由書の記載要領, https://expydoc.com/doc/11153029/);
    no 年末調整 leaves items 19–20 blank (国税庁 源泉徴収票の記載要領)."""
    [group] = groups_of(cp932_file(record(i19="", i20="", i60="2", i61="07", i62="06", i63="30", i134="1", i86="普Ｆ　退職")))
    line = payload(group)["lines"][0]
    assert (line["employment_end"], line["year_end_adjusted"], line["remarks"]) == ("2025-06-30", False, "普Ｆ　退職")
    assert (line["collection"], line["ordinary_reason"]) == ("ORDINARY", "LEAVING")


def test_ordinary_collection_without_its_code_is_left_to_the_domain_rule() -> None:
    """普通徴収切替理由書の記載要領: with eLTAX the 符号 goes in 摘要 — none there, and the v2 rule asks for the reason."""
    [group] = groups_of(cp932_file(record(i134="1")))
    assert "ordinary_reason" not in group.lines[0].line
    with pytest.raises(ValidationErrors) as raised:
        payload(group)
    assert [e.code for e in raised.value.errors] == ["ordinary_reason_required"]


def test_a_leaving_date_in_reiwa_gannen_before_may_is_heisei_31() -> None:
    """中途就・退職 年 has no 元号 (kyuhou_csv_validator 数字2): in 令和元年分 a March date is 平成31年 (平成31年政令第143号)."""
    [group] = groups_of(cp932_file(record(i11="01", i60="2", i61="31", i62="03", i63="31")))
    assert group.errors == [] and group.lines[0].line["employment_end"] == "2019-03-31"


@pytest.mark.parametrize(("era", "yy", "born"), [("1", "45", "1970-11-03"), ("2", "14", "1925-11-03"), ("3", "44", "1911-11-03"),
                                                 ("4", "12", "2000-11-03"), ("5", "02", "2020-11-03")])
def test_the_birth_era_codes_are_the_national_tax_agencys(era: str, yy: str, born: str) -> None:
    """元号 44: 昭和は「1」、大正は「2」、明治は「3」、平成は「4」、令和は「5」 (国税庁 標準規格等, 給与所得の源泉徴収票 375
    レコードの内容及び記録要領 — SOURCES "T"; luca-jp writes the same)."""
    [group] = groups_of(cp932_file(record(i44=era, i45=yy, i46="11", i47="03")))
    assert group.errors == []
    assert group.lines[0].line["person"]["birth_date"] == born


@pytest.mark.parametrize(("over", "column", "code"), [
    ({"i11": "7"}, "項目11 年分", "invalid_year"),
    ({"i11": "00"}, "項目11 年分", "invalid_year"),
    ({"i11": "30"}, "項目11 年分", "unsupported_year"),  # 平成30年 is not read as 令和30 (2048)
    ({"i46": "13"}, "項目44 受給者の生年月日 元号", "invalid_date"),
    ({"i44": "9"}, "項目44 受給者の生年月日 元号", "invalid_era"),
    ({"i44": "4", "i45": "31", "i46": "05", "i47": "01"}, "項目44 受給者の生年月日 元号", "invalid_date"),  # that is 令和元年
    ({"i47": ""}, "項目44 受給者の生年月日 元号", "invalid_date"),
    ({"i45": "6"}, "項目45 受給者の生年月日 年", "invalid_date"),
    ({"i17": "500万"}, "項目17 支払金額", "invalid_amount"),
    ({"i31": "100"}, "項目31 控除対象扶養親族の数 その他 主", "invalid_amount"),
    ({"i10": "4"}, "項目10 訂正表示", "invalid_flag"),
    ({"i10": ""}, "項目10 訂正表示", "invalid_flag"),
    ({"i2": "12345"}, "項目2 整理番号1", "invalid_reference"),
    ({"i7": "12345678901"}, "項目7 整理番号2", "invalid_reference"),
    ({"i60": "5"}, "項目60 中途就・退職 区分", "invalid_code"),
    ({"i60": "1", "i61": "06", "i62": "04", "i63": "01"}, "項目61 中途就・退職 年", "invalid_date"),  # not the 年分
    ({"i134": "2"}, "項目134 普通徴収", "invalid_flag"),
    ({"i94": "12345"}, "項目94 提出義務者の個人番号又は法人番号", "invalid_reference"),
])
def test_cells_not_as_the_layout_says_are_placed_errors(over: dict[str, str], column: str, code: str) -> None:
    """網走市 レコードの作成要領 (年分, 訂正表示, 整理番号1/2; also 国税庁 375 記録要領) and kyuhou_csv_validator
    (数字 widths, 生年月日 元号/年/月/日, 中途就・退職 区分 0–2): a bad cell is an error on its row and item."""
    groups = groups_of(cp932_file(record(), record(**over)))
    assert [c for g in groups for c in codes(g)] == [(2, column, code)]
    assert [x.row for g in groups for x in g.lines] == [1]  # the refused row gives no line


@pytest.mark.parametrize(("kana", "code"), [("タカハシ イチロウ", "invalid_kana"), ("高橋", "invalid_kana"),
                                            ("たかはし", "invalid_kana"), ("", "required")])
def test_a_furigana_not_in_half_width_katakana_is_refused_without_echo(kana: str, code: str) -> None:
    """E14: フリガナ (item 137) is 半角カナ, 必須 (kyuhou_csv_validator "カナ氏名 必須 半角カナ60"; luca-jp converts it to 半角
    before writing); other characters are an eLTAX 受付エラー (鹿児島市 eLTAXエラーチェック). Row and item named, text never shown."""
    [group] = groups_of(cp932_file(record(), record(i137=kana)))
    assert codes(group) == [(2, "項目137 支払を受ける者のフリガナ", code)] and len(group.lines) == 1
    if kana:
        assert kana not in json.dumps(group.errors, ensure_ascii=False)


def test_the_2014_layout_of_98_items_is_refused_as_too_short() -> None:
    """kyuhou_csv_validator (2014) checks 98 items; the マイナンバー layout luca-jp writes has 140 and more."""
    [group] = groups_of((",".join(["315"] + [""] * 97) + "\r\n").encode("cp932"))
    assert codes(group) == [(1, "row", "too_few_cells")] and group.errors[0]["expected"] == "at least 140 cells"


def test_a_record_of_reiwa_gannen_has_140_cells() -> None:
    """luca-jp: 基礎控除の額, 所得金額調整控除額, ひとり親 (141–143) follow 指定番号 (140) from 令和2年分 on."""
    [group] = groups_of(line_of(record(i11="01"), 140).encode("cp932"))
    assert group.errors == [] and "basic_deduction" not in group.lines[0].line


def test_a_wrong_record_kind_or_too_few_cells_is_an_error_on_its_row() -> None:
    """網走市 レコードの作成要領 item 1: every record is 法定資料の種類 "315"."""
    data = (line_of(record()) + line_of(record(i1="316")) + ",".join(["315"] * 20) + "\r\n").encode("cp932")
    [group] = groups_of(data)
    assert codes(group) == [(2, "項目1 法定資料の種類", "wrong_record_kind"), (3, "row", "too_few_cells")]


def test_no_personal_datum_appears_in_any_error() -> None:
    """The record carries the person's 氏名, 住所, 生年月日 and 個人番号: an error never repeats them."""
    number = personal(70_002)
    bad = record(i1="999", i45=NAME, i17=number, i11=ADDRESS)
    bad2 = record(i44=number, i17=NAME, i10=ADDRESS, i137=NAME)
    [group] = groups_of(cp932_file(record(), bad, bad2))
    assert group.errors
    text = json.dumps(group.errors, ensure_ascii=False)
    for secret in (NAME, ADDRESS, number, KANA):
        assert secret not in text


def test_the_key_material_leaves_the_person_out() -> None:
    """The idempotency key is derived from the rows without the person's cells (import_groups.ImportGroup)."""
    [a] = groups_of(cp932_file(record()))
    [b] = groups_of(cp932_file(record(i14="別人 花子", i95=personal(70_003), i12="大阪府大阪市", i45="50", i137="ﾍﾞﾂｼﾞﾝ")))
    [c] = groups_of(cp932_file(record(i17="5000001")))
    assert a.idempotency_key("x:") == b.idempotency_key("x:") != c.idempotency_key("x:")
    for secret in (NAME, ADDRESS, personal(70_001), KANA):
        assert secret not in a.key_material


def test_decoding_goes_through_text_lines_of_the_cp932_bytes() -> None:
    """総務省告示第429号 第2の2: the file is Shift_JIS; the reader takes text_lines(…, "auto") of its bytes."""
    data = cp932_file(record())
    assert "株式会社記録".encode("cp932") in data and KANA.encode("cp932") in data
    [group] = list(m.read_groups(text_lines(data.splitlines(keepends=True), "auto")))
    assert group.header["employer"]["name"] == "株式会社記録" and group.lines[0].line["person"]["name"] == NAME


@settings(max_examples=50, deadline=None)
@given(year=st.integers(1, 7), yy=st.integers(2, 63), month=st.integers(1, 12), day=st.integers(1, 28),
       pay=st.integers(3_560_000, 20_000_000), tax=st.integers(0, 999_999), insurance=st.integers(0, 999_999),
       change=st.sampled_from(sorted(m.CHANGES)), name=st.text(alphabet="山田太郎花子一二三", min_size=1, max_size=10),
       kana=st.lists(st.sampled_from(["ｱ", "ｲ", "ｳ", "ｴ", "ｵ", "ｶﾞ", "ｷﾞ", "ﾊﾟ", "ﾝ", "ｰ", " "]), min_size=1, max_size=12)
       .map("".join).filter(str.strip))
def test_records_written_by_the_layout_decode_back(year: int, yy: int, month: int, day: int, pay: int, tax: int,
                                                   insurance: int, change: str, name: str, kana: str) -> None:
    """網走市 items 10–11 (年分 01–09 with a leading zero), kyuhou_csv_validator / luca-jp 44–47 (昭和 + 年, 月, 日)
    and 137 (半角カナ): what the builder writes, the reader gives back (the kana in full width, NFKC)."""
    cells = record(i11=f"{year:02d}", i45=f"{yy:02d}", i46=f"{month:02d}", i47=f"{day:02d}", i17=str(pay), i21=str(tax),
                   i36=str(insurance), i10=change, i14=name, i137=kana)
    [group] = groups_of(cp932_file(cells))
    assert group.errors == [] and group.period == str(2018 + year)
    line = payload(group)["lines"][0]
    assert line["person"]["birth_date"] == f"{1925 + yy}-{month:02d}-{day:02d}"
    got = (line["payment_amount"], line["withholding_tax"], line["social_insurance"], line["person"]["name"])
    assert got == (pay, tax, insurance, name) and line["person"]["kana"] == unicodedata.normalize("NFKC", kana.strip())
    assert group.lines[0].change == m.CHANGES[change]


def test_on_row_is_told_every_row_and_blank_lines_are_skipped() -> None:
    """import_groups: ``read_groups(lines, on_row)`` tells each row's number (the first line is 1) as it reads."""
    seen: list[int] = []
    text = line_of(record()) + "\r\n" + line_of(record())
    [group] = list(m.read_groups(text_lines(io.BytesIO(text.encode("cp932")), "auto"), on_row=seen.append))
    assert seen == [1, 2, 3] and [x.row for x in group.lines] == [1, 3]
    person = group.lines[0].line["person"]
    assert (person["personal_number"], person.get("personal_number_absence")) == (personal(70_001), None)
    [blank] = groups_of(cp932_file(record(i95="")))
    assert blank.lines[0].line["person"]["personal_number_absence"] == "NOT_PROVIDED"


def test_the_fixture_file_of_a_head_office_and_its_branch() -> None:
    """tests/fixtures/national/eltax_315_two_branches.csv (CP932, CRLF, 143 items a record): the 本店 (本支店等区分番号 1)
    files for its 大阪支店 (2) — two filings, each valid as a v2 PAYROLL_REPORT (網走市 item 3; luca-jp item order)."""
    with open(FIXTURES / "eltax_315_two_branches.csv", "rb") as f:
        assert m.sniff(f.readline().decode("cp932"))
        f.seek(0)
        groups = list(m.read_groups(text_lines(f, "auto")))
    assert [(g.header["employer"]["branch_number"], len(g.lines), g.errors) for g in groups] == [("1", 2, []), ("2", 1, [])]
    leaver = payload(groups[1])["lines"][0]
    assert (leaver["employment_end"], leaver["collection"], leaver["ordinary_reason"], leaver["municipality_code"]) == (
        "2025-06-30", "ORDINARY", "LEAVING", "271004")
    payload(groups[0])


def test_every_flag_a_blank_cell_leaves_out_defaults_to_false_on_the_form() -> None:
    """The reader skips a blank 0/1 cell (it reads as False): right only while each flag it fills defaults to False."""
    rules = {r.name: r for r in PAYROLL.line}
    for item in m.ITEMS.values():
        where, _, name = item.field.partition(".")
        if item.kind == "flag01" and where == "line":
            assert rules[name].kind == "flag" and rules[name].default is False, item
