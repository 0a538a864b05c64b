"""A municipality is one on 総務省's 全国地方公共団体コード list, not any code with a good check digit
(issue 15, item 5; E6 of the forms review).

Sources: 総務省「全国地方公共団体コード」https://www.soumu.go.jp/denshijiti/code.html (workbook
000925835.xlsx, 令和6年1月1日現在); 地方税法第317条の6 (給与支払報告書 go to the 市町村) and 第1条第2項
(特別区 count as 市), https://laws.e-gov.go.jp/law/325AC0000000226 ; 地方自治法第252条の20 (a 政令指定都市's
wards are its internal organs), https://laws.e-gov.go.jp/law/322AC0000000067 .
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import accelerator
from ledger.domain import municipalities
from ledger.domain.identifiers import make_municipality_code, municipality_check_digit, validate_municipality_code
from ledger.domain.procedures import PROCEDURES, V1, _fast_lines, validate_agency_id
from ledger.errors import ValidationError
from ledger.service.principals import validate_principal
from tests.factories import payroll_line

pytestmark = pytest.mark.unit

LIST = municipalities.table()


def refusal(call, *args, **kw) -> ValidationError:
    with pytest.raises(ValidationError) as err:
        call(*args, **kw)
    return err.value


def test_the_list_has_the_counts_of_its_date() -> None:
    """総務省's list of 2024-01-01: 47 都道府県 and 1,747 市区町村 — 792 市 (20 of them 政令指定都市),
    743 町, 189 村 (6 of them in the Northern Territories) and 23 特別区, so 1,741 without the 北方領土
    villages — and the 171 wards of the 20 政令指定都市 (175 until 浜松市 went from 7 wards to 3 on
    2024-01-01). Counts as yhay81/jichitai-code's SOURCE.md states them for the same workbook."""
    kinds = Counter(m.kind for m in LIST.values())
    assert kinds == {"prefecture": 47, "city": 772, "designated_city": 20, "town": 743, "village": 183,
                     "northern_village": 6, "special_ward": 23, "ward": 171}
    assert len(municipalities.receiving_codes()) == 1_741 + 171
    assert municipalities.LIST_DATE.isoformat() == "2024-01-01"


def test_every_ward_names_its_city_and_the_cities_have_the_wards_of_the_list() -> None:
    """Sheet 「R6.1.1政令指定都市」 lists each city with its wards: 大阪市 24, 横浜市 18, 名古屋市 16 … 浜松市 3."""
    wards = Counter(m.city for m in LIST.values() if m.kind == "ward")
    assert set(wards) == {c for c, m in LIST.items() if m.kind == "designated_city"}
    assert (wards["271004"], wards["141003"], wards["231002"], wards["221309"]) == (24, 18, 16, 3)
    assert all(m.city is None for m in LIST.values() if m.kind != "ward")
    assert LIST["141011"].name == "横浜市鶴見区" and LIST["141011"].city == "141003"
    assert LIST["221384"].name == "浜松市中央区"  # the 2024 ward, code 22138 (not the old 中区 22131)


@given(st.sampled_from(sorted(LIST)))
def test_every_code_on_the_list_has_its_check_digit_and_each_receiving_one_validates(code: str) -> None:
    assert int(code[5]) == municipality_check_digit(code[:5])
    if code in municipalities.receiving_codes():
        assert validate_municipality_code(code) == code
    else:
        assert refusal(validate_municipality_code, code).code == "not_a_municipality"


def test_a_prefecture_is_refused_naming_what_it_is() -> None:
    """130001 is 東京都: it passes the check digit, but 給与支払報告書 go to a 市区町村 (地方税法第317条の6)."""
    err = refusal(validate_municipality_code, "130001", field="lines[2].municipality_code")
    assert (err.code, err.field, err.got) == ("not_a_municipality", "lines[2].municipality_code", "130001 (東京都, 都道府県)")
    assert err.message == ("lines[2].municipality_code 130001 is 東京都, a prefecture (都道府県): 給与支払報告書 go to a 市区町村 "
                           "(地方税法第317条の6)")
    for pref in range(1, 48):
        assert refusal(validate_municipality_code, make_municipality_code(f"{pref:02d}000")).code == "not_a_municipality"


def test_a_code_not_on_the_list_is_refused_naming_the_list_and_its_date() -> None:
    """123455 passes the check digit, but no 市区町村 has it on the list of 2024-01-01."""
    err = refusal(validate_municipality_code, "123455")
    assert (err.code, err.field, err.got) == ("unknown_municipality", "municipality_code", "123455")
    assert "総務省「全国地方公共団体コード」 list of 2024-01-01" in err.message
    assert err.expected == "the code of a 市区町村 on the 総務省「全国地方公共団体コード」 list of 2024-01-01"


