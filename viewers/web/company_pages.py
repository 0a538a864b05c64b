"""The company's pages: the filings by deadline (the dashboard), receipts (verified in the browser),
filing by upload, access log, dispositions, enrollments, grants.

The dashboard (``/web/company``) is computed only from what :class:`viewers.CompanyView` returns —
the enrollments, the filings in force, the reminders — and the filing calendar
(:mod:`ledger.domain.calendar`, the deadlines ``ledger.domain.procedures`` names). Its rules
(:func:`dashboard`), also said in a short note on the page:

- Procedures: those of every enrollment not withdrawn and not refused by every agency that decided
  on it (one waiting for a decision counts: the company means to file through Kiroku).
- Periods: for each such procedure, the previous filing period (the last whose deadline has
  passed) and the current one (the first whose deadline is ahead). A registered 賞与支払予定月 (a
  ``BONUS_PAYMENT`` enrollment's bonus months) is a period of its own (``BONUS_NON_PAYMENT``, as
  the reminders and the agencies' missing lists name it): its last passed month and its next one.
- One row per filing in force for the procedure and period (one per office), else one row.
- State: *filed on time* — a filing in force whose original was recorded before the deadline (a
  later correction does not make it late; a procedure without a deadline is on time); *filed
  late* — its original came after the deadline; *missing* — no filing in force and the deadline
  has passed (a cancelled filing is no filing); *due* — none yet and the deadline is ahead
  (marked *soon* when the reminders name it). A bonus month is answered by a 賞与支払届 of a bonus
  paid in that month or by a 賞与不支給報告書 for it.
- A period whose deadline passed before the company enrolled was not expected through Kiroku: it
  is shown only if something was filed for it.
- Counts per state at the top; every filed row links its receipt page. Filings in force that fall
  on no row (older periods, procedures not enrolled) are listed after the table.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledger.domain import calendar
from ledger.domain.model import Action, Enrollment, PrincipalKind, SubmissionInfo, jst
from ledger.domain.procedures import FILING_CODES, PROCEDURES
from ledger.errors import KirokuError, ValidationError
from ledger.service.staff import StaffSession
from viewers.company import CompanyView
from viewers.web import firm_pages, i18n
from viewers.web.i18n import procedure_name, translate
from viewers.web.site import PAGE, Site, end_of_day

#: The states of a dashboard row, in the order the counts are shown.
STATES = ("missing", "due", "late", "on_time")
BONUS_PAYMENT, BONUS_NON_PAYMENT = "BONUS_PAYMENT", "BONUS_NON_PAYMENT"
#: How far the reminders look ahead (CompanyView.reminders' default): a due row inside it is "soon".
SOON = timedelta(days=30)

MESSAGES: dict[str, tuple[str, str]] = {
    "state_on_time": ("期限内に提出", "Filed on time"),
    "state_late": ("期限後に提出", "Filed late"),
    "state_missing": ("未提出（期限経過）", "Missing (deadline passed)"),
    "state_due": ("提出待ち（期限前）", "Due (deadline ahead)"),
    "dashboard_counts": ("状態ごとの件数", "By state"),
    "dashboard_table": ("手続・期間ごとの提出状況", "Filings by procedure and period"),
    "dashboard_none": ("登録している手続はありません。提出先の登録をすると、期限ごとの状況がここに表示されます。",
                       "No enrolled procedure: once you enroll, each deadline's state is shown here."),
    "dashboard_soon": ("（30 日以内）", "(within 30 days)"),
    "dashboard_rules": ("この表の決まり", "How this table is made"),
    "dashboard_rule_1": ("提出先に登録している手続（取り下げたもの・すべての機関に断られたものを除く）ごとに、期限が過ぎた直近の期間と、"
                         "次に期限が来る期間を表示します。賞与支払予定月も 1 つの期間です。",
                         "For each procedure you are enrolled in (not withdrawn, not refused by every agency): the last period whose "
                         "deadline has passed and the next one whose deadline is ahead. A registered bonus month is a period too."),
    "dashboard_rule_2": ("期限内に提出: 最初の提出が期限前に記録された（後の訂正は問いません）。期限後に提出: 最初の提出が期限後。",
                         "Filed on time: the first filing was recorded before the deadline (later corrections do not count). "
                         "Filed late: the first filing came after it."),
    "dashboard_rule_3": ("未提出: 期限が過ぎ、効力のある提出がない（取り消した提出は数えません）。提出待ち: 期限前で、まだ提出がない。",
                         "Missing: the deadline has passed and no filing is in force (a cancelled one does not count). "
                         "Due: the deadline is ahead and nothing is filed yet."),
    "dashboard_rule_4": ("登録する前に期限が過ぎた期間は、提出があるときだけ表示します。賞与支払予定月は、その月に支払った賞与の"
                         "賞与支払届か、賞与不支給報告書で提出済みになります。",
                         "A period whose deadline passed before you enrolled is shown only if filed. A bonus month is answered by a "
                         "bonus payment report of a bonus paid in it, or a bonus non-payment report."),
    "dashboard_others": ("その他の提出（以前の期間など）", "Other filings (earlier periods and others)"),
    "bonus_month": ("賞与支払予定月", "bonus month"),
}
i18n.register(MESSAGES)


@dataclass(frozen=True)
class DueRow:
    """One row of the dashboard: a procedure's period (and office), its deadline, and its state."""

    procedure: str
    period: str
    deadline: datetime | None
    state: str  # one of STATES
    filing: SubmissionInfo | None = None
    soon: bool = False

    @property
    def office(self) -> str:
        return self.filing.office if self.filing is not None else ""


