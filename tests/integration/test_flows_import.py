"""``import_file``: the national files vendors already produce, imported through the one driver.

The 給与支払報告書・源泉徴収票 CSV (法定資料の種類 315; 総務省 平成25年11月21日 総税市第49号, CP932 by
総務省告示第429号 第2の2) and 日本年金機構 SHFD0006.CSV (算定基礎届; 「磁気媒体届書作成におけるファイル
イメージと項目構成」), built by ``tests/import_files.py`` from the readers' own item tables.
"""

from __future__ import annotations

import pytest

from ledger.domain.model import SubmissionKind
from ledger.encoding import eltax_315
from ledger.errors import ValidationError
from producers import import_file
from tests.factories import CHIYODA, CORP_A, CORP_B, OSAKA, SAPPORO
from tests.import_files import eltax_cells, eltax_file, payroll_csv_text, shfd_cells, shfd_file
from tests.integration.helpers import (
    PENSION_OFFICE,
    company,
    company_view,
    enroll_payroll,
    enroll_to,
    filing_ends,
    grant_until,
    municipality,
    producer,
)

pytestmark = pytest.mark.integration

VENDOR = "vendor:acme-payroll"


def column(field: str) -> str:
    """The 315 item that holds ``field``, as errors name it (``項目17 支払金額``)."""
    return next(i.column for i in eltax_315.ITEMS.values() if i.field == field)


@pytest.fixture
def vendor(kiroku):
    """A payroll vendor allowed to submit and read 給与支払報告書 and 算定基礎届 for companies A and B."""
    for corp in (CORP_A, CORP_B):
        company(kiroku, corp).grant(VENDOR, ["PAYROLL_REPORT", "STANDARD_REMUNERATION"], ["submit", "read"], grant_until(kiroku))
    return producer(kiroku, VENDOR)


def test_a_315_file_records_one_report_per_payer_and_tells_each_residents_municipality(kiroku, vendor):
    """地方税法第317条の6: the report goes to the municipality of each employee's 1 January residence."""
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    enroll_payroll(kiroku, CORP_B, OSAKA)
    text = eltax_file([eltax_cells(CORP_A, 1), eltax_cells(CORP_A, 2, municipality=SAPPORO), eltax_cells(CORP_B, 1, municipality=OSAKA)])

    result = vendor.import_file(text.encode("cp932"))

    assert result.ok and (result.format, result.rows, result.recorded) == ("eltax-315", 3, 2)
    a, b = result.receipts
    assert (a.corporate_number, a.procedure, a.period, a.kind, a.line_count) == (CORP_A, "PAYROLL_REPORT", "2026",
                                                                                  SubmissionKind.ORIGINAL, 2)
    assert a.targets == sorted([municipality(CHIYODA), municipality(SAPPORO)]) and b.targets == [municipality(OSAKA)]
    lines = company_view(kiroku, CORP_A).snapshot(a.submission_id).payload["lines"]
    assert [(ln["employee_number"], ln["payment_amount"], ln["person"]["birth_date"]) for ln in lines] == [
        ("E0001", 5_000_000, "1985-07-14"), ("E0002", 5_000_000, "1985-07-14")]


def test_a_shfd0006_file_records_the_standard_remuneration_report_and_tells_the_pension_office(kiroku, vendor):
    """日本年金機構 算定基礎届 (健康保険法第41条, 厚生年金保険法第21条): filed with the 年金事務所."""
    enroll_to(kiroku, CORP_A, "STANDARD_REMUNERATION", PENSION_OFFICE)
    result = vendor.import_file(shfd_file([shfd_cells(1), shfd_cells(2)]).encode("cp932"), corporate_number=CORP_A)

    assert result.ok and (result.format, result.recorded) == ("nenkin-shfd0006", 1)
    (r,) = result.receipts
    assert (r.corporate_number, r.procedure, r.period, r.line_count, r.targets) == (
        CORP_A, "STANDARD_REMUNERATION", "2026", 2, [PENSION_OFFICE])


