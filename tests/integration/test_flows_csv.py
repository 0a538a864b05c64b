"""CSV import of salary payment reports (給与支払報告書): BOM or not, Japanese headers, errors by row and column."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from ledger.errors import ValidationError
from producers import import_payroll_csv
from producers.csv_import import read_text
from tests.factories import CHIYODA, CORP_A, CORP_B, OSAKA, SAPPORO, personal
from tests.integration.helpers import (
    agency,
    company,
    company_view,
    corp_number,
    enroll_payroll,
    filing_ends,
    firm_view,
    grant_until,
    municipality,
    producer,
)

pytestmark = pytest.mark.integration

JA_HEADER = ["法人番号", "年分", "支払者名称", "支払者所在地", "提出先市区町村コード", "受給者番号", "氏名", "フリガナ", "生年月日",
             "個人番号", "住所", "支払金額", "給与所得控除後の金額", "所得控除の額の合計額", "源泉徴収税額", "社会保険料等の金額",
             "扶養親族の数"]
EN_HEADER = ["corporate_number", "period", "employer_name", "employer_address", "municipality_code", "employee_number",
             "person.name", "person.kana", "person.birth_date", "person.personal_number", "person.address", "payment_amount",
             "income_after_deduction", "total_deductions", "withholding_tax", "social_insurance", "dependents"]
BAD_PERSONAL = "123456789012"


def row(corp: str, n: int, code: str = CHIYODA, **over: str) -> list[str]:
    cells = {
        "corporate_number": corp, "period": "2026", "employer_name": "株式会社記録", "employer_address": "東京都千代田区丸の内1-1",
        "municipality_code": code, "employee_number": f"E{n:04d}", "person.name": f"山田 太郎{n}", "person.kana": "ヤマダ タロウ",
        "person.birth_date": "昭和60年7月14日", "person.personal_number": personal(50_000 + n),
        "person.address": "東京都千代田区霞が関1-1-1", "payment_amount": "5,000,000",
        "income_after_deduction": "3560000", "total_deductions": "1200000", "withholding_tax": "120000",
        "social_insurance": "700000", "dependents": "1",
    }
    cells.update(over)
    return [cells[k] for k in EN_HEADER]


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def write(path: Path, text: str, bom: bool) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


@pytest.fixture
def vendor(kiroku):
    """A payroll vendor with submit and read grants from companies A and B."""
    for corp in (CORP_A, CORP_B):
        company(kiroku, corp).grant("vendor:acme-payroll", ["PAYROLL_REPORT"], ["submit", "read"], grant_until(kiroku))
    return producer(kiroku, "vendor:acme-payroll")


@pytest.mark.parametrize("bom", [True, False], ids=["with-bom", "without-bom"])
@pytest.mark.parametrize("header", [JA_HEADER, EN_HEADER], ids=["japanese-header", "english-header"])
def test_a_csv_file_is_imported_one_submission_per_company_and_year(kiroku, vendor, tmp_path, bom, header):
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    rows = [row(CORP_A, 1), row(CORP_A, 2, SAPPORO), row(CORP_A, 3), row(CORP_B, 1, OSAKA)]
    path = write(tmp_path / "kyuyo.csv", csv_text(header, rows), bom)

    result = import_payroll_csv(vendor, path)

    assert result.ok and result.errors == []
    assert result.rows == 4
    assert [(r.corporate_number, r.period, r.line_count) for r in result.receipts] == [(CORP_A, "2026", 3), (CORP_B, "2026", 1)]
    assert result.receipts[0].targets == sorted([municipality(CHIYODA), municipality(SAPPORO)])
    assert result.receipts[1].unreached == [municipality(OSAKA)]
    snap = firm_view(kiroku, "vendor:acme-payroll").snapshot(result.receipts[0].submission_id)
    assert [ln["person"]["name"] for ln in snap.payload["lines"]] == ["山田 太郎1", "山田 太郎2", "山田 太郎3"]
    assert [ln["employee_number"] for ln in snap.payload["lines"]] == ["E0001", "E0002", "E0003"]
    assert snap.payload["lines"][0]["person"]["birth_date"] == "1985-07-14"  # 昭和60年 as the form writes it
    assert snap.payload["lines"][0]["person"]["personal_number"] == "*" * 12  # a vendor has no basis for 個人番号
    own = company_view(kiroku, CORP_A).snapshot(result.receipts[0].submission_id)
    assert own.payload["lines"][0]["person"]["personal_number"] == personal(50_001)
    assert snap.payload["lines"][0]["payment_amount"] == 5_000_000
    assert snap.payload["employer"] == {"name": "株式会社記録", "address": "東京都千代田区丸の内1-1", "office_code": None,
                                        "phone": None, "branch_number": None, "tax_office_reference": None}
    assert [n.lines for n in agency(kiroku, municipality(SAPPORO)).notices()] == [[2]]


def test_uploaded_bytes_with_a_bom_are_read_through_read_text(kiroku, vendor):
    data = b"\xef\xbb\xbf" + csv_text(JA_HEADER, [row(CORP_A, 1)]).encode("utf-8")
    result = import_payroll_csv(vendor, read_text(data))
    assert result.ok and len(result.receipts) == 1


def test_errors_name_the_csv_row_and_column_and_the_bad_group_is_recorded_nowhere(kiroku, vendor, tmp_path):
    rows = [
        row(CORP_A, 1), row(CORP_A, 2),                                            # rows 2-3: good
        row(CORP_B, 1), row(CORP_B, 2, **{"person.personal_number": BAD_PERSONAL}),              # rows 4-5: bad personal number
        row(CORP_B, 3, "131017", payment_amount="-5"),                             # row 6: same group, two more problems
        row(CORP_A, 4, **{"period": "2025"}),                                      # row 7: good (another year)
    ]
    path = write(tmp_path / "kyuyo.csv", csv_text(JA_HEADER, rows), bom=True)

    result = import_payroll_csv(vendor, path)

    assert not result.ok
    assert [(e["row"], e["column"], e["code"]) for e in result.errors] == [
        (5, "person.personal_number", "check_digit"),
        (6, "municipality_code", "check_digit"),
        (6, "payment_amount", "negative_amount"),
    ]
    assert result.errors[0]["field"] == "lines[2].person.personal_number"
    assert BAD_PERSONAL not in repr(result.errors)
    assert [(r.corporate_number, r.period) for r in result.receipts] == [(CORP_A, "2026"), (CORP_A, "2025")]
    assert company_view(kiroku, CORP_B).filings() == []
    assert sorted(f.period for f in company_view(kiroku, CORP_A).filings()) == ["2025", "2026"]


def test_a_bad_header_value_is_reported_at_the_groups_first_row(kiroku, vendor, tmp_path):
    rows = [row(CORP_A, 1), row("7000012050003", 1), row("7000012050003", 2)]
    result = import_payroll_csv(vendor, write(tmp_path / "k.csv", csv_text(EN_HEADER, rows), bom=False))
    assert [(e["row"], e["column"], e["code"]) for e in result.errors] == [(3, "corporate_number", "check_digit")]
    assert len(result.receipts) == 1


def test_a_missing_employer_name_is_reported_in_its_column(kiroku, vendor, tmp_path):
    rows = [row(CORP_A, 1, employer_name="")]
    result = import_payroll_csv(vendor, write(tmp_path / "k.csv", csv_text(EN_HEADER, rows), bom=False))
    assert [(e["row"], e["column"], e["code"]) for e in result.errors] == [(2, "employer_name", "required")]


def test_a_group_the_producer_may_not_submit_is_reported_and_the_others_recorded(kiroku, vendor, tmp_path):
    stranger = corp_number(5)  # no grant to the vendor
    rows = [row(CORP_A, 1), row(stranger, 1)]
    result = import_payroll_csv(vendor, write(tmp_path / "k.csv", csv_text(EN_HEADER, rows), bom=False))
    assert [(e["row"], e["code"]) for e in result.errors] == [(3, "forbidden")]
    assert [r.corporate_number for r in result.receipts] == [CORP_A]


def test_re_importing_the_same_file_returns_the_same_receipts_and_records_nothing_new(kiroku, vendor, tmp_path):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    rows = [row(CORP_A, 1), row(CORP_A, 2), row(CORP_B, 1), row(CORP_B, 2, **{"person.personal_number": BAD_PERSONAL})]
    path = write(tmp_path / "kyuyo.csv", csv_text(JA_HEADER, rows), bom=True)
    first = import_payroll_csv(vendor, path)
    ends, feed = filing_ends(kiroku), agency(kiroku, municipality(CHIYODA)).notices()

    again = import_payroll_csv(vendor, path)

    assert again.receipts == first.receipts
    assert again.errors == first.errors
    assert filing_ends(kiroku) == ends
    assert agency(kiroku, municipality(CHIYODA)).notices() == feed


def test_a_changed_file_under_the_same_company_and_year_is_refused_as_already_filed(kiroku, vendor, tmp_path):
    import_payroll_csv(vendor, write(tmp_path / "a.csv", csv_text(EN_HEADER, [row(CORP_A, 1)]), bom=False))
    changed = row(CORP_A, 1, payment_amount="5,100,000")
    result = import_payroll_csv(vendor, write(tmp_path / "b.csv", csv_text(EN_HEADER, [changed]), bom=False))
    assert [(e["row"], e["code"]) for e in result.errors] == [(2, "already_filed")]
    assert result.receipts == []


@pytest.mark.parametrize(("text", "code", "field"), [
    ("", "empty_file", "header"),
    ("法人番号,年分,ボーナス\r\n", "unknown_column", "column ボーナス"),
    ("法人番号,年分,支払者名称,支払者所在地,氏名,個人番号\r\n", "missing_column", "column municipality_code"),
    # Kiroku's v1 file: its person items are read under their v1 names, but a v2 line needs 受給者番号 and 生年月日.
    ("corporate_number,period,employer_name,employer_address,municipality_code,employee_name,personal_number,address,"
     "payment_amount\r\n", "missing_column", "column employee_number"),
])
def test_a_file_with_a_bad_header_is_refused_before_anything_is_recorded(kiroku, vendor, text, code, field):
    ends = filing_ends(kiroku)
    with pytest.raises(ValidationError) as err:
        import_payroll_csv(vendor, io.StringIO(text))
    assert (err.value.code, err.value.field) == (code, field)
    assert filing_ends(kiroku) == ends


def test_a_row_with_more_cells_than_the_header_is_refused_naming_the_row(kiroku, vendor):
    text = csv_text(EN_HEADER, [row(CORP_A, 1), row(CORP_A, 2) + ["extra"]])
    with pytest.raises(ValidationError) as err:
        import_payroll_csv(vendor, io.StringIO(text))
    assert (err.value.code, err.value.field) == ("extra_cells", "row 3")


def test_rows_marked_for_correction_correct_only_those_persons_of_the_filing_in_force(kiroku, vendor, tmp_path):
    """eLTAX takes a 給与支払報告書 correction per person (訂正・追加・取消): a file of just the changed rows,
    each with its 訂正区分, corrects the filing in force for its year and tells only their municipalities."""
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    header = [*JA_HEADER, "訂正区分"]
    first = import_payroll_csv(vendor, write(tmp_path / "a.csv", csv_text(header, [
        [*row(CORP_A, 1), ""], [*row(CORP_A, 2), ""], [*row(CORP_A, 3, SAPPORO), ""]]), bom=True))
    [original] = first.receipts
    fixes = [[*row(CORP_A, 2, payment_amount="5,500,000"), "訂正"], [*row(CORP_A, 4, SAPPORO), "追加"], [*row(CORP_A, 1), "取消"]]
    second = import_payroll_csv(vendor, write(tmp_path / "b.csv", csv_text(header, fixes), bom=True))
    assert second.ok, second.errors
    [fixed] = second.receipts
    snap = company_view(kiroku, CORP_A).snapshot(fixed.submission_id)
    assert snap.info.replaces == original.submission_id
    assert [(ln["employee_number"], ln["line_action"], ln["payment_amount"]) for ln in snap.payload["lines"]] == [
        ("E0002", "CORRECT", 5_500_000), ("E0003", "ORIGINAL", 5_000_000), ("E0004", "ADD", 5_000_000)]
    [_, told] = agency(kiroku, municipality(SAPPORO)).notices()
    assert (told.changed, told.departed) == ([3], 0)
    again = import_payroll_csv(vendor, write(tmp_path / "b.csv", csv_text(header, fixes), bom=True))
    assert again.receipts == second.receipts  # the same file again: the original receipt, nothing twice


def test_rows_marked_for_correction_with_no_filing_to_correct_are_reported_at_the_groups_first_row(kiroku, vendor, tmp_path):
    header = [*EN_HEADER, "line_action"]
    result = import_payroll_csv(vendor, write(tmp_path / "c.csv", csv_text(header, [[*row(CORP_A, 1), "CORRECT"]]), bom=False))
    assert [(e["row"], e["column"], e["code"]) for e in result.errors] == [(2, "line_action", "nothing_to_correct")]
    assert company_view(kiroku, CORP_A).filings() == []


def test_each_office_of_a_company_is_its_own_filing_in_the_csv(kiroku, vendor, tmp_path):
    """E13: 給与支払報告書 per 給与支払事務所 (所得税法第17条; 本支店等区分番号, 総税市第49号 item 3): a 本支店等区分番号
    column splits a company's rows into one filing per office; the same office again is already filed."""
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    header = [*JA_HEADER, "本支店等区分番号"]
    rows = [[*row(CORP_A, 1), "001"], [*row(CORP_A, 2), "001"], [*row(CORP_A, 3, SAPPORO), "002"]]
    result = import_payroll_csv(vendor, write(tmp_path / "offices.csv", csv_text(header, rows), bom=False))
    assert result.ok, result.errors
    assert [(r.office, r.line_count, r.targets) for r in result.receipts] == [
        ("001", 2, [municipality(CHIYODA)]), ("002", 1, [municipality(SAPPORO)])]
    again = import_payroll_csv(vendor, write(tmp_path / "more.csv", csv_text(header, [[*row(CORP_A, 9), "002"]]), bom=False))
    assert [(e["row"], e["code"]) for e in again.errors] == [(2, "already_filed")]
