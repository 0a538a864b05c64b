"""Filing by upload on the web pages (issue 16, item 4), for a client (a firm, a vendor) or for oneself (a company):
each of the formats recorded and listed, the answer streamed as the import reads, a bad row placed by row and column
with nothing of its filing recorded, an ungranted client refused on its rows, forms from elsewhere and files too
large refused — and the firm's pages: a client's filings, each disposition of the inbox linked."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from ledger.domain.identifiers import make_personal_number
from ledger.service.staff import StaffStore
from tests.factories import CHIYODA, CORP_A, CORP_B, SAPPORO, payroll
from tests.import_files import eltax_cells, eltax_file, payroll_csv_text, shfd_cells, shfd_file
from tests.integration.helpers import PENSION_OFFICE, agency, company, company_view, enroll_payroll, enroll_to, grant_until
from tests.integration.http.web import SITE
from tests.integration.http.web import sign_in as web_sign_in
from viewers.http.app import create_app
from viewers.web import firm_pages

pytestmark = pytest.mark.integration

FIRM = "firm:tanaka-zeirishi"









def sign_in(web: TestClient, staff: StaffStore, principal: str, person: str = "田中 税理士") -> str:
    return web_sign_in(web, staff, principal, person, fresh=True)

def upload_token(web: TestClient, where: str) -> str:
    page = web.get(f"/web/{where}/upload")
    assert page.status_code == 200
    match = re.search(rf'action="/web/{where}/upload"[^>]*>\s*<input type="hidden" name="csrf" value="([0-9a-f]+)"', page.text)
    assert match is not None, "no upload form"
    return match.group(1)


def upload(web: TestClient, where: str, body: bytes, *, name: str = "KYUYO.CSV", token: str | None = None,
           origin: str = SITE, **fields: str) -> object:
    data = {"csrf": token if token is not None else upload_token(web, where), **fields}
    return web.post(f"/web/{where}/upload", data=data, files={"file": (name, body, "text/csv")}, headers={"Origin": origin})


def recorded(text: str) -> list[str]:
    """The submissions the result lists (after the progress lines)."""
    part = text.partition('id="recorded-h"')[2].partition('id="problems-h"')[0]
    return list(dict.fromkeys(re.findall(r"(sub_[0-9A-Z]{26})", part)))


def problems(text: str) -> list[list[str]]:
    part = text.partition('class="problems"')[2].partition("</table>")[0]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
            for tr in re.findall(r"<tr>(.*?)</tr>", part.partition("<tbody>")[2], re.S)]


# -- the company files its own ---------------------------------------------------------------------------------

def test_the_company_uploads_each_format_and_each_filing_is_recorded_linked_and_on_its_board(kiroku, web, staff):
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    enroll_to(kiroku, CORP_A, "STANDARD_REMUNERATION", PENSION_OFFICE)
    sign_in(web, staff, f"company:{CORP_A}", "経理 一郎")
    payroll_csv = upload(web, "company", payroll_csv_text(CORP_A).encode("utf-8"), format="auto", encoding="auto")
    eltax = upload(web, "company", eltax_file([eltax_cells(CORP_A, 1, year="07"), eltax_cells(CORP_A, 2, municipality=SAPPORO, year="07")])
                   .encode("cp932"), format="eltax-315", encoding="cp932")
    shfd = upload(web, "company", shfd_file([shfd_cells(1), shfd_cells(2)]).encode("cp932"), name="SHFD0006.CSV", format="auto")
    ids = []
    for answer, fmt in ((payroll_csv, "Kiroku の給与支払報告書 CSV"), (eltax, "315"), (shfd, "SHFD0006")):
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
        assert fmt in answer.text and "問題はありませんでした" in answer.text
        [sid] = recorded(answer.text)
        assert f'href="/web/company/receipts/{sid}"' in answer.text
        ids.append(sid)
        assert "山田" not in answer.text and "鈴木" not in answer.text  # no name of the file's is echoed
    filings = {f.submission_id: (f.procedure, f.period) for f in company_view(kiroku, CORP_A).filings()}
    assert filings == {ids[0]: ("PAYROLL_REPORT", "2026"), ids[1]: ("PAYROLL_REPORT", "2025"), ids[2]: ("STANDARD_REMUNERATION", "2026")}
    board = web.get("/web/company").text
    assert all(sid in board for sid in ids)


def test_the_same_file_again_records_nothing_new_and_answers_the_same_receipt(kiroku, web, staff):
    sign_in(web, staff, f"company:{CORP_A}", "経理 一郎")
    body = payroll_csv_text(CORP_A).encode("utf-8")
    first, again = recorded(upload(web, "company", body).text), recorded(upload(web, "company", body).text)
    assert first == again and len(company_view(kiroku, CORP_A).filings()) == 1


def test_the_answer_is_streamed_with_a_progress_line_every_n_rows(kiroku, web, staff, monkeypatch):
    monkeypatch.setattr(firm_pages, "PROGRESS_EVERY", 2)
    sign_in(web, staff, f"company:{CORP_A}", "経理 一郎")
    body = eltax_file([eltax_cells(CORP_A, n) for n in range(1, 6)]).encode("cp932")
    token = upload_token(web, "company")
    with web.stream("POST", "/web/company/upload", data={"csrf": token}, files={"file": ("a.csv", body, "text/csv")},
                    headers={"Origin": SITE}) as answer:
        assert answer.status_code == 200 and "content-length" not in answer.headers
        chunks = list(answer.iter_text())
    text = "".join(chunks)
    assert len(chunks) >= 4  # the page's top, progress lines, the result: each sent as it came
    assert "2 行を読みました" in text and "4 行を読みました" in text and "完了: 5 行を読み、1 件を記録しました" in text
    assert text.index("行を読みました") < text.index('id="recorded-h"') and text.rstrip().endswith("</html>")
    assert text.count("<html") == 1


def test_a_bad_cell_is_placed_by_row_and_column_and_nothing_of_its_filing_is_recorded(kiroku, web, staff):
    sign_in(web, staff, f"company:{CORP_A}", "経理 一郎")
    number = make_personal_number(f"{70_000 + 2:011d}")
    body = eltax_file([eltax_cells(CORP_A, 1), eltax_cells(CORP_A, 2, **{"line.payment_amount": "abc"})]).encode("cp932")
    answer = upload(web, "company", body, format="eltax-315")
    assert answer.status_code == 200 and recorded(answer.text) == []
    [row] = [p for p in problems(answer.text) if p[0] == "2"]
    assert "支払金額" in row[1] and "invalid_amount" in row[2]
    assert company_view(kiroku, CORP_A).filings() == []  # the group's other row is not recorded either
    assert "山田" not in answer.text and number not in answer.text


def test_a_file_that_cannot_be_read_at_all_says_so_in_the_page(web, staff):
    sign_in(web, staff, f"company:{CORP_A}", "経理 一郎")
    answer = upload(web, "company", "誰,でも,ない\r\n1,2,3\r\n".encode(), format="payroll-csv")
    assert answer.status_code == 200 and 'role="alert"' in answer.text and "ファイルを読めませんでした" in answer.text
    assert answer.text.rstrip().endswith("</html>")


# -- a firm files for its clients --------------------------------------------------------------------------------

def test_the_firm_files_for_the_clients_that_granted_submit_and_an_ungranted_one_is_refused_on_its_rows(kiroku, web, staff):
    company(kiroku, CORP_B).grant(FIRM, ["PAYROLL_REPORT", "STANDARD_REMUNERATION"], ["submit", "read"], grant_until(kiroku))
    company(kiroku, CORP_A).grant(FIRM, ["PAYROLL_REPORT"], ["read"], grant_until(kiroku))  # read only: no submit
    sign_in(web, staff, FIRM)
    form = web.get("/web/firm/upload").text
    assert f'<option value="{CORP_B}">' in form and f'<option value="{CORP_A}">' not in form  # only clients granting submit
    body = eltax_file([eltax_cells(CORP_A, 1), eltax_cells(CORP_B, 1)]).encode("cp932")
    answer = upload(web, "firm", body)
    assert answer.status_code == 200
    [sid] = recorded(answer.text)
    assert "/web/company/receipts/" not in answer.text and f'href="/web/firm/filings?company={CORP_B}"' in answer.text
    [refused] = problems(answer.text)
    assert refused[0] == "1" and "forbidden" in refused[2]
    assert company_view(kiroku, CORP_A).filings() == []
    assert [f.submission_id for f in company_view(kiroku, CORP_B).filings()] == [sid]
    # SHFD0006 carries no 法人番号: the form's choice of client
    shfd = upload(web, "firm", shfd_file([shfd_cells(1)]).encode("cp932"), format="nenkin-shfd0006", corporate_number=CORP_B)
    [shfd_id] = recorded(shfd.text)
    assert {f.procedure for f in company_view(kiroku, CORP_B).filings() if f.submission_id == shfd_id} == {"STANDARD_REMUNERATION"}
    # … and a number the form did not offer is the ledger's to refuse, on the file's rows
    other = upload(web, "firm", shfd_file([shfd_cells(2)]).encode("cp932"), format="nenkin-shfd0006", corporate_number=CORP_A)
    assert recorded(other.text) == [] and "forbidden" in problems(other.text)[0][2]
    listed = web.get(f"/web/firm/filings?company={CORP_B}")
    assert sid in listed.text and shfd_id in listed.text


def test_a_vendor_uploads_too(kiroku, web, staff):
    company(kiroku, CORP_A).grant("vendor:acme-payroll", ["PAYROLL_REPORT"], ["submit"], grant_until(kiroku))
    sign_in(web, staff, "vendor:acme-payroll", "開発 花子")
    answer = upload(web, "firm", payroll_csv_text(CORP_A).encode("cp932"), encoding="cp932")
    assert len(recorded(answer.text)) == 1 and len(company_view(kiroku, CORP_A).filings()) == 1


def test_shfd0006_without_a_corporate_number_is_refused_naming_it(kiroku, web, staff):
    sign_in(web, staff, FIRM)
    answer = upload(web, "firm", shfd_file([shfd_cells(1)]).encode("cp932"), format="nenkin-shfd0006")
    assert answer.status_code == 422 and "corporate_number" in answer.text
    detected = upload(web, "firm", shfd_file([shfd_cells(1)]).encode("cp932"))  # detected only once read: said in the page
    assert detected.status_code == 200 and "corporate_number" in detected.text and 'role="alert"' in detected.text


# -- what is refused before anything is read ------------------------------------------------------------------------

def test_an_upload_without_its_token_or_from_another_origin_is_refused_and_records_nothing(kiroku, web, staff):
    company(kiroku, CORP_A).grant(FIRM, ["PAYROLL_REPORT"], ["submit"], grant_until(kiroku))
    sign_in(web, staff, FIRM)
    body = payroll_csv_text(CORP_A).encode()
    token = upload_token(web, "firm")
    assert upload(web, "firm", body, token="0" * 64).status_code == 403
    assert upload(web, "firm", body, token=token, origin="https://evil.example").status_code == 403
    assert web.post("/web/firm/upload", data={"csrf": token}, files={"file": ("a.csv", body, "text/csv")}).status_code == 403
    assert company_view(kiroku, CORP_A).filings() == []
    sign_in(web, staff, f"company:{CORP_A}", "経理 一郎")  # a firm's token is no company's
    assert upload(web, "company", body, token=token).status_code == 403


def test_a_file_too_large_or_empty_is_refused_clearly_and_records_nothing(kiroku, web, staff, monkeypatch):
    sign_in(web, staff, f"company:{CORP_A}", "経理 一郎")
    body = payroll_csv_text(CORP_A).encode()
    monkeypatch.setattr(firm_pages, "MAX_UPLOAD", len(body) - 1)
    large = upload(web, "company", body)
    assert large.status_code == 413 and "ファイルが大きすぎます" in large.text and 'role="alert"' in large.text
    monkeypatch.undo()
    empty = upload(web, "company", b"")
    assert empty.status_code == 422 and "ファイルが空です" in empty.text
    assert company_view(kiroku, CORP_A).filings() == []


def test_the_gates_body_limit_stops_a_larger_request_before_it_is_read(kiroku, tokens, staff):
    app = create_app(kiroku, tokens, staff=staff, rate=0, max_body=4096)
    with TestClient(app, base_url=SITE) as client:
        sign_in(client, staff, f"company:{CORP_A}", "経理 一郎")
        answer = upload(client, "company", payroll_csv_text(CORP_A).encode() + b"x" * 8192)
    assert answer.status_code == 413
    assert company_view(kiroku, CORP_A).filings() == []


def test_a_format_or_encoding_not_offered_is_refused_naming_it(web, staff):
    sign_in(web, staff, f"company:{CORP_A}", "経理 一郎")
    assert upload(web, "company", b"x", format="eltax-999").status_code == 422
    bad = upload(web, "company", b"x", encoding="utf-32")
    assert bad.status_code == 422 and "encoding" in bad.text


def test_the_upload_pages_are_for_their_kinds_only(web, staff):
    sign_in(web, staff, f"agency:municipality:{CHIYODA}", "山田 花子")
    assert web.get("/web/firm/upload").status_code == 404 and web.get("/web/company/upload").status_code == 404
    sign_in(web, staff, FIRM)
    assert web.get("/web/company/upload").status_code == 404 and web.get("/web/firm/upload").status_code == 200


# -- the firm's pages ---------------------------------------------------------------------------------------------

def test_the_clients_page_links_each_readable_clients_filings(kiroku, web, staff):
    company(kiroku, CORP_A).grant(FIRM, ["PAYROLL_REPORT"], ["read"], grant_until(kiroku))
    company(kiroku, CORP_B).grant(FIRM, ["PAYROLL_REPORT"], ["submit"], grant_until(kiroku))
    mine = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    company(kiroku, CORP_B).record(CORP_B, "PAYROLL_REPORT", "2026", payroll())
    sign_in(web, staff, FIRM)
    clients = web.get("/web/firm").text
    assert f'href="/web/firm/filings?company={CORP_A}"' in clients and f'href="/web/firm/filings?company={CORP_B}"' not in clients
    page = web.get(f"/web/firm/filings?company={CORP_A}")
    assert page.status_code == 200 and mine.submission_id in page.text and "給与支払報告書" in page.text
    theirs = web.get(f"/web/firm/filings?company={CORP_B}")  # submit only: nothing to read
    assert theirs.status_code == 200 and "閲覧できる提出はありません" in theirs.text and "sub_" not in theirs.text
    assert web.get("/web/firm/filings?company=123").status_code == 422


def test_the_inbox_links_each_disposition_and_the_link_opens_it(kiroku, web, staff):
    from tests.integration.helpers import special_collection

    enroll_payroll(kiroku, CORP_A, CHIYODA)
    company(kiroku, CORP_A).grant(FIRM, ["PAYROLL_REPORT"], ["receive_notices"], grant_until(kiroku))
    issued = agency(kiroku, f"municipality:{CHIYODA}").issue_disposition(CORP_A, "SPECIAL_COLLECTION_NOTICE", "2027",
                                                                       special_collection())
    kiroku.processors.catch_up()
    sign_in(web, staff, FIRM)
    inbox = web.get("/web/firm/inbox").text
    assert f'href="/web/firm/dispositions/{issued.disposition_id}"' in inbox
    opened = web.get(f"/web/firm/dispositions/{issued.disposition_id}")
    assert opened.status_code == 200 and issued.disposition_id in opened.text