@pytest.mark.parametrize("fmt", ["eltax-315", "nenkin-shfd0006"])
def test_the_same_file_again_records_nothing_twice_and_answers_the_first_receipts(kiroku, vendor, fmt):
    data = (eltax_file([eltax_cells(CORP_A, 1)]) if fmt == "eltax-315" else shfd_file([shfd_cells(1)])).encode("cp932")
    first = vendor.import_file(data, format=fmt, corporate_number=CORP_A if fmt != "eltax-315" else None)
    ends = filing_ends(kiroku)
    again = vendor.import_file(data, format=fmt, corporate_number=CORP_A if fmt != "eltax-315" else None)
    assert filing_ends(kiroku) == ends
    assert [r.submission_id for r in again.receipts] == [r.submission_id for r in first.receipts] and first.recorded == 1


@pytest.mark.parametrize("fmt", ["eltax-315", "nenkin-shfd0006"])
def test_a_cp932_file_and_its_utf8_twin_are_the_same_submissions(kiroku, vendor, fmt):
    """総務省告示第429号 第2の2: the national file is Shift_JIS; the same rows in UTF-8 are the same filing."""
    text = eltax_file([eltax_cells(CORP_A, 1)]) if fmt == "eltax-315" else shfd_file([shfd_cells(1)])
    number = CORP_A if fmt != "eltax-315" else None
    sjis = vendor.import_file(text.encode("cp932"), corporate_number=number)
    ends = filing_ends(kiroku)
    for data in (text.encode("utf-8"), b"\xef\xbb\xbf" + text.encode("utf-8")):
        twin = vendor.import_file(data, corporate_number=number)
        assert twin.format == fmt and twin.receipts == sjis.receipts
    assert filing_ends(kiroku) == ends


def test_a_bad_cell_refuses_its_payer_naming_row_and_item_and_the_other_payers_are_recorded(kiroku, vendor):
    text = eltax_file([eltax_cells(CORP_A, 1), eltax_cells(CORP_A, 2, **{"line.payment_amount": "5,000,000円"}),
                       eltax_cells(CORP_B, 1)])
    result = import_file(vendor, text.encode("cp932"))
    assert result.recorded == 1 and result.failed == 1 and result.receipts[0].corporate_number == CORP_B
    (err,) = result.errors
    assert (err["row"], err["column"], err["code"]) == (2, column("line.payment_amount"), "invalid_amount")
    assert company_view(kiroku, CORP_A).filings() == []


def test_the_ledgers_refusal_is_placed_on_the_row_and_item_of_its_line(kiroku, vendor):
    """A municipality code with a bad check digit (地方公共団体コード, 総務省): the ledger refuses it, on its row."""
    text = eltax_file([eltax_cells(CORP_A, 1), eltax_cells(CORP_A, 2, municipality="131017")])
    result = import_file(vendor, text.encode("cp932"))
    assert result.recorded == 0
    (err,) = result.errors
    assert (err["row"], err["column"], err["code"]) == (2, column("line.municipality_code"), "check_digit")


def test_rows_marked_corrected_after_the_original_are_a_person_level_correction(kiroku, vendor):
    """eLTAX 「給与支払報告書の訂正・追加・取消」: a 315 record with 訂正表示 2 (訂正) replaces that person's; an unmarked
    one in the same group adds a person (item 10 訂正表示: 0 新規, 1 追加, 2 訂正, 3 取消 — eltax_315 sources K, L)."""
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    first = import_file(vendor, eltax_file([eltax_cells(CORP_A, 1), eltax_cells(CORP_A, 2)]).encode("cp932"))
    fix = eltax_file([eltax_cells(CORP_A, 2, corrected=True, **{"line.payment_amount": "5200000"}),
                      eltax_cells(CORP_A, 3, municipality=SAPPORO)])
    result = import_file(vendor, fix.encode("cp932"))
    assert result.ok, result.errors
    (r,) = result.receipts
    assert r.kind == SubmissionKind.CORRECTION and r.replaces == first.receipts[0].submission_id
    lines = company_view(kiroku, CORP_A).snapshot(r.submission_id).payload["lines"]
    assert [(ln["employee_number"], ln["line_action"], ln["payment_amount"]) for ln in lines] == [
        ("E0001", "ORIGINAL", 5_000_000), ("E0002", "CORRECT", 5_200_000), ("E0003", "ADD", 5_000_000)]
    assert r.targets == sorted([municipality(CHIYODA), municipality(SAPPORO)])


