"""The v2 forms on a real deployment (issue 15, items 1 and 2): filings recorded under v1 are read,
corrected and verified after the upgrade to v2, through Avro schema resolution; a v2 line's person
is sealed whole, so crypto-shredding erases the person — name, birth date, address and every
personal number — while digests, receipts and proofs stay valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledger.bootstrap import open_kiroku
from ledger.domain.forms import V2
from ledger.domain.model import Principal
from ledger.domain.procedures import PROCEDURES, V1
from ledger.service.retention import run_retention
from ledger.service.sealing import ERASED, MASK
from ledger.transparency.audit import verify_ledger
from ledger.transparency.verify import passed
from tests.factories import CHIYODA, CORP_A, SAPPORO, payroll, personal
from tests.integration.helpers import agency, company, company_view, enroll_payroll, firm_view, grant_until, jst, municipality

pytestmark = pytest.mark.integration


def person(n: int, **over: Any) -> dict[str, Any]:
    return {"name": f"高橋 一郎{n}", "kana": "タカハシ イチロウ", "birth_date": "1985-07-14", "address": "東京都千代田区霞が関1-1-1",
            "personal_number": personal(70_000 + n), **over}


def v2_line(n: int, municipality_code: str = CHIYODA, **over: Any) -> dict[str, Any]:
    return {"employee_number": f"E{n:04d}", "municipality_code": municipality_code, "person": person(n),
            "payment_amount": 5_000_000, "income_after_deduction": 3_560_000, "total_deductions": 1_200_000,
            "withholding_tax": 120_000, "social_insurance": 700_000, "dependents": 1, **over}


def v2_payroll(lines: list[dict[str, Any]]) -> dict[str, Any]:
    return {"employer": {"name": "株式会社記録", "address": "東京都千代田区丸の内1-1", "phone": "03-0000-0000"},
            "summaries": [{"municipality_code": CHIYODA, "designation_number": "00012345", "recipients": len(lines)}],
            "lines": lines}


def assert_verified(home: Path) -> None:
    """``kiroku verify --ledger`` on the deployment: every entry, tree, checkpoint and snapshot."""
    with open_kiroku(home=home, inline_processing=False) as k:
        checks = verify_ledger(k)
    assert passed(checks), [c for c in checks if c.ok is False]


def v1_line(n: int, municipality_code: str = CHIYODA) -> dict[str, Any]:
    """A 給与支払報告書 line as the v1 forms took it: the person's items at the top, no 生年月日."""
    return {"municipality_code": municipality_code, "employee_name": f"山田 太郎{n}", "employee_kana": "ヤマダ タロウ",
            "personal_number": personal(10_000 + n), "address": "東京都千代田区霞が関1-1-1", "payment_amount": 5_000_000 + n,
            "income_after_deduction": 3_560_000, "total_deductions": 1_200_000, "withholding_tax": 120_000,
            "social_insurance": 700_000, "dependents": 1}


@pytest.fixture
def release(monkeypatch: pytest.MonkeyPatch):
    """``release(1)`` runs this process as a Kiroku that wrote the v1 forms; ``release(2)`` as today's."""
    def run(version: int) -> None:
        for code, proc in (V1 if version == 1 else V2).items():
            monkeypatch.setitem(PROCEDURES, code, proc)
    return run


def test_filings_recorded_under_v1_are_read_corrected_and_verified_under_v2(home: Path, clock, release) -> None:
    clock.set(jst(2027, 1, 20, 10, 0))
    assert PROCEDURES["PAYROLL_REPORT"].version == 2  # what this release writes
    release(1)
    with open_kiroku(home=home, clock=clock) as k:
        enroll_payroll(k, CORP_A, CHIYODA, SAPPORO)
        old = [v1_line(1), v1_line(2, SAPPORO)]
        receipt = company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll(old))
        assert PROCEDURES["PAYROLL_REPORT"].version == 1
    release(2)
    with open_kiroku(home=home, clock=clock) as k:
        # Read as v2: the v1 line's person comes from its clear fields and its number sealed alone.
        snap = company_view(k, CORP_A).snapshot(receipt.submission_id)
        assert snap.payload is not None
        first = snap.payload["lines"][0]
        assert first["person"]["name"] == old[0]["employee_name"] and first["person"]["personal_number"] == old[0]["personal_number"]
        assert first["person"]["address"] == old[0]["address"] and first["person"]["birth_date"] is None
        assert first["payment_amount"] == old[0]["payment_amount"] and first["collection"] == "SPECIAL"
        assert "employee_name" not in first and "personal_number" not in first  # one shape, whatever the version written
        # The municipality still sees only its resident, its number covered by its statute.
        sapporo = agency(k, municipality(SAPPORO)).snapshot(receipt.submission_id).payload
        assert sapporo is not None and [ln["person"]["name"] for ln in sapporo["lines"]] == [old[1]["employee_name"]]
        # Corrected under v2, which is what is in force after.
        fixed = company(k, CORP_A).correct(receipt.submission_id, v2_payroll([v2_line(1), v2_line(2, SAPPORO)]))
        now = k.queries.effective(Principal.company(CORP_A), CORP_A, "PAYROLL_REPORT", "2026")
        assert now.info.submission_id == fixed.submission_id
        assert [ln["person"]["name"] for ln in now.payload["lines"]] == ["高橋 一郎1", "高橋 一郎2"]
        assert now.payload["summaries"][0]["designation_number"] == "00012345"
        history = company_view(k, CORP_A).history(fixed.submission_id)
        assert [h.submission_id for h in history] == [receipt.submission_id, fixed.submission_id]
    assert_verified(home)


