"""Helpers shared by the flow tests: who is who, enrolling, and "did anything change?" probes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.bootstrap import Kiroku
from ledger.domain.model import JST, Principal, SubmissionKind, SubmissionRequest
from ledger.ports import ACCESS, TOPICS
from producers import Producer
from tests.factories import CHIYODA, person
from viewers import AgencyView, CompanyView, FirmView

TAX_OFFICE = "tax-office:01101"
PENSION_OFFICE = "pension-office:0101"
LABOUR_OFFICE = "labour-standards-office:0101"


def municipality(code: str) -> str:
    return f"municipality:{code}"


def producer(k: Kiroku, who: str) -> Producer:
    """A Producer for ``company:<法人番号>``, ``vendor:NAME`` or ``firm:NAME`` on the test deployment."""
    return Producer(k, Principal.parse(who))


def company(k: Kiroku, corp: str) -> Producer:
    return producer(k, f"company:{corp}")


def agency(k: Kiroku, agency_id: str) -> AgencyView:
    return AgencyView(k, agency_id)


def company_view(k: Kiroku, corp: str) -> CompanyView:
    return CompanyView(k, corp)


def firm_view(k: Kiroku, who: str) -> FirmView:
    return FirmView(k, who)


def enroll_payroll(k: Kiroku, corp: str, *codes: str) -> str:
    """Enroll PAYROLL_REPORT for ``corp`` and have each named municipality accept it."""
    enr = company(k, corp).enroll(corp, "PAYROLL_REPORT")
    for code in codes:
        agency(k, municipality(code)).accept(enr.enrollment_id)
    return enr.enrollment_id


def enroll_to(k: Kiroku, corp: str, procedure: str, agency_id: str) -> str:
    """Enroll ``procedure`` to one agency and have it accept."""
    enr = company(k, corp).enroll(corp, procedure, agency_id)
    agency(k, agency_id).accept(enr.enrollment_id)
    return enr.enrollment_id


def log_ends(k: Kiroku) -> dict[tuple[str, int], int]:
    """End offset of every partition of every topic."""
    return {(t, p): k.log.end_offset(t, p) for t in TOPICS for p in range(k.log.partitions(t))}


def filing_ends(k: Kiroku) -> dict[tuple[str, int], int]:
    """End offsets of the filings and notices topics (reads, which are recorded in the access topic, aside)."""
    return {key: end for key, end in log_ends(k).items() if key[0] != ACCESS}


def catalog_dump(k: Kiroku) -> list[tuple[str, list[tuple[Any, ...]]]]:
    return list(k.catalog.dump())


def jst(*args: int) -> datetime:
    """A Japan-time instant: ``jst(2027, 2, 1, 23, 59)``."""
    return datetime(*args, tzinfo=JST)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def request(corp: str, procedure: str, period: str, payload: dict | None, *, kind: SubmissionKind = SubmissionKind.ORIGINAL,
            replaces: str | None = None, key: str | None = None) -> SubmissionRequest:
    return SubmissionRequest(corporate_number=corp, procedure=procedure, period=period, payload=payload,
                             kind=kind, replaces=replaces, idempotency_key=key)


# -- payloads of the procedures tests/factories.py does not cover ----------------------------------------

def _office() -> dict[str, Any]:
    return {"name": "株式会社記録", "address": "東京都千代田区丸の内1-1", "office_code": "01-イロハ-12345"}


def standard_remuneration(n: int = 1) -> dict[str, Any]:
    """A v2 算定基礎届 of ``n`` insured persons (no 個人番号: the form asks it only of 70歳以上被用者)."""
    return {"office": _office(), "lines": [
        {"insured_number": 10 + i, "person": person(f"鈴木 一郎{i}", None, None, "1980-04-02", "スズキ イチロウ"),
         "remuneration_april": 300_000, "remuneration_may": 310_000, "remuneration_june": 305_000,
         "days_april": 30, "days_may": 31, "days_june": 30} for i in range(n)]}


def bonus_payment(n: int = 1) -> dict[str, Any]:
    """A v2 賞与支払届 of ``n`` insured persons."""
    return {"office": _office(), "lines": [
        {"insured_number": 10 + i, "person": person(f"高橋 次郎{i}", None, None, "1982-11-30", "タカハシ ジロウ"),
         "bonus_amount": 500_000} for i in range(n)]}


def wage_ledger(n: int = 1) -> dict[str, Any]:
    """A v2 賃金台帳 of ``n`` employees for a month."""
    return {"office": _office(), "lines": [
        {"employee_id": f"E{i:04d}", "person": {"name": f"田中 三郎{i}", "gender": "MALE"}, "days_worked": 20, "minutes_worked": 9600,
         "overtime_minutes": 600, "base_pay": 300_000, "overtime_pay": 25_000, "allowances": 10_000,
         "deductions": 60_000, "net_pay": 275_000} for i in range(n)]}


def special_collection(code: str = CHIYODA, n: int = 1) -> dict[str, Any]:
    """A v2 特別徴収税額決定通知 of ``n`` persons: twelve monthly amounts (June's carrying the 100円 remainder)."""
    return {"municipality_code": code, "lines": [
        {"person": {"name": f"山田 太郎{i}"}, "employee_number": f"E{i + 1:04d}", "line_ref": i + 1, "annual_tax": 240_000,
         "june_amount": 21_100, "monthly_amount": 19_900} for i in range(n)]}


def grant_until(k: Kiroku, days: int = 90) -> datetime:
    return k.queries.clock() + timedelta(days=days)


def corp_number(n: int) -> str:
    """A valid corporate number other than the factories' CORP_A and CORP_B."""
    from tests.factories import corp

    return corp(1_000_000 + n)


def poll_until(condition: Any, timeout: float = 10.0, what: str = "the condition") -> None:
    """Poll ``condition`` until it holds, failing after ``timeout`` seconds (never a blind sleep)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
