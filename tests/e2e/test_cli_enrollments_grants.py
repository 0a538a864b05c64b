"""``kiroku enroll``, ``kiroku enrollments …``, ``kiroku grant`` and ``kiroku grants …``: on a
fresh data directory, a company grants its payroll vendor, the vendor enrolls and records, the
agencies accept (one by one, or by policy) and are notified; a revoked grant stops the vendor
(issue 14, item 12: the CLI had none of these, so the README's ``--as vendor:acme`` failed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
COMPANY = "7000012050002"
PAYROLL = {"employer": {"name": "株式会社テスト", "address": "東京都千代田区"}, "lines": [{
    "municipality_code": "131016", "employee_number": "E0001",
    "person": {"name": "山田 太郎", "personal_number": "123456789018", "birth_date": "1985-07-14", "address": "東京都千代田区"},
    "payment_amount": 5_000_000, "income_after_deduction": 3_560_000,
    "total_deductions": 1_200_000, "withholding_tax": 120_000, "social_insurance": 700_000}]}


def refusal(result) -> dict[str, str]:
    """The refusal panel's ``label: value`` lines, borders removed."""
    rows = [line.strip("│ ").strip() for line in result.output.splitlines()]
    return dict(row.split(": ", 1) for row in rows if row.split(": ", 1)[0] in ("field", "expected", "got", "code"))


def test_a_vendor_records_for_a_company_once_granted_and_enrolled_and_the_municipality_is_notified(cli, tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(PAYROLL, ensure_ascii=False), encoding="utf-8")
    record = ("record", payload, "--as", "vendor:acme", "--company", COMPANY, "--procedure", "PAYROLL_REPORT",
              "--period", "2026", "--idempotency-key", "run-1")
    refused = cli(*record, ok=False)
    assert refused.exit_code == 2 and refusal(refused)["code"] == "forbidden"

    issued = json.loads(cli("grant", "vendor:acme", "--procedure", "PAYROLL_REPORT", "--action", "submit", "--action", "read",
                            "--expires", "2027-12-31", "--as", f"company:{COMPANY}", "--json").output)
    assert (issued["grantee"], issued["procedures"], issued["actions"]) == ("vendor:acme", ["PAYROLL_REPORT"], ["read", "submit"])
    assert issued["expires_at"] == "2028-01-01 00:00:00+09:00"  # through the end of 31 December in Japan
    enrolled = json.loads(cli("enroll", COMPANY, "PAYROLL_REPORT", "--as", "vendor:acme", "--json").output)
    assert (enrolled["corporate_number"], enrolled["agency_id"], enrolled["decisions"]) == (COMPANY, None, {})
    assert "municipality:131016 now accepts every enrollment of PAYROLL_REPORT." in cli(
        "enrollments", "policy", "PAYROLL_REPORT", "--accept-all", "--as", "agency:municipality:131016").output

    receipt = cli(*record).output
    assert "municipality:131016" in receipt.split("notified", 1)[1].split("\n", 1)[0]
    # The same key and body again: the original receipt, as a bare id (-q) or as JSON.
    sub = cli(*record, "-q").output
    assert re.fullmatch(r"sub_[0-9A-Z]{26}\n", sub) and sub.strip() in receipt
    assert json.loads(cli(*record, "--json").output)["submission_id"] == sub.strip()
    notices = json.loads(cli("notices", "municipality:131016", "--json").output)
    assert [(n["seq"], n["corporate_number"]) for n in notices] == [(1, COMPANY)]
    held = json.loads(cli("grants", "list", "--as", "vendor:acme", "--json").output)
    assert [g["grant_id"] for g in held] == [issued["grant_id"]]

    assert f"Revoked {issued['grant_id']} of vendor:acme." in cli(
        "grants", "revoke", issued["grant_id"], "--reason", "contract ended", "--as", f"company:{COMPANY}").output
    again = cli(*(record[:-1] + ("run-2",)), ok=False)
    assert again.exit_code == 2 and refusal(again)["code"] == "forbidden"
    listed = cli("grants", "list", "--as", f"company:{COMPANY}").output
    assert "revoked" in listed


def test_a_tax_office_accepts_or_rejects_enrollments_awaiting_it(cli) -> None:
    as_company = ("--as", f"company:{COMPANY}")
    first = json.loads(cli("enroll", COMPANY, "WITHHOLDING_SLIP", "--agency", "tax-office:01101", *as_company, "--json").output)
    pending = json.loads(cli("enrollments", "pending", "--as", "agency:tax-office:01101", "--json").output)
    assert [e["enrollment_id"] for e in pending] == [first["enrollment_id"]]
    assert f"Accepted {first['enrollment_id']} (WITHHOLDING_SLIP of {COMPANY}) as tax-office:01101." in cli(
        "enrollments", "accept", first["enrollment_id"], "--as", "agency:tax-office:01101").output
    listed = json.loads(cli("enrollments", "list", COMPANY, *as_company, "--json").output)
    assert listed[0]["decisions"] == {"tax-office:01101": "accepted"}

    # Another tax office cannot decide it: it answers as if there were no such enrollment.
    other = cli("enrollments", "reject", first["enrollment_id"], "--reason", "x", "--as", "agency:tax-office:01102", ok=False)
    assert other.exit_code == 2
    assert refusal(other) == {"field": "enrollment_id", "got": first["enrollment_id"], "code": "not_found"}
    assert f"Withdrew {first['enrollment_id']}" in cli("enrollments", "withdraw", first["enrollment_id"], *as_company).output


