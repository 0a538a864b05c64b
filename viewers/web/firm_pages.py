"""The firm's and vendor's pages: clients and their grants, each client's filings the firm may read,
one inbox of dispositions across clients — and filing by upload, for a client (a firm or vendor) or
for itself (a company, whose route is in ``company_pages`` over the same machinery here).

Filing by upload (``/web/firm/upload``, ``/web/company/upload``): a multipart form with the file
(Kiroku's payroll CSV, the national 315 CSV, SHFD0006.CSV — the format named or detected from the
first line), the encoding (auto, UTF-8, CP932), and for SHFD0006 — which carries no 法人番号 — the
company's number (a firm picks one of the clients that granted it ``submit``; a company's is its
own). The file goes to :meth:`producers.Producer.import_file` as the signed-in principal, inside
:meth:`Site.as_person`: the ledger authorizes each filing (a client that granted no ``submit`` is
refused, and the refusal is placed on the file's rows), records the others, and reports reading
errors by row and column. The answer is streamed (``text/html``, chunked): the page's top at
once, a progress line every :data:`PROGRESS_EVERY` rows as the import reads, then what was recorded
and the problems. Without JavaScript a browser shows it as it arrives.

Bounds: the gate's body limit (``create_app(max_body=…)``) stops a larger request before it is read;
the page refuses a file over :data:`MAX_UPLOAD` bytes or an empty one itself (413 / 422, an HTML
page saying the limit); the form's other fields are bounded (``max_length``); the problems listed
are the importer's first ``MAX_ERRORS``. Nothing a file's cells hold is echoed but what the readers
report (they never name a person or a personal number).
"""

from __future__ import annotations

import logging
import queue
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from markupsafe import escape

from ledger.domain.model import Action, PrincipalKind, Receipt, jst
from ledger.encoding.file_formats import CHOICES as FORMAT_CHOICES
from ledger.encoding.file_formats import check_options
from ledger.errors import KirokuError, ValidationError
from ledger.service.staff import StaffSession
from producers import ImportResult, Producer
from viewers.firm import FirmView
from viewers.web import i18n
from viewers.web.i18n import procedure_name, translate
from viewers.web.site import PAGE, Link, Site, bounded

log = logging.getLogger("kiroku.web")

#: The largest file the upload page takes (bytes); the gate's body limit bounds the request first.
MAX_UPLOAD = 8 * 2**20
#: A progress line every this many rows read.
PROGRESS_EVERY = 500
#: What the form's encoding may be.
ENCODINGS = ("auto", "utf-8", "cp932")
#: Where the streamed answer's parts go (comments in firm_upload_run.html).
ROWS_MARK, RESULT_MARK = "<!--kiroku:rows-->", "<!--kiroku:result-->"

