"""SHFD0006.CSV decoding (ledger.encoding.nenkin_shfd).

Layout: 日本年金機構「CSV形式届書作成仕様書（電子申請）／電子媒体届書作成仕様書」第16.2版
(https://www.nenkin.go.jp/denshibenri/denshishinsei/20210401-2.files/specs080302_16.2.pdf) as
exally-zeroact/rakually-test kyuyo/lib/todokede-csv.js quotes it (算定基礎届 2225700, 53 items, 136–142p; the file's
head, 64p) and kufu/kirico writes it (data_record2225700.rb, data_record2265700.rb: 賞与支払届, 21 items)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.forms import V2
from ledger.domain.procedures import validate_payload
from ledger.encoding import nenkin_shfd as shfd
from ledger.encoding.text_files import text_lines
from ledger.errors import ValidationError
from tests.factories import personal

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parents[1] / "fixtures" / "national"

CN = "1234567890123"
NAME, KANA = "高橋　一郎", "ﾀｶﾊｼ ｲﾁﾛｳ"
#: The 仕様書's example head (64p, as todokede-csv.js quotes it): 媒体管理, [kanri], 事業所数情報, 事業所情報.
HEAD = [["21", "01", "ｹｲﾄ", "001", "20170101", "22223"], ["[kanri]"], ["", "001"],
        ["21", "01", "ｹｲﾄ", "123", "100", "0000", "東京都千代田区霞が関１－２－２", "健保サービス株式会社", "健保 良一",
         "03", "1234", "5678"]]
OSAKA = ["41", "02", "ｵｵｻ", "456", "530", "0001", "大阪府大阪市北区梅田１－１", "健保サービス株式会社　大阪", "健保 良一",
         "06", "1234", "5678"]


def sr_record(**over: str) -> list[str]:
    """An 算定基礎届 record as todokede-csv.js santeiRow writes it (items 1–53, 7-digit amounts with leading zeros)."""
    cells = dict.fromkeys(shfd.SR_ITEMS, "")
    cells.update({"様式コード": "2225700", "都道府県コード": "21", "郡市区符号": "01", "事業所記号": "ｹｲﾄ", "被保険者整理番号": "79",
                  "氏名(カナ)": KANA, "氏名(漢字)": NAME, "元号(生年月日)": "5", "年月日(生年月日)": "400407",
                  "元号(適用年月)": "9", "年(適用年月)": "07", "月(適用年月)": "09", "従前の標準報酬月額(健保)": "0300",
                  "従前の標準報酬月額(厚年)": "0300", "元号(従前改定年月)": "9", "年(従前改定年月)": "06", "月(従前改定年月)": "09",
                  "給与支給月(4月)": "04", "給与支給月(5月)": "05", "給与支給月(6月)": "06",
                  "支払基礎日数(4月)": "30", "支払基礎日数(5月)": "31", "支払基礎日数(6月)": "30",
                  "報酬月額通貨(4月)": "0300000", "報酬月額通貨(5月)": "0310000", "報酬月額通貨(6月)": "0300000",
                  "報酬月額現物(4月)": "0000000", "報酬月額現物(5月)": "0000000", "報酬月額現物(6月)": "0005000",
                  "報酬月額合計(4月)": "0300000", "報酬月額合計(5月)": "0310000", "報酬月額合計(6月)": "0305000",
                  "総計": "0915000", "平均額": "0305000"})
    cells.update(over)
    return list(cells.values())


def bonus_record(**over: str) -> list[str]:
    """A 賞与支払届 record as kirico DataRecord2265700#to_csv writes it (items 1–21)."""
    cells = dict.fromkeys(shfd.BONUS_ITEMS, "")
    cells.update({"様式コード": "2265700", "都道府県コード": "21", "郡市区符号": "01", "事業所記号": "ｹｲﾄ", "被保険者整理番号": "80",
                  "氏名(カナ)": "ｽｽﾞｷ ﾊﾅｺ", "氏名(漢字)": "鈴木　花子", "元号(生年月日)": "7", "年月日(生年月日)": "020315",
                  "元号(賞与支払年月日)": "9", "年月日(賞与支払年月日)": "061210", "賞与額(通貨)": "500500", "賞与額(現物)": "1000",
                  "賞与額(合計)": "501000"})
    cells.update(over)
    return list(cells.values())


def build(records: list[list[str]], head: list[list[str]] | None = None, *, drop: str = "") -> list[bytes]:
    """A SHFD0006.CSV, CP932, CRLF: the head, [data], the records."""
    rows = [r for r in (head or HEAD) if r != [drop]] + ([] if drop == "[data]" else [["[data]"]]) + records
    return [(",".join(r) + "\r\n").encode("cp932") for r in rows]


