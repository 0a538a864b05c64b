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


#: The v1 names of a line's person items, which the factories still take as overrides (a test reads
#: ``payroll_line(1, personal_number=…)``): each goes into the v2 line's ``person``.
_PERSON_ITEMS = {"employee_name": "name", "employee_kana": "kana", "personal_number": "personal_number", "address": "address",
                 "birth_date": "birth_date", "personal_number_absence": "personal_number_absence", "gender": "gender",
                 "spouse": "spouse", "dependants": "dependants", "name": "name", "kana": "kana"}


def with_person(line: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``line`` with ``over`` applied, person items (by their v1 or v2 names) inside its ``person``."""
    person = dict(line.get("person") or {})
    for key, value in over.items():
        if key in _PERSON_ITEMS and key not in line:
            person[_PERSON_ITEMS[key]] = value
        elif key == "person":
            person = dict(value) if isinstance(value, dict) else value
        else:
            line[key] = value
    line["person"] = person
    return line


def person(name: str, number: str | None, address: str | None = "東京都千代田区霞が関1-1-1",
           birth_date: str | None = "1985-07-14", kana: str | None = "ヤマダ タロウ") -> dict[str, Any]:
    """A v2 line's ``person`` (sealed whole by the ledger)."""
    out: dict[str, Any] = {"name": name, "kana": kana, "birth_date": birth_date}
    if address is not None:
        out["address"] = address
    if number is not None:
        out["personal_number"] = number
    return out


def payroll_line(n: int, municipality: str = CHIYODA, **over: Any) -> dict[str, Any]:
    """A v2 給与支払報告書 line: 受給者番号 E0001…, 生年月日 and address in its person, 特別徴収."""
    line: dict[str, Any] = {
        "municipality_code": municipality, "employee_number": f"E{n:04d}",
        "person": person(f"山田 太郎{n}", personal(10_000 + n)),
        "payment_amount": 5_000_000 + n, "income_after_deduction": 3_560_000, "total_deductions": 1_200_000,
        "withholding_tax": 120_000, "social_insurance": 700_000, "dependents": 1,
    }
    # A payment given alone keeps the line consistent: neither the withholding nor the income after
    # the 給与所得控除 can exceed it (the cross-field rules of ledger.domain.forms).
    pay = over.get("payment_amount")
    if type(pay) is int:
        for field in ("income_after_deduction", "withholding_tax"):
            line[field] = min(line[field], max(pay, 0))
    return with_person(line, over)


def payroll(lines: list[dict[str, Any]] | None = None, name: str = "株式会社記録") -> dict[str, Any]:
    return {"employer": {"name": name, "address": "東京都千代田区丸の内1-1"}, "lines": lines or [payroll_line(1)]}


def withholding(n: int = 2) -> dict[str, Any]:
    """A v2 源泉徴収票 filing of ``n`` slips."""
    return {"payer": {"name": "株式会社記録", "address": "東京都千代田区丸の内1-1"}, "lines": [
        {"employee_number": f"W{i:04d}", "person": person(f"佐藤 花子{i}", personal(20_000 + i), "東京都港区", kana="サトウ ハナコ"),
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
