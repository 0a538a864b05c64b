"""The benchmark's population as the national files: a 315 CSV and SHFD0006.CSV files, streamed to disk.

The same companies and employees as :func:`ledger.bench.ingest.write_csv` (the payroll CSV), so
``kiroku bench memory`` compares the imports of one population in three formats. Cells are placed
by the readers' own tables (``eltax_315.ITEMS`` by field, SHFD0006's items by name), so the files
follow the readers when their item positions are corrected.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ledger.bench.population import municipalities
from ledger.encoding import eltax_315, nenkin_shfd

#: 令和8年分 (2026), as the 315 record writes 年分 (総税市第49号, item 11).
REIWA_2026 = "08"
#: 昭和55年4月1日 — write_csv's 1980/04/01 — as the 315 record's four cells (元号 3 昭和, 年, 月, 日) …
BIRTH_315 = {"birth.era": "1", "birth.yy": "55", "birth.mm": "04", "birth.dd": "01"}
#: … and as SHFD0006's 元号 5 (昭和) + YYMMDD.
BIRTH_SHFD = ("5", "550401")
#: 訂正表示 as eLTAX's 315 CSV writes it: 0 新規, 1 追加, 2 訂正, 3 取消 (``eltax_315``'s sources K and L).
NEW, CORRECTED = "0", "2"


def _corp(i: int) -> str:
    from ledger.domain.identifiers import make_corporate_number

    return make_corporate_number(f"{2_000_000_000 + i:012d}")


def record_315(cells: dict[str, str]) -> list[str]:
    """A 315 record's cells in item order from {item field: cell} (``eltax_315.ITEMS``' fields, e.g.
    ``line.payment_amount``, ``birth.era``): ``315`` in item 1, each cell at its item's number."""
    numbers = {item.field: item.number for item in eltax_315.ITEMS.values() if item.field}
    out = [""] * eltax_315.MIN_CELLS
    out[next(i.number for i in eltax_315.ITEMS.values() if i.kind == "kind") - 1] = eltax_315.RECORD_KIND
    for name, cell in cells.items():
        out[numbers[name] - 1] = cell
    return out


def shfd_record(cells: dict[str, str], procedure: str = "STANDARD_REMUNERATION") -> list[str]:
    """A SHFD0006 data record's cells in item order from {item name: cell} (``nenkin_shfd.SR_ITEMS`` /
    ``BONUS_ITEMS``), its 様式コード filled in."""
    names = nenkin_shfd.SR_ITEMS if procedure == "STANDARD_REMUNERATION" else nenkin_shfd.BONUS_ITEMS
    row = dict.fromkeys(names, "")
    row["様式コード"] = next(c for c, p in nenkin_shfd.RECORD_CODES.items() if p == procedure)
    row.update(cells)
    return list(row.values())


def shfd_head(offices: list[tuple[str, str, str, str, str]], created: str = "20260710") -> list[list[str]]:
    """SHFD0006's head (日本年金機構 仕様書 64p): 媒体管理レコード, ``[kanri]``, 事業所数情報, one 事業所情報 per office
    (都道府県コード, 郡市区符号, 事業所記号, 事業所番号, 名称), ``[data]``."""
    pref, city, symbol, _, _ = offices[0]
    return [[pref, city, symbol, "001", created, "22223"], ["[kanri]"], ["", f"{len(offices):03d}"],
            *([p, c, s, n, "100", "0005", "東京都千代田区丸の内1-1", name, "記録 太郎", "03", "1234", "5678"]
              for p, c, s, n, name in offices), ["[data]"]]


def write_315(path: Path, rows: int, per_company: int = 100, encoding: str = "cp932") -> None:
    """The population as one 315 file (CP932 by default, as 総務省告示第429号 第2の2 has it)."""
    from ledger.domain.identifiers import make_personal_number

    codes = list(municipalities())
    with path.open("w", encoding=encoding, newline="") as fh:
        out = csv.writer(fh, lineterminator="\r\n")
        corp = ""
        for i in range(rows):
            if i % per_company == 0:
                corp = _corp(i)
            out.writerow(record_315({
                "header.address": "東京都千代田区", "header.name": f"株式会社計測{i // per_company}", "change": NEW,
                "period": REIWA_2026, "person.address": "東京都", "person.name": f"社員 {i}", "person.kana": "ｼｬｲﾝ",
                "line.payment_amount": str(5_000_000 + i % 1000), "line.income_after_deduction": "3560000",
                "line.total_deductions": "1200000", "line.withholding_tax": "120000", "line.social_insurance": "700000",
                **BIRTH_315, "line.employee_number": f"E{i % per_company + 1:05d}", "line.municipality_code": codes[i % len(codes)],
                "person.personal_number": make_personal_number(f"{30_000_000_000 + i:011d}"), "group.corporate_number": corp}))


def write_shfd(folder: Path, rows: int, per_company: int = 100, encoding: str = "cp932") -> list[tuple[Path, str]]:
    """The population's 算定基礎届 as one SHFD0006.CSV per company (an office's file; it carries no
    法人番号): the files and each one's company."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for start in range(0, rows, per_company):
        corp = _corp(start)
        path = folder / f"{corp}.CSV"
        with path.open("w", encoding=encoding, newline="") as fh:
            out = csv.writer(fh, lineterminator="\r\n")
            out.writerows(shfd_head([("13", "01", "ｲﾛﾊ", f"{start // per_company + 1:05d}", f"株式会社計測{start // per_company}")]))
            for i in range(start, min(rows, start + per_company)):
                pay = str(300_000 + i % 1000)
                out.writerow(shfd_record({
                    "都道府県コード": "13", "郡市区符号": "01", "事業所記号": "ｲﾛﾊ", "被保険者整理番号": str(i - start + 1),
                    "氏名(カナ)": "ｼｬｲﾝ", "氏名(漢字)": f"社員 {i}", "元号(生年月日)": BIRTH_SHFD[0], "年月日(生年月日)": BIRTH_SHFD[1],
                    "元号(適用年月)": "9", "年(適用年月)": REIWA_2026, "月(適用年月)": "09",
                    **{f"支払基礎日数({m})": d for m, d in (("4月", "30"), ("5月", "31"), ("6月", "30"))},
                    **{f"報酬月額通貨({m})": pay for m in ("4月", "5月", "6月")}}))
        files.append((path, corp))
    return files