def read(records: list[list[str]], head: list[list[str]] | None = None, **kw: Any) -> list[shfd.ImportGroup]:
    return list(shfd.read_groups(text_lines(build(records, head, **kw), "auto"), corporate_number=CN))


def payload(group: shfd.ImportGroup) -> dict[str, Any]:
    return validate_payload(V2[group.procedure], {**group.header, "lines": [ln.line for ln in group.lines]}, group.period)


def errors(groups: list[shfd.ImportGroup]) -> list[tuple[int, str, str]]:
    return [(e["row"], e["column"], e["code"]) for g in groups for e in g.errors]


def test_sniff_knows_the_media_management_record() -> None:
    """仕様書 45p/64p (todokede-csv.js baitaiRow): 都道府県コード, 郡市区符号, 事業所記号, 媒体通番, 作成年月日, 代表届書コード;
    kirico FDManagementRecord writes it without the 都道府県コード."""
    assert shfd.sniff("21,01,ｹｲﾄ,001,20170101,22223\r\n") and shfd.sniff("01,ｱｱｶ,001,20180801,22223\r\n")
    assert not shfd.sniff("insured_number,name\r\n") and not shfd.sniff("315,0123456789")


def test_standard_remuneration_round_trip_from_the_specs_example_head() -> None:
    """仕様書 136–142p (todokede-csv.js santeiRow): 2225700; 元号 昭和5・平成7・令和9 (137p); 従前の標準報酬月額 千円単位4桁;
    適用年月 元号/年/月; 通貨 + 現物 = 合計 per month."""
    [group] = read([sr_record()])
    assert (group.procedure, group.period, group.corporate_number, group.errors) == ("STANDARD_REMUNERATION", "2025", CN, [])
    assert group.header == {"office": {"name": "健保サービス株式会社", "address": "〒100-0000 東京都千代田区霞が関１－２－２",
                                       "phone": "03-1234-5678", "office_symbol": "01-ｹｲﾄ", "office_number": "123"}}
    line = payload(group)["lines"][0]
    assert group.lines[0].row == 6
    assert (line["person"]["birth_date"], line["person"]["kana"], line["person"]["name"]) == ("1965-04-07", "タカハシ イチロウ", NAME)
    assert (line["applies_from"], line["previous_revision"], line["previous_health_amount"]) == ("2025-09", "2024-09", 300_000)
    assert (line["remuneration_april"], line["remuneration_june"], line["in_kind_june"], line["days_may"]) == (300_000, 305_000, 5000, 31)
    assert NAME not in group.key_material and "400407" not in group.key_material


def test_standard_remuneration_remarks_and_changes() -> None:
    """仕様書 items 18 昇(降)給月, 21 遡及支払額, 39 修正平均額, 43–52 備考 (todokede-csv.js; kirico for 50–51)."""
    [group] = read([sr_record(**{"昇(降)給月": "04", "遡及支払額": "0012000", "修正平均額": "0300000", "70歳以上被用者": "1",
                                 "個人番号": "", "基礎年金番号(課所符号)": "1234", "基礎年金番号(一連番号)": "567890",
                                 "途中入社": "1", "パート": "1", "備考(その他)": "月末入社"})])
    line = payload(group)["lines"][0]
    assert (line["pay_change_month"], line["retroactive_amount"], line["adjusted_average"]) == ("2025-04", 12_000, 300_000)
    assert (line["remarks"], line["remarks_note"]) == (["AGE_70_PLUS", "JOINED_MIDWAY", "PART_TIME", "OTHER"], "月末入社")
    assert line["person"]["personal_number_absence"] == "NOT_PROVIDED"  # the 基礎年金番号 is given instead


def test_bonus_payment_round_trip_groups_by_payment_date() -> None:
    """kirico DataRecord2265700: 様式コード 2265700; 賞与額 通貨, 現物, 合計 (千円未満切捨て); 同一月内の賞与合算 初回支払日."""
    groups = read([bonus_record(), bonus_record(**{"被保険者整理番号": "81", "同一月内の賞与合算(初回支払日)": "05"}),
                   bonus_record(**{"年月日(賞与支払年月日)": "070701"})])
    assert [(g.procedure, g.period, len(g.lines)) for g in groups] == [
        ("BONUS_PAYMENT", "2024-12-10", 2), ("BONUS_PAYMENT", "2025-07-01", 1)]
    lines = payload(groups[0])["lines"]
    assert (lines[0]["person"]["birth_date"], lines[0]["bonus_amount"], lines[0]["in_kind"]) == ("1990-03-15", 501_500, 1000)
    assert (lines[1]["first_paid_on"], lines[1]["remarks"]) == ("2024-12-05", ["SAME_MONTH_COMBINED"])
    payload(groups[1])


