"""Person-level corrections over HTTP: the same request shape (a CORRECTION whose lines say ADD,
CORRECT or CANCEL), the notices that say what changed, and one person's history."""

from __future__ import annotations

import pytest

from tests.factories import CHIYODA, CORP_A, OSAKA, payroll, payroll_line
from tests.integration.helpers import enroll_payroll

pytestmark = pytest.mark.integration

A = f"company:{CORP_A}"


def test_a_person_is_corrected_over_http_and_only_their_municipality_hears_of_it(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA, OSAKA)
    a, osaka, chiyoda = api.as_(A), api.as_(f"agency:municipality:{OSAKA}"), api.as_(f"agency:municipality:{CHIYODA}")
    body = {"corporate_number": CORP_A, "procedure": "PAYROLL_REPORT", "period": "2026",
            "payload": payroll([payroll_line(1), payroll_line(2, OSAKA)])}
    original = a.post("/v1/submissions", json=body, headers={"Idempotency-Key": "o-1"}).json()
    fix = {**body, "kind": "CORRECTION", "replaces": original["submission_id"],
           "payload": payroll([{**payroll_line(2, OSAKA, payment_amount=4_800_000), "line_action": "CORRECT"}])}
    resp = a.post("/v1/submissions", json=fix, headers={"Idempotency-Key": "c-1"})
    assert resp.status_code == 201, resp.text
    fixed = resp.json()
    notices = osaka.get("/v1/notices?after=0").json()["notices"]
    assert [(n["kind"], n["lines"], n["changed"], n["departed"], n["reached"]) for n in notices] == [
        ("ORIGINAL", [2], None, 0, True), ("CORRECTION", [2], [2], 0, True)]
    assert len(chiyoda.get("/v1/notices?after=0").json()["notices"]) == 1
    history = a.get(f"/v1/submissions/{fixed['submission_id']}/persons/E0002/history").json()
    assert [(v["line_action"], v["line"]["payment_amount"]) for v in history] == [("ORIGINAL", 5_000_002), ("CORRECT", 4_800_000)]
    assert chiyoda.get(f"/v1/submissions/{fixed['submission_id']}/persons/E0002/history").json() == [
        {"info": v["info"], "line_action": None, "line": None, "personal_numbers": "shown"} for v in history]
    again = a.post("/v1/submissions", json={**fix, "replaces": fixed["submission_id"],
                                            "payload": payroll([{**payroll_line(7), "line_action": "CORRECT"}])},
                   headers={"Idempotency-Key": "c-2"})
    assert (again.status_code, again.json()["code"], again.json()["field"]) == (
        422, "person_not_on_filing", "/payload/lines/0/employee_number")