MESSAGES: dict[str, tuple[str, str]] = {
    "nav_upload": ("ファイルで提出", "File by upload"),
    "upload_title": ("ファイルで提出", "File by upload"),
    "upload_intro": ("給与計算ソフトなどが書き出したファイルをそのまま提出できます。1 つのファイルに複数の提出（法人・年分ごと）が"
                     "含まれていてもかまいません。誤りのある提出は記録されず、行と項目で示されます。",
                     "Upload the file your payroll software wrote. One file may hold several filings (one per company and "
                     "period); a filing with an error is not recorded, and the error is shown by row and column."),
    "upload_file": ("ファイル", "File"),
    "upload_file_help": ("CSV ファイル（{limit} まで）", "A CSV file (at most {limit})"),
    "upload_format": ("形式", "Format"),
    "format_auto": ("自動判別（1 行目から）", "Detect from the first line"),
    "format_payroll-csv": ("Kiroku の給与支払報告書 CSV", "Kiroku's payroll CSV"),
    "format_eltax-315": ("給与支払報告書・源泉徴収票 CSV（法定資料の種類 315、総税市第49号）",
                         "National 315 CSV (給与支払報告書, 源泉徴収票)"),
    "format_nenkin-shfd0006": ("日本年金機構 SHFD0006.CSV（算定基礎届など）", "Japan Pension Service SHFD0006.CSV"),
    "upload_encoding": ("文字コード", "Encoding"),
    "encoding_auto": ("自動判別", "Detect"),
    "encoding_utf-8": ("UTF-8", "UTF-8"),
    "encoding_cp932": ("Shift_JIS（CP932）", "Shift_JIS (CP932)"),
    "upload_corporate": ("法人番号（SHFD0006.CSV のみ）", "法人番号 (SHFD0006.CSV only)"),
    "upload_corporate_help": ("SHFD0006.CSV には法人番号がありません。提出する顧問先を選んでください（提出の委任がある顧問先のみ）。",
                              "SHFD0006.CSV carries no corporate number: choose the client it is for (clients that granted "
                              "you submit)."),
    "upload_corporate_none": ("選ばない（SHFD0006.CSV 以外）", "None (not SHFD0006.CSV)"),
    "upload_corporate_own": ("SHFD0006.CSV は自社（{corp}）の提出として記録されます。",
                             "A SHFD0006.CSV is recorded for your company ({corp})."),
    "upload_no_clients": ("提出の委任をしている顧問先はまだありません。", "No client has granted you submit yet."),
    "upload_send": ("提出する", "File it"),
    "upload_progress": ("進行状況", "Progress"),
    "upload_started": ("ファイルを受け取りました。読み込みを始めます。", "File received; reading it."),
    "upload_rows": ("{n} 行を読みました…", "{n} rows read…"),
    "upload_done": ("完了: {rows} 行を読み、{recorded} 件を記録しました（記録できなかった提出 {failed} 件）。",
                    "Done: {rows} rows read, {recorded} recorded ({failed} not recorded)."),
    "upload_format_read": ("読み込んだ形式: {format}", "Format read: {format}"),
    "upload_recorded": ("記録した提出", "Recorded"),
    "upload_recorded_none": ("記録した提出はありません。", "Nothing was recorded."),
    "upload_problems": ("問題", "Problems"),
    "upload_problems_none": ("問題はありませんでした。", "No problems."),
    "upload_problems_more": ("ほかに {n} 件の問題があります（先頭の分だけを表示しています）。",
                             "{n} more problems (only the first are shown)."),
    "upload_failed": ("ファイルを読めませんでした。ファイルを直して、もう一度提出してください。",
                      "The file could not be read: fix it and upload it again."),
    "upload_crashed": ("処理中にエラーが起きました。記録された分は提出データの一覧で確かめてください。",
                       "Something went wrong while filing: check the filings for what was recorded."),
    "upload_too_large": ("ファイルが大きすぎます（{limit} まで）。分けて提出してください。",
                         "The file is too large (at most {limit}): split it and upload the parts."),
    "upload_empty": ("ファイルが空です。", "The file is empty."),
    "upload_again": ("別のファイルを提出する", "Upload another file"),
    "row": ("行", "Row"),
    "column": ("項目", "Column"),
    "problem": ("問題", "Problem"),
    "expected": ("正しい形", "Expected"),
    "got": ("ファイルの値", "Got"),
    "client_filings_title": ("{company} の提出データ", "Filings of {company}"),
    "client_filings_intro": ("この顧問先から閲覧の委任を受けた手続の、効力のある提出です。",
                             "The filings in force of the procedures this client granted you read."),
    "client_filings_none": ("閲覧できる提出はありません（閲覧の委任がないか、まだ提出がありません）。",
                            "No filings you may read (no read grant, or nothing filed yet)."),
    "client_filings_link": ("{company} の提出データ", "Filings of {company}"),
    "filings": ("提出データ", "Filings"),
    # what a problem's code says, before the importer's own (English) words
    "problem_forbidden": ("この法人について提出する権限（提出の委任）がありません。",
                          "No right to file for this company (no submit grant)."),
    "problem_required": ("必要な値がありません。", "A value is missing."),
    "problem_invalid_amount": ("金額が正しくありません。", "The amount is not valid."),
    "problem_invalid_period": ("対象期間が正しくありません。", "The period is not valid."),
    "problem_invalid_date": ("日付が正しくありません。", "The date is not valid."),
    "problem_conflict": ("同じ提出が別の内容で記録されています。", "The same filing was recorded with other contents."),
}
i18n.register(MESSAGES)