def test_one_group_per_office_of_the_file() -> None:
    """仕様書 66p: 事業所数情報 gives how many 事業所情報 follow; each data record names its office by 郡市区符号 and
    事業所記号 — one filing per (procedure, period, 事業所), the 事業所整理記号 and 番号 in the office header."""
    head = [HEAD[0], HEAD[1], ["", "002"], HEAD[3], OSAKA]
    groups = read([sr_record(), sr_record(**{"郡市区符号": "02", "事業所記号": "ｵｵｻ", "都道府県コード": "41"}), sr_record(),
                   sr_record(**{"郡市区符号": "03", "事業所記号": "ﾅｺﾞﾔ"})], head)
    assert errors(groups) == [(10, "事業所記号", "unknown_office")]
    office = [(g.header["office"]["office_symbol"], g.header["office"]["office_number"], [x.row for x in g.lines]) for g in groups[1:]]
    assert office == [("01-ｹｲﾄ", "123", [7, 9]), ("02-ｵｵｻ", "456", [8])]
    assert groups[2].header["office"]["name"] == "健保サービス株式会社　大阪"


def test_the_older_head_without_the_prefecture_code_is_read() -> None:
    """kirico FDManagementRecord (5 cells) and Company (9 cells: 郡市区符号 … 電話番号 in one cell)."""
    head = [["01", "ｹｲﾄ", "001", "20180801", "22223"], ["[kanri]"], ["", "001"],
            ["01", "ｹｲﾄ", "123", "100", "0000", "東京都千代田区霞が関1-2-2", "健保サービス株式会社", "健保 良一", "03-1234-5678"]]
    [group] = read([sr_record()], head)
    assert group.errors == [] and group.header["office"]["phone"] == "03-1234-5678"


@pytest.mark.parametrize(("over", "column", "code"), [
    ({"元号(生年月日)": "4"}, "元号(生年月日)", "bad_era"),
    ({"年月日(生年月日)": "401301"}, "年月日(生年月日)", "bad_date"),
    ({"報酬月額通貨(5月)": "30万"}, "報酬月額通貨(5月)", "not_a_number"),
    ({"月(適用年月)": "13"}, "月(適用年月)", "bad_date"),
    ({"報酬月額合計(6月)": "0300000"}, "報酬月額合計(6月)", "inconsistent_total"),
    ({"途中入社": "2"}, "途中入社", "bad_flag"),
    ({"昇(降)給区分": "0"}, "昇(降)給区分", "bad_code"),
    ({"氏名(カナ)": ""}, "氏名(カナ)", "missing"),
])
def test_a_bad_cell_is_placed_by_row_and_item(over: dict[str, str], column: str, code: str) -> None:
    """仕様書 (todokede-csv.js): items named as in the layout; 合計 is 通貨 + 現物 (34–36)."""
    groups = read([sr_record(), sr_record(**over)])
    assert errors(groups) == [(7, column, code)]
    text = json.dumps([e for g in groups for e in g.errors], ensure_ascii=False)
    assert NAME not in text and "400407" not in text and KANA not in text


def test_a_bonus_total_not_rounded_down_to_thousands_is_refused() -> None:
    """kirico DataRecord2265700#bonus_total: 合計 = (通貨 + 現物) 千円未満切捨て, and so 9,999,000 from 1千万円 on (its
    change cites the 年金事務所: the last three digits are always 0 — https://github.com/kufu/kirico/pull/78)."""
    over = {"賞与額(通貨)": "12000000", "賞与額(現物)": "0"}
    groups = read([bonus_record(**{"賞与額(合計)": "501500"}), bonus_record(**over, **{"賞与額(合計)": "9999000"}),
                   bonus_record(**over, **{"賞与額(合計)": "9999999"})])
    assert errors(groups) == [(6, "賞与額(合計)", "inconsistent_total"), (8, "賞与額(合計)", "inconsistent_total")]
    assert [x.row for g in groups for x in g.lines] == [7]


