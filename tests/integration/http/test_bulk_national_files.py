"""The HTTP bulk upload takes the national files: ``text/csv; charset=shift_jis`` with ``format=eltax-315``
(給与支払報告書・源泉徴収票, record 315, 総税市第49号) or ``format=nenkin-shfd0006&corporate_number=…``
(日本年金機構 SHFD0006.CSV), one result line per group; and the remote SDK's ``import_file`` through it."""

from __future__ import annotations

import json

import pytest

from ledger.errors import ValidationError
from producers.remote import RemoteProducer
from tests.factories import CHIYODA, CORP_A, CORP_B, SAPPORO
from tests.import_files import eltax_cells, eltax_file, shfd_cells, shfd_file
from tests.integration.helpers import PENSION_OFFICE, company, enroll_payroll, enroll_to, filing_ends, grant_until, municipality
from viewers.http.server import serve_in_thread

pytestmark = pytest.mark.integration

BULK = "/v1/submissions/bulk"
VENDOR = "vendor:acme-payroll"
SJIS = "text/csv; charset=shift_jis"


def send(api, who: str, body: bytes, params: dict, content_type: str = SJIS) -> list[dict]:
    resp = api.as_(who).post(BULK, content=body, params=params, headers={"Content-Type": content_type})
    assert resp.status_code == 200, resp.text
    assert "山田" not in resp.text and "鈴木" not in resp.text  # no name is echoed
    return [json.loads(x) for x in resp.text.splitlines()]


def test_a_315_upload_records_one_filing_per_payer_and_again_answers_the_same_receipts(api, kiroku):
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    body = eltax_file([eltax_cells(CORP_A, 1), eltax_cells(CORP_A, 2, municipality=SAPPORO)]).encode("cp932")
    first = send(api, f"company:{CORP_A}", body, {"format": "eltax-315"})
    assert first[0]["status"] == 201 and first[0]["rows"] == [1, 2]
    assert first[0]["receipt"]["targets"] == sorted([municipality(CHIYODA), municipality(SAPPORO)])
    assert first[-1] == {"done": True, "items": 1, "recorded": 1, "replayed": 0, "failed": 0}
    ends = filing_ends(kiroku)
    again = send(api, f"company:{CORP_A}", eltax_file([eltax_cells(CORP_A, 1), eltax_cells(CORP_A, 2, municipality=SAPPORO)])
                 .encode("utf-8"), {}, "text/csv")  # its UTF-8 twin, the format detected
    assert again[0]["status"] == 200 and again[0]["receipt"] == first[0]["receipt"] and filing_ends(kiroku) == ends


def test_a_shfd0006_upload_with_the_corporate_number_records_the_report_for_the_pension_office(api, kiroku):
    enroll_to(kiroku, CORP_A, "STANDARD_REMUNERATION", PENSION_OFFICE)
    lines = send(api, f"company:{CORP_A}", shfd_file([shfd_cells(1)]).encode("cp932"),
                 {"format": "nenkin-shfd0006", "corporate_number": CORP_A})
    assert lines[0]["status"] == 201 and lines[0]["receipt"]["targets"] == [PENSION_OFFICE]
    assert lines[0]["receipt"]["procedure"] == "STANDARD_REMUNERATION"


def test_a_vendor_without_a_grant_is_refused_per_payer_with_a_403_line(api, kiroku):
    """A vendor submits only under the company's grant (DESIGN.md, security model), checked per filing."""
    company(kiroku, CORP_B).grant(VENDOR, ["PAYROLL_REPORT"], ["submit"], grant_until(kiroku))
    lines = send(api, VENDOR, eltax_file([eltax_cells(CORP_A, 1), eltax_cells(CORP_B, 1)]).encode("cp932"), {"format": "eltax-315"})
    assert [(x["item"], x["status"]) for x in lines[:2]] == [(1, 403), (2, 201)]
    assert lines[0]["problem"]["code"] == "forbidden" and lines[0]["rows"] == [1, 1]
    assert lines[-1]["failed"] == 1 and lines[-1]["recorded"] == 1


def test_a_bad_cell_is_a_422_line_naming_row_and_item_and_the_other_payers_are_recorded(api, kiroku):
    body = eltax_file([eltax_cells(CORP_A, 1, **{"line.payment_amount": "abc"}), eltax_cells(CORP_B, 1)]).encode("cp932")
    lines = send(api, f"company:{CORP_A}", body, {"format": "eltax-315"})
    assert lines[0]["status"] == 422 and lines[0]["problem"]["locations"][0]["row"] == 1
    assert lines[0]["problem"]["locations"][0]["code"] == "invalid_amount"
    assert lines[0]["problem"]["locations"][0]["column"].startswith("項目") and "支払金額" in lines[0]["problem"]["locations"][0]["column"]
    assert lines[1]["status"] == 403  # company A may not file for company B
    assert lines[-1]["recorded"] == 0


