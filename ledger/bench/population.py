"""A synthetic population: deterministic companies and their employees, for the demo and the benchmarks.

Every 法人番号 (corporate number) and 個人番号 (personal number) carries a valid check digit, and
every 地方公共団体コード (municipality code) is a real one from 総務省's list
(``ledger.domain.municipalities``), so what is generated here passes validation like real data.
The same arguments always give the same companies, so reruns record nothing twice.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from typing import Any

from ledger.domain import municipalities as official
from ledger.domain.identifiers import make_corporate_number, make_personal_number

YEAR = "2025"  # payments made in 2025, reported in January 2026
#: Where the employees live: 地方公共団体コード on 総務省's list (names from it: ``municipalities``) —
#: four of Tokyo's 特別区 and eight 政令指定都市.
MUNICIPALITIES = ("131016", "131032", "131041", "131121", "011002", "041009", "141003", "231002", "261009", "271004",
                  "281000", "401307")
SURNAMES = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田", "佐々木", "松本", "井上"]
GIVEN = ["翔太", "陽菜", "大翔", "結衣", "蓮", "美咲", "悠真", "さくら", "湊", "葵", "健一", "由美", "誠", "恵子", "隆"]
COMPANY_WORDS = ["記録", "未来", "青空", "桜", "富士", "光", "大和", "若葉", "東西", "みなと"]
KINDS = ["商事", "工業", "システムズ", "食品", "建設", "物流", "製作所", "ホールディングス"]


@dataclass
class Company:
    """A generated company: its 法人番号, name, address and one payroll line per employee."""

    corporate_number: str
    name: str
    address: str
    employees: list[dict[str, Any]] = field(default_factory=list)


@functools.cache
def municipalities() -> dict[str, str]:
    """The municipalities employees live in: full code (with check digit) → name, as the list spells it."""
    out = {}
    for code in MUNICIPALITIES:
        row = official.lookup(code)
        assert row is not None and row.receives_reports, code  # a typo here is a bug, not bad input
        out[code] = row.name
    return out


def make_companies(count: int, employees: int, seed: int = 2025) -> list[Company]:
    """Deterministic, realistic companies with valid 法人番号 and employees with valid 個人番号."""
    rng = random.Random(seed)
    codes = list(municipalities())
    out = []
    for i in range(count):
        corp = make_corporate_number(f"{1_000_000_000 + i * 7919:012d}")
        name = f"株式会社{COMPANY_WORDS[i % len(COMPANY_WORDS)]}{KINDS[(i // len(COMPANY_WORDS)) % len(KINDS)]}{i + 1}"
        home = codes[i % len(codes)]
        c = Company(corp, name, f"{MUNICIPALITIES_BY_CODE(home)}一丁目{i + 1}番")
        for j in range(employees):
            # Most staff live where the office is; some commute from elsewhere.
            m = home if rng.random() < 0.7 else rng.choice(codes)
            pay = rng.randrange(2_400_000, 12_000_000, 1000)
            after = int(pay * 0.72)
            deductions = 480_000 + rng.randrange(0, 1_500_000, 1000)
            c.employees.append({
                "municipality_code": m, "employee_number": f"E{j + 1:05d}",
                "person": {"name": f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}", "kana": None,
                           "birth_date": f"{rng.randint(1960, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                           "address": f"{MUNICIPALITIES_BY_CODE(m)}{rng.randint(1, 9)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}",
                           "personal_number": make_personal_number(f"{(i * 10_000 + j) * 37 + 11:011d}"[-11:])},
                "payment_amount": pay, "income_after_deduction": after, "total_deductions": deductions,
                "withholding_tax": max(0, (after - deductions) // 20), "social_insurance": int(pay * 0.15),
                "dependents": rng.randint(0, 3),
            })
        out.append(c)
    return out


def MUNICIPALITIES_BY_CODE(code: str) -> str:  # noqa: N802 - reads like the table it looks up
    """The name of the municipality with this full code."""
    return municipalities()[code]


def payroll(c: Company) -> dict[str, Any]:
    """The company's PAYROLL_REPORT (給与支払報告書) payload: employer header and every employee's line."""
    return {"employer": {"name": c.name, "address": c.address}, "lines": c.employees}
