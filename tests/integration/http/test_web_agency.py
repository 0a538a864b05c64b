"""The agency's pages (issue 16, item 2): a search of its filings, a person's line through the
corrections, exports of a filing, issuing 特別徴収税額決定通知 one by one or from a file of many
companies', and the filing progress through the deadline — each read recorded with the person, and
nothing of another agency's shown."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from fastapi.testclient import TestClient

from ledger.service.staff import StaffStore
from tests.factories import CHIYODA, CORP_A, CORP_B, SAPPORO, payroll, payroll_line
from tests.integration.helpers import company, company_view, corp_number, enroll_payroll, jst, municipality
from tests.integration.http.web import SITE, csrf_of
from tests.integration.http.web import sign_in as web_sign_in
from viewers.web import agency_issue, agency_pages

pytestmark = pytest.mark.integration

CHIYODA_ID, SAPPORO_ID = municipality(CHIYODA), municipality(SAPPORO)
HEADER = "法人番号,受給者番号,氏名,年税額,6月分,7月以降の月額\r\n"











def sign_in(web: TestClient, staff: StaffStore, principal: str, person: str = "山田 花子") -> str:
    return web_sign_in(web, staff, principal, person)

def reads_by(kiroku, corp: str, viewer: str) -> list:
    kiroku.processors.catch_up()
    return [r for r in company_view(kiroku, corp).access_log() if r.viewer == viewer]


@pytest.fixture
def filed(kiroku):
    """CORP_A's 2026 report to 千代田区 (E0001) and 札幌市 (E0002); CORP_B's to 札幌市 only."""
    enroll_payroll(kiroku, CORP_A, CHIYODA, SAPPORO)
    enroll_payroll(kiroku, CORP_B, SAPPORO)
    a = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll(
        lines=[payroll_line(1, CHIYODA), payroll_line(2, SAPPORO, name="<b>札幌 次郎</b>")]))
    b = company(kiroku, CORP_B).record(CORP_B, "PAYROLL_REPORT", "2026", payroll(lines=[payroll_line(1, SAPPORO)]))
    kiroku.processors.catch_up()
    return a, b


# -- the search -------------------------------------------------------------------------------------

def test_the_search_lists_the_agencys_filings_only_each_linking_to_its_snapshot(kiroku, web, staff, filed):
    a, b = filed
    staff_id = sign_in(web, staff, f"agency:{CHIYODA_ID}")
    blank = web.get("/web/agency/filings")
    assert blank.status_code == 200 and 'aria-current="page"' in blank.text and "/web/agency/filings" in blank.text
    assert a.submission_id not in blank.text  # nothing is read until a search is made
    page = web.get("/web/agency/filings", params={"procedure": "PAYROLL_REPORT", "period_from": "2026", "period_to": "2026"})
    assert page.status_code == 200
    assert f'href="/web/agency/submissions/{a.submission_id}"' in page.text
    assert b.submission_id not in page.text and CORP_B not in page.text  # 札幌市's alone
    assert "1 件" in page.text
    by_company = web.get("/web/agency/filings", params={"company": CORP_B})
    assert by_company.status_code == 200 and "条件に合う提出はありません" in by_company.text
    queries = [r for r in reads_by(kiroku, CORP_A, f"agency:{CHIYODA_ID}") if r.action == "query"]
    assert queries and all(r.person == staff_id for r in queries)


def test_the_search_refuses_a_bad_filter_naming_it_and_bounds_its_inputs(web, staff, filed):
    sign_in(web, staff, f"agency:{CHIYODA_ID}")
    bad = web.get("/web/agency/filings", params={"period_from": "26年"})
    assert bad.status_code == 200 and 'role="alert"' in bad.text and "対象期間（から）" in bad.text
    assert "YYYY" in bad.text and "<td>" not in bad.text
    wrong = web.get("/web/agency/filings", params={"company": "7000012050003"})  # a check digit off
    assert 'role="alert"' in wrong.text and "法人番号" in wrong.text
    assert web.get("/web/agency/filings", params={"company": "1" * 65}).status_code == 422
    assert web.get("/web/agency/filings", params={"as_of": "yesterday"}).text.count('role="alert"') == 1
    odd = web.get("/web/agency/filings", params={"procedure": "PAYROLL_REPORT", "page": "<x>"})
    assert odd.status_code == 200 and "<x>" not in odd.text and "1〜1 件目" in odd.text


def test_the_search_pages_its_results_and_asks_to_refine_past_the_services_bound(kiroku, web, staff, monkeypatch):
    corps = [corp_number(i) for i in range(3)]
    for corp in corps:
        enroll_payroll(kiroku, corp, CHIYODA)
        company(kiroku, corp).record(corp, "PAYROLL_REPORT", "2026", payroll())
    kiroku.processors.catch_up()
    sign_in(web, staff, f"agency:{CHIYODA_ID}")
    monkeypatch.setattr(agency_pages, "FILINGS_PAGE", 2)
    first = web.get("/web/agency/filings", params={"procedure": "PAYROLL_REPORT"})
    assert sum(c in first.text for c in corps) == 2 and "次のページ" in first.text
    href = re.search(r'href="(/web/agency/filings\?[^"]*page=1)"', first.text).group(1).replace("&amp;", "&")
    second = web.get(href)
    assert sum(c in second.text for c in corps) == 1 and "前のページ" in second.text and 'rel="next"' not in second.text
    monkeypatch.setattr(agency_pages, "FILINGS_LIMIT", 3)
    assert "絞り込んでください" in web.get("/web/agency/filings", params={"procedure": "PAYROLL_REPORT"}).text


# -- a person's changes ------------------------------------------------------------------------------

def test_each_persons_number_links_to_what_changed_in_their_line_version_by_version(kiroku, web, staff, filed):
    a, _ = filed
    fixed = company(kiroku, CORP_A).correct(a.submission_id, payroll(
        [{**payroll_line(1, CHIYODA, payment_amount=5_300_000), "line_action": "CORRECT"}]))
    kiroku.processors.catch_up()
    staff_id = sign_in(web, staff, f"agency:{CHIYODA_ID}")
    snapshot = web.get(f"/web/agency/submissions/{fixed.submission_id}")
    link = f"/web/agency/submissions/{fixed.submission_id}/person/E0001"
    assert f'href="{link}"' in snapshot.text and "/person/E0002" not in snapshot.text
    page = web.get(link)
    assert page.status_code == 200
    assert "版 1" in page.text and "版 2" in page.text and "CORRECT" in page.text and "最初の版" in page.text
    assert "payment_amount" in page.text and "5000001" in page.text and "5300000" in page.text
    assert "income_after_deduction" not in page.text  # unchanged fields are not listed
    english = web.get(link + "?lang=en")
    assert "Changes to person E0001" in english.text and "corrected" in english.text
    theirs = web.get(f"/web/agency/submissions/{fixed.submission_id}/person/E0002?lang=ja")  # 札幌市's resident
    assert theirs.status_code == 200 and "札幌" not in theirs.text and "5000002" not in theirs.text
    assert theirs.text.count("この版にはありません") == 2
    reads = [r for r in reads_by(kiroku, CORP_A, f"agency:{CHIYODA_ID}") if r.action == "person_history"]
    assert reads and {r.person for r in reads} == {staff_id}
    assert web.get(f"/web/agency/submissions/{fixed.submission_id}/person/{'E' * 41}").status_code == 422


def test_another_agencys_filing_has_no_person_page(web, staff, filed):
    _, b = filed
    sign_in(web, staff, f"agency:{CHIYODA_ID}")
    assert web.get(f"/web/agency/submissions/{b.submission_id}/person/E0001").status_code == 404


# -- exports ----------------------------------------------------------------------------------------

def test_the_snapshot_downloads_as_xlsx_and_csv_of_the_agencys_lines_each_one_read_with_the_person(kiroku, web, staff, filed):
    a, _ = filed
    staff_id = sign_in(web, staff, f"agency:{CHIYODA_ID}")
    snapshot = web.get(f"/web/agency/submissions/{a.submission_id}")
    for query in ("format=xlsx", "format=csv", "format=csv&amp;encoding=cp932"):
        assert f"/web/agency/submissions/{a.submission_id}/export?{query}" in snapshot.text
    before = len([r for r in reads_by(kiroku, CORP_A, f"agency:{CHIYODA_ID}") if r.action == "snapshot"])
    xlsx = web.get(f"/web/agency/submissions/{a.submission_id}/export", params={"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert xlsx.headers["content-disposition"].startswith("attachment; filename=")
    cells = [str(c.value) for row in openpyxl.load_workbook(io.BytesIO(xlsx.content)).worksheets[0].iter_rows() for c in row]
    assert "E0001" in cells and "E0002" not in cells
    csv_cp932 = web.get(f"/web/agency/submissions/{a.submission_id}/export", params={"format": "csv", "encoding": "cp932"})
    text = csv_cp932.content.decode("cp932")
    assert "E0001" in text and "E0002" not in text and "札幌" not in text and "受給者番号" in text
    assert csv_cp932.headers["content-disposition"].startswith("attachment")
    utf8 = web.get(f"/web/agency/submissions/{a.submission_id}/export", params={"format": "csv"})
    assert utf8.content.startswith(b"\xef\xbb\xbf")
    snapshots = [r for r in reads_by(kiroku, CORP_A, f"agency:{CHIYODA_ID}") if r.action == "snapshot"]
    assert len(snapshots) == before + 3 and {r.person for r in snapshots[before:]} == {staff_id}  # one read each


def test_an_export_in_an_unknown_format_reads_nothing_and_anothers_filing_is_not_found(kiroku, web, staff, filed):
    a, b = filed
    sign_in(web, staff, f"agency:{CHIYODA_ID}")
    before = len(reads_by(kiroku, CORP_A, f"agency:{CHIYODA_ID}"))
    assert web.get(f"/web/agency/submissions/{a.submission_id}/export", params={"format": "pdf"}).status_code == 422
    assert web.get(f"/web/agency/submissions/{a.submission_id}/export", params={"format": "csv", "encoding": "latin-1"}).status_code == 422
    assert len(reads_by(kiroku, CORP_A, f"agency:{CHIYODA_ID}")) == before
    assert web.get(f"/web/agency/submissions/{b.submission_id}/export", params={"format": "csv"}).status_code == 404


# -- dispositions -----------------------------------------------------------------------------------

def test_the_issue_page_documents_the_columns_and_one_company_is_issued_from_the_form(kiroku, web, staff):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    sign_in(web, staff, f"agency:{CHIYODA_ID}")
    page = web.get("/web/agency/dispositions/new")
    assert page.status_code == 200
    for header in ("法人番号", "受給者番号", "氏名", "年税額", "6月分", "7月以降の月額", "employee_number", "monthly_amount"):
        assert header in page.text
    form = {"csrf": csrf_of(page.text, "/web/agency/dispositions/one"), "company": CORP_A, "period": "2027",
            "lines": "E0001,山田 太郎,240000,21100,19900\nE0002,鈴木 花子,120000,11100,9900\n"}
    assert web.post("/web/agency/dispositions/one", data={**form, "csrf": "0" * 64}, headers={"Origin": SITE}).status_code == 403
    done = web.post("/web/agency/dispositions/one", data=form, headers={"Origin": SITE})
    assert done.status_code == 200 and "1 社に発出しました" in done.text
    kiroku.processors.catch_up()
    [issued] = company_view(kiroku, CORP_A).dispositions()
    assert (issued.kind, issued.period, issued.agency_id) == ("SPECIAL_COLLECTION_NOTICE", "2027", CHIYODA_ID)
    assert issued.disposition_id in done.text
    opened = company_view(kiroku, CORP_A).open_disposition(issued.disposition_id)
    assert [(ln["employee_number"], ln["june_amount"]) for ln in opened.payload["lines"]] == [("E0001", 21_100), ("E0002", 11_100)]
    assert opened.payload["municipality_code"] == CHIYODA


def test_the_form_places_a_broken_rule_by_row_and_column_and_issues_nothing(kiroku, web, staff):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    sign_in(web, staff, f"agency:{CHIYODA_ID}")
    page = web.get("/web/agency/dispositions/new")
    form = {"csrf": csrf_of(page.text, "/web/agency/dispositions/one"), "company": CORP_A, "period": "2027",
            "lines": "受給者番号,氏名,年税額,6月分,7月以降の月額\nE0001,秘密 太郎,240000,21100,19950\n"}
    done = web.post("/web/agency/dispositions/one", data=form, headers={"Origin": SITE})
    assert done.status_code == 200 and "発出した通知はありません" in done.text
    row = re.search(r"<tr><td>2</td><td>7月以降の月額</td><td>" + CORP_A + r"</td><td[^>]*>100円単位", done.text)
    assert row is not None, done.text
    assert "秘密" not in done.text
    kiroku.processors.catch_up()
    assert company_view(kiroku, CORP_A).dispositions() == []


def test_a_file_of_many_companies_issues_each_good_company_and_places_the_bad_ones_errors(kiroku, web, staff):
    other = corp_number(7)
    for corp in (CORP_A, CORP_B, other):
        enroll_payroll(kiroku, corp, CHIYODA)
    staff_id = sign_in(web, staff, f"agency:{CHIYODA_ID}")
    page = web.get("/web/agency/dispositions/new")
    rows = [f"{CORP_A},E0001,山田 太郎,240000,21100,19900", f"{CORP_B},E0001,秘密 花子,240000,21100,19950",
            f"{CORP_A},E0002,鈴木 一郎,120000,11100,9900", f"{other},E0009,田中 三郎,12000,1000,1000",
            "7000012050003,E0001,誰 か,1000,100,100"]
    data = (HEADER + "\r\n".join(rows) + "\r\n").encode("cp932")
    done = web.post("/web/agency/dispositions/bulk", data={"csrf": csrf_of(page.text, "/web/agency/dispositions/bulk"), "period": "2027"},
                    files={"file": ("notices.csv", data, "text/csv")}, headers={"Origin": SITE})
    assert done.status_code == 200 and done.headers["content-type"].startswith("text/html")
    assert "content-security-policy" in done.headers and "content-length" not in done.headers  # streamed as it goes
    text = done.text
    assert text.count("<li>") >= 2 and "進捗" in text and text.rstrip().endswith("</html>")
    assert f"{CORP_A}: 2 人分を発出しました" in text and f"{other}: 1 人分を発出しました" in text
    assert f"{CORP_B}: 誤りがあるため発出しませんでした" in text
    assert re.search(r"<tr><td>3</td><td>7月以降の月額</td><td>" + CORP_B, text)  # the file's row 3 (the header is row 1)
    assert re.search(r"<tr><td>6</td><td>法人番号</td>", text)  # a check digit off
    assert "秘密" not in text and "誰 か" not in text
    kiroku.processors.catch_up()
    assert len(company_view(kiroku, CORP_A).dispositions()) == 1 and len(company_view(kiroku, other).dispositions()) == 1
    assert company_view(kiroku, CORP_B).dispositions() == []
    assert staff_id
    again = web.get("/web/agency/dispositions/bulk?lang=en", follow_redirects=False)  # the result page's language link
    assert (again.status_code, again.headers["location"]) == (303, "/web/agency/dispositions/new?lang=en")


def test_a_company_unknown_to_the_agency_is_refused_in_its_row_and_the_file_is_bounded(kiroku, web, staff, monkeypatch):
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    enroll_payroll(kiroku, CORP_B, SAPPORO)  # 札幌市's, not 千代田区's
    staff_id = sign_in(web, staff, f"agency:{CHIYODA_ID}")
    page = web.get("/web/agency/dispositions/new")
    token = csrf_of(page.text, "/web/agency/dispositions/bulk")
    data = (HEADER + f"{CORP_B},E0001,山田 太郎,240000,21100,19900\r\n").encode()
    done = web.post("/web/agency/dispositions/bulk", data={"csrf": token, "period": "2027"},
                    files={"file": ("n.csv", data, "text/csv")}, headers={"Origin": SITE})
    assert re.search(r"<tr><td>2</td><td>法人番号</td><td>" + CORP_B + r"</td><td[^>]*>この会社から", done.text), done.text
    refused = [r for r in reads_by(kiroku, CORP_B, f"agency:{CHIYODA_ID}") if r.action == "issue"]
    assert refused and refused[0].outcome == "DENIED" and refused[0].person == staff_id  # issued while the page streamed
    monkeypatch.setattr(agency_pages, "MAX_UPLOAD", 64)
    big = web.post("/web/agency/dispositions/bulk", data={"csrf": token, "period": "2027"},
                   files={"file": ("n.csv", data * 2, "text/csv")}, headers={"Origin": SITE})
    assert "ファイルが大きすぎます" in big.text and "発出した通知はありません" in big.text
    monkeypatch.setattr(agency_pages, "MAX_UPLOAD", 2**20)
    monkeypatch.setattr(agency_issue, "MAX_ROWS", 1)
    many = (HEADER + f"{CORP_A},E0001,山田 太郎,240000,21100,19900\r\n" * 3).encode()
    rows = web.post("/web/agency/dispositions/bulk", data={"csrf": token, "period": "2027"},
                    files={"file": ("n.csv", many, "text/csv")}, headers={"Origin": SITE})
    assert "行が多すぎます" in rows.text
    bad_header = web.post("/web/agency/dispositions/bulk", data={"csrf": token, "period": "2027"},
                          files={"file": ("n.csv", b"a,b\r\n1,2\r\n", "text/csv")}, headers={"Origin": SITE})
    assert "見出し" in bad_header.text
    year = web.post("/web/agency/dispositions/bulk", data={"csrf": token, "period": "令和9"},
                    files={"file": ("n.csv", data, "text/csv")}, headers={"Origin": SITE})
    assert "年度は4桁" in year.text
    kiroku.processors.catch_up()
    assert company_view(kiroku, CORP_A).dispositions() == [] and company_view(kiroku, CORP_B).dispositions() == []


def test_a_file_neither_utf8_nor_cp932_is_refused_naming_its_line(kiroku, web, staff):
    sign_in(web, staff, f"agency:{CHIYODA_ID}")
    page = web.get("/web/agency/dispositions/new")
    data = HEADER.encode() + f"{CORP_A},E0001,".encode() + b"\xff\xfe\xfa" + b",1,1,1\r\n"
    done = web.post("/web/agency/dispositions/bulk", data={"csrf": csrf_of(page.text, "/web/agency/dispositions/bulk"),
                                                           "period": "2027"},
                    files={"file": ("n.csv", data, "text/csv")}, headers={"Origin": SITE})
    assert re.search(r"<tr><td>2</td><td>-</td><td>-</td><td[^>]*>文字コード", done.text), done.text


# -- progress ---------------------------------------------------------------------------------------

def test_the_progress_page_counts_filed_late_and_missing_per_day_as_a_chart_and_a_table(kiroku, web, staff, clock):
    late, never = corp_number(1), corp_number(2)
    clock.set(jst(2027, 1, 4, 9, 0))
    for corp in (CORP_A, late, never):
        enroll_payroll(kiroku, corp, CHIYODA)
    enroll_payroll(kiroku, CORP_B, SAPPORO)
    clock.set(jst(2027, 1, 12, 10, 0))
    first = company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    company(kiroku, CORP_B).record(CORP_B, "PAYROLL_REPORT", "2026", payroll(lines=[payroll_line(1, SAPPORO)]))
    clock.set(jst(2027, 1, 20, 10, 0))
    company(kiroku, CORP_A).correct(first.submission_id, payroll(
        [{**payroll_line(1, CHIYODA, payment_amount=5_300_000), "line_action": "CORRECT"}]))
    clock.set(jst(2027, 2, 2, 0, 30))
    kiroku.commands.report_missing()
    clock.set(jst(2027, 2, 4, 11, 0))
    company(kiroku, late).record(late, "PAYROLL_REPORT", "2026", payroll())
    kiroku.commands.report_missing()
    kiroku.processors.catch_up()
    clock.set(jst(2027, 2, 5, 9, 0))
    staff_id = sign_in(web, staff, f"agency:{CHIYODA_ID}")
    page = web.get("/web/agency/progress", params={"procedure": "PAYROLL_REPORT", "period": "2026"})
    assert page.status_code == 200 and "<script" not in page.text
    svg = re.search(r"<svg role=\"img\" aria-labelledby=\"chart-title chart-desc\".*?</svg>", page.text, re.S)
    assert svg is not None and "<title id=\"chart-title\">" in svg.group(0) and "<desc id=\"chart-desc\">" in svg.group(0)
    assert "期限内の提出 1 社、期限後 1 社、未提出 1 社（3 社中）" in svg.group(0)
    cells = dict(re.findall(r'<tr><th scope="row">([^<]+)</th>(<td>.*?)</tr>', page.text))
    numbers = {day: re.findall(r"<td>(\d+)</td>", row) for day, row in cells.items()}
    assert numbers["2027-01-12"] == ["1", "0", "1", "2"]  # on time, late, filed so far, not filed
    assert numbers["2027-01-20"] == ["0", "0", "1", "2"]  # a correction is no new filing
    assert numbers["2027-02-04"] == ["0", "1", "2", "1"]
    assert numbers["2027-01-01"] == ["0", "0", "0", "3"] and "2027-02-05" in numbers and "2027-02-06" not in numbers
    assert CORP_B not in page.text
    reads = reads_by(kiroku, CORP_A, f"agency:{CHIYODA_ID}")
    assert {"query", "history"} <= {r.action for r in reads} and all(r.person == staff_id for r in reads)
    web.cookies.clear()
    sign_in(web, staff, f"agency:{SAPPORO_ID}")
    theirs = web.get("/web/agency/progress", params={"procedure": "PAYROLL_REPORT", "period": "2026"})
    assert "期限内の提出 1 社、期限後 0 社、未提出 0 社（1 社中）" in theirs.text


def test_the_progress_page_refuses_what_is_no_procedure_or_period(web, staff):
    sign_in(web, staff, f"agency:{CHIYODA_ID}")
    assert web.get("/web/agency/progress", params={"procedure": "NOPE"}).status_code == 422
    assert web.get("/web/agency/progress", params={"period": "20266"}).status_code == 422
    assert web.get("/web/agency/progress").status_code == 200  # the period of the coming deadline


def test_the_new_pages_are_the_agencys_only(web, staff):
    sign_in(web, staff, f"company:{CORP_A}", "経理 一郎")
    for path in ("/web/agency/filings", "/web/agency/progress", "/web/agency/dispositions/new"):
        assert web.get(path).status_code == 404, path


def test_before_the_deadline_the_enrolled_companies_that_have_not_filed_count_as_not_filed(kiroku, web, staff, clock):
    """Expected companies come from the enrollments the agency accepted (AgencyView.expected_filers), so the chart
    shows who is still to file before any missing-filing report exists."""
    clock.set(jst(2027, 1, 4, 9, 0))
    for corp in (CORP_A, corp_number(1), corp_number(2)):
        enroll_payroll(kiroku, corp, CHIYODA)
    clock.set(jst(2027, 1, 12, 10, 0))
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    kiroku.processors.catch_up()
    clock.set(jst(2027, 1, 20, 9, 0))
    sign_in(web, staff, f"agency:{CHIYODA_ID}")
    page = web.get("/web/agency/progress", params={"procedure": "PAYROLL_REPORT", "period": "2026"})
    assert "期限内の提出 1 社、期限後 0 社、未提出 2 社（3 社中）" in page.text
