"""The benchmark's population as the national files: a 315 CSV and SHFD0006.CSV files, streamed to disk.

The same companies and employees as :func:`ledger.bench.ingest.write_csv` (the payroll CSV), so
``kiroku bench memory`` compares the imports of one population in three formats. Cells are placed
by the readers' own tables (``eltax_315.ITEMS`` by field, SHFD0006's items by name), so the files
follow the readers when their item positions are corrected.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ledger.bench.population import municipalities
from ledger.encoding import eltax_315, nenkin_shfd

#: 令和8年分 (2026), as the 315 record writes 年分 (総税市第49号, item 11).
REIWA_2026 = "08"
#: 昭和55年4月1日 — write_csv's 1980/04/01 — as the 315 record's 和暦 date (元号 3 + YYMMDD) …
BIRTH_315 = "3550401"
#: … and as SHFD0006's 元号 5 (昭和) + YYMMDD.
BIRTH_SHFD = ("5", "550401")


def _corp(i: int) -> str:
    from ledger.domain.identifiers import make_corporate_number

    return make_corporate_number(f"{2_000_000_000 + i:012d}")


def write_315(path: Path, rows: int, per_company: int = 100, encoding: str = "cp932") -> None:
    """The population as one 315 file (CP932 by default, as 総務省告示第429号 第2の2 has it)."""
    from ledger.domain.identifiers import make_personal_number

    numbers = {item.field: item.number for item in eltax_315.ITEMS.values() if item.field}
    kind = next(i.number for i in eltax_315.ITEMS.values() if i.kind == "kind")
    codes = list(municipalities())
    with path.open("w", encoding=encoding, newline="") as fh:
        out = csv.writer(fh, lineterminator="\r\n")
        corp = ""
        for i in range(rows):
            if i % per_company == 0:
                corp = _corp(i)
            cells = [""] * eltax_315.MIN_CELLS
            cells[kind - 1] = eltax_315.RECORD_KIND
            for name, cell in (("header.address", "東京都千代田区"), ("header.name", f"株式会社計測{i // per_company}"),
                               ("change", "0"), ("period", REIWA_2026), ("person.address", "東京都"), ("person.name", f"社員 {i}"),
                               ("line.payment_amount", str(5_000_000 + i % 1000)), ("line.income_after_deduction", "3560000"),
                               ("line.total_deductions", "1200000"), ("line.withholding_tax", "120000"),
                               ("line.social_insurance", "700000"), ("person.birth_date", BIRTH_315),
                               ("line.employee_number", f"E{i % per_company + 1:05d}"),
                               ("line.municipality_code", codes[i % len(codes)]),
                               ("person.personal_number", make_personal_number(f"{30_000_000_000 + i:011d}")),
                               ("group.corporate_number", corp)):
                cells[numbers[name] - 1] = cell
            out.writerow(cells)


def _shfd_positions() -> dict[str, int]:
    items: Any = getattr(nenkin_shfd, "ITEMS", None)
    if isinstance(items, dict) and "STANDARD_REMUNERATION" in items:
        items = items["STANDARD_REMUNERATION"]
    if isinstance(items, dict):
        return {getattr(i, "name", str(i)): n for n, i in items.items()}
    return {name: n for n, name in enumerate(nenkin_shfd.SR_ITEMS, start=1)}


def write_shfd(folder: Path, rows: int, per_company: int = 100, encoding: str = "cp932") -> list[tuple[Path, str]]:
    """The population's 算定基礎届 as one SHFD0006.CSV per company (an office's file; it carries no
    法人番号): the files and each one's company."""
    folder.mkdir(parents=True, exist_ok=True)
    positions = _shfd_positions()
    code = next(c for c, p in nenkin_shfd.RECORD_CODES.items() if p == "STANDARD_REMUNERATION")
    files = []
    for start in range(0, rows, per_company):
        corp = _corp(start)
        path = folder / f"{corp}.CSV"
        with path.open("w", encoding=encoding, newline="") as fh:
            fh.write("01,イロハ,001,20260710,22223\r\n[kanri]\r\n,01\r\n"
                     f"01,イロハ,{start // per_company + 1:05d},100,0005,東京都千代田区,株式会社計測{start // per_company},計測 太郎,"
                     "03-1234-5678\r\n[data]\r\n")
            out = csv.writer(fh, lineterminator="\r\n")
            for i in range(start, min(rows, start + per_company)):
                pay = str(300_000 + i % 1000)
                named = {"届書コード": code, "郡市区符号": "01", "事業所記号": "イロハ", "被保険者整理番号": str(i - start + 1),
                         "元号(生年月日)": BIRTH_SHFD[0], "年月日(生年月日)": BIRTH_SHFD[1], "改定予定月": "09",
                         "元号(適用年月)": "9", "年(適用年月)": REIWA_2026, "月(適用年月)": "09", "氏名(カナ)": "シャイン",
                         "氏名": f"社員 {i}", "支払基礎日数(4月)": "30", "支払基礎日数(5月)": "31", "支払基礎日数(6月)": "30",
                         "報酬月額通貨(4月)": pay, "報酬月額通貨(5月)": pay, "報酬月額通貨(6月)": pay}
                cells = [""] * max(positions.values())
                for name, cell in named.items():
                    cells[positions[name] - 1] = cell
                out.writerow(cells)
        files.append((path, corp))
    return files
