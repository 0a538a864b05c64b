"""The agency's pages: the notice inbox, a filing as the agency may see it (as of any time, with each
person's line through its corrections, and as a file to download), a search of its filings, the
missing list, the filing progress through the deadline, and issuing dispositions (処分通知) one by one
or from a file of many companies'.

Every page calls :class:`viewers.AgencyView` inside :meth:`Site.as_person`: what the agency may see,
and the record of every read in the company's access log (with the person), are the service's.
"""

from __future__ import annotations

import csv
import io
import logging
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from ledger.domain import calendar
from ledger.domain.identifiers import validate_corporate_number
from ledger.domain.model import JST, Disposition, PrincipalKind, SubmissionInfo, jst
from ledger.domain.procedures import FILING_CODES, PROCEDURES
from ledger.encoding.csv_cells import flat_line
from ledger.encoding.text_files import text_lines
from ledger.errors import KirokuError, NotFound, ValidationError, ValidationErrors
from ledger.service.staff import StaffSession
from viewers import exports
from viewers.agency import AgencyView
from viewers.web import i18n
from viewers.web.i18n import procedure_name, translate
from viewers.web.site import PAGE, SCAN, Link, Site, as_of_time, bounded, table

log = logging.getLogger("kiroku.web")

#: The most filings one query of the service answers (``Queries.filings``' ``limit``): a search that
#: reaches it is asked to be narrowed, and the progress page says its counts are incomplete.
FILINGS_LIMIT = 1000
#: Filings per page of the search.
FILINGS_PAGE = PAGE
#: A file of 特別徴収税額決定通知 rows: at most this many bytes, rows and companies.
MAX_UPLOAD = 2 * 2**20
MAX_ROWS = 10_000
MAX_COMPANIES = 1_000
#: The one-company form's lines: at most this many characters and rows.
MAX_TEXT = 64 * 1024
MAX_TEXT_ROWS = 500
#: Error rows shown (the rest are counted).
MAX_ERRORS_SHOWN = 200
#: Days drawn after the deadline on the progress chart (late filings and the missing).
DAYS_AFTER = 14
#: Days drawn before the deadline.
DAYS_BEFORE = 31

DISPOSITION_KIND = "SPECIAL_COLLECTION_NOTICE"

#: The columns of a file of 特別徴収税額決定通知 rows: (key, Japanese header, English header, what it holds).
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("corporate_number", "法人番号", "corporate_number"),
    ("employee_number", "受給者番号", "employee_number"),
    ("name", "氏名", "name"),
    ("annual_tax", "年税額", "annual_tax"),
    ("june_amount", "6月分", "june_amount"),
    ("monthly_amount", "7月以降の月額", "monthly_amount"),
)
_AMOUNTS = ("annual_tax", "june_amount", "monthly_amount")
#: A payload field (``lines[n].<field>``) → the file's column.
_FIELD_COLUMN = {"employee_number": "employee_number", "person": "name", "annual_tax": "annual_tax",
                 "june_amount": "june_amount", "monthly_amount": "monthly_amount", "monthly_amounts": "monthly_amount"}
_HEADER_NAMES = {name.casefold(): key for key, ja, en in COLUMNS for name in (ja, en, key)}

