"""Builders of the national files the importer reads, cells placed by the reader modules' own item tables.

A 315 record's cells are placed by item number from :data:`ledger.encoding.eltax_315.ITEMS` (each
item's ``field`` says what it holds), and a SHFD0006 data record's by item name from
:mod:`ledger.encoding.nenkin_shfd`'s tables, so the files follow the readers when their item
positions are corrected.
"""

from __future__ import annotations

import csv
import io

from ledger.bench.national_files import CORRECTED, NEW, record_315, shfd_head, shfd_record
from ledger.domain.identifiers import make_personal_number

CHIYODA = "131016"
#: 令和8年分 = 2026 (年分 in 和暦: 総税市第49号, 記録要領 of item 11).
REIWA_2026 = "08"


def eltax_cells(corp: str, n: int, *, municipality: str = CHIYODA, corrected: bool = False, year: str = REIWA_2026,
                **over: str) -> dict[str, str]:
    """One employee's 315 record as {item field: cell} (``over`` by field, e.g. ``**{"line.payment_amount": "x"}``);
    ``corrected``: 訂正表示 2 (訂正)."""
    cells = {
        "header.tax_office_reference": "0123456789", "header.address": "東京都千代田区丸の内1-1", "header.name": "株式会社記録",
        "header.phone": "03-1234-5678", "change": CORRECTED if corrected else NEW, "period": year,
        "person.address": "東京都千代田区霞が関1-1-1", "person.name": f"山田 太郎{n}", "line.payment_amount": "5000000",
        "line.income_after_deduction": "3560000", "line.total_deductions": "1200000", "line.withholding_tax": "120000",
        "line.social_insurance": "700000", "birth.era": "1", "birth.yy": "60", "birth.mm": "07", "birth.dd": "14",  # 昭和60年7月14日
        "person.kana": "ﾔﾏﾀﾞ ﾀﾛｳ", "line.employee_number": f"E{n:04d}", "line.municipality_code": municipality,
        "person.personal_number": make_personal_number(f"{70_000 + n:011d}"), "group.corporate_number": corp,
    }
    cells.update(over)
    return cells


def eltax_record(cells: dict[str, str]) -> list[str]:
    """The record's cells in item order (``ledger.bench.national_files.record_315``)."""
    return record_315(cells)


def _csv_lines(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def eltax_file(records: list[dict[str, str]]) -> str:
    """A 315 file: one CSV line per record, CRLF (as the 光ディスク等 files are written)."""
    return _csv_lines([eltax_record(r) for r in records])


# -- SHFD0006 -----------------------------------------------------------------------------------------

def shfd_cells(n: int, **over: str) -> dict[str, str]:
    """One insured person's 算定基礎届 data record as {item name: cell}: 令和8年9月 from April–June's pay."""
    cells = {
        "都道府県コード": "13", "郡市区符号": "01", "事業所記号": "ｲﾛﾊ", "被保険者整理番号": str(10 + n),
        "氏名(カナ)": "ｽｽﾞｷ ｲﾁﾛｳ", "氏名(漢字)": f"鈴木 一郎{n}", "元号(生年月日)": "5", "年月日(生年月日)": "600714",
        "元号(適用年月)": "9", "年(適用年月)": "08", "月(適用年月)": "09",
        "従前の標準報酬月額(健保)": "0300", "従前の標準報酬月額(厚年)": "0300",
        "支払基礎日数(4月)": "30", "支払基礎日数(5月)": "31", "支払基礎日数(6月)": "30",
        "報酬月額通貨(4月)": "300000", "報酬月額通貨(5月)": "310000", "報酬月額通貨(6月)": "305000",
        "報酬月額現物(4月)": "0", "報酬月額現物(5月)": "0", "報酬月額現物(6月)": "0",
    }
    cells.update(over)
    return cells


def shfd_file(records: list[dict[str, str]], procedure: str = "STANDARD_REMUNERATION", office: str = "ｲﾛﾊ") -> str:
    """A SHFD0006.CSV: 媒体管理レコード, [kanri], 事業所数情報, 事業所情報, [data], then the data records — of the
    事業所 ``01-<office>`` (each record's 事業所記号 is set to it)."""
    return _csv_lines([*shfd_head([("13", "01", office, "12345", "株式会社記録")]),
                       *(shfd_record({**r, "事業所記号": office}, procedure) for r in records)])


# -- Kiroku's own payroll CSV ---------------------------------------------------------------------------

PAYROLL_HEADER = ("法人番号,年分,事業者名,事業者所在地,市区町村コード,受給者番号,氏名,生年月日,個人番号,住所,支払金額,"
                  "給与所得控除後の金額,所得控除の額の合計額,源泉徴収税額,社会保険料等の金額\r\n")


def payroll_csv_text(corp: str, n: int = 1, municipality: str = CHIYODA) -> str:
    """Kiroku's payroll CSV of one employee of ``corp`` (2026)."""
    number = make_personal_number(f"{80_000 + n:011d}")
    return PAYROLL_HEADER + (f"{corp},2026,株式会社記録,東京都千代田区丸の内1-1,{municipality},E{n:04d},山田 花子,昭和60年7月14日,"
                             f"{number},東京都千代田区霞が関1-1-1,5000000,3560000,1200000,120000,700000\r\n")