@pytest.mark.parametrize(("shown", "change"), [("1", "RAISE"), ("2", "CUT"), ("", None)])
def test_the_pay_change_kind_is_one_for_a_raise_and_two_for_a_cut(shown: str, change: str | None) -> None:
    """仕様書 item 19 昇(降)給区分: 1 昇給, 2 降給 (rakually todokede-csv.js, quoting the 仕様書; kirico writes the same
    for 2225700 since its commit ecf8d3b — the 0/1 coding was the old 22257041 record's)."""
    [group] = read([sr_record(**{"昇(降)給月": "04", "昇(降)給区分": shown})])
    assert group.errors == []
    assert payload(group)["lines"][0].get("pay_change") == change


def test_unknown_record_code_and_wrong_cell_count() -> None:
    """仕様書: each data record begins with its 様式コード; 2225700 has 53 items. The old 8-digit 22257041 is not read."""
    groups = read([sr_record(**{"様式コード": "22257041"}), sr_record()[:-2]])
    assert errors(groups) == [(6, "様式コード", "unknown_record_code"), (7, "様式コード", "wrong_cell_count")]


@pytest.mark.parametrize("missing", ["[kanri]", "[data]"])
def test_a_missing_section_marker_is_refused(missing: str) -> None:
    """仕様書 35p (todokede-csv.js): 「“[kanri]”と設定する」「“[data]”と設定する」."""
    with pytest.raises(ValidationError):
        read([sr_record()], drop=missing)


@settings(max_examples=40, deadline=None)
@given(amounts=st.lists(st.integers(0, 9_999_999), min_size=3, max_size=3), days=st.integers(0, 30),
       birth=st.dates(min_value=datetime.date(1927, 1, 1), max_value=datetime.date(1988, 12, 31)))
def test_builder_then_decode_gives_the_values_back(amounts: list[int], days: int, birth: datetime.date) -> None:
    """仕様書 (todokede-csv.js): 元号 5 (昭和) + YYMMDD birth date; 7-digit amounts per month, 合計 = 通貨 + 現物."""
    yymmdd = f"{birth.year - 1925:02d}{birth.month:02d}{birth.day:02d}"
    over = {"元号(生年月日)": "5", "年月日(生年月日)": yymmdd, "支払基礎日数(4月)": f"{days:02d}",
            **{f"報酬月額通貨({m})": f"{a:07d}" for m, a in zip(("4月", "5月", "6月"), amounts, strict=True)},
            **{f"報酬月額現物({m})": "0000000" for m in ("4月", "5月", "6月")},
            **{f"報酬月額合計({m})": f"{a:07d}" for m, a in zip(("4月", "5月", "6月"), amounts, strict=True)}}
    [group] = read([sr_record(**over)])
    line = group.lines[0].line
    assert line["person"]["birth_date"] == birth.isoformat() and line["days_april"] == days
    assert [line[f"remuneration_{m}"] for m in ("april", "may", "june")] == amounts


def test_a_seventy_plus_employees_personal_number_is_read() -> None:
    """仕様書 item 40 個人番号 (todokede-csv.js; kirico my_number, 12 digits) with 備考 70歳以上被用者 (item 43):
    only a 70歳以上被用者's number is asked for (日本年金機構 平成30年3月 様式改正, ledger.domain.forms E1)."""
    number = personal(70_005)
    [group] = read([sr_record(**{"個人番号": number, "70歳以上被用者": "1", "70歳以上被用者算定基礎月": "0406"})])
    line = payload(group)["lines"][0]
    assert (line["person"]["personal_number"], line["remarks"]) == (number, ["AGE_70_PLUS"])
    assert number not in group.key_material


def test_the_fixture_file_of_two_offices() -> None:
    """tests/fixtures/national/SHFD0006.CSV: the 仕様書's example head (64p) with a second 事業所情報, two 算定基礎届 records
    of different offices and a 賞与支払届 — three filings, each valid as its v2 procedure."""
    with open(FIXTURES / "SHFD0006.CSV", "rb") as f:
        assert shfd.sniff(f.readline().decode("cp932"))
        f.seek(0)
        groups = list(shfd.read_groups(text_lines(f, "auto"), corporate_number=CN))
    assert [(g.procedure, g.period, g.header["office"]["office_symbol"], len(g.lines), g.errors) for g in groups] == [
        ("STANDARD_REMUNERATION", "2025", "01-ｹｲﾄ", 1, []), ("STANDARD_REMUNERATION", "2025", "02-ｵｵｻ", 1, []),
        ("BONUS_PAYMENT", "2024-12-10", "01-ｹｲﾄ", 1, [])]
    for group in groups:
        payload(group)
