"""Exports over the HTTP API (issue 16, item 5): ``GET /v1/submissions/{id}?format=xlsx`` (and csv
with ``lang`` or ``encoding``) is the JSON snapshot written as a spreadsheet — the same read, the
same masking, the same access record, the same 404 for a reader without the right."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import unquote

import openpyxl
import pytest

from ledger.domain.model import Principal, Snapshot
from ledger.service.sealing import MASK
from tests.factories import CHIYODA, CORP_A, OSAKA, payroll, payroll_line, personal
from tests.integration.helpers import TAX_OFFICE, company, enroll_payroll, enroll_to, jst
from viewers import exports

pytestmark = pytest.mark.integration

A = f"company:{CORP_A}"
CHIYODA_ID = f"agency:municipality:{CHIYODA}"
SOCIETY = "health-insurance-society:06139999"
PENSION = "pension-office:0101"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _payroll(kiroku, *lines) -> str:
    enroll_payroll(kiroku, CORP_A, CHIYODA, OSAKA)
    return company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll(list(lines))).submission_id


def _bonus(kiroku, clock) -> str:
    """A 賞与支払届 whose 70歳以上被用者's number the 健康保険組合 sees masked, the 年金事務所 in full (E12)."""
    clock.set(jst(2027, 7, 1, 10, 0))
    enroll_to(kiroku, CORP_A, "BONUS_PAYMENT", PENSION)
    enroll_to(kiroku, CORP_A, "BONUS_PAYMENT", SOCIETY)
    payload = {"office": {"name": "株式会社記録", "address": "東京都千代田区丸の内1-1"},
               "lines": [{"insured_number": 12, "remarks": ["AGE_70_PLUS"], "bonus_amount": 500_000,
                          "person": {"name": "高橋 一郎", "birth_date": "1952-04-01", "personal_number": personal(90_001)}},
                         {"insured_number": 13, "bonus_amount": 400_000,
                          "person": {"name": "=HYPERLINK(\"http://x\")", "birth_date": "1980-01-01"}}]}
    return company(kiroku, CORP_A).record(CORP_A, "BONUS_PAYMENT", "2027-06-25", payload).submission_id


def _rows(content: bytes) -> tuple[list[dict], dict]:
    book = openpyxl.load_workbook(io.BytesIO(content))
    lines, about = book.worksheets
    header, *rows = list(lines.iter_rows(values_only=True))
    return [dict(zip(header, r)) for r in rows], dict(about.iter_rows(values_only=True))


def _access(kiroku, viewer: str) -> list:
    return [r for r in kiroku.queries.access_log(Principal.company(CORP_A), CORP_A) if r.viewer == viewer]


def test_an_xlsx_export_is_an_attachment_with_the_right_media_type(api, kiroku):
    sid = _payroll(kiroku, payroll_line(1))
    resp = api.as_(A).get(f"/v1/submissions/{sid}", params={"format": "xlsx"})
    assert resp.status_code == 200 and resp.headers["content-type"] == XLSX
    assert resp.headers["x-content-type-options"] == "nosniff" and resp.headers["x-kiroku-submission"] == sid
    disposition = resp.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="kiroku_PAYROLL_REPORT_2026_{sid}.xlsx"; filename*=UTF-8\'\'')
    assert unquote(disposition.split("''", 1)[1]) == f"給与支払報告書_{CORP_A}_2026_{sid}.xlsx"
    rows, about = _rows(resp.content)
    assert rows[0]["氏名"] == "山田 太郎1" and rows[0]["個人番号"] == personal(10_001) and about["法人番号"] == CORP_A
    by_accept = api.as_(A).get(f"/v1/submissions/{sid}", headers={"Accept": XLSX})
    assert by_accept.headers["content-type"] == XLSX and by_accept.content == resp.content


def test_masking_is_the_json_snapshots_and_the_export_is_that_snapshot_written(api, kiroku, clock):
    sid = _bonus(kiroku, clock)
    society = api.as_(f"agency:{SOCIETY}")
    as_json = society.get(f"/v1/submissions/{sid}").json()
    assert as_json["personal_numbers"] == "masked"
    xlsx = society.get(f"/v1/submissions/{sid}", params={"format": "xlsx"})
    rows, about = _rows(xlsx.content)
    assert [r["個人番号"] for r in rows] == [ln["person"]["personal_number"] for ln in as_json["payload"]["lines"]] == [MASK, None]
    assert [r["氏名"] for r in rows] == ["高橋 一郎", "'=HYPERLINK(\"http://x\")"]
    assert [r["被保険者整理番号"] for r in rows] == ["12", "13"] and [r["賞与額 合計"] for r in rows] == [500_000, 400_000]
    assert about["閲覧の根拠"] == as_json["legal_basis"] and about["個人番号"].startswith("マスク済み")
    # Byte for byte what the JSON snapshot gives, written by viewers.exports: nothing more, nothing less.
    assert xlsx.content == exports.to_xlsx(Snapshot.model_validate(as_json))
    pension = api.as_(f"agency:{PENSION}").get(f"/v1/submissions/{sid}", params={"format": "csv", "lang": "en"})
    body = list(csv.DictReader(io.StringIO(pension.content.decode("utf-8-sig").split("\r\n\r\n", 1)[1])))
    assert body[0]["person.personal_number"] == personal(90_001)


