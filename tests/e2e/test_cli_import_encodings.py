"""``kiroku import-csv`` reads the files payroll software exports — CP932 (Windows' Shift_JIS), UTF-8, UTF-8
with a BOM — and refuses the others with a message and exit status 2, never a traceback (issue 15, item 6)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

CORP = "7000012050002"
YEAR = datetime.now(UTC).year
HEADER = ("法人番号,年分,事業者名,事業者所在地,市区町村コード,受給者番号,氏名,生年月日,個人番号,住所,支払金額,"
          "給与所得控除後の金額,所得控除の額の合計額,源泉徴収税額,社会保険料等の金額\r\n")
NAME, NUMBER = "髙橋 ①郎", "123456789018"  # 髙 and ① are CP932's NEC/IBM characters, not JIS X 0208
ROW = f"{CORP},{YEAR},株式会社良,東京都,131016,E0001,{NAME},1985/07/14,{NUMBER},東京都千代田区,5000000,3560000,1200000,120000,700000\r\n"


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def filings(cli) -> int:
    from ledger.bootstrap import open_kiroku

    with open_kiroku(home=cli.home) as k:
        return sum(k.log.end_offset("kiroku.filings", p) for p in range(k.log.partitions("kiroku.filings")))


def test_a_cp932_file_imports_and_the_same_rows_in_utf8_and_utf8_with_bom_are_replays(cli, tmp_path: Path) -> None:
    """The national salary-payment-report file is Shift_JIS (総務省告示第429号 第2の2: JIS X 0208 附属書1);
    Windows payroll software saves CSV as CP932."""
    text = HEADER + ROW
    files = [write(tmp_path / "sjis.csv", text.encode("cp932")), write(tmp_path / "utf8.csv", text.encode("utf-8")),
             write(tmp_path / "bom.csv", b"\xef\xbb\xbf" + text.encode("utf-8"))]
    for f in files:
        result = cli("import-csv", f, "--as", f"company:{CORP}")
        assert "Read 1 rows: recorded 1 submission(s)." in result.output
    assert filings(cli) == 1  # one filing: the later imports answered its receipt
    assert "recorded 1" in cli("import-csv", files[0], "--as", f"company:{CORP}", "--encoding", "Shift_JIS").output
    assert filings(cli) == 1


def test_a_file_mixing_utf8_and_cp932_is_refused_naming_the_line_with_exit_status_2(cli, tmp_path: Path) -> None:
    f = write(tmp_path / "mixed.csv", (HEADER + ROW).encode("utf-8") + ROW.encode("cp932"))
    result = cli("import-csv", f, "--as", f"company:{CORP}", ok=False)
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "line 3 of the file is CP932 (Shift_JIS) text, but the file is UTF-8 (as line 1 was)" in out
    assert "field: line 3" in out and "code: mixed_encoding" in out
    assert "Traceback" not in result.output and NUMBER not in result.output and "髙橋" not in result.output
    assert filings(cli) == 0


@pytest.mark.parametrize(("data", "args", "code"), [
    ((HEADER + ROW).encode("cp932"), ("--encoding", "utf-8"), "invalid_encoding"),
    ((HEADER + ROW).encode("utf-16"), (), "invalid_encoding"),
    ((HEADER + ROW).encode("utf-8"), ("--encoding", "latin-1"), "unknown_encoding"),
], ids=["cp932-read-as-utf8", "utf16", "unknown-encoding"])
def test_a_file_kiroku_cannot_read_is_refused_with_exit_status_2_and_no_traceback(cli, tmp_path: Path, data, args, code) -> None:
    result = cli("import-csv", write(tmp_path / "f.csv", data), "--as", f"company:{CORP}", *args, ok=False)
    assert result.exit_code == 2
    assert f"code: {code}" in result.output
    assert "Traceback" not in result.output and NUMBER not in result.output


def test_import_csv_help_names_the_encodings_it_reads(cli) -> None:
    text = " ".join(cli("import-csv", "--help").output.split())
    for word in ("UTF-8", "BOM", "Shift_JIS", "CP932", "--encoding", "auto|utf-8|cp932", "windows-31j"):
        assert word in text, word
