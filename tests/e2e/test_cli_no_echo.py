"""``kiroku import-csv`` never prints a personal number, even in a cell where it does not belong (issue 14, item 7)."""

from __future__ import annotations

from pathlib import Path

PN = "123456789018"
HEADER = ("法人番号,年分,事業者名,事業者所在地,市区町村コード,受給者番号,氏名,生年月日,個人番号,住所,支払金額,"
          "給与所得控除後の金額,所得控除の額の合計額,源泉徴収税額,社会保険料等の金額\n")


def test_import_csv_does_not_print_a_personal_number_from_a_misplaced_cell(cli, tmp_path: Path) -> None:  # noqa: F811
    # The personal number typed into 市区町村コード as well: the error names the column, not the digits.
    row = (f"7000012050002,2026,株式会社良,東京都,{PN},E0001,山田 太郎,1985-07-14,{PN},東京都千代田区,"
           "5000000,3560000,1200000,120000,700000\n")
    f = tmp_path / "shifted.csv"
    f.write_bytes((HEADER + row).encode("utf-8"))
    result = cli("import-csv", str(f), "--as", "company:7000012050002", ok=False)
    assert result.exit_code == 2 and "municipality_code" in result.output
    assert PN not in result.output


def test_import_csv_does_not_print_a_headerless_files_first_row(cli, tmp_path: Path) -> None:  # noqa: F811
    f = tmp_path / "no-header.csv"
    f.write_bytes(f"{PN},7000012050002,2026\n".encode())
    result = cli("import-csv", str(f), "--as", "company:7000012050002", ok=False)
    assert result.exit_code != 0
    assert PN not in result.output
