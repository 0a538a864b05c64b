"""Strict input over HTTP (issue 14, item 9): bodies not sent as JSON, bodies that are not JSON, and
payload fields refused with the pointer of the value at fault."""

from __future__ import annotations

import json

import pytest

from ledger.domain.model import Principal
from tests.factories import CHIYODA, CORP_A, payroll, payroll_line
from tests.integration.helpers import enroll_payroll, special_collection

pytestmark = pytest.mark.integration

A = f"company:{CORP_A}"
SUBMISSION = {"corporate_number": CORP_A, "procedure": "PAYROLL_REPORT", "period": "2026"}


@pytest.mark.parametrize(("media", "got"), [("text/plain", "text/plain"), ("application/x-www-form-urlencoded",
                                                                            "application/x-www-form-urlencoded"), (None, None)])
def test_a_body_not_sent_as_json_is_415_naming_the_media_type_expected(api, kiroku, media, got) -> None:
    # Issue 14, item 9: text/plain answered 422 with no field (the bulk upload said 415 already).
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    headers = {"Idempotency-Key": "plain", **({"Content-Type": media} if media else {})}
    resp = api.as_(A).post("/v1/submissions", content=json.dumps({**SUBMISSION, "payload": payroll()}).encode(), headers=headers)
    problem = resp.json()
    assert (resp.status_code, problem["code"], problem["field"], problem["in"], problem["expected"], problem.get("got")) == (
        415, "unsupported_media_type", "/content-type", "header", "application/json", got)
    assert kiroku.queries.filings(Principal.company(CORP_A)) == []


@pytest.mark.parametrize(("body", "line", "column"), [
    (b'{"corporate_number": "7000012050002",\n  "procedure": }', 2, 16),
    (b'{"corporate_number": "123456789018"', 1, 36),
    (b"\n\n   nope", 3, 4),
])
def test_a_body_that_is_not_json_is_one_code_placed_by_line_and_column_echoing_nothing(api, body: bytes, line, column) -> None:
    # Issue 14, item 9: the problem gave the byte offset as a JSON pointer ("/40"), and two codes.
    resp = api.as_(A).post("/v1/submissions", content=body, headers={"Idempotency-Key": "j", "Content-Type": "application/json"})
    problem = resp.json()
    assert (resp.status_code, problem["code"], problem["type"]) == (422, "malformed_json", "urn:kiroku:problem:malformed_json")
    assert "field" not in problem
    assert f"at line {line}, column {column}" in problem["detail"]
    assert problem["got"] == f"{len(body)} bytes (not shown)"
    assert "123456789018" not in resp.text and "nope" not in resp.text


def test_a_bulk_line_that_is_not_json_has_the_same_code(api, kiroku) -> None:
    resp = api.as_(A).post("/v1/submissions/bulk", content=b'{"corporate_number": \n',
                           headers={"Content-Type": "application/x-ndjson"})
    first = json.loads(resp.text.splitlines()[0])
    assert first["problem"]["code"] == "malformed_json"


def test_misspelt_fields_in_lines_are_refused_each_with_its_pointer(api, kiroku) -> None:
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    payload = payroll([payroll_line(1), payroll_line(2), {**payroll_line(3), "nmae": "x", "adress": "y"}])
    resp = api.as_(A).post("/v1/submissions", json={**SUBMISSION, "payload": payload}, headers={"Idempotency-Key": "nested"})
    problem = resp.json()
    assert resp.status_code == 422
    assert sorted((e["code"], e["field"]) for e in problem["errors"]) == [
        ("unknown_field", "/payload/lines/2/adress"), ("unknown_field", "/payload/lines/2/nmae")]
    assert kiroku.queries.filings(Principal.company(CORP_A)) == []


def test_a_misspelt_field_in_a_disposition_line_is_refused_with_its_pointer(api, kiroku) -> None:
    notice = special_collection()
    notice["lines"][0]["anual_tax"] = 1
    resp = api.as_(f"agency:municipality:{CHIYODA}").post("/v1/dispositions", json={
        "corporate_number": CORP_A, "kind": "SPECIAL_COLLECTION_NOTICE", "period": "2026", "payload": notice})
    problem = resp.json()
    assert (resp.status_code, problem["code"], problem["field"]) == (422, "unknown_field", "/payload/lines/0/anual_tax")


@pytest.mark.parametrize(("over", "code", "pointer"), [
    ({"withholding_tax": "120000"}, "invalid_amount", "/payload/lines/0/withholding_tax"),
    ({"payment_amount": 10**13}, "amount_too_large", "/payload/lines/0/payment_amount"),
    ({"employee_name": "山田\u0000太郎"}, "invalid_character", "/payload/lines/0/person/name"),
    ({"withholding_tax": 6_000_000}, "inconsistent_amounts", "/payload/lines/0/withholding_tax"),
])
def test_payload_values_are_refused_over_http_with_the_pointer_of_the_value(api, kiroku, over, code, pointer) -> None:
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    resp = api.as_(A).post("/v1/submissions", json={**SUBMISSION, "payload": payroll([payroll_line(1, **over)])},
                           headers={"Idempotency-Key": "v"})
    problem = resp.json()
    assert (resp.status_code, problem["code"], problem["field"]) == (422, code, pointer)
    assert kiroku.queries.filings(Principal.company(CORP_A)) == []