def test_a_municipality_exports_only_its_residents_lines(api, kiroku):
    sid = _payroll(kiroku, payroll_line(1), payroll_line(2, municipality_code=OSAKA), payroll_line(3))
    chiyoda = api.as_(CHIYODA_ID)
    as_json = chiyoda.get(f"/v1/submissions/{sid}").json()
    rows, about = _rows(chiyoda.get(f"/v1/submissions/{sid}", params={"format": "xlsx"}).content)
    assert [r["行番号"] for r in rows] == as_json["visible_lines"] == [1, 3]
    assert [r["受給者番号"] for r in rows] == ["E0001", "E0003"] and about["表示している行"].startswith("1, 3")
    resp = chiyoda.get(f"/v1/submissions/{sid}", params={"format": "csv", "lang": "ja"})
    assert resp.content == exports.to_csv(Snapshot.model_validate(as_json), "ja")


def test_each_export_is_one_access_record_with_the_basis_of_a_json_read(api, kiroku, clock):
    sid = _bonus(kiroku, clock)
    society = api.as_(f"agency:{SOCIETY}")
    viewer = f"agency:{SOCIETY}"
    society.get(f"/v1/submissions/{sid}")
    [json_read] = _access(kiroku, viewer)[-1:]
    for params in ({"format": "xlsx"}, {"format": "csv", "lang": "ja"}, {"format": "csv", "encoding": "cp932"}):
        before = len(_access(kiroku, viewer))
        assert society.get(f"/v1/submissions/{sid}", params=params).status_code == 200
        records = _access(kiroku, viewer)
        assert len(records) == before + 1
        got = records[-1]
        assert (got.action, got.subject, got.legal_basis, got.outcome) == (json_read.action, json_read.subject,
                                                                           json_read.legal_basis, json_read.outcome)


def test_a_reader_without_the_right_gets_the_same_404_as_for_json(api, kiroku):
    sid = _payroll(kiroku, payroll_line(1))
    tax = api.as_(f"agency:{TAX_OFFICE}")
    as_json = tax.get(f"/v1/submissions/{sid}")
    assert as_json.status_code == 404
    for params in ({"format": "xlsx"}, {"format": "csv", "lang": "en"}):
        resp = tax.get(f"/v1/submissions/{sid}", params=params)
        assert (resp.status_code, resp.json()) == (404, as_json.json())
        missing = tax.get("/v1/submissions/sub_01NOSUCHSUBMISSION00000000", params=params)
        assert missing.status_code == 404 and missing.json()["code"] == as_json.json()["code"]
    denied = _access(kiroku, f"agency:{TAX_OFFICE}")
    assert len(denied) == 3 and {(r.action, r.outcome) for r in denied} == {("snapshot", "DENIED")}


@pytest.mark.parametrize(("param", "value"), [("format", "pdf"), ("lang", "fr"), ("encoding", "latin-1")])
def test_an_unknown_format_language_or_encoding_is_a_422_naming_the_query_parameter(api, kiroku, param, value):
    sid = _payroll(kiroku, payroll_line(1))
    resp = api.as_(A).get(f"/v1/submissions/{sid}", params={"format": "csv", param: value})
    problem = resp.json()
    assert (resp.status_code, problem["field"], problem["in"], problem["got"]) == (422, f"/{param}", "query", value)
    assert resp.headers["content-type"].startswith("application/problem+json")


def test_csv_in_cp932_and_a_name_it_cannot_encode(api, kiroku):
    sid = _payroll(kiroku, payroll_line(1, employee_name="髙橋 﨑子"), payroll_line(2, employee_name="𠮷田 太郎"))
    a = api.as_(A)
    utf8 = a.get(f"/v1/submissions/{sid}", params={"format": "csv", "encoding": "utf-8"})
    assert utf8.headers["content-type"] == "text/csv; charset=utf-8; header=present" and utf8.content.startswith(b"\xef\xbb\xbf")
    assert "𠮷田 太郎" in utf8.content.decode("utf-8-sig") and b"\r\n" in utf8.content
    refused = a.get(f"/v1/submissions/{sid}", params={"format": "csv", "encoding": "cp932"})
    problem = refused.json()
    # The field as a JSON pointer, as every problem names one; what was got is withheld under a person (no echo).
    assert (refused.status_code, problem["code"], problem["field"]) == (422, "not_cp932", "/lines/2/person/name")
    assert "U+20BB7" in problem["detail"] and "encoding=utf-8" in problem["detail"]
    assert "𠮷" not in json.dumps(problem, ensure_ascii=False) and "田 太郎" not in json.dumps(problem, ensure_ascii=False)
    only_first = company(kiroku, CORP_A).correct(sid, payroll([payroll_line(1, employee_name="髙橋 﨑子")])).submission_id
    cp932 = a.get(f"/v1/submissions/{only_first}", params={"format": "csv", "encoding": "cp932", "lang": "ja"})
    assert cp932.headers["content-type"] == "text/csv; charset=Windows-31J; header=present"
    assert "髙橋 﨑子" in cp932.content.decode("cp932")


def test_csv_without_lang_or_encoding_is_still_the_machine_readable_csv(api, kiroku):
    sid = _payroll(kiroku, payroll_line(1))
    resp = api.as_(A).get(f"/v1/submissions/{sid}", params={"format": "csv"})
    assert resp.text.startswith("submission_id,corporate_number,procedure,period,line,") and "content-disposition" not in resp.headers


def test_the_openapi_document_describes_the_export(api):
    op = api.client.get("/openapi.json").json()["paths"]["/v1/submissions/{submission_id}"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert {"format", "lang", "encoding"} <= set(params)
    assert XLSX in op["responses"]["200"]["content"] and "422" in op["responses"]