def test_a_file_of_added_and_cancelled_persons_changes_only_them(kiroku, vendor):
    """訂正表示 1 (追加) rows alone add persons to the filing in force, and 3 (取消) takes one off — not an original
    refused as already filed (the eLTAX 315 CSV: 0 新規, 1 追加, 2 訂正, 3 取消)."""
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    first = import_file(vendor, eltax_file([eltax_cells(CORP_A, 1), eltax_cells(CORP_A, 2)]).encode("cp932"))
    added = import_file(vendor, eltax_file([eltax_cells(CORP_A, 3, municipality=SAPPORO, **{"change": "1"}),
                                            eltax_cells(CORP_A, 1, **{"change": "3"})]).encode("cp932"))
    assert added.ok, added.errors
    (r,) = added.receipts
    assert (r.kind, r.replaces) == (SubmissionKind.CORRECTION, first.receipts[0].submission_id)
    lines = company_view(kiroku, CORP_A).snapshot(r.submission_id).payload["lines"]
    assert [(ln["employee_number"], ln["line_action"]) for ln in lines] == [("E0002", "ORIGINAL"), ("E0003", "ADD")]


def test_a_corrected_row_with_nothing_filed_is_refused_on_its_row(kiroku, vendor):
    result = import_file(vendor, eltax_file([eltax_cells(CORP_A, 1, corrected=True)]).encode("cp932"))
    assert result.recorded == 0
    assert [(e["row"], e["column"], e["code"]) for e in result.errors] == [(1, column("change"), "nothing_to_correct")]
    assert company_view(kiroku, CORP_A).filings() == []


def test_auto_detection_picks_each_format_from_the_first_line(kiroku, vendor):
    files = {"eltax-315": eltax_file([eltax_cells(CORP_A, 1)]), "nenkin-shfd0006": shfd_file([shfd_cells(1)]),
             "payroll-csv": payroll_csv_text(CORP_B)}  # CORP_A has its 2026 report from the 315 file
    for fmt, text in files.items():
        result = import_file(vendor, text.encode("utf-8"), corporate_number=CORP_A)
        assert (result.format, result.recorded, result.errors) == (fmt, 1, []), fmt


def test_an_unknown_format_is_refused_naming_format_and_listing_the_choices(vendor):
    with pytest.raises(ValidationError) as exc:
        import_file(vendor, b"315,", format="eltax-316")
    assert (exc.value.code, exc.value.field) == ("unknown_format", "format")
    for name in ("auto", "payroll-csv", "eltax-315", "nenkin-shfd0006"):
        assert name in exc.value.expected


def test_a_shfd0006_file_without_the_companys_corporate_number_is_refused_naming_it(vendor):
    with pytest.raises(ValidationError) as exc:
        import_file(vendor, shfd_file([shfd_cells(1)]).encode("cp932"), format="nenkin-shfd0006")
    assert (exc.value.code, exc.value.field) == ("required", "corporate_number")
    with pytest.raises(ValidationError) as exc:
        import_file(vendor, shfd_file([shfd_cells(1)]).encode("cp932"), format="nenkin-shfd0006", corporate_number="7000012050003")
    assert exc.value.field == "corporate_number"


def test_a_vendor_without_the_companys_grant_is_refused_for_that_payer_only(kiroku):
    """A vendor acts only under the company's grant (DESIGN.md, security model): refused per filing."""
    company(kiroku, CORP_B).grant(VENDOR, ["PAYROLL_REPORT"], ["submit"], grant_until(kiroku))
    result = import_file(producer(kiroku, VENDOR), eltax_file([eltax_cells(CORP_A, 1), eltax_cells(CORP_B, 1)]).encode("cp932"))
    assert result.recorded == 1 and result.receipts[0].corporate_number == CORP_B
    assert [(e["row"], e["code"]) for e in result.errors] == [(1, "forbidden")]