def test_a_v2_line_is_stored_without_any_of_its_person_in_the_clear(home: Path, clock) -> None:
    clock.set(jst(2027, 1, 20, 10, 0))
    with open_kiroku(home=home, clock=clock) as k:
        enroll_payroll(k, CORP_A, CHIYODA)
        spouse = {"name": "高橋 花子", "kana": "タカハシ ハナコ", "personal_number": personal(80_001), "relation": "SPOUSE"}
        line = v2_line(1, person=person(1, spouse=spouse, dependants=[
            {"name": "高橋 次郎", "relation": "UNDER_16", "personal_number": personal(80_002), "birth_date": "2015-03-03"}]))
        receipt = company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", v2_payroll([line]))
        shown = company_view(k, CORP_A).snapshot(receipt.submission_id).payload
        assert shown is not None and shown["lines"][0]["person"]["dependants"][0]["personal_number"] == personal(80_002)
    secrets = ["高橋 一郎1", "高橋 花子", "高橋 次郎", "1985-07-14", "2015-03-03", "霞が関", personal(70_001), personal(80_001),
               personal(80_002)]
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file() and "keyring" not in p.parts)
    found = [s for s in secrets if s.encode() in stored]
    assert found == []


def test_readers_see_what_their_legal_basis_covers_of_a_sealed_person(home: Path, clock) -> None:
    clock.set(jst(2027, 1, 20, 10, 0))
    with open_kiroku(home=home, clock=clock) as k:
        enroll_payroll(k, CORP_A, CHIYODA)
        a = company(k, CORP_A)
        dependant = {"name": "高橋 次郎", "relation": "OTHER", "personal_number": personal(80_002)}
        receipt = a.record(CORP_A, "PAYROLL_REPORT", "2026", v2_payroll([v2_line(1, person=person(1, dependants=[dependant]))]))
        a.grant("bank:mizuho", ["PAYROLL_REPORT"], ["read"], grant_until(k))  # a bank reads; no statute gives it numbers
        bank = firm_view(k, "bank:mizuho").snapshot(receipt.submission_id)
        assert bank.personal_numbers == "masked" and bank.payload is not None
        seen = bank.payload["lines"][0]["person"]
        assert seen["name"] == "高橋 一郎1" and seen["personal_number"] == MASK and seen["dependants"][0]["personal_number"] == MASK
        city = agency(k, municipality(CHIYODA)).snapshot(receipt.submission_id)
        assert city.personal_numbers == "shown" and city.payload["lines"][0]["person"]["personal_number"] == personal(70_001)


def test_crypto_shredding_erases_the_person_whole_and_the_filing_still_verifies(home: Path, clock) -> None:
    clock.set(jst(2027, 1, 20, 10, 0))
    with open_kiroku(home=home, clock=clock) as k:
        enroll_payroll(k, CORP_A, CHIYODA)
        receipt = company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", v2_payroll([v2_line(1)]))
        clock.set(jst(2035, 6, 13, 0, 0))  # 2026's 給与支払報告書: 7 years after the 住民税's last 納期限 (10 June 2028, rolled)
        with open_kiroku(home=home, clock=clock, recorder=False) as operator:
            assert run_retention(operator.keys, clock()).destroyed
        erased = company_view(k, CORP_A).snapshot(receipt.submission_id)
        assert erased.personal_numbers == "erased" and erased.payload is not None
        gone = erased.payload["lines"][0]
        assert gone["person"]["name"] == ERASED and gone["person"]["birth_date"] is None and gone["person"]["address"] is None
        assert gone["payment_amount"] == 5_000_000  # what is not personal stays readable
        proof = company(k, CORP_A).receipt_with_proof(receipt.submission_id)
        assert proof.receipt["payload_digest"] == receipt.payload_digest
    assert_verified(home)


def test_a_v2_disposition_seals_its_persons_and_the_company_reads_them(home: Path, clock) -> None:
    """A 特別徴収税額決定通知 names the employees: from the v2 forms on, sealed as a filing's persons are
    (crypto-shredding erases them too), shown to the company, masked numbers for an agent without them."""
    clock.set(jst(2027, 5, 10, 10, 0))
    with open_kiroku(home=home, clock=clock) as k:
        enroll_payroll(k, CORP_A, CHIYODA)
        filed = company(k, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", v2_payroll([v2_line(1)]))
        twelve = [11_256] + [10_200] * 11
        notice = {"municipality_code": CHIYODA, "designation_number": "00012345", "lines": [{
            "person": {"name": "高橋 一郎1", "personal_number": personal(70_001)}, "employee_number": "E0001", "line_ref": 1,
            "annual_tax": sum(twelve), "june_amount": twelve[0], "monthly_amount": twelve[1], "monthly_amounts": twelve}]}
        issued = agency(k, municipality(CHIYODA)).issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027", notice,
                                                                      based_on=[filed.submission_id])
        got = k.queries.fetch_disposition(Principal.company(CORP_A), issued.disposition_id).payload
        assert got is not None and got["lines"][0]["person"]["name"] == "高橋 一郎1"
        assert got["lines"][0]["person"]["personal_number"] == personal(70_001) and got["designation_number"] == "00012345"
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file() and "keyring" not in p.parts)
    assert "高橋 一郎1".encode() not in stored