@pytest.mark.parametrize("base5", ["13801", "01851", "27901"])
def test_codes_outside_the_list_as_those_of_一部事務組合_are_refused(base5: str) -> None:
    """一部事務組合・広域連合 (特別地方公共団体, 地方自治法第1条の3第3項) have codes of their own, in 総務省's
    separate 一部事務組合等 list, and receive no 給与支払報告書: a well-formed code that is not a 市区町村's
    is refused. (This machine cannot reach that list; these bases are in no 市区町村 numbering range —
    3rd digit 8 or 9 — so they stand for such codes.)"""
    code = make_municipality_code(base5)
    err = refusal(validate_municipality_code, code)
    assert (err.code, err.field) == ("unknown_municipality", "municipality_code")
    assert "一部事務組合" in err.message


def test_the_northern_territories_villages_are_on_the_list_but_refused() -> None:
    err = refusal(validate_municipality_code, "016951")  # 色丹村
    assert (err.code, err.got) == ("not_a_municipality", "016951 (色丹村, 北方領土の村)")


def test_a_special_ward_of_tokyo_is_a_municipality() -> None:
    """特別区 are 市 for 市町村民税 (地方税法第1条第2項): 131016 千代田区 receives its own 給与支払報告書."""
    assert validate_municipality_code("131016") == "131016"
    assert validate_agency_id("municipality:131016") == "municipality:131016"
    assert municipalities.municipality_of("131016") == "131016"


def test_a_ward_of_a_designated_city_is_taken_on_a_line_and_routed_to_its_city() -> None:
    """地方自治法第252条の20: 横浜市鶴見区 (141011) is an organ of 横浜市 (141003), which receives the report."""
    assert validate_municipality_code("141011") == "141011"
    assert municipalities.municipality_of("141011") == "141003"
    assert municipalities.municipality_of("141003") == "141003"
    assert all(municipalities.municipality_of(c) == m.city for c, m in LIST.items() if m.kind == "ward")


def test_a_ward_is_refused_as_an_agency_pointing_at_its_city() -> None:
    err = refusal(validate_agency_id, "municipality:141011", field_name="agency_id")
    assert (err.code, err.field, err.expected, err.got) == ("ward_of_city", "agency_id", "municipality:141003", "municipality:141011")
    assert "横浜市鶴見区" in err.message and "use municipality:141003 (横浜市)" in err.message
    assert refusal(validate_agency_id, "municipality:130001").code == "not_a_municipality"
    assert validate_agency_id("municipality:141003") == "municipality:141003"


def test_the_list_is_a_read_only_mapping_read_once() -> None:
    assert municipalities.table() is LIST
    with pytest.raises(TypeError):
        LIST["999999"] = LIST["131016"]  # type: ignore[index]


def test_a_ward_or_a_prefecture_cannot_be_made_an_agency_principal() -> None:
    """A token is issued to the city, not to one of its organs (``kiroku principals add``)."""
    err = refusal(validate_principal, "agency:municipality:141011")
    assert (err.code, err.field, err.expected) == ("ward_of_city", "principal", "municipality:141003")
    assert refusal(validate_principal, "agency:municipality:130001").code == "not_a_municipality"
    assert validate_principal("agency:municipality:141003").name == "municipality:141003"


def test_the_fast_line_path_leaves_a_prefecture_or_an_unknown_code_to_the_careful_path() -> None:
    """Compiled or not, bulk recording's fast path takes a line only if its code is on the list.

    Kept on the v1 form (``procedures.V1``): the v2 line's sealed ``person`` is an object the fast
    path does not take, so a v2 line always goes the careful way (asserted below)."""
    proc = V1["PAYROLL_REPORT"]
    line = {"municipality_code": "131016", "employee_name": "山田 太郎", "personal_number": "123456789018", "address": "千代田区1-1",
            "payment_amount": 1, "income_after_deduction": 1, "total_deductions": 0, "withholding_tax": 0, "social_insurance": 0}
    codes = ["131016", "141011", "130001", "123455", "016951"]
    taken = _fast_lines(proc, [{**line, "municipality_code": c} for c in codes])
    assert [t is not None for t in taken] == [True, True, False, False, False]
    v2 = PROCEDURES["PAYROLL_REPORT"]
    assert v2.version == 2 and proc.version == 1
    assert _fast_lines(v2, [payroll_line(1, municipality=c) for c in codes[2:]]) == [None, None, None]


@pytest.mark.skipif(accelerator.clean_lines is None, reason=f"the accelerator is {accelerator.describe()}")
def test_the_compiled_twin_takes_a_municipality_code_only_from_the_set_it_is_given() -> None:
    clean_lines = accelerator.clean_lines
    assert clean_lines is not None
    bare = ("m", "municipality_code", True, None, 0, 0)
    assert clean_lines((bare,), [{"m": "131016"}]) == [None]  # no set: nothing is clean, the careful path decides
    listed = (*bare, frozenset({"131016", "131017"}))
    assert clean_lines((listed,), [{"m": "131016"}, {"m": "131017"}, {"m": "130001"}]) == [{"m": "131016"}, None, None]
    with pytest.raises(TypeError, match="members: frozenset"):
        clean_lines(((*bare, {"131016"}),), [])