@pytest.mark.parametrize(("params", "code", "field"), [
    ({"format": "eltax-999"}, "unknown_format", "format"),
    ({"format": "nenkin-shfd0006"}, "required", "corporate_number"),
], ids=["unknown-format", "shfd-without-corporate-number"])
def test_an_unusable_format_or_a_missing_corporate_number_is_422_naming_the_parameter(api, params, code, field):
    resp = api.as_(f"company:{CORP_A}").post(BULK, content=b"x", params=params, headers={"Content-Type": SJIS})
    assert (resp.status_code, resp.json()["code"]) == (422, code)
    assert field in json.dumps(resp.json())


# -- the remote SDK ------------------------------------------------------------------------------------

@pytest.fixture
def remote(app, tokens):
    with serve_in_thread(app) as url:
        _, token = tokens.add(f"company:{CORP_A}")
        with RemoteProducer.open(url, token) as p:
            yield p


@pytest.mark.parametrize("fmt", ["eltax-315", "nenkin-shfd0006"])
def test_the_remote_sdk_imports_a_file_as_the_embedded_one_does(kiroku, remote, fmt):
    from tests.integration.helpers import company as embedded

    data = (eltax_file([eltax_cells(CORP_A, 1)]) if fmt == "eltax-315" else shfd_file([shfd_cells(1)])).encode("cp932")
    number = CORP_A if fmt != "eltax-315" else None
    result = remote.import_file(data, corporate_number=number)
    assert (result.format, result.recorded, result.errors) == (fmt, 1, [])
    local = embedded(kiroku, CORP_A).import_file(data, corporate_number=number)
    assert local.receipts == result.receipts  # the same submission: the embedded import answers the remote one's receipt


def test_the_remote_sdk_places_a_bad_cell_on_its_row_and_refuses_a_shfd_file_without_its_corporate_number(remote, tmp_path):
    path = tmp_path / "KYUYO.CSV"
    path.write_bytes(eltax_file([eltax_cells(CORP_A, 1), eltax_cells(CORP_A, 2, **{"line.withholding_tax": "-1"})]).encode("cp932"))
    result = remote.import_file(path, format="eltax-315", encoding="shift_jis")
    assert result.recorded == 0 and [(e["row"], e["code"]) for e in result.errors] == [(2, "invalid_amount")]
    with pytest.raises(ValidationError) as exc:
        remote.import_file(shfd_file([shfd_cells(1)]).encode("cp932"), format="nenkin-shfd0006")
    assert (exc.value.code, exc.value.field) == ("required", "corporate_number")


def test_a_315_upload_of_rows_marked_corrected_is_a_person_level_correction(api, kiroku):
    """総税市第49号 item 10 訂正表示: a record marked 1 replaces that person's line of the filing in force."""
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    first = send(api, f"company:{CORP_A}", eltax_file([eltax_cells(CORP_A, 1), eltax_cells(CORP_A, 2)]).encode("cp932"),
                 {"format": "eltax-315"})
    fix = eltax_file([eltax_cells(CORP_A, 2, corrected=True, **{"line.payment_amount": "5100000"})]).encode("cp932")
    lines = send(api, f"company:{CORP_A}", fix, {"format": "eltax-315"})
    receipt = lines[0]["receipt"]
    assert lines[0]["status"] == 201 and receipt["kind"] == "CORRECTION"
    assert receipt["replaces"] == first[0]["receipt"]["submission_id"] and receipt["line_count"] == 2


def test_a_315_line_longer_than_the_server_takes_ends_the_upload_with_413_naming_it(app, api, kiroku):
    """The same bounds as any bulk upload (viewers/http/routes/bulk.py: ``max_line``)."""
    long_name = "あ" * (app.state.limits.max_line // 2)
    body = eltax_file([eltax_cells(CORP_A, 1), eltax_cells(CORP_A, 2, **{"person.name": long_name})]).encode("cp932")
    lines = send(api, f"company:{CORP_A}", body, {"format": "eltax-315"})
    assert (lines[-1]["item"], lines[-1]["status"], lines[-1]["problem"]["code"]) == (None, 413, "line_too_long")
    assert "line 2" in lines[-1]["problem"]["detail"]


def test_the_remote_sdk_imports_several_files_into_one_result_as_the_embedded_one_does(kiroku, remote, tmp_path):
    """``import_files`` over HTTP: one upload per file, one result — errors naming their file — and the same
    receipts the embedded ``import_files`` answers for the same files."""
    from tests.integration.helpers import company as embedded

    good, bad = tmp_path / "SHFD0006.CSV", tmp_path / "KYUYO.CSV"
    good.write_bytes(shfd_file([shfd_cells(1)]).encode("cp932"))
    bad.write_bytes(eltax_file([eltax_cells(CORP_A, 1, **{"line.withholding_tax": "-1"})]).encode("cp932"))
    result = remote.import_files([good, bad], corporate_number=CORP_A)
    assert (result.recorded, result.failed, result.format) == (1, 1, "nenkin-shfd0006,eltax-315")
    assert [(e["file"], e["row"], e["code"]) for e in result.errors] == [(str(bad), 1, "invalid_amount")]
    local = embedded(kiroku, CORP_A).import_files([good, bad], corporate_number=CORP_A)
    assert local.receipts == result.receipts
    place = [{k: e[k] for k in ("file", "row", "column", "code", "expected")} for e in local.errors]
    assert place == [{k: e[k] for k in ("file", "row", "column", "code", "expected")} for e in result.errors]
