"""Flow 1 — what an agency assigns at acceptance (issue 15, item 4; japan-forms-review.md 2.3 item 7).

Each agency numbers its employers its own way, and every later filing and decision between them
carries that number: a municipality's 特別徴収義務者指定番号 (one per municipality, on the 総括表 and
each 特別徴収税額決定通知 — 桐生市 総括表, https://expydoc.com/doc/11043332/), a pension office's
事業所整理記号 and 事業所番号, a tax office's 整理番号 (法定調書 record 整理番号1, 10 digits — 網走市
給与支払報告書 光ディスク等提出データ仕様書).
"""

from __future__ import annotations

import json

import pytest

from ledger.catalog import reads
from ledger.encoding.snapshots import load_snapshot
from ledger.errors import ValidationError
from tests.factories import CHIYODA, CORP_A, CORP_B, payroll, withholding
from tests.integration.helpers import (
    PENSION_OFFICE,
    TAX_OFFICE,
    agency,
    bonus_payment,
    company,
    company_view,
    log_ends,
    municipality,
    special_collection,
)

pytestmark = pytest.mark.integration

CHIYODA_ID = municipality(CHIYODA)


def test_a_municipality_gives_its_designation_number_at_acceptance_and_sees_it_next_to_each_filing(kiroku):
    """指定番号: assigned by each municipality to the employer (japan-forms-review.md 2.2, 総括表);
    digits, 10 at most (尾張旭市: "6桁や8桁など10桁以内", https://www.city.owariasahi.lg.jp/page/50232.html)."""
    enr = company(kiroku, CORP_A).enroll(CORP_A, "PAYROLL_REPORT")
    chiyoda = agency(kiroku, CHIYODA_ID)
    accepted = chiyoda.accept(enr.enrollment_id, assigned_id="０099123456")  # full-width digits as typed from a notice
    assert accepted.assigned_ids == {CHIYODA_ID: "0099123456"}
    assert company_view(kiroku, CORP_A).enrollments()[0].assigned_ids == {CHIYODA_ID: "0099123456"}

    receipt = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    [notice] = chiyoda.notices()
    assert (notice.submission_id, notice.assigned_id) == (receipt.submission_id, "0099123456")
    [info] = chiyoda.filings(CORP_A)
    assert info.assigned_id == "0099123456"
    assert chiyoda.snapshot(receipt.submission_id).info.assigned_id == "0099123456"
    # The company's own view is not an agency's: no agency's number is put on it.
    assert company_view(kiroku, CORP_A).filings()[0].assigned_id is None

    # The snapshot object the agency reads from carries it in its metadata.
    with kiroku.catalog.connect() as conn:
        row = reads.submission(conn, receipt.submission_id)
    assert row is not None
    _, _, meta = load_snapshot(kiroku.registry, kiroku.objects, row["snapshot_key"], row["payload_digest"])
    assert json.loads(meta["kiroku.assigned_ids"]) == {CHIYODA_ID: "0099123456"}

    dsp = chiyoda.issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", special_collection(),
                                    based_on=[receipt.submission_id])
    assert dsp.assigned_id == "0099123456"
    assert company_view(kiroku, CORP_A).dispositions()[0].assigned_id == "0099123456"


def test_a_pension_office_gives_its_office_symbol_and_number_in_one_spelling(kiroku):
    """事業所整理記号: 2 digits (郡市区符号) then 1-4 英数カナ ("「数字2桁」ー「英数カナ1~4桁」",
    https://viva-la-normal-life.com/?p=9865); 事業所番号 up to 5 digits."""
    enr = company(kiroku, CORP_A).enroll(CORP_A, "BONUS_PAYMENT", PENSION_OFFICE)
    office = agency(kiroku, PENSION_OFFICE)
    accepted = office.accept(enr.enrollment_id, assigned_id="01ｲﾛﾊ", office_number="12345")
    assert accepted.assigned_ids == {PENSION_OFFICE: "01-イロハ 12345"}
    company(kiroku, CORP_A).record(CORP_A, "BONUS_PAYMENT", "2026-06-25", bonus_payment())
    assert [n.assigned_id for n in office.notices()] == ["01-イロハ 12345"]


def test_a_tax_office_gives_its_reference_number(kiroku):
    """整理番号1: "税務署から連絡されている整理番号1(10桁の数字)" (網走市 データ仕様書, japan-forms-review.md 2.1)."""
    enr = company(kiroku, CORP_A).enroll(CORP_A, "WITHHOLDING_SLIP", TAX_OFFICE)
    assert agency(kiroku, TAX_OFFICE).accept(enr.enrollment_id, assigned_id="0012345678").assigned_ids == {
        TAX_OFFICE: "0012345678"}
    company(kiroku, CORP_A).record(CORP_A, "WITHHOLDING_SLIP", "2026", withholding())
    assert agency(kiroku, TAX_OFFICE).notices()[0].assigned_id == "0012345678"


