"""Filings per office over HTTP (E13): the receipt names the office, the version in force is read per
office with ``?office=``, and a correction naming another office is refused with the header field."""

from __future__ import annotations

import pytest

from tests.factories import CHIYODA, CORP_A, OSAKA, payroll, payroll_line
from tests.integration.helpers import enroll_payroll

pytestmark = pytest.mark.integration

A = f"company:{CORP_A}"


def at(branch: str, lines: list[dict]) -> dict:
    p = payroll(lines)
    p["employer"]["branch_number"] = branch  # 本支店等区分番号 (総税市第49号 item 3)
    return p


def test_two_offices_file_and_are_read_apart_over_http(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA, OSAKA)
    a, osaka = api.as_(A), api.as_(f"agency:municipality:{OSAKA}")
    body = {"corporate_number": CORP_A, "procedure": "PAYROLL_REPORT", "period": "2026"}
    head = a.post("/v1/submissions", json={**body, "payload": at("001", [payroll_line(1)])}, headers={"Idempotency-Key": "h-1"})
    branch = a.post("/v1/submissions", json={**body, "payload": at("002", [payroll_line(2, OSAKA)])},
                    headers={"Idempotency-Key": "b-1"})
    assert (head.status_code, branch.status_code) == (201, 201), (head.text, branch.text)
    assert (head.json()["office"], branch.json()["office"]) == ("001", "002")
    in_force = osaka.get(f"/v1/filings/{CORP_A}/PAYROLL_REPORT/2026", params={"office": "002", "format": "json"})
    assert in_force.status_code == 200, in_force.text
    assert in_force.json()["info"]["submission_id"] == branch.json()["submission_id"]
    assert osaka.get(f"/v1/filings/{CORP_A}/PAYROLL_REPORT/2026", params={"format": "json"}).status_code == 404
    too_long = osaka.get(f"/v1/filings/{CORP_A}/PAYROLL_REPORT/2026", params={"office": "0" * 42})
    assert too_long.status_code == 422
    moved = a.post("/v1/submissions", json={**body, "kind": "CORRECTION", "replaces": head.json()["submission_id"],
                                            "payload": at("002", [payroll_line(1)])}, headers={"Idempotency-Key": "c-1"})
    assert (moved.status_code, moved.json()["code"], moved.json()["field"]) == (422, "other_office", "/payload/employer/branch_number")