MESSAGES: dict[str, tuple[str, str]] = {
    "ag_nav_progress": ("提出の進捗", "Filing progress"),
    "ag_nav_issue": ("処分通知の発出", "Issue dispositions"),
    # search of filings
    "ag_filings_title": ("提出データの検索", "Search filings"),
    "ag_filings_intro": ("指定した時点で効力のある版を、提出ごとに1行で表示します。"
                         "条件を入れずに検索すると、閲覧できるすべての提出を表示します。",
                         "One row per filing, the version in force at the time given. Searching with no condition lists every "
                         "filing you may see."),
    "ag_period_from": ("対象期間（から）", "Period from"),
    "ag_period_to": ("対象期間（まで）", "Period to"),
    "ag_period_help": ("年（例: 2026）または年月（例: 2026-04）。", "A year (e.g. 2026) or a month (e.g. 2026-04)."),
    "ag_company_help": ("13桁の法人番号。", "The 13-digit corporate number."),
    "ag_search": ("検索", "Search"),
    "ag_found": ("{n} 件（{first}〜{last} 件目を表示）", "{n} filings (showing {first} to {last})"),
    "ag_found_none": ("条件に合う提出はありません。", "No filing matches."),
    "ag_refine": ("該当が {n} 件以上あります。上位 {n} 件のみ対象です。法人番号・手続・期間で絞り込んでください。",
                  "{n} or more filings match; only the first {n} are listed. Narrow the search by company, procedure or period."),
    "ag_search_error": ("検索条件に誤りがあります: {field} — {expected}", "Please check the search: {field} — {expected}"),
    "ag_previous_page": ("前のページ", "Previous page"),
    "ag_open": ("開く", "Open"),
    # a person's line through the corrections
    "ag_person_title": ("受給者 {person} の変更履歴", "Changes to person {person}"),
    "ag_person_intro": ("この提出の訂正の各版で、この受給者の明細がどう変わったかを表示します（あなたの機関が閲覧できる範囲のみ）。",
                        "How this person's line changed in each version of the filing (as far as your agency may see it)."),
    "ag_line_action": ("明細の扱い", "Line"),
    "ag_action_ORIGINAL": ("この版では変更なし（提出時のまま、または前の版のまま）",
                           "not changed by this version (as filed, or carried over)"),
    "ag_action_ADD": ("追加", "added"),
    "ag_action_CORRECT": ("訂正", "corrected"),
    "ag_action_CANCEL": ("取消", "cancelled"),
    "ag_action_none": ("この版にはありません（または閲覧の対象外）", "not on this version (or not yours to see)"),
    "ag_changes": ("前の版からの変更", "Changed from the previous version"),
    "ag_no_changes": ("変更なし", "no change"),
    "ag_first_version": ("最初の版", "the first version"),
    "ag_field": ("項目", "Field"),
    "ag_old": ("変更前", "Before"),
    "ag_new": ("変更後", "After"),
    "ag_back_to_filing": ("提出データに戻る", "Back to the filing"),
    "ag_person_link": ("{person} の変更履歴", "changes to {person}"),
    # exports
    "ag_exports": ("ファイルに出力", "Download"),
    "ag_export_xlsx": ("Excel（xlsx）", "Excel (xlsx)"),
    "ag_export_csv": ("CSV（UTF-8）", "CSV (UTF-8)"),
    "ag_export_cp932": ("CSV（Shift_JIS）", "CSV (Shift_JIS)"),
    "ag_export_note": ("出力は閲覧として会社の閲覧記録に残ります。", "A download is a read, recorded in the company's access log."),
    # dispositions
    "ag_issue_title": ("処分通知の発出（特別徴収税額決定通知）", "Issue dispositions (special collection notices)"),
    "ag_issue_intro": ("特別徴収税額決定通知を、1社ずつ、またはファイルで多数の会社にまとめて発出します。"
                       "発出した通知は会社（と受領の委任を受けた事務所）に届きます。",
                       "Issue special collection notices to one company, or to many companies from a file. Each notice reaches "
                       "the company (and any firm it granted to receive them)."),
    "ag_issue_one": ("1社に発出する", "Issue to one company"),
    "ag_issue_bulk": ("ファイルから発出する（複数の会社）", "Issue from a file (many companies)"),
    "ag_year": ("年度", "Fiscal year"),
    "ag_year_help": ("特別徴収を行う年度（例: 2027 は 2027年6月〜2028年5月）。",
                     "The year of collection (e.g. 2027: June 2027 to May 2028)."),
    "ag_lines": ("明細（CSV）", "Lines (CSV)"),
    "ag_lines_help": ("1行に1人: 受給者番号,氏名,年税額,6月分,7月以降の月額（見出し行は省略できます）。最大 {rows} 行。",
                      "One person a row: employee_number,name,annual_tax,june_amount,monthly_amount (the header row may be "
                      "left out). At most {rows} rows."),
    "ag_file": ("ファイル（CSV、UTF-8 または Shift_JIS）", "File (CSV, UTF-8 or Shift_JIS)"),
    "ag_file_help": ("最大 {mb} MB、{rows} 行、{companies} 社。1行目は見出し行です。",
                     "At most {mb} MB, {rows} rows, {companies} companies. "
                     "The first row is the header."),
    "ag_issue_button": ("発出する", "Issue"),
    "ag_columns_title": ("ファイルの列", "The file's columns"),
    "ag_columns_intro": ("見出しは日本語・英語のどちらでも、列の順序は自由です。同じ法人番号の行が1通の通知になります。",
                         "Headers in Japanese or English, in any order. The rows of one corporate number make one notice."),
    "ag_column": ("列", "Column"),
    "ag_column_en": ("英語の見出し", "English header"),
    "ag_column_meaning": ("内容", "What it holds"),
    "ag_col_corporate_number": ("会社の13桁の法人番号", "The company's 13-digit corporate number"),
    "ag_col_employee_number": ("会社が付けた受給者番号（給与支払報告書のもの）", "The company's employee number (as on its salary report)"),
    "ag_col_name": ("受給者の氏名", "The person's name"),
    "ag_col_annual_tax": ("特別徴収税額（年額、円）", "The year's tax to collect, in yen"),
    "ag_col_june_amount": ("6月分の税額（円）。年税額から7月以降の月額の11か月分を引いた額（100円未満の端数を含む）",
                           "June's amount in yen: the year's tax less eleven monthly amounts (holds the part under 100 yen)"),
    "ag_col_monthly_amount": ("7月から翌年5月までの各月の税額（円、100円単位）",
                              "Each month's amount from July to May, in yen, in 100-yen units"),
    "ag_rules": ("地方税法第321条の5第1項により、7月以降の月額は100円単位、6月分は年税額 − 月額 × 11 です。",
                 "By 地方税法 art. 321-5(1), the monthly amount from July is in 100-yen units and June's is the year's tax less "
                 "eleven monthly amounts."),
    "ag_example": ("例（UTF-8 または Shift_JIS の CSV）", "An example (CSV in UTF-8 or Shift_JIS)"),
    "ag_result_title": ("処分通知の発出結果", "Dispositions issued"),
    "ag_progress": ("進捗", "Progress"),
    "ag_step_issued": ("{company}: {n} 人分を発出しました（{id}）", "{company}: issued for {n} persons ({id})"),
    "ag_step_refused": ("{company}: 誤りがあるため発出しませんでした", "{company}: not issued — see the errors"),
    "ag_step_stopped": ("予期しないエラーのため、ここで中断しました。発出済みの通知は下の表のとおりです。",
                        "An unexpected error stopped the issuing here. What was issued is listed below."),
    "ag_issued": ("発出した通知", "Issued"),
    "ag_issued_count": ("{n} 社に発出しました。", "Issued to {n} companies."),
    "ag_issued_none": ("発出した通知はありません。", "Nothing was issued."),
    "ag_errors": ("誤り", "Errors"),
    "ag_errors_count": ("{n} 件の誤りがあります。誤りのある会社の通知は発出していません。",
                        "{n} errors. The notices of companies with errors were not issued."),
    "ag_errors_more": ("ほか {n} 件", "and {n} more"),
    "ag_row": ("行", "Row"),
    "ag_problem": ("内容", "Problem"),
    "ag_persons": ("人数", "Persons"),
    "ag_disposition": ("通知", "Notice"),
    "ag_again": ("別の通知を発出する", "Issue more"),
    # the errors, by code (never the value: a row holds a name)
    "ag_err_required": ("入力がありません", "missing"),
    "ag_err_too_long": ("長すぎます", "too long"),
    "ag_err_invalid_amount": ("金額は0以上の整数（円）で入れてください", "an amount is a whole number of yen"),
    "ag_err_negative_amount": ("金額は0以上で入れてください", "an amount is not negative"),
    "ag_err_amount_too_large": ("金額が大きすぎます", "the amount is too large"),
    "ag_err_not_in_100_yen": ("100円単位で入れてください（端数は6月分）", "in 100-yen units (the remainder goes to June)"),
    "ag_err_inconsistent_amounts": ("金額が合いません", "the amounts do not add up"),
    "ag_err_check_digit": ("法人番号のチェックデジットが合いません", "the corporate number's check digit is wrong"),
    "ag_err_invalid_corporate_number": ("法人番号は13桁の数字です", "a corporate number is 13 digits"),
    "ag_err_not_found": ("この会社からあなたの機関への提出・登録がありません", "this company filed nothing to you and has no accepted "
                         "enrollment with you"),
    "ag_err_duplicate_line": ("同じ受給者番号が2回あります", "the same employee number twice"),
    "ag_err_columns": ("列の数が見出しと合いません", "the row's cells do not match the header"),
    "ag_err_header": ("見出し行に必要な列がありません（列の表を参照）", "the header lacks a column (see the table of columns)"),
    "ag_err_unknown_column": ("見出しに知らない列があります", "the header has a column not on the list"),
    "ag_err_too_many_rows": ("行が多すぎます", "too many rows"),
    "ag_err_too_many_companies": ("会社が多すぎます", "too many companies"),
    "ag_err_file_too_large": ("ファイルが大きすぎます", "the file is too large"),
    "ag_err_empty": ("明細がありません", "there are no rows"),
    "ag_err_encoding": ("文字コードを読めません（UTF-8 か Shift_JIS で保存してください）",
                        "the file cannot be read: save it as UTF-8 or Shift_JIS"),
    "ag_err_csv": ("CSV として読めません", "not readable as CSV"),
    "ag_err_invalid_period": ("年度は4桁の年です（例: 2027）", "the fiscal year is four digits (e.g. 2027)"),
    "ag_err_forbidden": ("この通知を発出する権限がありません", "you may not issue this notice"),
    "ag_err_other": ("値が正しくありません", "the value is not right"),
    "ag_expected": ("（正しくは: {expected}）", "(expected: {expected})"),
    # progress
    "ag_progress_title": ("提出の進捗: {procedure} {period}", "Filing progress: {procedure} {period}"),
    "ag_progress_intro": ("あなたの機関に提出が見込まれる会社の、日ごとの提出・期限後提出・未提出の数です。",
                          "For the companies expected to file to your agency: how many filed, filed late, and are missing, day by day."),
    "ag_progress_how": ("数え方", "How it is counted"),
    "ag_progress_how_expected": ("見込まれる会社: 期限までにあなたの機関が提出先の登録を受け付けた会社（個別に、または一括受付の方針で"
                                 "前に提出のあった会社）と、この手続・期間で提出した会社、未提出として検出された会社。",
                                 "Expected companies: those whose enrollment your agency accepted before the deadline (one by one, or "
                                 "by standing policy for companies that filed to it before), those that filed this procedure and "
                                 "period to it, and those reported to it as missing."),
    "ag_progress_how_filed": ("提出: 会社ごとに最初の版を記録した日（日本時間）。"
                              "事業所ごとの提出は、最初のものを数えます。訂正は数えません。",
                              "Filed: the day (Japan time) the company's first version was recorded; for filings per office, the "
                              "first of them. Corrections are not counted."),
    "ag_progress_how_late": ("期限後: 最初の版の記録が手続の期限（{deadline}）より後のもの。", "Late: the first version was recorded after "
                             "the procedure's deadline ({deadline})."),
    "ag_progress_how_missing": ("未提出: その日の終わりにまだ何も提出していない会社の数。"
                                "期限前は、後で期限後に提出した会社と未提出として検出された会社だけが分かります"
                                "（登録済みでまだ提出していない会社の一覧は、期限を過ぎて検出されるまで見えません）。",
                                "Not filed: the companies with nothing filed at the end of that day. Before the deadline only those that "
                                "later filed late or were reported missing are known (enrolled companies that have not filed yet are "
                                "not visible until they are reported missing after the deadline)."),
    "ag_progress_limit": ("提出が {n} 件以上あるため、最初の {n} 件だけを数えています。",
                          "{n} or more filings: only the first {n} are counted."),
    "ag_day": ("日付", "Day"),
    "ag_filed_on_time": ("期限内に提出", "Filed on time"),
    "ag_filed_late": ("期限後に提出", "Filed late"),
    "ag_filed_total": ("提出済み（累計）", "Filed (so far)"),
    "ag_not_filed": ("未提出（その日の終わり）", "Not filed (end of day)"),
    "ag_before": ("{day} より前", "before {day}"),
    "ag_after": ("{day} より後", "after {day}"),
    "ag_expected_companies": ("見込まれる会社", "Expected companies"),
    "ag_missing_now": ("未提出（現在）", "Missing now"),
    "ag_chart_title": ("{procedure} {period} の日ごとの提出", "Filings of {procedure} {period} per day"),
    "ag_chart_desc": ("{first} から {last} まで。期限内の提出 {on_time} 社、期限後 {late} 社、"
                      "未提出 {missing} 社（{n} 社中）。期限は {deadline}。"
                      "棒は日ごとの提出（下が期限内、上の斜線が期限後）、折れ線は未提出の数。数値は下の表にあります。",
                      "From {first} to {last}: {on_time} of {n} companies filed on time, {late} late, {missing} not filed. "
                      "Deadline {deadline}. Bars: filings per day (on time below, late hatched above); line: companies not "
                      "filed. The numbers are in the table below."),
    "ag_legend": ("凡例", "Legend"),
    "ag_table_title": ("日ごとの数", "Numbers per day"),
    "ag_no_deadline": ("この手続には期限がありません。", "This procedure has no deadline."),
    "ag_progress_choose": ("表示する", "Show"),
}
i18n.register(MESSAGES)