def _expected_by(e: Enrollment) -> bool:
    """Whether an enrollment counts: not withdrawn, and not refused by every agency that decided."""
    return e.withdrawn_at is None and not (e.decisions and all(d == "rejected" for d in e.decisions.values()))


def _answers(proc: str, period: str, f: SubmissionInfo) -> bool:
    """Whether filing ``f`` answers the row (``proc``, ``period``): a bonus month takes a 賞与支払届 paid in it."""
    if proc == BONUS_NON_PAYMENT:
        return (f.procedure == BONUS_NON_PAYMENT and f.period == period) or (f.procedure == BONUS_PAYMENT and f.period[:7] == period)
    return f.procedure == proc and f.period == period


def dashboard(enrollments: list[Enrollment], filings: list[SubmissionInfo], reminders: list[tuple[str, str, datetime]],
              now: datetime, original: Callable[[SubmissionInfo], SubmissionInfo]) -> tuple[list[DueRow], list[SubmissionInfo]]:
    """The dashboard's rows (by deadline, then procedure and office) and the filings on none of them,
    by the module's rules; ``original(f)`` is the first version of filing ``f`` (its correction chain's)."""
    since: dict[tuple[str, str], datetime] = {}  # (procedure, period) → when first enrolled for it
    deadlines: dict[tuple[str, str], datetime] = {}
    for e in (e for e in enrollments if _expected_by(e)):
        windows: list[tuple[str, list[tuple[str, datetime]], list[tuple[str, datetime]]]] = []
        if calendar.previous_deadlines(e.procedure, now) or calendar.next_deadline(e.procedure, now):
            nxt = calendar.next_deadline(e.procedure, now)
            windows.append((e.procedure, calendar.previous_deadlines(e.procedure, now)[-1:], [nxt] if nxt else []))
        if e.bonus_months:
            months = frozenset(e.bonus_months)
            year = timedelta(days=400)
            windows.append((BONUS_NON_PAYMENT, calendar.month_deadlines_between(BONUS_NON_PAYMENT, months, now - year, now)[-1:],
                            calendar.month_deadlines_between(BONUS_NON_PAYMENT, months, now, now + year)[:1]))
        for proc, passed, ahead in windows:
            for period, deadline in [*passed, *ahead]:
                key = (proc, period)
                deadlines[key] = deadline
                since[key] = min(since.get(key, e.requested_at), e.requested_at)
    soon = {(p, period) for p, period, _ in reminders}
    rows: list[DueRow] = []
    placed: set[str] = set()
    for (proc, period), deadline in deadlines.items():
        answering = [f for f in filings if _answers(proc, period, f)]
        for f in answering:
            placed.add(f.submission_id)
            first = original(f) if f.version > 1 and f.on_time is False else f
            rows.append(DueRow(proc, period, f.deadline or deadline, "late" if first.on_time is False else "on_time", f))
        if answering:
            continue
        if deadline > now:
            rows.append(DueRow(proc, period, deadline, "due", soon=(proc, period) in soon))
        elif deadline > since[(proc, period)]:
            rows.append(DueRow(proc, period, deadline, "missing"))
    rows.sort(key=lambda r: (r.deadline or now, FILING_CODES.index(r.procedure) if r.procedure in FILING_CODES else 99, r.office))
    others = sorted((f for f in filings if f.submission_id not in placed), key=lambda f: f.recorded_at, reverse=True)
    return rows, others


