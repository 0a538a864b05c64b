"""The company's pages: filings and receipts (verified in the browser), access log, dispositions, enrollments, grants."""

from __future__ import annotations

import re

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledger.domain.model import Action, PrincipalKind, jst
from ledger.domain.procedures import FILING_CODES, PROCEDURES
from ledger.errors import KirokuError, ValidationError
from ledger.service.staff import StaffSession
from viewers.company import CompanyView
from viewers.web.i18n import procedure_name, translate
from viewers.web.site import PAGE, Site, end_of_day


def add(web: FastAPI, site: Site) -> None:
    """Register the company pages on ``web``."""
    @web.get("/company", response_class=HTMLResponse)
    def company_home(request: Request) -> Response:
        session = site.session_of(request)
        site.kind(session, PrincipalKind.COMPANY)
        view = CompanyView(site.kiroku, session.staff.who.name)
        with site.as_person(session):
            rows = view.filings()
            reminders = view.reminders()
        return site.render(request, "company_home.html", "home_title", session=session, here="/company", rows=rows, reminders=reminders)

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
    @web.get("/firm/dispositions/{disposition_id}", response_class=HTMLResponse)
    def disposition(request: Request, disposition_id: str) -> Response:
        """Open one: the first open by the company or its agent records the arrival (到達)."""
        session = site.session_of(request)
        site.kind(session, PrincipalKind.COMPANY, PrincipalKind.FIRM, PrincipalKind.VENDOR)
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