def add(web: FastAPI, site: Site) -> None:
    """Register the firm pages on ``web``."""
    @web.get("/firm", response_class=HTMLResponse)
    def firm_clients(request: Request) -> Response:
        session = site.session_of(request)
        site.kind(session, PrincipalKind.FIRM, PrincipalKind.VENDOR)
        lang = site.lang_for(request)
        with site.as_person(session):
            grants = FirmView(site.kiroku, session.staff.who).grants()
        now = site.kiroku.queries.clock()
        columns = [translate(lang, k) for k in ("company", "procedure", "actions", "expires", "state", "filings")]
        rows = [[g.corporate_number, "、".join(procedure_name(lang, p) for p in g.procedures), ", ".join(g.actions), jst(g.expires_at),
                 translate(lang, "active" if g.active(now) else "revoked"),
                 _filings_link(lang, g.corporate_number) if g.active(now) and Action.READ in g.actions else "-"] for g in grants]
        return site.render(request, "list.html", "clients_title", session=session, here="/firm", columns=columns, rows=rows,
                      empty=translate(lang, "clients_none"))

    @web.get("/firm/filings", response_class=HTMLResponse)
    def firm_filings(request: Request, company: str = "") -> Response:
        """One client's filings in force that the firm may read (the ledger decides: a read grant)."""
        session = site.session_of(request)
        site.kind(session, PrincipalKind.FIRM, PrincipalKind.VENDOR)
        lang = site.lang_for(request)
        corp = bounded(company, "company")
        with site.as_person(session):
            # The client's filings only: the same query FirmView.filings makes for each client, for this one
            # (so the other clients' access logs do not record a read the firm did not make).
            items = site.kiroku.queries.filings(session.staff.who, corp)
        items.sort(key=lambda f: (f.procedure, f.period, f.office))
        columns = [translate(lang, k) for k in ("procedure", "period", "office", "version", "recorded_at", "deadline", "on_time",
                                                "submission")]
        rows = [[procedure_name(lang, f.procedure), f.period, f.office or "-", f.version, jst(f.recorded_at),
                 jst(f.deadline) if f.deadline else "-", _on_time(lang, f.on_time), f.submission_id] for f in items[:1000]]
        return site.render(request, "list.html", "client_filings_title", session=session, here="/firm", columns=columns, rows=rows,
                           title_values={"company": corp}, intro=translate(lang, "client_filings_intro"),
                           empty=translate(lang, "client_filings_none"))

    @web.get("/firm/inbox", response_class=HTMLResponse)
    def firm_inbox(request: Request, cursor: str = "") -> Response:
        session = site.session_of(request)
        site.kind(session, PrincipalKind.FIRM, PrincipalKind.VENDOR)
        with site.as_person(session):
            items, next_cursor = FirmView(site.kiroku, session.staff.who).inbox(bounded(cursor, "cursor") or None)
        # Each row links its disposition (/firm/dispositions/{id}, in company_pages): site.dispositions_page.
        return site.dispositions_page(request, session, items[:PAGE], "/firm/inbox",
                                  f"/firm/inbox?cursor={urllib.parse.quote(next_cursor)}" if items else None)

    @web.get("/firm/upload", response_class=HTMLResponse)
    def firm_upload_form(request: Request) -> Response:
        session = site.session_of(request)
        site.kind(session, PrincipalKind.FIRM, PrincipalKind.VENDOR)
        return upload_form(site, request, session, "/firm/upload")

    @web.post("/firm/upload")
    def firm_upload(request: Request, csrf: str = Form("", max_length=100), file: UploadFile = File(...),
                    format: str = Form("auto", max_length=20), encoding: str = Form("auto", max_length=10),  # noqa: A002
                    corporate_number: str = Form("", max_length=13)) -> Response:
        session = site.form_of(request, "upload", csrf)
        site.kind(session, PrincipalKind.FIRM, PrincipalKind.VENDOR)
        return run_upload(site, request, session, file, format, encoding, corporate_number.strip() or None, "/firm/upload")