def add(web: FastAPI, site: Site) -> None:
    """Register the company pages on ``web``."""
    @web.get("/company", response_class=HTMLResponse)
    def company_home(request: Request) -> Response:
        """The filings by deadline: each enrolled procedure's previous and current period and its state."""
        session = site.session_of(request)
        site.kind(session, PrincipalKind.COMPANY)
        view = CompanyView(site.kiroku, session.staff.who.name)
        now = site.kiroku.queries.clock()
        with site.as_person(session):
            enrollments = view.enrollments()
            filings = view.filings()
            reminders = view.reminders(SOON)
            rows, others = dashboard(enrollments, filings, reminders, now, lambda f: view.history(f.submission_id)[0])
        counts = Counter(r.state for r in rows)
        return site.render(request, "company_home.html", "home_title", session=session, here="/company", rows=rows, others=others,
                           counts=[(s, counts.get(s, 0)) for s in STATES])

    @web.get("/company/upload", response_class=HTMLResponse)
    def company_upload_form(request: Request) -> Response:
        session = site.session_of(request)
        site.kind(session, PrincipalKind.COMPANY)
        return firm_pages.upload_form(site, request, session, "/company/upload")

    @web.post("/company/upload")
    def company_upload(request: Request, csrf: str = Form("", max_length=100), file: UploadFile = File(...),
                       format: str = Form("auto", max_length=20), encoding: str = Form("auto", max_length=10),  # noqa: A002
                       corporate_number: str = Form("", max_length=13)) -> Response:
        """The company files its own (an SHFD0006.CSV as its own, whatever the form said)."""
        session = site.form_of(request, "upload", csrf)
        site.kind(session, PrincipalKind.COMPANY)
        return firm_pages.run_upload(site, request, session, file, format, encoding, None, "/company/upload")

    @web.get("/company/receipts/{submission_id}", response_class=HTMLResponse)
    def company_receipt(request: Request, submission_id: str) -> Response:
        """A receipt, its proof file to download, and the proof verified in the browser (static/verify.js)."""
        session = site.session_of(request)
        site.kind(session, PrincipalKind.COMPANY)
        with site.as_person(session):
            receipt = site.kiroku.queries.receipt(session.staff.who, submission_id)
            try:
                site.kiroku.transparency.receipt_with_proof(session.staff.who, submission_id)
                ready = True
            except KirokuError as err:
                if not err.retriable:
                    raise
                ready = False
        return site.render(request, "receipt.html", "receipt_title", session=session, title_values={"id": submission_id}, r=receipt,
                      key=site.kiroku.transparency.verifier_key(), proof_ready=ready)

    @web.get("/company/receipts/{submission_id}/proof")
    def company_receipt_proof(request: Request, submission_id: str) -> Response:
        """The receipt-with-proof file (``site.kiroku verify --receipt``)."""
        session = site.session_of(request)
        site.kind(session, PrincipalKind.COMPANY)
        with site.as_person(session):
            proof = site.kiroku.transparency.receipt_with_proof(session.staff.who, submission_id)
        safe = re.sub(r"[^A-Za-z0-9_-]", "", submission_id)[:40]
        return Response(proof.to_json(), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{safe}.receipt.json"'})

    @web.get("/company/access", response_class=HTMLResponse)
    def company_access(request: Request, after: int = 0) -> Response:
        session = site.session_of(request)
        site.kind(session, PrincipalKind.COMPANY)
        with site.as_person(session):
            rows = CompanyView(site.kiroku, session.staff.who.name).access_log(max(0, after))[:PAGE]
        names = site.staff.names({r.person for r in rows if r.person})
        next_after = rows[-1].seq if len(rows) == PAGE else None
        return site.render(request, "access.html", "access_title", session=session, here="/company/access", rows=rows, names=names,
                      next_after=next_after)

    @web.get("/company/dispositions", response_class=HTMLResponse)
    def company_dispositions(request: Request, after: int = 0) -> Response:
        session = site.session_of(request)
        site.kind(session, PrincipalKind.COMPANY)
        with site.as_person(session):
            items = CompanyView(site.kiroku, session.staff.who.name).dispositions(max(0, after))[:PAGE]
        return site.dispositions_page(request, session, items, "/company/dispositions",
                                  f"/company/dispositions?after={items[-1].company_seq}" if len(items) == PAGE else None)

    @web.get("/company/dispositions/{disposition_id}", response_class=HTMLResponse)
    def company_disposition(request: Request, disposition_id: str) -> Response:
        """Open one: the first open by the company records the arrival (到達)."""
        return disposition(request, disposition_id, PrincipalKind.COMPANY)

    @web.get("/firm/dispositions/{disposition_id}", response_class=HTMLResponse)
    def firm_disposition(request: Request, disposition_id: str) -> Response:
        """Open one for a client: the first open by the company or its agent records the arrival (到達)."""
        return disposition(request, disposition_id, PrincipalKind.FIRM, PrincipalKind.VENDOR)

    def disposition(request: Request, disposition_id: str, *kinds: PrincipalKind) -> Response:
        session = site.session_of(request)
        site.kind(session, *kinds)
        with site.as_person(session):
            d = site.kiroku.queries.fetch_disposition(session.staff.who, disposition_id)
        fields = [(k, v) for k, v in (d.payload or {}).items() if not isinstance(v, (dict, list))]
        return site.render(request, "disposition.html", "disposition_title", session=session, title_values={"id": d.disposition_id},
                      d=d, fields=fields)

    @web.get("/company/enrollments", response_class=HTMLResponse)
    def company_enrollments(request: Request) -> Response:
        session = site.session_of(request)
        site.kind(session, PrincipalKind.COMPANY)
        lang = site.lang_for(request)
        with site.as_person(session):
            items = CompanyView(site.kiroku, session.staff.who.name).enrollments()
        columns = [translate(lang, k) for k in ("procedure", "agency", "decision", "assigned", "requested_at")]
        # An enrollment names one agency, or none (the residents' municipalities): then each one's decision.
        rows = [[procedure_name(lang, e.procedure), e.agency_id or "、".join(sorted(e.decisions)) or "-",
                 "; ".join(f"{a}: {d}" for a, d in sorted(e.decisions.items())) or "-",
                 "; ".join(f"{a}: {i}" for a, i in sorted((e.assigned_ids or {}).items())) or "-", jst(e.requested_at)]
                for e in items]
        return site.render(request, "list.html", "enrollments_title", session=session, here="/company/enrollments", columns=columns,
                      rows=rows, empty=translate(lang, "enrollments_none"))

    @web.get("/company/grants", response_class=HTMLResponse)
    def company_grants(request: Request, done: str = "") -> Response:
        session = site.session_of(request)
        site.kind(session, PrincipalKind.COMPANY)
        return _grants_page(request, session, done)

    @web.post("/company/grants", response_class=HTMLResponse)
    def company_grant(request: Request, csrf: str = Form("", max_length=100), grantee: str = Form(..., max_length=80),
                      procedures: list[str] = Form([]), actions: list[str] = Form([]), personal_numbers: str = Form(""),
                      expires: str = Form(..., max_length=10)) -> Response:
        session = site.form_of(request, "grant", csrf)
        site.kind(session, PrincipalKind.COMPANY)
        if len(procedures) > len(PROCEDURES) or len(actions) > 3:
            raise ValidationError("too many choices", field="procedures", code="invalid_grant")
        with site.as_person(session):
            CompanyView(site.kiroku, session.staff.who.name).grant(grantee.strip(), procedures, actions, end_of_day(expires),
                                                              personal_numbers == "1")
        return RedirectResponse(request.scope.get("root_path", "") + "/company/grants?done=issued", status_code=303)

    @web.post("/company/grants/{grant_id}/revoke", response_class=HTMLResponse)
    def company_revoke(request: Request, grant_id: str, csrf: str = Form("", max_length=100)) -> Response:
        session = site.form_of(request, "revoke", csrf)
        site.kind(session, PrincipalKind.COMPANY)
        with site.as_person(session):
            CompanyView(site.kiroku, session.staff.who.name).revoke(grant_id, f"revoked on the web pages by {session.staff.staff_id}")
        return RedirectResponse(request.scope.get("root_path", "") + "/company/grants?done=revoked", status_code=303)

    def _grants_page(request: Request, session: StaffSession, done: str) -> HTMLResponse:
        lang = site.lang_for(request)
        with site.as_person(session):
            rows = CompanyView(site.kiroku, session.staff.who.name).grants()
        message_key = {"issued": "grant_issued", "revoked": "grant_revoked"}.get(done)
        return site.render(request, "grants.html", "grants_title", session=session, here="/company/grants", rows=rows,
                      done=translate(lang, message_key, grantee="") if message_key else None,
                      procedures=[(c, procedure_name(lang, c)) for c in FILING_CODES], actions=[a.value for a in Action])
