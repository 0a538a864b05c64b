"""Filings per office (issue 15 item 4, japan-forms-review.md E13): a company files once per office.

- 源泉徴収票 and 給与支払報告書 are made per 給与支払事務所: the 源泉 所得税's 納税地 is "その支払事務を取り扱う事務所"
  (所得税法第17条), and the national record's item 3 本支店等区分番号 tells apart "本店等で一括して提出する場合に、本店及び
  支店等の各提出義務者" (総税市第49号, 網走市「給与支払報告書 光ディスク等提出データ仕様書 レコードの作成要領」
  https://expydoc.com/doc/7167626/).
- 算定基礎届 and 賞与支払届 are made by the 事業主 of each 適用事業所 (健康保険法第48条, 厚生年金保険法第27条), named by
  its 事業所整理記号 and 事業所番号.

So a company with a 本店 and a 支店 records two 給与支払報告書 for one year, each corrected, cancelled and read
on its own; a 本店's second original is still refused.
"""

from __future__ import annotations

import pytest

from ledger.domain.model import SubmissionKind, SubmissionRequest
from ledger.errors import Conflict, NotFound, ValidationError
from tests.factories import CHIYODA, CORP_A, OSAKA, payroll, payroll_line
from tests.integration.helpers import (
    PENSION_OFFICE,
    agency,
    company,
    company_view,
    enroll_payroll,
    enroll_to,
    municipality,
    standard_remuneration,
)

pytestmark = pytest.mark.integration


def in_force_correction(kiroku, payload: dict):
    """A person-level correction without ``replaces``: it corrects the filing in force."""
    return kiroku.commands.record(company(kiroku, CORP_A).principal, SubmissionRequest(
        corporate_number=CORP_A, procedure="PAYROLL_REPORT", period="2026", kind=SubmissionKind.CORRECTION, payload=payload))


def at(branch: str, lines: list[dict]) -> dict:
    """A 給与支払報告書 of the 給与支払事務所 ``branch`` (本支店等区分番号)."""
    p = payroll(lines)
    p["employer"]["branch_number"] = branch
    return p


@pytest.fixture
def offices(kiroku):
    """CORP_A's 2026 reports: 本店 001 (E0001 in Chiyoda) and 支店 002 (E0002 in Osaka)."""
    enroll_payroll(kiroku, CORP_A, CHIYODA, OSAKA)
    a = company(kiroku, CORP_A)
    head = a.record(CORP_A, "PAYROLL_REPORT", "2026", at("001", [payroll_line(1)]))
    branch = a.record(CORP_A, "PAYROLL_REPORT", "2026", at("002", [payroll_line(2, OSAKA)]))
    return a, head, branch


def test_each_office_files_its_own_report_and_the_receipt_names_it(kiroku, offices):
    _, head, branch = offices
    assert (head.office, head.targets) == ("001", [municipality(CHIYODA)])
    assert (branch.office, branch.targets) == ("002", [municipality(OSAKA)])
    # Each municipality is told which office's filing it is (NoticesIssued v3 office).
    assert [(n.office, n.submission_id) for n in agency(kiroku, municipality(OSAKA)).notices()] == [("002", branch.submission_id)]
    assert [n.office for n in agency(kiroku, municipality(CHIYODA)).notices()] == ["001"]
    filings = company_view(kiroku, CORP_A).filings(procedure="PAYROLL_REPORT")
    assert sorted((f.office, f.submission_id) for f in filings) == [("001", head.submission_id), ("002", branch.submission_id)]


def test_a_second_original_of_the_same_office_is_refused_naming_the_office(kiroku, offices):
    a, head, _ = offices
    with pytest.raises(Conflict) as err:
        a.record(CORP_A, "PAYROLL_REPORT", "2026", at("001", [payroll_line(3)]))
    assert (err.value.code, err.value.field, err.value.expected) == ("already_filed", "kind", "CORRECTION replacing " + head.submission_id)
    assert "of office 001" in err.value.message
    # A company without offices files once, as before (its office is blank).
    first = a.record(CORP_A, "PAYROLL_REPORT", "2025", payroll([payroll_line(1)]))
    assert first.office == ""
    with pytest.raises(Conflict) as again:
        a.record(CORP_A, "PAYROLL_REPORT", "2025", payroll([payroll_line(1)]))
    assert again.value.code == "already_filed"


