"""The agency's pages: the notice inbox, a filing as the agency may see it (as of any time, with each
person's line through its corrections, and as a file to download), a search of its filings, the
missing list, the filing progress through the deadline, and issuing dispositions (処分通知) one by one
or from a file of many companies'.

Every page calls :class:`viewers.AgencyView` inside :meth:`Site.as_person`: what the agency may see,
and the record of every read in the company's access log (with the person), are the service's.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from ledger.domain import calendar
from ledger.domain.identifiers import validate_corporate_number
from ledger.domain.model import PrincipalKind, SubmissionInfo, jst
from ledger.domain.procedures import FILING_CODES, PROCEDURES
from ledger.encoding.csv_cells import flat_line
from ledger.errors import ValidationError
from ledger.service.staff import StaffSession
from viewers import exports
from viewers.agency import AgencyView
from viewers.web import agency_messages, i18n  # noqa: F401 (agency_messages registers the words)
from viewers.web.agency_issue import (
    COLUMNS,
    MAX_COMPANIES,
    MAX_ROWS,
    MAX_TEXT,
    MAX_TEXT_ROWS,
    Batch,
    Group,
    RowError,
    _add_row,
    _checked_period,
    _file_groups,
    _issue,
    _report,
    _text_rows,
)
from viewers.web.agency_progress import _default_period, _progress
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
