"""``kiroku serve`` and ``kiroku principals`` as a user drives them, and many clients at once.

The soak runs 50 concurrent clients recording and reading against ``kiroku serve`` on the
embedded default for ``HTTP_SOAK_SECONDS`` (default 10 s, to keep the suite short; ``kiroku
bench http`` runs the full minute and prints the numbers): no errors, no receipt lost, no notice
duplicated or skipped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")


from ledger.bench.http_soak import bench_http, kiroku_serve, prepare  # noqa: E402
from tests.factories import CHIYODA, CORP_A, payroll  # noqa: E402

pytestmark = pytest.mark.e2e

SOAK_SECONDS = float(os.environ.get("HTTP_SOAK_SECONDS", "10"))
SOAK_CLIENTS = 50




def test_a_user_makes_tokens_serves_the_api_and_a_revoked_token_stops_working_at_once(cli) -> None:
    company = json.loads(cli("principals", "add", f"company:{CORP_A}", "--label", "payroll", "--json").output)
    agency = json.loads(cli("principals", "add", f"agency:municipality:{CHIYODA}", "--json").output)
    assert company["token"].startswith("kk_") and company["principal"] == f"company:{CORP_A}"
    listed = json.loads(cli("principals", "list", "--json").output)
    assert [t["principal"] for t in listed] == [f"company:{CORP_A}", f"agency:municipality:{CHIYODA}"]
    assert all("token" not in t for t in listed) and all(t["active"] for t in listed)
    refused = cli("principals", "add", "company:1234567890123", ok=False)
    assert refused.exit_code == 2 and "check digit" in refused.output

    with kiroku_serve(cli.home) as url:
        assert httpx.get(f"{url}/health").json()["status"] == "ok"
        assert httpx.get(f"{url}/openapi.json").json()["info"]["title"] == "Kiroku HTTP API"
        as_company = {"Authorization": f"Bearer {company['token']}"}
        enrolled = httpx.post(f"{url}/v1/enrollments", headers=as_company, json={"corporate_number": CORP_A, "procedure": "PAYROLL_REPORT"})
        assert enrolled.status_code == 201
        as_agency = {"Authorization": f"Bearer {agency['token']}"}
        assert httpx.post(f"{url}/v1/enrollments/{enrolled.json()['enrollment_id']}/accept", headers=as_agency).status_code == 200
        receipt = httpx.post(f"{url}/v1/submissions", json={"corporate_number": CORP_A, "procedure": "PAYROLL_REPORT", "period": "2026",
                                                             "payload": payroll()}, headers={**as_company, "Idempotency-Key": "e2e-1"})
        assert receipt.status_code == 201 and receipt.json()["targets"] == [f"municipality:{CHIYODA}"]
        feed = httpx.get(f"{url}/v1/notices", params={"after": 0, "wait": 1}, headers=as_agency).json()
        assert [n["submission_id"] for n in feed["notices"]] == [receipt.json()["submission_id"]]

        cli("principals", "revoke", company["token_id"])
        revoked = httpx.get(f"{url}/v1/me", headers=as_company)
        assert (revoked.status_code, revoked.json()["code"]) == (401, "token_revoked")
        assert httpx.get(f"{url}/v1/me", headers=as_agency).status_code == 200

    states = {t["principal"]: t["active"] for t in json.loads(cli("principals", "list", "--json").output)}
    assert states == {f"company:{CORP_A}": False, f"agency:municipality:{CHIYODA}": True}


def test_fifty_concurrent_clients_record_and_read_with_no_error_no_lost_receipt_and_no_duplicated_notice(tmp_path: Path) -> None:
    home = tmp_path / "soak"
    tokens = prepare(home, SOAK_CLIENTS)
    with kiroku_serve(home, "--rate", "0") as url:
        result = bench_http(url, SOAK_CLIENTS, SOAK_SECONDS, tokens=tokens)
    print(json.dumps(result, indent=2))  # the numbers, for whoever runs this with -s
    assert result["errors"] == 0 and result["setup_errors"] == 0, result["error_samples"]
    assert result["record"]["count"] >= SOAK_CLIENTS and result["read"]["count"] > 0
    assert result["lost_receipts"] == 0 and result["unexpected_submissions"] == 0 and result["receipts_changed"] == 0
    assert result["notices"] == result["receipts"]
    assert result["duplicate_notices"] == 0 and result["notice_gaps"] == 0 and result["unnotified_receipts"] == 0