def _filings_link(lang: str, corp: str) -> Link:
    return Link(f"/firm/filings?{urllib.parse.urlencode({'company': corp})}", translate(lang, "client_filings_link", company=corp))


def _on_time(lang: str, on_time: bool | None) -> str:
    return "-" if on_time is None else translate(lang, "on_time" if on_time else "late")


def _size(n: int) -> str:
    return f"{n // 2**20} MB" if n >= 2**20 else f"{n // 1024} KB"


# -- filing by upload (the firm's and vendor's, and the company's) ----------------------------------------

def submit_clients(site: Site, session: StaffSession) -> list[str]:
    """The clients that granted this firm or vendor ``submit`` now (the SHFD0006 form's choices)."""
    now = site.kiroku.queries.clock()
    with site.as_person(session):
        grants = FirmView(site.kiroku, session.staff.who).grants()
    return sorted({g.corporate_number for g in grants if g.active(now) and Action.SUBMIT in g.actions})


def upload_form(site: Site, request: Request, session: StaffSession, action: str) -> HTMLResponse:
    """The upload form: the file, its format and encoding, and whose SHFD0006.CSV it is."""
    lang = site.lang_for(request)
    own = session.staff.who.kind is PrincipalKind.COMPANY
    clients = [] if own else submit_clients(site, session)
    return site.render(request, "firm_upload.html", "upload_title", session=session, here=action, action=action,
                       formats=[(f, translate(lang, f"format_{f}")) for f in FORMAT_CHOICES],
                       encodings=[(e, translate(lang, f"encoding_{e}")) for e in ENCODINGS], clients=clients,
                       own=session.staff.who.name if own else None, limit=_size(MAX_UPLOAD))


