"""A line naming a ward of a 政令指定都市 reaches the city; prefectures are no destination (issue 15, item 5).

Sources: 地方税法第317条の6 (給与支払報告書 go to the 市町村 of 1 January), https://laws.e-gov.go.jp/law/325AC0000000226 ;
地方自治法第252条の20 (the wards of a 指定都市 are organs of the city), https://laws.e-gov.go.jp/law/322AC0000000067 ;
総務省「全国地方公共団体コード」 (令和6年1月1日), https://www.soumu.go.jp/denshijiti/code.html .
"""

from __future__ import annotations

import pytest

from ledger.errors import ValidationError, ValidationErrors
from tests.factories import CHIYODA, CORP_A, payroll, payroll_line
from tests.integration.helpers import agency, company, enroll_payroll, municipality

pytestmark = pytest.mark.integration

YOKOHAMA, TSURUMI, KOHOKU = "141003", "141011", "141097"  # 横浜市, its 鶴見区 and 港北区


def test_lines_naming_wards_are_filed_with_their_city_which_is_notified_and_reads_them(kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA, YOKOHAMA)
    report = payroll([payroll_line(1, TSURUMI), payroll_line(2, CHIYODA), payroll_line(3, KOHOKU), payroll_line(4, YOKOHAMA)])
    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", report)
    assert (receipt.targets, receipt.unreached) == (sorted([municipality(CHIYODA), municipality(YOKOHAMA)]), [])

    city = agency(kiroku, municipality(YOKOHAMA))
    [notice] = city.notices()
    assert (notice.submission_id, notice.lines) == (receipt.submission_id, [1, 3, 4])
    snap = city.snapshot(receipt.submission_id)
    assert snap.visible_lines == [1, 3, 4]
    # The lines keep the ward the employee lives in, as filed.
    assert [ln["municipality_code"] for ln in snap.payload["lines"]] == [TSURUMI, KOHOKU, YOKOHAMA]
    assert [n.lines for n in agency(kiroku, municipality(CHIYODA)).notices()] == [[2]]


def test_a_ward_cannot_be_enrolled_with_or_decide_as_an_agency(kiroku):
    enr = company(kiroku, CORP_A).enroll(CORP_A, "PAYROLL_REPORT")
    with pytest.raises(ValidationError) as err:
        agency(kiroku, municipality(TSURUMI)).accept(enr.enrollment_id)
    assert (err.value.code, err.value.expected) == ("ward_of_city", municipality(YOKOHAMA))


def test_a_line_naming_a_prefecture_is_refused_and_nothing_is_recorded(kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    with pytest.raises((ValidationError, ValidationErrors)) as err:
        company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll([payroll_line(1, CHIYODA), payroll_line(2, "130001")]))
    errors = err.value.errors if isinstance(err.value, ValidationErrors) else [err.value]
    assert [(e.field, e.code) for e in errors] == [("lines[2].municipality_code", "not_a_municipality")]
    assert agency(kiroku, municipality(CHIYODA)).notices() == []
