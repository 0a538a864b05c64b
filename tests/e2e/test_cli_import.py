"""``kiroku import``: the national files through the command line — a summary, a problems table by row and item,
exit status 2 on problems, and a ``--help`` that teaches each format (給与支払報告書・源泉徴収票 record 315,
総税市第49号; 日本年金機構 SHFD0006.CSV)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.encoding import eltax_315
from tests.import_files import eltax_cells, eltax_file, payroll_csv_text, shfd_cells, shfd_file

pytestmark = pytest.mark.e2e

CORP = "7000012050002"
AS = ("--as", f"company:{CORP}")


def write(path: Path, text: str, encoding: str = "cp932") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def filings(cli) -> int:
    from ledger.bootstrap import open_kiroku

    with open_kiroku(home=cli.home) as k:
        return sum(k.log.end_offset("kiroku.filings", p) for p in range(k.log.partitions("kiroku.filings")))


def test_a_315_file_is_imported_detected_and_again_records_nothing(cli, tmp_path):
    f = write(tmp_path / "KYUYO.CSV", eltax_file([eltax_cells(CORP, 1), eltax_cells(CORP, 2)]))
    out = " ".join(cli("import", f, *AS).output.split())
    assert "Read 2 rows (eltax-315): recorded 1 submission(s)." in out
    assert "山田" not in out
    cli("import", f, *AS, "--format", "eltax-315", "--encoding", "shift_jis")
    assert filings(cli) == 1


def test_a_shfd0006_file_is_imported_with_the_companys_corporate_number(cli, tmp_path):
    f = write(tmp_path / "SHFD0006.CSV", shfd_file([shfd_cells(1), shfd_cells(2)]))
    out = " ".join(cli("import", f, *AS, "--corporate-number", CORP).output.split())
    assert "(nenkin-shfd0006): recorded 1 submission(s)." in out


def test_a_shfd0006_file_without_the_corporate_number_is_refused_naming_the_option(cli, tmp_path):
    f = write(tmp_path / "SHFD0006.CSV", shfd_file([shfd_cells(1)]))
    result = cli("import", f, *AS, "--format", "nenkin-shfd0006", ok=False)
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "field: --corporate-number" in out and "code: required" in out
    assert filings(cli) == 0


def test_an_unknown_format_is_refused_listing_the_formats(cli, tmp_path):
    result = cli("import", write(tmp_path / "f.csv", "315,"), *AS, "--format", "xlsx", ok=False)
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "code: unknown_format" in out and "field: format" in out
    for name in ("payroll-csv", "eltax-315", "nenkin-shfd0006"):
        assert name in out


def test_a_bad_cell_is_listed_by_row_and_item_with_exit_status_2_and_the_other_payer_is_recorded(cli, tmp_path):
    other = "1000011000005"
    f = write(tmp_path / "KYUYO.CSV", eltax_file([eltax_cells(CORP, 1, **{"line.payment_amount": "abc"}), eltax_cells(other, 1)]))
    result = cli("import", f, "--as", "vendor:none", ok=False)  # a vendor without grants: refused for both payers
    assert result.exit_code == 2
    result = cli("import", f, *AS, ok=False)
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "problem(s) — these filings were not recorded" in out
    item = next(i for i in eltax_315.ITEMS.values() if i.field == "line.payment_amount")
    assert item.column in out and "digits (at most 10)" in out
    assert filings(cli) == 0  # company A may not file for the other payer either: nothing recorded


def test_import_csv_is_import_with_the_payroll_csv_format(cli, tmp_path):
    f = write(tmp_path / "kyuyo.csv", payroll_csv_text(CORP), "utf-8")
    assert "Read 1 rows: recorded 1 submission(s)." in cli("import", f, *AS, "--format", "payroll-csv").output
    assert "Read 1 rows: recorded 1 submission(s)." in cli("import-csv", f, *AS).output
    assert filings(cli) == 1


def test_import_help_teaches_each_format_its_layout_encodings_and_corrections(cli):
    from ledger.encoding import nenkin_shfd

    text = " ".join(cli("import", "--help").output.split())
    for word in ("eltax-315", "nenkin-shfd0006", "payroll-csv", "総税市第49号", "SHFD0006", "--corporate-number", "訂正表示",
                 "UTF-8", "Shift_JIS", "CP932", "kiroku import KYUYO315.CSV", "kiroku import SHFD0006.CSV", "追加"):
        assert word in text, word
    assert " ".join(eltax_315.TITLE.split())[:30] in text and " ".join(nenkin_shfd.TITLE.split())[:20] in text


def test_rows_marked_corrected_import_as_a_correction_of_the_filing_in_force(cli, tmp_path):
    """総税市第49号 item 10 訂正表示 1: the record replaces that person's line (eLTAX 訂正・追加・取消)."""
    cli("import", write(tmp_path / "a.csv", eltax_file([eltax_cells(CORP, 1), eltax_cells(CORP, 2)])), *AS)
    fix = write(tmp_path / "b.csv", eltax_file([eltax_cells(CORP, 2, corrected=True, **{"line.payment_amount": "5100000"})]))
    assert "recorded 1 submission(s)." in cli("import", fix, *AS).output
    from ledger.bootstrap import open_kiroku
    from ledger.domain.model import Principal

    with open_kiroku(home=cli.home) as k:
        snap = k.queries.effective(Principal.company(CORP), CORP, "PAYROLL_REPORT", "2026")
    assert snap.info.kind.value == "CORRECTION"
    assert [(ln["employee_number"], ln["line_action"], ln["payment_amount"]) for ln in snap.payload["lines"]] == [
        ("E0001", "ORIGINAL", 5_000_000), ("E0002", "CORRECT", 5_100_000)]


def test_several_files_import_as_one_and_a_problem_names_its_file(cli, tmp_path):
    """``kiroku import A B …``: a company's offices' SHFD0006.CSV (one each, 日本年金機構 CSV形式届書) and a 315 file in
    one command; --corporate-number is every SHFD0006's company; the problems table gains a file column."""
    (tmp_path / "tokyo").mkdir()
    (tmp_path / "osaka").mkdir()
    tokyo = write(tmp_path / "tokyo" / "SHFD0006.CSV", shfd_file([shfd_cells(1)]))
    osaka = write(tmp_path / "osaka" / "SHFD0006.CSV", shfd_file([shfd_cells(2)], office="ﾆﾎﾍ"))
    bad = write(tmp_path / "KYUYO.CSV", eltax_file([eltax_cells(CORP, 1, **{"line.payment_amount": "abc"})]))
    result = cli("import", tokyo, osaka, bad, *AS, "--corporate-number", CORP, ok=False)
    out = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "Read 13 rows of 3 files (nenkin-shfd0006,eltax-315): recorded 2 submission(s)." in out
    assert "┃ file" in result.output and f"{bad} │ 1 │ 項目17 支払金額" in out
    assert filings(cli) == 2