@pytest.mark.parametrize("args, expected", [
    (("enroll", COMPANY, "WITHHOLDING_SLIP", "--as", f"company:{COMPANY}"),
     {"field": "agency_id", "expected": "a tax-office id", "code": "required"}),
    (("enroll", COMPANY, "PAYROLL_REPORT", "--agency", "municipality:131016", "--as", f"company:{COMPANY}"),
     {"field": "agency_id", "expected": "no agency", "got": "municipality:131016", "code": "line_routed"}),
    (("grant", "vendor:acme", "-p", "PAYROLL_REPORT", "-a", "submit", "--as", f"company:{COMPANY}"),
     {"field": "--expires", "expected": "--expires YYYY-MM-DD or --days N", "code": "required"}),
    (("grant", "vendor:acme", "-p", "PAYROLL_REPORT", "-a", "submit", "--expires", "soon", "--as", f"company:{COMPANY}"),
     {"field": "--expires", "expected": "YYYY-MM-DD or YYYY-MM-DDTHH:MM[+09:00]", "got": "soon", "code": "invalid_expiry"}),
    (("grant", "vendor:acme", "-p", "PAYROLL_REPORT", "-a", "write", "--days", "30", "--as", f"company:{COMPANY}"),
     {"field": "actions[0]", "expected": "one of submit, read, receive_notices", "got": "write", "code": "invalid_action"}),
    (("grant", "bank:mizuho", "-p", "WAGE_LEDGER", "-a", "read", "--days", "30", "--personal-numbers", "--as", f"company:{COMPANY}"),
     {"field": "personal_numbers", "expected": "false for a bank", "got": "True", "code": "no_legal_basis"}),
    (("enrollments", "policy", "PAYROLL_REPORT", "--accept-all", "--as", "agency:tax-office:01101"),
     None),
])
def test_a_malformed_enrollment_or_grant_is_refused_naming_the_option(cli, args, expected) -> None:
    result = cli(*args, ok=False)
    assert result.exit_code == 2, result.output
    if expected is not None:
        assert refusal(result) == expected
    else:
        assert refusal(result)["code"] == "forbidden"


@pytest.mark.parametrize("command", [("enroll",), ("grant",), ("enrollments",), ("grants",), ("enrollments", "accept"),
                                     ("enrollments", "reject"), ("enrollments", "policy"), ("grants", "revoke")])
def test_each_enrollment_and_grant_command_teaches_with_an_example(cli, command) -> None:
    out = cli(*command, "--help").output
    assert "Examples" in out or "Example" in out
    assert "kiroku " + command[0] in out.split("Example", 1)[1]


def test_an_agency_accepts_with_the_identifier_it_assigned_and_the_listing_shows_it(cli) -> None:
    """``--assigned-id`` (issue 15, item 4): a municipality's 指定番号, digits only, at most 10
    (https://www.city.owariasahi.lg.jp/page/50232.html); shown in ``kiroku enrollments list``."""
    enrolled = json.loads(cli("enroll", COMPANY, "PAYROLL_REPORT", "--as", f"company:{COMPANY}", "--json").output)
    refused = cli("enrollments", "accept", enrolled["enrollment_id"], "--assigned-id", "12A45",
                  "--as", "agency:municipality:131016", ok=False)
    assert refused.exit_code == 2
    assert refusal(refused) == {"field": "assigned_id", "expected": "a 指定番号 of 1 to 10 digits", "got": "12A45",
                                "code": "invalid_assigned_id"}
    out = cli("enrollments", "accept", enrolled["enrollment_id"], "--assigned-id", "12345678",
              "--as", "agency:municipality:131016").output
    assert "assigned 12345678" in out
    listed = json.loads(cli("enrollments", "list", COMPANY, "--as", f"company:{COMPANY}", "--json").output)
    assert listed[0]["assigned_ids"] == {"municipality:131016": "12345678"}
    assert "12345678" in cli("enrollments", "list", COMPANY, "--as", f"company:{COMPANY}").output


def test_a_bonus_payment_enrollment_registers_its_bonus_months(cli) -> None:
    """``--bonus-months`` (issue 15, rule E9): the 賞与支払予定月 a 賞与不支給報告書 is expected for."""
    enrolled = json.loads(cli("enroll", COMPANY, "BONUS_PAYMENT", "--agency", "pension-office:0101", "--bonus-months", "12,6",
                              "--as", f"company:{COMPANY}", "--json").output)
    assert enrolled["bonus_months"] == [6, 12]
    refused = cli("enroll", COMPANY, "BONUS_PAYMENT", "--agency", "pension-office:0102", "--bonus-months", "6,x",
                  "--as", f"company:{COMPANY}", ok=False)
    assert refused.exit_code == 2 and refusal(refused)["field"] == "bonus_months" and refusal(refused)["code"] == "invalid_month"
    refused = cli("enroll", COMPANY, "BONUS_PAYMENT", "--agency", "pension-office:0102", "--bonus-months", "3,6,9,12",
                  "--as", f"company:{COMPANY}", ok=False)
    assert refusal(refused)["code"] == "too_many_months"


def test_a_record_that_reaches_no_agency_is_kept_and_the_receipt_warns(cli, tmp_path: Path) -> None:
    """Issue 15, item 4: recorded (it can be enrolled later), but the clerk is told nobody was notified."""
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(PAYROLL, ensure_ascii=False), encoding="utf-8")
    out = cli("record", payload, "--as", f"company:{COMPANY}", "--company", COMPANY, "--procedure", "PAYROLL_REPORT",
              "--period", "2026", "--idempotency-key", "run-1").output
    assert "no agency was reached" in " ".join(out.split())
    receipt = json.loads(cli("record", payload, "--as", f"company:{COMPANY}", "--company", COMPANY, "--procedure",
                             "PAYROLL_REPORT", "--period", "2026", "--idempotency-key", "run-1", "--json").output)
    assert (receipt["targets"], receipt["reached_no_agency"]) == ([], True)