@pytest.mark.parametrize(("procedure", "agency_id", "assigned_id", "office_number", "code", "field", "expected"), [
    ("PAYROLL_REPORT", CHIYODA_ID, "12345678901", None, "invalid_assigned_id", "assigned_id", "a 指定番号 of 1 to 10 digits"),
    ("PAYROLL_REPORT", CHIYODA_ID, "12-34A", None, "invalid_assigned_id", "assigned_id", "a 指定番号 of 1 to 10 digits"),
    ("PAYROLL_REPORT", CHIYODA_ID, "123", "12345", "unexpected_office_number", "office_number", "no office_number"),
    ("WITHHOLDING_SLIP", TAX_OFFICE, "123456789", None, "invalid_assigned_id", "assigned_id", "a 整理番号 of 8 or 10 digits"),
    ("BONUS_PAYMENT", PENSION_OFFICE, "1-イロハ", None, "invalid_assigned_id", "assigned_id", None),
    ("BONUS_PAYMENT", PENSION_OFFICE, "01-イロハニホ", None, "invalid_assigned_id", "assigned_id", None),
    ("BONUS_PAYMENT", PENSION_OFFICE, "01-イロハ", "123456", "invalid_office_number", "office_number", "1 to 5 digits"),
    ("BONUS_PAYMENT", PENSION_OFFICE, None, "12345", "required", "assigned_id", None),
    ("WAGE_LEDGER", "labour-standards-office:0101", "12345", None, "unexpected_assigned_id", "assigned_id", "no assigned_id"),
])
def test_an_identifier_that_does_not_fit_the_agency_kind_is_refused_and_nothing_is_recorded(
        kiroku, procedure, agency_id, assigned_id, office_number, code, field, expected):
    enr = company(kiroku, CORP_A).enroll(CORP_A, procedure, None if procedure == "PAYROLL_REPORT" else agency_id)
    ends = log_ends(kiroku)
    with pytest.raises(ValidationError) as err:
        agency(kiroku, agency_id).accept(enr.enrollment_id, assigned_id=assigned_id, office_number=office_number)
    assert (err.value.code, err.value.field) == (code, field)
    if expected is not None:
        assert err.value.expected == expected
    assert log_ends(kiroku) == ends
    assert agency(kiroku, agency_id).pending_enrollments()[0].enrollment_id == enr.enrollment_id


def test_acceptance_without_an_identifier_and_by_standing_policy_assigns_none(kiroku):
    enr = company(kiroku, CORP_A).enroll(CORP_A, "PAYROLL_REPORT")
    agency(kiroku, CHIYODA_ID).accept_all("PAYROLL_REPORT")
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    assert agency(kiroku, CHIYODA_ID).notices()[0].assigned_id is None
    assert company_view(kiroku, CORP_A).enrollments()[0].assigned_ids == {}
    assert enr.assigned_ids == {}


def test_each_municipality_sees_only_its_own_number_for_the_company(kiroku):
    from tests.factories import SAPPORO, payroll_line

    enr = company(kiroku, CORP_A).enroll(CORP_A, "PAYROLL_REPORT")
    agency(kiroku, CHIYODA_ID).accept(enr.enrollment_id, assigned_id="111")
    agency(kiroku, municipality(SAPPORO)).accept(enr.enrollment_id, assigned_id="222")
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026",
                                   payroll([payroll_line(1, CHIYODA), payroll_line(2, SAPPORO)]))
    assert [n.assigned_id for n in agency(kiroku, CHIYODA_ID).notices()] == ["111"]
    assert [n.assigned_id for n in agency(kiroku, municipality(SAPPORO)).notices()] == ["222"]
    assert company_view(kiroku, CORP_A).enrollments()[0].assigned_ids == {CHIYODA_ID: "111", municipality(SAPPORO): "222"}
    # A municipality still to decide does not see the others' numbers.
    [pending] = agency(kiroku, municipality("271004")).pending_enrollments()
    assert (pending.enrollment_id, pending.assigned_ids) == (enr.enrollment_id, {})
    # Another company of the same municipality has none.
    other = company(kiroku, CORP_B).enroll(CORP_B, "PAYROLL_REPORT")
    agency(kiroku, CHIYODA_ID).accept(other.enrollment_id)
    company(kiroku, CORP_B).record(CORP_B, "PAYROLL_REPORT", "2026", payroll())
    assert [n.assigned_id for n in agency(kiroku, CHIYODA_ID).notices()] == ["111", None]


def test_the_assigned_identifier_and_bonus_months_are_rebuilt_by_a_replay_of_the_log(kiroku, tmp_path):
    from ledger.catalog.tables import Catalog
    from ledger.processors.projector import Projector

    enr = company(kiroku, CORP_A).enroll(CORP_A, "PAYROLL_REPORT")
    agency(kiroku, CHIYODA_ID).accept(enr.enrollment_id, assigned_id="12345678")
    bonus = company(kiroku, CORP_A).enroll(CORP_A, "BONUS_PAYMENT", PENSION_OFFICE, bonus_months=[6, 12])
    agency(kiroku, PENSION_OFFICE).accept(bonus.enrollment_id, assigned_id="01-イロハ", office_number="12345")
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    fresh = Catalog(f"sqlite:///{tmp_path / 'replay.db'}")
    try:
        projector = Projector(kiroku.log, fresh, kiroku.codec, kiroku.registry, kiroku.objects)
        while projector.run_once():
            pass
        live, rebuilt = dict(kiroku.catalog.dump()), dict(fresh.dump())
        for table in ("enrollments", "enrollment_decisions", "submissions"):
            assert rebuilt[table] == live[table], table
        with fresh.connect() as conn:
            assert reads.enrollment(conn, bonus.enrollment_id).bonus_months == [6, 12]  # type: ignore[union-attr]
            assert reads.assigned_ids(conn, PENSION_OFFICE, [CORP_A]) == {CORP_A: "01-イロハ 12345"}
    finally:
        fresh.close()
