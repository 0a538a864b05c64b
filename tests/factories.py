"""Realistic, valid test data: corporate numbers, personal numbers, payloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.domain.identifiers import make_corporate_number, make_personal_number

CORP_A = "7000012050002"  # DESIGN.md's valid example
CORP_B = "1000011000005"
CHIYODA = "131016"
SAPPORO = "011002"
OSAKA = "271004"


def corp(n: int) -> str:
    return make_corporate_number(f"{n:012d}")


def personal(n: int) -> str:
    return make_personal_number(f"{n:011d}")


def payroll_line(n: int, municipality: str = CHIYODA, **over: Any) -> dict[str, Any]:
    line = {
        "municipality_code": municipality, "employee_name": f"山田 太郎{n}", "employee_kana": "ヤマダ タロウ",
        "personal_number": personal(10_000 + n), "address": "東京都千代田区霞が関1-1-1",
        "payment_amount": 5_000_000 + n, "income_after_deduction": 3_560_000, "total_deductions": 1_200_000,
        "withholding_tax": 120_000, "social_insurance": 700_000, "dependents": 1,
    }
    # A payment given alone keeps the line consistent: neither the withholding nor the income after
    # the 給与所得控除 can exceed it (the cross-field rules of ledger.domain.procedures).
    pay = over.get("payment_amount")
    if type(pay) is int:
        for field in ("income_after_deduction", "withholding_tax"):
            line[field] = min(line[field], max(pay, 0))
    line.update(over)
    return line


def payroll(lines: list[dict[str, Any]] | None = None, name: str = "株式会社記録") -> dict[str, Any]:
    return {"employer": {"name": name, "address": "東京都千代田区丸の内1-1"}, "lines": lines or [payroll_line(1)]}


def withholding(n: int = 2) -> dict[str, Any]:
    return {"payer": {"name": "株式会社記録", "address": "東京都千代田区丸の内1-1"}, "lines": [
        {"employee_name": f"佐藤 花子{i}", "personal_number": personal(20_000 + i), "address": "東京都港区",
         "payment_amount": 6_000_000, "income_after_deduction": 4_360_000, "total_deductions": 1_500_000,
         "withholding_tax": 150_000} for i in range(n)]}


def run_in_threads(work: Callable[[int], None], threads: int = 4) -> list[BaseException]:
    """Run ``work(n)`` for n in 0..threads-1 at once; return what any of them raised (the test's
    point is usually that nothing is)."""
    import threading

    errors: list[BaseException] = []

    def guarded(n: int) -> None:
        try:
            work(n)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted by the caller
            errors.append(exc)

    running = [threading.Thread(target=guarded, args=(n,)) for n in range(threads)]
    for t in running:
        t.start()
    for t in running:
        t.join()
    return errors