def test_a_correction_stays_within_its_office(kiroku, offices):
    a, head, branch = offices
    with pytest.raises(ValidationError) as err:
        a.correct(head.submission_id, at("002", [payroll_line(1)]))
    assert (err.value.code, err.value.field, err.value.got) == ("other_office", "employer.branch_number", "002")
    fixed = a.correct(head.submission_id, at("001", [payroll_line(1, payment_amount=5_100_000)]))
    assert (fixed.office, fixed.replaces) == ("001", head.submission_id)
    # The 支店's filing is untouched: its head is still its original.
    assert company_view(kiroku, CORP_A).history(branch.submission_id)[-1].submission_id == branch.submission_id
    assert [i.submission_id for i in company_view(kiroku, CORP_A).history(fixed.submission_id)] == [
        head.submission_id, fixed.submission_id]


def test_a_person_level_correction_corrects_the_filing_of_its_own_office(kiroku, offices):
    """eLTAX takes 訂正・追加・取消 per person; the header's 本支店等区分番号 says which office's filing."""
    a, head, branch = offices
    added = in_force_correction(kiroku, at("002", [{**payroll_line(3, OSAKA), "line_action": "ADD"}]))
    assert (added.office, added.replaces) == ("002", branch.submission_id)
    lines = company_view(kiroku, CORP_A).snapshot(added.submission_id).payload["lines"]
    assert [ln["employee_number"] for ln in lines] == ["E0002", "E0003"]
    with pytest.raises(NotFound) as err:
        in_force_correction(kiroku, at("003", [{**payroll_line(4), "line_action": "ADD"}]))
    assert (err.value.code, err.value.field) == ("nothing_to_correct", "replaces")
    assert "of office 003" in err.value.message
    assert company_view(kiroku, CORP_A).history(head.submission_id)[-1].submission_id == head.submission_id


def test_cancelling_one_office_leaves_the_other_in_force(kiroku, offices):
    a, head, branch = offices
    cancelled = a.cancel(head.submission_id)
    assert cancelled.office == "001"
    osaka = agency(kiroku, municipality(OSAKA))
    assert osaka.effective(CORP_A, "PAYROLL_REPORT", "2026", office="002").info.submission_id == branch.submission_id
    chiyoda = agency(kiroku, municipality(CHIYODA))
    with pytest.raises(NotFound):
        chiyoda.effective(CORP_A, "PAYROLL_REPORT", "2026", office="001")
    # The office can file again after its cancellation.
    again = a.record(CORP_A, "PAYROLL_REPORT", "2026", at("001", [payroll_line(1)]))
    assert chiyoda.effective(CORP_A, "PAYROLL_REPORT", "2026", office="001").info.submission_id == again.submission_id


def test_the_version_in_force_is_read_per_office_and_an_office_name_is_checked(kiroku, offices):
    _, head, _ = offices
    view = agency(kiroku, municipality(CHIYODA))
    assert view.effective(CORP_A, "PAYROLL_REPORT", "2026", office=" 001 ").info.submission_id == head.submission_id
    with pytest.raises(NotFound):  # the company's filing as a whole: there is none, only its offices'
        view.effective(CORP_A, "PAYROLL_REPORT", "2026")
    with pytest.raises(ValidationError) as err:
        view.effective(CORP_A, "PAYROLL_REPORT", "2026", office="0" * 42)
    assert (err.value.code, err.value.field, err.value.got) == ("invalid_office", "office", "42 characters")
    with pytest.raises(ValidationError) as bad:
        view.effective(CORP_A, "PAYROLL_REPORT", "2026", office="00\u202e1")
    assert (bad.value.code, bad.value.field) == ("invalid_character", "office")


def test_each_insured_office_files_its_own_standard_remuneration_report(kiroku):
    """算定基礎届 per 適用事業所 (健康保険法第48条, 厚生年金保険法第27条): 事業所整理記号 and 事業所番号 name it."""
    enroll_to(kiroku, CORP_A, "STANDARD_REMUNERATION", PENSION_OFFICE)
    a = company(kiroku, CORP_A)
    receipts = []
    for symbol, number in (("01-イロハ", "12345"), ("01-ニホヘ", "23456")):
        p = standard_remuneration(2)
        p["office"].update(office_symbol=symbol, office_number=number)
        receipts.append(a.record(CORP_A, "STANDARD_REMUNERATION", "2026", p))
    assert [r.office for r in receipts] == ["01-イロハ-12345", "01-ニホヘ-23456"]
    pension = agency(kiroku, PENSION_OFFICE)
    assert pension.effective(CORP_A, "STANDARD_REMUNERATION", "2026", office="01-ニホヘ-23456").info.submission_id == (
        receipts[1].submission_id)
    assert len(pension.notices()) == 2
