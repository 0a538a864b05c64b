"""No error echoes a personal number or a whole upload line (issue 14, item 7): a bulk upload's
problems say where (line, column) and what was expected, never what the line said."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest

from tests.factories import CHIYODA, CORP_A, payroll, payroll_line
from tests.integration.helpers import enroll_payroll

pytestmark = pytest.mark.integration

A = f"company:{CORP_A}"
PN = "123456789018"  # a valid personal number (check digit 8)
NDJSON = {"Content-Type": "application/x-ndjson"}


def leaks(text: str) -> bool:
    """Whether ``text`` holds the personal number in any spelling: plain, hyphenated, full-width, JSON-escaped."""
    plain = unicodedata.normalize("NFKC", json.loads(json.dumps(text)))
    return PN in re.sub(r"[\s\-]", "", plain)


def _item(key: str, **line: object) -> dict:
    return {"corporate_number": CORP_A, "procedure": "PAYROLL_REPORT", "period": "2026",
            "payload": payroll([payroll_line(1, **line)]), "idempotency_key": key}


def _bulk(api, body: bytes, headers: dict = NDJSON) -> list[dict]:
    resp = api.as_(A).post("/v1/submissions/bulk", content=body, headers=headers)
    assert resp.status_code == 200
    assert not leaks(resp.text)
    return [json.loads(x) for x in resp.text.splitlines()]


def test_a_broken_json_line_is_placed_by_line_and_column_without_echoing_it(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    good = json.dumps(_item("ok")).encode()
    broken = json.dumps(_item("broken", personal_number=PN))[:-1].encode()  # the closing brace lost
    results = _bulk(api, good + b"\n" + broken + b"\n")
    assert [r.get("status") for r in results[:-1]] == [201, 422]
    problem = results[1]["problem"]
    assert problem["code"] == "malformed_json"
    assert "line 2" in problem["detail"] and "column" in problem["detail"]
    assert "got" not in problem or len(str(problem["got"])) < 80
    assert results[-1] == {"done": True, "items": 2, "recorded": 1, "replayed": 0, "failed": 1}


@pytest.mark.parametrize("line", [
    json.dumps(PN), json.dumps([PN]), f'{{"idempotency_key": "{PN}"}}', f'{{"corporate_number": {PN}}}',
    f'{{"period": "{PN}{PN}"}}', json.dumps({**_item("k"), "idempotency_key": PN * 30}),
])
def test_a_line_of_the_wrong_shape_is_refused_without_echoing_its_values(api, kiroku, line):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    results = _bulk(api, line.encode() + b"\n")
    assert results[0]["status"] == 422


@pytest.mark.parametrize("value", [int(PN), PN + "0", PN[:-1], f"{PN[:4]}-{PN[4:8]}-{PN[8:]}", [PN], {"n": PN}])
def test_a_personal_number_of_the_wrong_type_or_length_is_not_echoed(api, kiroku, value):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    results = _bulk(api, json.dumps(_item("pn", personal_number=value)).encode() + b"\n")
    assert results[0]["status"] == 422


def test_a_single_recording_with_a_bad_personal_number_is_not_echoed(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    for value in (int(PN), PN + "0", [PN]):
        body = {k: v for k, v in _item("x", personal_number=value).items() if k != "idempotency_key"}
        resp = api.as_(A).post("/v1/submissions", json=body, headers={"Idempotency-Key": f"one-{value!s:.5}"})
        assert resp.status_code == 422 and not leaks(resp.text)


def test_a_broken_json_body_is_not_echoed(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    body = json.dumps(_item("x", personal_number=PN))[:-1]
    resp = api.as_(A).post("/v1/submissions", content=body, headers={"Idempotency-Key": "b", "Content-Type": "application/json"})
    assert resp.status_code == 422 and not leaks(resp.text)


CSV_HEADER = ("法人番号,年分,事業者名,事業者所在地,市区町村コード,受給者番号,氏名,生年月日,個人番号,住所,支払金額,"
              "給与所得控除後の金額,所得控除の額の合計額,源泉徴収税額,社会保険料等の金額\n")


def _csv_row(year: str = "2026", amount: str = "5000000", code: str = CHIYODA) -> str:
    return (f"{CORP_A},{year},株式会社記録,東京都千代田区,{code},E0001,山田 太郎,1985/07/14,{PN},東京都千代田区,{amount},"
            "3560000,1200000,120000,700000\n")


@pytest.mark.parametrize(("column", "cells"), [
    ("municipality_code", {"code": PN}), ("municipality_code", {"code": "１２３４５６７８９０１８"}),
    ("payment_amount", {"amount": f"{PN[:4]}-{PN[4:8]}-{PN[8:]}"}),
], ids=["in-municipality_code", "full-width", "hyphenated-in-payment_amount"])
def test_a_personal_number_in_another_csv_column_is_not_echoed(api, kiroku, column, cells):
    # Cells shifted or mistyped: the personal number lands in a column whose errors quote the cell.
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    results = _bulk(api, (CSV_HEADER + _csv_row(**cells)).encode(), {"Content-Type": "text/csv"})
    assert results[0]["status"] == 422 and results[0]["problem"]["locations"][0]["column"] == column
    assert not leaks(json.dumps(results, ensure_ascii=False))


def test_a_csv_without_its_header_row_is_refused_without_echoing_the_first_row(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    first = f"{PN},{CORP_A},2026,株式会社記録\n"  # a data row where the header should be
    results = _bulk(api, (first + _csv_row()).encode(), {"Content-Type": "text/csv"})
    assert (results[0]["status"], results[0]["problem"]["code"]) == (422, "unknown_column")


def test_an_unknown_field_named_like_a_personal_number_is_not_echoed(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    item = _item("key")
    item["payload"]["lines"][0][PN] = "x"
    item[PN] = "y"
    results = _bulk(api, json.dumps(item).encode() + b"\n")
    assert results[0]["status"] == 422