def add(web: FastAPI, site: Site) -> None:
    """Register the agency pages on ``web``."""
    @web.get("/agency/notices", response_class=HTMLResponse)
    def notices(request: Request, after: int = 0, procedure: str = "", period: str = "", company: str = "") -> Response:
        session = site.session_of(request)
        site.kind(session, PrincipalKind.AGENCY)
        filters = {"procedure": bounded(procedure, "procedure"), "period": bounded(period, "period"),
                   "company": bounded(company, "company")}
        view = AgencyView(site.kiroku, session.staff.who.name)
        with site.as_person(session):
            scanned = view.notices(max(0, after), SCAN if any(filters.values()) else PAGE)
        rows = [n for n in scanned if _matches(n, filters)][:PAGE]
        last_seen = session.staff.last_notice_seq
        if rows:
            site.staff.seen_notices(session.staff.staff_id, max(n.seq for n in rows))
        new_count = sum(1 for n in rows if n.seq > last_seen)
        full = len(scanned) == (SCAN if any(filters.values()) else PAGE)
        next_after = (rows[-1].seq if len(rows) == PAGE else scanned[-1].seq) if full and scanned else None
        next_query = urllib.parse.urlencode({**{k: v for k, v in filters.items() if v}, "after": next_after or 0})
        procs = [(code, procedure_name(site.lang_for(request), code)) for code in FILING_CODES]
        return site.render(request, "notices.html", "notices_title", session=session, here="/agency/notices", rows=rows,
                      last_seen=last_seen, new_count=new_count, filters=filters, procedures=procs, next_after=next_after,
                      next_query=next_query)

    @web.get("/agency/filings", response_class=HTMLResponse)
    def filings(request: Request, company: str = "", procedure: str = "", period_from: str = "", period_to: str = "",
                as_of: str = "", page: str = "0") -> Response:
        """Search: the agency's filings in force at ``as_of``, by company, procedure and period range."""
        session = site.session_of(request)
        site.kind(session, PrincipalKind.AGENCY)
        lang = site.lang_for(request)
        form = {"company": bounded(company, "company"), "procedure": bounded(procedure, "procedure"),
                "period_from": bounded(period_from, "period_from"), "period_to": bounded(period_to, "period_to"),
                "as_of": bounded(as_of, "as_of")}
        searched = any(k in request.query_params for k in form)
        # A page number that is no number is the first page (never the framework's JSON answer echoing it).
        number = max(0, min(int(page) if page.isascii() and page.isdigit() and len(page) < 6 else 0, FILINGS_LIMIT // FILINGS_PAGE))
        found: list[SubmissionInfo] = []
        error = None
        if searched:
            try:
                if form["procedure"] and form["procedure"] not in FILING_CODES:
                    raise ValidationError("procedure is one of the filing procedures", field="procedure",
                                          expected="a procedure of the list", code="invalid_filter")
                when = as_of_time(form["as_of"])
                with site.as_person(session):
                    found = AgencyView(site.kiroku, session.staff.who.name).filings(
                        form["company"] or None, form["procedure"] or None, form["period_from"] or None,
                        form["period_to"] or None, when)
            except ValidationError as err:
                error = translate(lang, "ag_search_error", field=_label(lang, err.field or "?"),
                                  expected=err.expected or translate(lang, "ag_err_other"))
        shown = found[number * FILINGS_PAGE:(number + 1) * FILINGS_PAGE]
        query = {k: v for k, v in form.items() if v}

        def page_href(n: int) -> str:
            return "/agency/filings?" + urllib.parse.urlencode({**query, "page": n})

        next_href = page_href(number + 1) if len(found) > (number + 1) * FILINGS_PAGE else None
        prev_href = page_href(number - 1) if number > 0 else None
        procs = [(code, procedure_name(lang, code)) for code in FILING_CODES]
        return site.render(request, "agency_filings.html", "ag_filings_title", session=session, here="/agency/filings",
                           form=form, procedures=procs, searched=searched, error=error, rows=shown, total=len(found),
                           first=number * FILINGS_PAGE + 1, last=number * FILINGS_PAGE + len(shown),
                           refine=len(found) >= FILINGS_LIMIT, limit=FILINGS_LIMIT, next_href=next_href, prev_href=prev_href)

    @web.get("/agency/submissions/{submission_id}", response_class=HTMLResponse)
    def submission(request: Request, submission_id: str, as_of: str = "") -> Response:
        session = site.session_of(request)
        site.kind(session, PrincipalKind.AGENCY)
        view = AgencyView(site.kiroku, session.staff.who.name)
        when = as_of_time(as_of)
        with site.as_person(session):
            snap = view.snapshot(submission_id)
            if when is not None:
                info = snap.info
                snap = view.effective(info.corporate_number, info.procedure, info.period, when, office=info.office)
            history = view.history(snap.info.submission_id)
        columns, rows = table(snap)
        key = PROCEDURES[snap.info.procedure].person_key
        if key is not None and key in columns:  # each person's 受給者番号 (…) links to the person's changes
            at = columns.index(key)
            sid = snap.info.submission_id
            for row in rows:
                if row[at] not in (None, ""):
                    row[at] = Link(f"/agency/submissions/{sid}/person/{urllib.parse.quote(str(row[at]), safe='')}", str(row[at]))
        return site.render(request, "snapshot.html", "snapshot_title", session=session,
                           title_values={"submission": snap.info.submission_id},
                      info=snap.info, columns=columns, rows=rows, history=history, as_of=as_of, person_key=key)

    @web.get("/agency/submissions/{submission_id}/person/{person:path}", response_class=HTMLResponse)
    def person_changes(request: Request, submission_id: str, person: str) -> Response:
        """One person's line through the filing's corrections, and what changed at each version."""
        session = site.session_of(request)
        site.kind(session, PrincipalKind.AGENCY)
        with site.as_person(session):
            versions = AgencyView(site.kiroku, session.staff.who.name).person_history(submission_id, person)
        procedure = versions[-1].info.procedure if versions else ""
        rules = PROCEDURES[procedure].line if procedure else ()
        rows: list[dict[str, Any]] = []
        before: dict[str, Any] | None = None
        for n, v in enumerate(versions):
            now = {k: val for k, val in flat_line(rules, v.line).items() if k != "line_action"} if v.line is not None else None
            rows.append({"info": v.info, "action": v.line_action, "first": n == 0, "changes": _changes(before, now)})
            before = now
        lang = site.lang_for(request)
        labels = {c.path: c.ja for c in exports.columns(procedure)} if procedure and lang == "ja" else {}
        return site.render(request, "agency_person.html", "ag_person_title", session=session, title_values={"person": person},
                           rows=rows, submission_id=submission_id, labels=labels)

    @web.get("/agency/submissions/{submission_id}/export")
    def export(request: Request, submission_id: str, format: str = "xlsx", encoding: str = "utf-8") -> Response:
        """The filing as the agency may see it, as an XLSX workbook or a CSV file (an attachment)."""
        session = site.session_of(request)
        site.kind(session, PrincipalKind.AGENCY)
        lang: exports.Lang = "en" if site.lang_for(request) == "en" else "ja"
        exports.check_options(format, lang, encoding)  # before anything is read
        with site.as_person(session):  # one read, recorded with the person: the file is built from what it returned
            snap = AgencyView(site.kiroku, session.staff.who.name).snapshot(submission_id)
        body = exports.export(snap, format, lang, encoding)
        media = exports.XLSX_MEDIA if format == "xlsx" else f"text/csv; charset={'shift_jis' if encoding == 'cp932' else 'utf-8'}"
        return Response(body, media_type=media, headers={"Content-Disposition": exports.content_disposition(snap, format, lang)})

    @web.get("/agency/missing", response_class=HTMLResponse)
    def missing(request: Request) -> Response:
        session = site.session_of(request)
        site.kind(session, PrincipalKind.AGENCY)
        with site.as_person(session):
            rows = AgencyView(site.kiroku, session.staff.who.name).missing_report()
        return site.render(request, "missing.html", "missing_title", session=session, here="/agency/missing", rows=rows)

    @web.get("/agency/progress", response_class=HTMLResponse)
    def progress(request: Request, procedure: str = "PAYROLL_REPORT", period: str = "") -> Response:
        """Filed, late and missing per day around the deadline, as a chart (inline SVG) and a table."""
        session = site.session_of(request)
        site.kind(session, PrincipalKind.AGENCY)
        lang = site.lang_for(request)
        procedure, period = bounded(procedure, "procedure"), bounded(period, "period")
        if procedure not in FILING_CODES:
            raise ValidationError("procedure is one of the filing procedures", field="procedure", code="invalid_filter")
        now = site.kiroku.queries.clock()
        period = period or _default_period(procedure, now)
        calendar.validate_period(procedure, period)
        view = AgencyView(site.kiroku, session.staff.who.name)
        with site.as_person(session):
            found = [i for i in view.filings(None, procedure, period[:7], period[:7]) if i.period == period and i.procedure == procedure]
            # A corrected filing's first version: its history's first (one more read, recorded too).
            firsts = [(i.corporate_number, i.recorded_at if i.version == 1 else view.history(i.submission_id)[0].recorded_at)
                      for i in found]
            reported = view.missing_report(procedure, period)
            enrolled = view.expected_filers(procedure, period)
        chart = _progress(procedure, period, firsts, {m.corporate_number for m in reported} | set(enrolled), now, lang)
        procs = [(code, procedure_name(lang, code)) for code in FILING_CODES]
        name = procedure_name(lang, procedure)
        return site.render(request, "agency_progress.html", "ag_progress_title", session=session, here="/agency/progress",
                           title_values={"procedure": name, "period": period}, chart=chart, procedures=procs,
                           procedure=procedure, period=period, incomplete=len(found) >= FILINGS_LIMIT, limit=FILINGS_LIMIT)

    # -- dispositions ---------------------------------------------------------------------------------

    @web.get("/agency/dispositions/new", response_class=HTMLResponse)
    def dispositions_new(request: Request) -> Response:
        session = site.session_of(request)
        site.kind(session, PrincipalKind.AGENCY)
        return _issue_page(request, session)

    @web.post("/agency/dispositions/one", response_class=HTMLResponse)
    def dispositions_one(request: Request, csrf: str = Form("", max_length=100), company: str = Form("", max_length=20),
                         period: str = Form("", max_length=10), lines: str = Form("", max_length=MAX_TEXT)) -> Response:
        """One company's notice from the form: its lines as a small CSV (no 法人番号 column)."""
        session = site.form_of(request, "disposition-one", csrf)
        site.kind(session, PrincipalKind.AGENCY)
        lang = site.lang_for(request)
        batch = Batch()
        period = _checked_period(period, batch)
        corp = company.strip()
        try:
            corp = validate_corporate_number(corp)
        except ValidationError as err:
            batch.errors.append(RowError(None, "corporate_number", err.code, None))
        rows = _text_rows(lines, batch)
        if not batch.errors:
            group = Group(corp)
            for number, cells in rows:
                _add_row(group, number, {**cells, "corporate_number": corp}, batch)
            if group.rows:
                _issue(site, session, group, period, batch)
            elif not batch.errors:
                batch.errors.append(RowError(None, None, "empty", None))
        return site.render(request, "agency_dispositions_result.html", "ag_result_title", session=session,
                           here="/agency/dispositions/new", stream_marker=None, **_report(batch, lang))

    @web.post("/agency/dispositions/bulk")
    def dispositions_bulk(request: Request, csrf: str = Form("", max_length=100), period: str = Form("", max_length=10),
                          file: UploadFile | None = File(None)) -> Response:
        """Many companies' notices from a file: checked, grouped by company, issued one company at a
        time while the page is sent (a progress line per company, then the results)."""
        session = site.form_of(request, "disposition-bulk", csrf)
        site.kind(session, PrincipalKind.AGENCY)
        lang = site.lang_for(request)
        batch = Batch()
        period = _checked_period(period, batch)
        raw = file.file.read(MAX_UPLOAD + 1) if file is not None else b""
        groups: list[Group] = []
        if len(raw) > MAX_UPLOAD:
            batch.errors.append(RowError(None, None, "file_too_large", f"{MAX_UPLOAD // 2**20} MB"))
        elif not batch.errors:
            groups = _file_groups(raw, batch)
        marker = "\x1fkiroku-progress\x1f"
        page = site.render(request, "agency_dispositions_result.html", "ag_result_title", session=session,
                           here="/agency/dispositions/new", stream_marker=marker)
        head, tail = bytes(page.body).decode("utf-8").split(marker, 1)
        t = _t(lang)
        step = site.env.get_template("agency_disposition_step.html")
        report = site.env.get_template("agency_disposition_report.html")
        root = request.scope.get("root_path", "")

        def body() -> Iterator[str]:
            yield head
            yield f'<h2>{t("ag_progress")}</h2>\n<ol class="steps">\n'
            for group in groups:
                try:
                    issued = _issue(site, session, group, period, batch) if not group.failed else None
                except Exception:  # the page is half sent: say so, and list what was issued
                    log.exception("issuing dispositions stopped")
                    yield step.render(t=t, stopped=True)
                    break
                yield step.render(t=t, group=group, issued=issued, stopped=False)
            yield "</ol>\n"
            yield report.render(t=t, jst=jst, root=root, **_report(batch, lang))
            yield tail

        headers = {k: v for k, v in page.headers.items() if k not in ("content-length", "content-type")}
        return StreamingResponse(body(), media_type="text/html; charset=utf-8", headers=headers)

    @web.get("/agency/dispositions/one")
    @web.get("/agency/dispositions/bulk")
    def dispositions_again(request: Request) -> Response:
        """The result pages' own address asked again (the language link, a reload): the form."""
        lang = request.query_params.get("lang")
        where = request.scope.get("root_path", "") + "/agency/dispositions/new" + (f"?lang={lang}" if lang in i18n.LANGS else "")
        return RedirectResponse(where, status_code=303)

    def _issue_page(request: Request, session: StaffSession) -> HTMLResponse:
        lang = site.lang_for(request)
        columns = [(ja, en, translate(lang, f"ag_col_{key}")) for key, ja, en in COLUMNS]
        return site.render(request, "agency_dispositions_new.html", "ag_issue_title", session=session,
                           here="/agency/dispositions/new", columns=columns, max_mb=MAX_UPLOAD // 2**20, max_rows=MAX_ROWS,
                           max_companies=MAX_COMPANIES, max_text_rows=MAX_TEXT_ROWS, max_text=MAX_TEXT)


def _matches(notice: Any, filters: dict[str, str]) -> bool:
    return ((not filters["procedure"] or notice.procedure == filters["procedure"])
            and (not filters["period"] or notice.period == filters["period"])
            and (not filters["company"] or notice.corporate_number == filters["company"]))


def _t(lang: str) -> Callable[..., str]:
    def t(key: str, **values: Any) -> str:
        return translate(lang, key, **values)
    return t


_LABELS = {"company": "company", "corporate_number": "company", "procedure": "procedure", "period_from": "ag_period_from",
           "period_to": "ag_period_to", "as_of": "as_of"}


def _label(lang: str, field_name: str) -> str:
    key = _LABELS.get(field_name)
    return translate(lang, key) if key else field_name


# -- a person's changes -----------------------------------------------------------------------------

def _changes(before: dict[str, Any] | None, now: dict[str, Any] | None) -> list[tuple[str, str, str]] | None:
    """(field, old, new) of every field that differs; None when the person is on neither version."""
    if before is None and now is None:
        return None
    keys = list(now or before or {})
    out = []
    for k in keys:
        old, new = _cell((before or {}).get(k)), _cell((now or {}).get(k))
        if old != new:
            out.append((k, old or "-", new or "-"))
    return out


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


# -- issuing dispositions ---------------------------------------------------------------------------

@dataclass
class RowError:
    """One problem: the file's row (1 is the header; None: the form or the whole group), the column
    key, the code, and what was expected (never the value — a row holds a name)."""

    row: int | None
    column: str | None
    code: str
    expected: str | None
    company: str | None = None


@dataclass
class Group:
    """One company's rows: one disposition."""

    corporate_number: str
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    failed: bool = False


@dataclass
class Batch:
    errors: list[RowError] = field(default_factory=list)
    issued: list[tuple[Disposition, int]] = field(default_factory=list)


def _checked_period(period: str, batch: Batch) -> str:
    period = period.strip()
    try:
        calendar.validate_period(DISPOSITION_KIND, period)
    except ValidationError:
        batch.errors.append(RowError(None, None, "invalid_period", "YYYY"))
    return period


def _text_rows(text: str, batch: Batch) -> list[tuple[int, dict[str, str]]]:
    """The one-company form's lines: employee_number,name,annual_tax,june_amount,monthly_amount, the header optional."""
    reader = list(csv.reader(io.StringIO(text.strip("\r\n"))))
    keys = [k for k, _, _ in COLUMNS if k != "corporate_number"]
    start = 1
    if reader and reader[0] and reader[0][0].strip().casefold() in _HEADER_NAMES:
        header = _header(reader[0], batch, required=keys)
        if header is None:
            return []
        keys, reader, start = header, reader[1:], 2
    if len(reader) > MAX_TEXT_ROWS:
        batch.errors.append(RowError(None, None, "too_many_rows", str(MAX_TEXT_ROWS)))
        return []
    out = []
    for number, cells in enumerate(reader, start=start):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(keys):
            batch.errors.append(RowError(number, None, "columns", str(len(keys))))
            continue
        out.append((number, dict(zip(keys, cells, strict=True))))
    return out


def _header(cells: list[str], batch: Batch, required: list[str]) -> list[str] | None:
    keys = [_HEADER_NAMES.get(c.strip().lstrip("\ufeff").casefold()) for c in cells]
    if any(k is None for k in keys):
        batch.errors.append(RowError(1, None, "unknown_column", ", ".join(ja for _, ja, _ in COLUMNS)))
        return None
    lacking = [k for k in required if k not in keys]
    if lacking or len(set(keys)) != len(keys):
        batch.errors.append(RowError(1, lacking[0] if lacking else None, "header", ", ".join(ja for _, ja, _ in COLUMNS)))
        return None
    return [k for k in keys if k is not None]


def _file_groups(raw: bytes, batch: Batch) -> list[Group]:
    """The file's rows checked and grouped by company (in the order they first appear)."""
    groups: dict[str, Group] = {}
    try:
        reader = csv.reader(text_lines(io.BytesIO(raw), where="the file"))
        header_cells = next(reader, None)
        if header_cells is None:
            batch.errors.append(RowError(None, None, "empty", None))
            return []
        keys = _header(header_cells, batch, required=[k for k, _, _ in COLUMNS])
        if keys is None:
            return []
        for cells in reader:
            number = reader.line_num
            if number - 1 > MAX_ROWS:
                batch.errors.append(RowError(number, None, "too_many_rows", str(MAX_ROWS)))
                return []
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(keys):
                batch.errors.append(RowError(number, None, "columns", str(len(keys))))
                continue
            row = dict(zip(keys, cells, strict=True))
            corp = row["corporate_number"].strip()
            try:
                corp = validate_corporate_number(corp)
            except ValidationError as err:
                batch.errors.append(RowError(number, "corporate_number", err.code, None))
                continue
            if corp not in groups:
                if len(groups) >= MAX_COMPANIES:
                    batch.errors.append(RowError(number, "corporate_number", "too_many_companies", str(MAX_COMPANIES)))
                    return []
                groups[corp] = Group(corp)
            _add_row(groups[corp], number, row, batch)
    except ValidationError as err:  # the decoder's: a line it cannot read (it names the line, never the bytes)
        batch.errors.append(RowError(_line_of(err), None, "encoding", "UTF-8, Shift_JIS (CP932)"))
        return []
    except csv.Error:
        batch.errors.append(RowError(None, None, "csv", None))
        return []
    if not groups and not batch.errors:
        batch.errors.append(RowError(None, None, "empty", None))
    return list(groups.values())


def _line_of(err: ValidationError) -> int | None:
    text = str(err.field or "") + " " + err.message
    digits = "".join(ch if ch.isdigit() else " " for ch in text.split("line", 1)[-1]).split()
    return int(digits[0]) if "line" in text and digits else None


def _add_row(group: Group, number: int, row: dict[str, str], batch: Batch) -> None:
    """Check one row's cells (the rest is the service's); a row in error fails its company's group."""
    ok = True
    line: dict[str, Any] = {}
    for key in ("employee_number", "name"):
        value = row[key].strip()
        if not value:
            batch.errors.append(RowError(number, key, "required", None, group.corporate_number))
            ok = False
        line[key] = value
    for key in _AMOUNTS:
        text = row[key].strip().replace(",", "").removesuffix("円")
        if not text:
            batch.errors.append(RowError(number, key, "required", None, group.corporate_number))
            ok = False
        elif not text.isascii() or not text.isdigit() or len(text) > 12:
            batch.errors.append(RowError(number, key, "invalid_amount", None, group.corporate_number))
            ok = False
        else:
            line[key] = int(text)
    if not ok:
        group.failed = True
        return
    group.rows.append((number, line))


def _issue(site: Site, session: StaffSession, group: Group, period: str, batch: Batch) -> Disposition | None:
    """Issue the group's disposition; its errors placed by row and column."""
    if group.failed or any(e.row is None and e.company is None for e in batch.errors):
        group.failed = True
        return None
    agency = session.staff.who.name
    payload = {"municipality_code": agency.split(":", 1)[1], "lines": [
        {"person": {"name": line["name"]}, "employee_number": line["employee_number"], "annual_tax": line["annual_tax"],
         "june_amount": line["june_amount"], "monthly_amount": line["monthly_amount"]} for _, line in group.rows]}
    try:
        with site.as_person(session):
            issued = AgencyView(site.kiroku, agency).issue_disposition(group.corporate_number, DISPOSITION_KIND, period, payload)
    except KirokuError as err:
        group.failed = True
        for one in (err.errors if isinstance(err, ValidationErrors) else [err]):
            batch.errors.append(_placed(one, group))
        return None
    batch.issued.append((issued, len(group.rows)))
    return issued


def _placed(err: KirokuError, group: Group) -> RowError:
    """A service error by the group's row and the file's column (``lines[3].june_amount`` → the row of line 3)."""
    where = err.field or ""
    if isinstance(err, NotFound):
        return RowError(group.rows[0][0] if group.rows else None, "corporate_number", "not_found", None, group.corporate_number)
    if where.startswith("lines[") and "]" in where:
        index, _, rest = where[len("lines["):].partition("]")
        column = _FIELD_COLUMN.get(rest.lstrip(".").split(".", 1)[0].split("[", 1)[0])
        row = group.rows[int(index) - 1][0] if index.isdigit() and 0 < int(index) <= len(group.rows) else None
        code = "duplicate_line" if err.code in ("duplicate_person", "duplicate_line") else err.code
        return RowError(row, column, code, err.expected if isinstance(err.expected, str) else None, group.corporate_number)
    if err.code in ("forbidden", "not_your_municipality"):
        return RowError(None, None, "forbidden", None, group.corporate_number)
    if where == "period":
        return RowError(None, None, "invalid_period", None, group.corporate_number)
    return RowError(group.rows[0][0] if group.rows else None, None, err.code, None, group.corporate_number)


#: Codes whose message says what is expected already.
_SAYS_EXPECTED = frozenset({"not_in_100_yen", "required", "invalid_amount"})


def _report(batch: Batch, lang: str) -> dict[str, Any]:
    """What the result table shows: each issued disposition, and each error by row and column."""
    names = {key: ja if lang == "ja" else en for key, ja, en in COLUMNS}
    errors = []
    for e in batch.errors[:MAX_ERRORS_SHOWN]:
        key = f"ag_err_{e.code}"
        text = translate(lang, key) if key in i18n.MESSAGES else translate(lang, "ag_err_other")
        if e.expected and e.code not in _SAYS_EXPECTED:
            text += " " + translate(lang, "ag_expected", expected=e.expected)
        errors.append({"row": e.row if e.row is not None else "-", "column": names.get(e.column or "", "-"),
                       "company": e.company or "-", "text": text})
    return {"issued": batch.issued, "errors": errors, "error_count": len(batch.errors),
            "more_errors": max(0, len(batch.errors) - MAX_ERRORS_SHOWN)}


# -- progress through the deadline ------------------------------------------------------------------

def _default_period(procedure: str, now: datetime) -> str:
    """The period whose deadline comes next — or, within the fortnight after a deadline, that one's."""
    passed = calendar.previous_deadlines(procedure, now)
    if passed and now - passed[-1][1] <= timedelta(days=DAYS_AFTER):
        return passed[-1][0]
    coming = calendar.next_deadline(procedure, now)
    if coming is not None:
        return coming[0]
    return passed[-1][0] if passed else str(now.astimezone(JST).year - 1)


@dataclass
class Day:
    label: str
    on_time: int
    late: int
    filed: int
    not_filed: int


def _progress(procedure: str, period: str, firsts: list[tuple[str, datetime]], reported: set[str], now: datetime,
              lang: str) -> dict[str, Any] | None:
    """Per day from ``DAYS_BEFORE`` days before the due date to ``DAYS_AFTER`` after it (or today):
    companies whose first filing was recorded that day (on time, late), how many had filed by its end
    and how many had not. None when the procedure has no deadline."""
    deadline = calendar.deadline(procedure, period)
    due = calendar.due_date(procedure, period)
    if deadline is None or due is None:
        return None
    first_of: dict[str, datetime] = {}
    for corp, at in firsts:
        if corp not in first_of or at < first_of[corp]:
            first_of[corp] = at
    expected = set(first_of) | reported
    start = due - timedelta(days=DAYS_BEFORE)
    today = now.astimezone(JST).date()
    end = max(start, min(due + timedelta(days=DAYS_AFTER), today))
    days: list[date] = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    by_day: dict[date, list[bool]] = {}
    for at in first_of.values():
        by_day.setdefault(at.astimezone(JST).date(), []).append(at <= deadline)

    def counts(marks: list[bool]) -> tuple[int, int]:
        return sum(marks), sum(1 for m in marks if not m)

    before = [m for d, ms in by_day.items() if d < start for m in ms]
    after = [m for d, ms in by_day.items() if d > end for m in ms]
    rows: list[Day] = []
    filed = 0
    if before:
        on, late = counts(before)
        filed += on + late
        rows.append(Day(translate(lang, "ag_before", day=start.isoformat()), on, late, filed, len(expected) - filed))
    daily = []
    for d in days:
        on, late = counts(by_day.get(d, []))
        filed += on + late
        day = Day(d.isoformat(), on, late, filed, len(expected) - filed)
        rows.append(day)
        daily.append((d, day))
    if after:
        on, late = counts(after)
        filed += on + late
        rows.append(Day(translate(lang, "ag_after", day=end.isoformat()), on, late, filed, len(expected) - filed))
    on_time = sum(1 for at in first_of.values() if at <= deadline)
    late = len(first_of) - on_time
    return {"rows": rows, "svg": _svg(daily, due, len(expected)), "expected": len(expected), "on_time": on_time, "late": late,
            "missing": len(expected) - len(first_of), "deadline": jst(deadline - timedelta(seconds=1)),
            "first": days[0].isoformat(), "last": days[-1].isoformat()}


def _svg(daily: list[tuple[date, Day]], due: date, expected: int) -> dict[str, Any]:
    """The chart's geometry (the template draws it): a bar per day, on time below and late above,
    and a line of the companies not filed at each day's end."""
    width, height, left, bottom, top = 640, 240, 36, 28, 12
    plot_w, plot_h = width - left - 8, height - bottom - top
    n = max(1, len(daily))
    step = plot_w / n
    peak = max([d.on_time + d.late for _, d in daily] + [expected, 1])
    scale = plot_h / peak

    def y(value: int) -> float:
        return round(top + plot_h - value * scale, 1)

    bars, points, ticks = [], [], []
    for i, (d, day) in enumerate(daily):
        x = round(left + i * step + step * 0.15, 1)
        w = round(step * 0.7, 1)
        if day.on_time:
            bars.append({"x": x, "y": y(day.on_time), "w": w, "h": round(day.on_time * scale, 1), "late": False})
        if day.late:
            bars.append({"x": x, "y": y(day.on_time + day.late), "w": w, "h": round(day.late * scale, 1), "late": True})
        points.append(f"{round(left + i * step + step / 2, 1)},{y(day.not_filed)}")
        if d.day in (1, 8, 15, 22) or d == due:
            ticks.append({"x": round(left + i * step + step / 2, 1), "label": f"{d.month}/{d.day}"})
    due_x = next((round(left + i * step + step, 1) for i, (d, _) in enumerate(daily) if d == due), None)
    grid = sorted({0, peak // 2, peak})
    return {"width": width, "height": height, "left": left, "top": top, "base": top + plot_h, "right": width - 8,
            "bars": bars, "points": " ".join(points), "ticks": ticks, "due_x": due_x,
            "grid": [{"y": y(g), "label": g} for g in grid]}