def test_a_bad_cell_in_a_shfd0006_record_is_refused_naming_row_and_item_and_the_other_period_is_recorded(kiroku, vendor):
    """SHFD0006 data records: 報酬月額 in digits (日本年金機構「磁気媒体届書作成におけるファイルイメージと項目構成」)."""
    text = shfd_file([shfd_cells(1, **{"年(適用年月)": "07"}), shfd_cells(2, **{"報酬月額通貨(5月)": "三十万"})])
    result = import_file(vendor, text.encode("cp932"), corporate_number=CORP_A)
    assert [(e["row"], e["column"], e["code"]) for e in result.errors] == [(7, "報酬月額通貨(5月)", "not_a_number")]
    assert [(r.procedure, r.period) for r in result.receipts] == [("STANDARD_REMUNERATION", "2025")]


def test_two_offices_shfd0006_files_with_the_same_rows_are_two_filings_for_one_vendor(kiroku, vendor):
    """SHFD0006 names no company (日本年金機構 CSV形式届書): the key is scoped to the company the importer names,
    since a vendor's keys span every company it files for."""
    data = shfd_file([shfd_cells(1)]).encode("cp932")
    a = import_file(vendor, data, corporate_number=CORP_A)
    b = import_file(vendor, data, corporate_number=CORP_B)
    assert (a.errors, b.errors) == ([], [])
    assert a.receipts[0].corporate_number == CORP_A and b.receipts[0].corporate_number == CORP_B


def test_several_files_are_one_import_whose_groups_share_batches_and_whose_errors_name_their_file(kiroku, vendor, tmp_path):
    """A 社労士 or vendor brings a SHFD0006.CSV per 事業所 (日本年金機構 CSV形式届書: one file per office's 媒体) and a
    315 file beside them: ``import_files`` reads them as one stream, each SHFD0006 with its own company's 法人番号.
    Their filings are recorded together (one ``record_many`` call for the lot); an error names its file and row."""
    a, b = tmp_path / "a" / "SHFD0006.CSV", tmp_path / "b" / "SHFD0006.CSV"
    for path in (a, b):
        path.parent.mkdir()
        path.write_bytes(shfd_file([shfd_cells(1), shfd_cells(2)]).encode("cp932"))
    bad = tmp_path / "KYUYO.CSV"
    bad.write_bytes(eltax_file([eltax_cells(CORP_A, 1, **{"line.payment_amount": "abc"})]).encode("cp932"))
    calls: list[int] = []
    original = vendor.record_many

    def counted(requests, batch_size=500):
        requests = list(requests)
        calls.append(len(requests))
        return original(requests, batch_size=batch_size)

    vendor.record_many = counted
    rows: list[int] = []
    result = vendor.import_files([(a, CORP_A), (b, CORP_B), bad], on_row=rows.append)
    assert calls == [2]
    assert sorted(r.corporate_number for r in result.receipts) == sorted([CORP_A, CORP_B])
    # rows: the lines read of all three (each SHFD0006's 5 management lines and 2 records, the 315's one record)
    assert (result.recorded, result.failed, result.rows, result.format) == (2, 1, 15, "nenkin-shfd0006,eltax-315")
    assert [(e["file"], e["row"], e["code"]) for e in result.errors] == [(str(bad), 1, "invalid_amount")]
    assert rows == sorted(rows) and rows[-1] == 15  # counted across the files
    again = vendor.import_files([(a, CORP_A), (b, CORP_B)])
    assert [r.submission_id for r in again.receipts] == [r.submission_id for r in result.receipts]


def test_several_files_are_checked_before_any_is_read(vendor, tmp_path):
    """A SHFD0006 among the files without its company's 法人番号 refuses the whole import before anything is recorded."""
    path = tmp_path / "SHFD0006.CSV"
    path.write_bytes(shfd_file([shfd_cells(1)]).encode("cp932"))
    with pytest.raises(ValidationError) as err:
        vendor.import_files([(path, CORP_A), path], format="nenkin-shfd0006")
    assert (err.value.field, err.value.code) == ("corporate_number", "required")