def run_upload(site: Site, request: Request, session: StaffSession, file: UploadFile, fmt: str, encoding: str,
               corporate_number: str | None, action: str) -> Response:
    """Check the form, then stream the import's progress and result (see the module's docstring)."""
    lang = site.lang_for(request)
    fmt, encoding = fmt.strip().lower(), encoding.strip().lower()
    if fmt not in FORMAT_CHOICES:
        raise ValidationError("format is one of " + ", ".join(FORMAT_CHOICES), field="format", expected=", ".join(FORMAT_CHOICES),
                              got=f"{len(fmt)} characters", code="unknown_format")
    if encoding not in ENCODINGS:
        raise ValidationError("encoding is one of " + ", ".join(ENCODINGS), field="encoding", expected=", ".join(ENCODINGS),
                              got=f"{len(encoding)} characters", code="unknown_encoding")
    size = file.size if file.size is not None else _measure(file)
    if size > MAX_UPLOAD:
        return site.render(request, "message.html", "error_title", session=session, status=413, alert=True,
                           message=translate(lang, "upload_too_large", limit=_size(MAX_UPLOAD)))
    if size == 0:
        return site.render(request, "message.html", "error_title", session=session, status=422, alert=True,
                           message=translate(lang, "upload_empty"))
    if session.staff.who.kind is PrincipalKind.COMPANY:
        corporate_number = session.staff.who.name  # a company files its own SHFD0006.CSV
    corporate_number = check_options(fmt, corporate_number)  # SHFD0006 named without a number: 422 before a byte is read
    # The page's top, rendered as every page is, then cut where the streamed parts go.
    page = site.render(request, "firm_upload_run.html", "upload_title", session=session, here=action, action=action)
    html = bytes(page.body).decode("utf-8")
    head, _, rest = html.partition(ROWS_MARK)
    middle, _, tail = rest.partition(RESULT_MARK)
    headers = {k: v for k, v in page.headers.items() if k.lower() not in ("content-length", "content-type")}
    file.file.seek(0)

    def t(key: str, **values: Any) -> str:
        return translate(lang, key, **values)

    def stream() -> Iterator[str]:
        events: queue.Queue[tuple[str, Any]] = queue.Queue()  # unbounded: a client gone does not stop the import

        def on_row(n: int) -> None:
            if n % PROGRESS_EVERY == 0:
                events.put(("row", n))

        def work() -> None:
            try:
                with site.as_person(session):
                    result = Producer(site.kiroku, session.staff.who).import_file(
                        file.file, format=fmt, encoding=encoding, corporate_number=corporate_number, on_row=on_row)
                events.put(("done", result))
            except KirokuError as err:
                events.put(("failed", err))
            except Exception:  # the page says so; what happened is in the server's log
                log.exception("an upload failed")
                events.put(("crashed", None))

        yield head
        yield f"<li>{escape(t('upload_started'))}</li>\n"
        threading.Thread(target=work, name="kiroku-web-upload", daemon=True).start()
        while True:
            kind, value = events.get()
            if kind != "row":
                break
            yield f"<li>{escape(t('upload_rows', n=value))}</li>\n"
        if kind == "done":
            yield f"<li>{escape(t('upload_done', rows=value.rows, recorded=value.recorded, failed=value.failed))}</li>\n"
        yield middle
        try:
            yield _result_html(site, request, session, lang, kind, value)
        except Exception:  # the page still ends as a page
            log.exception("an upload's result could not be shown")
            yield f'<p role="alert" class="failure">{escape(t("upload_crashed"))}</p>'
        yield tail

    return StreamingResponse(stream(), media_type="text/html; charset=utf-8", headers=headers)


def _measure(file: UploadFile) -> int:
    file.file.seek(0, 2)
    size = file.file.tell()
    file.file.seek(0)
    return size


def _result_html(site: Site, request: Request, session: StaffSession, lang: str, kind: str, value: Any) -> str:
    """What the import did, as the part of the page after the progress lines."""
    company = session.staff.who.kind is PrincipalKind.COMPANY
    result: ImportResult | None = value if kind == "done" else None
    receipts: list[Receipt] = result.receipts if result else []
    problems = [_problem(e) for e in (result.errors if result else [])]
    for p in problems:
        key = f"problem_{p['code']}"
        p["said"] = translate(lang, key) if key in i18n.MESSAGES else None
    failure = None
    if kind == "failed":
        err: KirokuError = value
        failure = {"code": err.code, "field": getattr(err, "field", None) or "-", "message": str(err)}
    return site.env.get_template("firm_upload_result.html").render(
        t=lambda key, **v: translate(lang, key, **v), root=request.scope.get("root_path", ""), jst=jst,
        procedure_name=lambda code: procedure_name(lang, code), kind=kind, result=result, receipts=receipts, problems=problems,
        failure=failure, company=company, action="/company/upload" if company else "/firm/upload",
        format_read="、".join(translate(lang, f"format_{f}") if f in FORMAT_CHOICES else f
                             for f in (result.format.split(",") if result else [])))


def _problem(error: dict[str, Any]) -> dict[str, Any]:
    """One problem as the table shows it (the readers and the ledger's locator never put a name or a number in it)."""
    got = error.get("got")
    return {"file": error.get("file"), "row": error.get("row") or "-", "column": error.get("column") or error.get("field") or "-",
            "code": error.get("code") or "invalid", "message": error.get("message") or "", "said": None,
            "expected": error.get("expected") or "-", "got": "-" if got in (None, "") else got}


__all__ = ["ENCODINGS", "MAX_UPLOAD", "PROGRESS_EVERY", "run_upload", "submit_clients", "upload_form"]
