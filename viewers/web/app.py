"""The web pages: ``create_web(kiroku, staff)`` gives an ASGI application the HTTP API mounts at ``/web``.

Server-rendered HTML (Jinja2, every value escaped), Japanese by default (``?lang=en``), readable
without JavaScript and at 320 px. Each page calls the same views the SDK and the HTTP API call
(``viewers.AgencyView``, ``CompanyView``): authorization, denials and access records are the service
layer's, never the page's — the page only adds who the person is (:func:`ledger.service.acting.acting_as`),
so the access log names the person as well as the principal.

Sessions (:mod:`ledger.service.staff`): a ``__Host-`` cookie, HttpOnly, Secure, SameSite=Strict,
looked up on every request (a disabled account is out at its next request). Every form carries a
per-session, per-form CSRF token, and every POST must come from this site's own origin. Pages are
sent with a strict Content-Security-Policy (nothing inline, nothing from elsewhere), no caching,
a referrer only to this site itself (a sign-in link in the address never leaks elsewhere; with none
at all, browsers send "Origin: null" with a form), and may not be framed.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.bootstrap import Kiroku
from ledger.domain.model import JST, Action, PrincipalKind, jst
from ledger.domain.procedures import FILING_CODES, PROCEDURES
from ledger.encoding.csv_cells import flat_line
from ledger.errors import KirokuError, NotFound, Unauthenticated, ValidationError
from ledger.service.acting import acting_as
from ledger.service.staff import StaffSession, StaffStore
from viewers.agency import AgencyView
from viewers.company import CompanyView
from viewers.firm import FirmView
from viewers.web.i18n import LANGS, lang_of, procedure_name, translate
from viewers.web.oidc import Begin as OidcBegin
from viewers.web.oidc import OidcClient, OidcError

log = logging.getLogger("kiroku.web")
HERE = Path(__file__).parent
COOKIE = "__Host-kiroku_session"
LANG_COOKIE = "kiroku_lang"
#: Notices scanned per page of the inbox when it is filtered (the feed itself has no filters).
SCAN = 1000
PAGE = 50
MAX_QUERY = 64

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"same-origin"), (b"cross-origin-opener-policy", b"same-origin"),
           (b"permissions-policy", b"camera=(), microphone=(), geolocation=()")]


class SecurityHeaders:
    """ASGI middleware: the headers every page and file of the web application is sent with."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS if k not in names]
                if not scope.get("path", "").startswith("/static/"):
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class SignIn(Exception):
    """The request needs a session it does not have (why: a ``ledger.service.staff`` code)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def create_web(kiroku: Kiroku, staff: StaffStore, *, secure_cookies: bool = True, oidc: OidcClient | None = None,
               oidc_name: str = "OpenID Connect") -> FastAPI:
    """The web pages over ``kiroku``, with staff accounts in ``staff``; with ``oidc``, staff may also
    sign in through that OpenID Connect provider (named ``oidc_name`` on its button).
    ``secure_cookies=False`` only for a test client that cannot keep Secure cookies over plain HTTP
    (browsers keep them on loopback)."""
    web = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    web.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    web.add_middleware(SecurityHeaders)
    cookie_name = COOKIE if secure_cookies else COOKIE.removeprefix("__Host-")
    pending = _Pending()  # OpenID Connect sign-ins under way, by state

    # -- rendering ----------------------------------------------------------------------------------

    def lang_for(request: Request) -> str:
        return lang_of(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))

    def render(request: Request, template: str, title_key: str, *, session: StaffSession | None = None, status: int = 200,
               here: str = "", title_values: dict[str, Any] | None = None, **context: Any) -> HTMLResponse:
        lang = lang_for(request)
        other = LANGS[1] if lang == LANGS[0] else LANGS[0]
        # The language link keeps the page's own filters, never anything else the address carried
        # (the provider's code and state on the sign-in callback must not be echoed into the page).
        query = {k: v for k, v in request.query_params.items() if k in _PAGE_PARAMS}
        query["lang"] = other

        def t(key: str, **values: Any) -> str:
            return translate(lang, key, **values)

        html = env.get_template(template).render(
            lang=lang, t=t, title=t(title_key, **(title_values or {})), root=request.scope.get("root_path", ""),
            me=session.staff if session else None, nav=_nav(session, t), here=here,
            csrf=(lambda form: session.csrf_token(form)) if session else (lambda form: ""),
            other_lang=other, other_lang_query=urllib.parse.urlencode(query), jst=jst,
            procedure_name=lambda code: procedure_name(lang, code), **context)
        response = HTMLResponse(html, status_code=status)
        if request.query_params.get("lang") in LANGS:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, secure=secure_cookies, httponly=True, samesite="strict")
        return response

    def message(request: Request, key: str, *, status: int = 200, session: StaffSession | None = None, alert: bool = False,
                hint_key: str | None = None) -> HTMLResponse:
        lang = lang_for(request)
        return render(request, "message.html", "error_title" if alert else "sign_in_title", session=session, status=status,
                      message=translate(lang, key), hint=translate(lang, hint_key) if hint_key else None, alert=alert)

    # -- sessions -----------------------------------------------------------------------------------

    def session_of(request: Request) -> StaffSession:
        try:
            return staff.session(request.cookies.get(cookie_name))
        except Unauthenticated as err:
            raise SignIn(err.code) from None

    def same_origin(request: Request) -> None:
        """A POST must come from a page of this site (browsers send Origin with every POST)."""
        origin = request.headers.get("origin")
        host = request.headers.get("host", "")
        if origin is None or urllib.parse.urlsplit(origin).netloc != host:
            raise Unauthenticated("this form did not come from this site", field="origin", code="csrf_failed")

    def form_of(request: Request, name: str, token: str | None) -> StaffSession:
        same_origin(request)
        session = session_of(request)
        session.check_csrf(name, token)
        return session

    def kind(session: StaffSession, *kinds: PrincipalKind) -> None:
        if session.staff.who.kind not in kinds:
            raise NotFound("this page is not for this kind of user", field="page", code="not_for_you")

    @contextmanager
    def as_person(session: StaffSession) -> Iterator[None]:
        with acting_as(session.staff.staff_id):
            yield

    @web.exception_handler(SignIn)
    async def _sign_in(request: Request, err: SignIn) -> Response:
        where = request.scope.get("root_path", "")
        return RedirectResponse(f"{where}/sign-in?why={urllib.parse.quote(err.why)}", status_code=303)

    @web.exception_handler(KirokuError)
    async def _error(request: Request, err: KirokuError) -> Response:
        if isinstance(err, NotFound):
            key = "not_for_you" if err.code == "not_for_you" else "not_found"
            return message(request, key, status=404, alert=True, hint_key="error_back")
        if isinstance(err, OidcError):  # the provider's answer did not hold: which check is in the server's log only
            log.info("an OpenID Connect sign-in failed: %s", err.code)
            return message(request, "oidc_failed", status=401, alert=True)
        if isinstance(err, Unauthenticated):
            return message(request, err.code if err.code in _CODES else "signed_out", status=403 if err.code == "csrf_failed" else 401,
                           alert=True, hint_key="error_sign_in" if err.code != "csrf_failed" else None)
        field = getattr(err, "field", None) or "?"
        lang = lang_for(request)
        return render(request, "message.html", "error_title", status=422, alert=True,
                      message=translate(lang, "invalid", field=field), hint=str(err))

    # -- signing in and out -------------------------------------------------------------------------

    @web.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        session = session_of(request)
        who = session.staff.who
        where = request.scope.get("root_path", "")
        target = {PrincipalKind.AGENCY: "/agency/notices", PrincipalKind.COMPANY: "/company", PrincipalKind.FIRM: "/firm",
                  PrincipalKind.VENDOR: "/firm"}.get(who.kind)
        if target is None:
            return message(request, "not_for_you", session=session)
        return RedirectResponse(where + target, status_code=303)

    @web.get("/sign-in", response_class=HTMLResponse)
    def sign_in(request: Request, why: str = "signed_out") -> Response:
        key = why if why in _CODES else "signed_out"
        return render(request, "message.html", "sign_in_title", message=translate(lang_for(request), key),
                      hint=translate(lang_for(request), "sign_in_text"), alert=False, oidc_name=oidc_name if oidc else None)

    @web.get("/invite/{secret}", response_class=HTMLResponse)
    def invite(request: Request, secret: str) -> Response:
        try:
            account = staff.invited(secret)
        except Unauthenticated as err:
            return message(request, err.code, status=400, alert=True)
        return render(request, "invite.html", "invite_title", account=account, invite=secret,
                      oidc_name=oidc_name if oidc else None)

    @web.post("/oidc/start")
    def oidc_start(request: Request, invite: str = Form("", max_length=100)) -> Response:
        """Send the person to the provider; an ``invite`` (from the link's page) binds the identity it vouches for."""
        same_origin(request)
        if oidc is None:
            raise NotFound("this site has no OpenID Connect provider", field="page", code="not_for_you")
        if invite:
            staff.invited(invite)  # still good, before the person goes away to sign in
        begun = oidc.start()
        pending.put(begun.state, begun, invite or None)
        response = RedirectResponse(begun.url, status_code=303)
        # Lax, not Strict: the provider sends the person back with a cross-site top-level GET.
        response.set_cookie(OIDC_COOKIE, begun.state, max_age=int(_Pending.TTL), secure=secure_cookies, httponly=True,
                            samesite="lax", path=request.scope.get("root_path", "") + "/oidc/")
        return response

    @web.get("/oidc/callback", response_class=HTMLResponse)
    def oidc_callback(request: Request) -> Response:
        if oidc is None:
            raise NotFound("this site has no OpenID Connect provider", field="page", code="not_for_you")
        state = request.cookies.get(OIDC_COOKIE)
        found = pending.take(state) if state and state == request.query_params.get("state") else None
        if found is None:  # another browser's answer, a replay, or too late
            return message(request, "oidc_failed", status=400, alert=True, hint_key="error_sign_in")
        begun, invite = found
        identity = oidc.finish(dict(request.query_params), begun)
        if invite:
            _, cookie = staff.redeem(invite, oidc=(identity.issuer, identity.subject))
        else:
            _, cookie = staff.sign_in_oidc(identity.issuer, identity.subject)
        where = request.scope.get("root_path", "") + "/"
        # A page of our own that moves on: the session cookie is SameSite=Strict, and a browser would
        # not send it on the rest of a redirect chain the provider (another site) started.
        response = render(request, "message.html", "sign_in_title", message=translate(lang_for(request), "signed_in"),
                          refresh=where, alert=False)
        response.set_cookie(cookie_name, cookie, secure=secure_cookies, httponly=True, samesite="strict", path="/")
        response.delete_cookie(OIDC_COOKIE, path=request.scope.get("root_path", "") + "/oidc/", secure=secure_cookies,
                               httponly=True, samesite="lax")
        return response

    @web.post("/invite")
    def use_invite(request: Request, invite: str = Form(..., max_length=100)) -> Response:
        same_origin(request)
        try:
            _, cookie = staff.redeem(invite)
        except Unauthenticated as err:
            return message(request, err.code, status=400, alert=True)
        response = RedirectResponse(request.scope.get("root_path", "") + "/", status_code=303)
        response.set_cookie(cookie_name, cookie, secure=secure_cookies, httponly=True, samesite="strict", path="/")
        return response

    @web.post("/sign-out")
    def sign_out(request: Request, csrf: str = Form("", max_length=100)) -> Response:
        form_of(request, "sign-out", csrf)
        staff.end(request.cookies.get(cookie_name))
        response = RedirectResponse(request.scope.get("root_path", "") + "/sign-in?why=signed_out", status_code=303)
        response.delete_cookie(cookie_name, path="/", secure=secure_cookies, httponly=True, samesite="strict")
        return response

    # -- agency pages -------------------------------------------------------------------------------

    @web.get("/agency/notices", response_class=HTMLResponse)
    def notices(request: Request, after: int = 0, procedure: str = "", period: str = "", company: str = "") -> Response:
        session = session_of(request)
        kind(session, PrincipalKind.AGENCY)
        filters = {"procedure": _bounded(procedure, "procedure"), "period": _bounded(period, "period"),
                   "company": _bounded(company, "company")}
        view = AgencyView(kiroku, session.staff.who.name)
        with as_person(session):
            scanned = view.notices(max(0, after), SCAN if any(filters.values()) else PAGE)
        rows = [n for n in scanned if _matches(n, filters)][:PAGE]
        last_seen = session.staff.last_notice_seq
        if rows:
            staff.seen_notices(session.staff.staff_id, max(n.seq for n in rows))
        new_count = sum(1 for n in rows if n.seq > last_seen)
        full = len(scanned) == (SCAN if any(filters.values()) else PAGE)
        next_after = (rows[-1].seq if len(rows) == PAGE else scanned[-1].seq) if full and scanned else None
        next_query = urllib.parse.urlencode({**{k: v for k, v in filters.items() if v}, "after": next_after or 0})
        procs = [(code, procedure_name(lang_for(request), code)) for code in FILING_CODES]
        return render(request, "notices.html", "notices_title", session=session, here="/agency/notices", rows=rows,
                      last_seen=last_seen, new_count=new_count, filters=filters, procedures=procs, next_after=next_after,
                      next_query=next_query)

    @web.get("/agency/submissions/{submission_id}", response_class=HTMLResponse)
    def submission(request: Request, submission_id: str, as_of: str = "") -> Response:
        session = session_of(request)
        kind(session, PrincipalKind.AGENCY)
        view = AgencyView(kiroku, session.staff.who.name)
        when = _as_of(as_of)
        with as_person(session):
            snap = view.snapshot(submission_id)
            if when is not None:
                info = snap.info
                snap = view.effective(info.corporate_number, info.procedure, info.period, when, office=info.office)
            history = view.history(snap.info.submission_id)
        columns, rows = _table(snap)
        return render(request, "snapshot.html", "snapshot_title", session=session, title_values={"submission": snap.info.submission_id},
                      info=snap.info, columns=columns, rows=rows, history=history, as_of=as_of)

    @web.get("/agency/missing", response_class=HTMLResponse)
    def missing(request: Request) -> Response:
        session = session_of(request)
        kind(session, PrincipalKind.AGENCY)
        with as_person(session):
            rows = AgencyView(kiroku, session.staff.who.name).missing_report()
        return render(request, "missing.html", "missing_title", session=session, here="/agency/missing", rows=rows)

    # -- company pages ------------------------------------------------------------------------------

    @web.get("/company", response_class=HTMLResponse)
    def company_home(request: Request) -> Response:
        session = session_of(request)
        kind(session, PrincipalKind.COMPANY)
        view = CompanyView(kiroku, session.staff.who.name)
        with as_person(session):
            rows = view.filings()
            reminders = view.reminders()
        return render(request, "company_home.html", "home_title", session=session, here="/company", rows=rows, reminders=reminders)

    @web.get("/company/receipts/{submission_id}", response_class=HTMLResponse)
    def company_receipt(request: Request, submission_id: str) -> Response:
        """A receipt, its proof file to download, and the proof verified in the browser (static/verify.js)."""
        session = session_of(request)
        kind(session, PrincipalKind.COMPANY)
        with as_person(session):
            receipt = kiroku.queries.receipt(session.staff.who, submission_id)
            try:
                kiroku.transparency.receipt_with_proof(session.staff.who, submission_id)
                ready = True
            except KirokuError as err:
                if not err.retriable:
                    raise
                ready = False
        return render(request, "receipt.html", "receipt_title", session=session, title_values={"id": submission_id}, r=receipt,
                      key=kiroku.transparency.verifier_key(), proof_ready=ready)

    @web.get("/company/receipts/{submission_id}/proof")
    def company_receipt_proof(request: Request, submission_id: str) -> Response:
        """The receipt-with-proof file (``kiroku verify --receipt``)."""
        session = session_of(request)
        kind(session, PrincipalKind.COMPANY)
        with as_person(session):
            proof = kiroku.transparency.receipt_with_proof(session.staff.who, submission_id)
        safe = re.sub(r"[^A-Za-z0-9_-]", "", submission_id)[:40]
        return Response(proof.to_json(), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{safe}.receipt.json"'})

    @web.get("/company/access", response_class=HTMLResponse)
    def company_access(request: Request, after: int = 0) -> Response:
        session = session_of(request)
        kind(session, PrincipalKind.COMPANY)
        with as_person(session):
            rows = CompanyView(kiroku, session.staff.who.name).access_log(max(0, after))[:PAGE]
        names = staff.names({r.person for r in rows if r.person})
        next_after = rows[-1].seq if len(rows) == PAGE else None
        return render(request, "access.html", "access_title", session=session, here="/company/access", rows=rows, names=names,
                      next_after=next_after)

    @web.get("/company/dispositions", response_class=HTMLResponse)
    def company_dispositions(request: Request, after: int = 0) -> Response:
        session = session_of(request)
        kind(session, PrincipalKind.COMPANY)
        with as_person(session):
            items = CompanyView(kiroku, session.staff.who.name).dispositions(max(0, after))[:PAGE]
        return _dispositions_page(request, session, items, "/company/dispositions",
                                  f"/company/dispositions?after={items[-1].company_seq}" if len(items) == PAGE else None)

    @web.get("/company/dispositions/{disposition_id}", response_class=HTMLResponse)
    @web.get("/firm/dispositions/{disposition_id}", response_class=HTMLResponse)
    def disposition(request: Request, disposition_id: str) -> Response:
        """Open one: the first open by the company or its agent records the arrival (到達)."""
        session = session_of(request)
        kind(session, PrincipalKind.COMPANY, PrincipalKind.FIRM, PrincipalKind.VENDOR)
        with as_person(session):
            d = kiroku.queries.fetch_disposition(session.staff.who, disposition_id)
        fields = [(k, v) for k, v in (d.payload or {}).items() if not isinstance(v, (dict, list))]
        return render(request, "disposition.html", "disposition_title", session=session, title_values={"id": d.disposition_id},
                      d=d, fields=fields)

    @web.get("/company/enrollments", response_class=HTMLResponse)
    def company_enrollments(request: Request) -> Response:
        session = session_of(request)
        kind(session, PrincipalKind.COMPANY)
        lang = lang_for(request)
        with as_person(session):
            items = CompanyView(kiroku, session.staff.who.name).enrollments()
        columns = [translate(lang, k) for k in ("procedure", "agency", "decision", "assigned", "requested_at")]
        rows = [[procedure_name(lang, e.procedure), e.agency_id, e.decisions.get(e.agency_id, "-") if e.decisions else "-",
                 (e.assigned_ids or {}).get(e.agency_id, "-"), jst(e.requested_at)] for e in items]
        return render(request, "list.html", "enrollments_title", session=session, here="/company/enrollments", columns=columns,
                      rows=rows, empty=translate(lang, "enrollments_none"))

    @web.get("/company/grants", response_class=HTMLResponse)
    def company_grants(request: Request, done: str = "") -> Response:
        session = session_of(request)
        kind(session, PrincipalKind.COMPANY)
        return _grants_page(request, session, done)

    @web.post("/company/grants", response_class=HTMLResponse)
    def company_grant(request: Request, csrf: str = Form("", max_length=100), grantee: str = Form(..., max_length=80),
                      procedures: list[str] = Form([]), actions: list[str] = Form([]), personal_numbers: str = Form(""),
                      expires: str = Form(..., max_length=10)) -> Response:
        session = form_of(request, "grant", csrf)
        kind(session, PrincipalKind.COMPANY)
        if len(procedures) > len(PROCEDURES) or len(actions) > 3:
            raise ValidationError("too many choices", field="procedures", code="invalid_grant")
        with as_person(session):
            CompanyView(kiroku, session.staff.who.name).grant(grantee.strip(), procedures, actions, _end_of_day(expires),
                                                              personal_numbers == "1")
        return RedirectResponse(request.scope.get("root_path", "") + "/company/grants?done=issued", status_code=303)

    @web.post("/company/grants/{grant_id}/revoke", response_class=HTMLResponse)
    def company_revoke(request: Request, grant_id: str, csrf: str = Form("", max_length=100)) -> Response:
        session = form_of(request, "revoke", csrf)
        kind(session, PrincipalKind.COMPANY)
        with as_person(session):
            CompanyView(kiroku, session.staff.who.name).revoke(grant_id, f"revoked on the web pages by {session.staff.staff_id}")
        return RedirectResponse(request.scope.get("root_path", "") + "/company/grants?done=revoked", status_code=303)

    def _grants_page(request: Request, session: StaffSession, done: str) -> HTMLResponse:
        lang = lang_for(request)
        with as_person(session):
            rows = CompanyView(kiroku, session.staff.who.name).grants()
        message_key = {"issued": "grant_issued", "revoked": "grant_revoked"}.get(done)
        return render(request, "grants.html", "grants_title", session=session, here="/company/grants", rows=rows,
                      done=translate(lang, message_key, grantee="") if message_key else None,
                      procedures=[(c, procedure_name(lang, c)) for c in FILING_CODES], actions=[a.value for a in Action])

    def _dispositions_page(request: Request, session: StaffSession, items: list[Any], here: str, next_href: str | None) -> HTMLResponse:
        lang = lang_for(request)
        base = "/firm" if session.staff.who.kind is not PrincipalKind.COMPANY else "/company"
        columns = [translate(lang, k) for k in ("issued_at", "company", "agency", "kind", "period", "title_col", "arrived_at")]
        rows = [[jst(d.issued_at), d.corporate_number, d.agency_id, procedure_name(lang, d.kind), d.period,
                 _Link(f"{base}/dispositions/{d.disposition_id}", d.title or d.disposition_id),
                 jst(d.delivered_at) if d.delivered_at else "-"] for d in items]
        return render(request, "list.html", "dispositions_title" if base == "/company" else "inbox_title", session=session, here=here,
                      columns=columns, rows=rows, empty=translate(lang, "dispositions_none"),
                      intro=translate(lang, "dispositions_intro"), next_href=next_href)

    # -- firm and vendor pages ----------------------------------------------------------------------

    @web.get("/firm", response_class=HTMLResponse)
    def firm_clients(request: Request) -> Response:
        session = session_of(request)
        kind(session, PrincipalKind.FIRM, PrincipalKind.VENDOR)
        lang = lang_for(request)
        with as_person(session):
            grants = FirmView(kiroku, session.staff.who).grants()
        now = kiroku.queries.clock()
        columns = [translate(lang, k) for k in ("company", "procedure", "actions", "expires", "state")]
        rows = [[g.corporate_number, "、".join(procedure_name(lang, p) for p in g.procedures), ", ".join(g.actions), jst(g.expires_at),
                 translate(lang, "active" if g.active(now) else "revoked")] for g in grants]
        return render(request, "list.html", "clients_title", session=session, here="/firm", columns=columns, rows=rows,
                      empty=translate(lang, "clients_none"))

    @web.get("/firm/inbox", response_class=HTMLResponse)
    def firm_inbox(request: Request, cursor: str = "") -> Response:
        session = session_of(request)
        kind(session, PrincipalKind.FIRM, PrincipalKind.VENDOR)
        with as_person(session):
            items, next_cursor = FirmView(kiroku, session.staff.who).inbox(_bounded(cursor, "cursor") or None)
        return _dispositions_page(request, session, items[:PAGE], "/firm/inbox",
                                  f"/firm/inbox?cursor={urllib.parse.quote(next_cursor)}" if items else None)

    return web


OIDC_COOKIE = "kiroku_oidc"
#: Query parameters of the pages (kept by the language link).
_PAGE_PARAMS = frozenset({"after", "procedure", "period", "company", "as_of", "why", "cursor", "done"})


class _Pending:
    """OpenID Connect sign-ins under way in this process, by state: at most ``MAX``, each for ``TTL`` seconds."""

    MAX = 10_000
    TTL = 600.0

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, OidcBegin, str | None]] = {}
        self._lock = threading.Lock()

    def put(self, state: str, begun: OidcBegin, invite: str | None) -> None:
        now = time.monotonic()
        with self._lock:
            for key in [k for k, (at, _, _) in self._items.items() if now - at > self.TTL]:
                del self._items[key]
            if len(self._items) >= self.MAX:
                self._items.pop(next(iter(self._items)))
            self._items[state] = (now, begun, invite)

    def take(self, state: str) -> tuple[OidcBegin, str | None] | None:
        with self._lock:
            found = self._items.pop(state, None)
        if found is None or time.monotonic() - found[0] > self.TTL:
            return None
        return found[1], found[2]


class _Link:
    """A table cell that links to a page of the site."""

    def __init__(self, href: str, text: str) -> None:
        self.href, self.text = href, text


def _end_of_day(text: str) -> datetime:
    """A date from a form (``2027-03-31``) → the end of that day, Japan time."""
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d")
    except ValueError:
        raise ValidationError("expires is a date, e.g. 2027-03-31", field="expires", expected="YYYY-MM-DD",
                              got=f"{len(text)} characters", code="invalid_date") from None
    return day.replace(hour=23, minute=59, second=59, tzinfo=JST)


_CODES = frozenset({"oidc_failed", "signed_out", "session_idle", "session_expired", "account_disabled", "invite_used", "invite_expired",
                    "invite_unknown", "csrf_failed", "identity_taken", "no_account"})


def _nav(session: StaffSession | None, t: Callable[..., str]) -> list[tuple[str, str]]:
    if session is None:
        return []
    kind = session.staff.who.kind
    if kind is PrincipalKind.AGENCY:
        return [("/agency/notices", t("nav_notices")), ("/agency/missing", t("nav_missing"))]
    if kind is PrincipalKind.COMPANY:
        return [("/company", t("nav_home")), ("/company/dispositions", t("nav_dispositions")), ("/company/access", t("nav_access")),
                ("/company/enrollments", t("nav_enrollments")), ("/company/grants", t("nav_grants"))]
    if kind in (PrincipalKind.FIRM, PrincipalKind.VENDOR):
        return [("/firm", t("nav_clients")), ("/firm/inbox", t("nav_dispositions"))]
    return []


def _bounded(value: str, field: str) -> str:
    text = value.strip()
    if len(text) > MAX_QUERY or not text.isprintable():
        raise ValidationError(f"{field} is at most {MAX_QUERY} printable characters", field=field,
                              expected=f"at most {MAX_QUERY} characters", got=f"{len(text)} characters", code="invalid_filter")
    return text


def _matches(notice: Any, filters: dict[str, str]) -> bool:
    return ((not filters["procedure"] or notice.procedure == filters["procedure"])
            and (not filters["period"] or notice.period == filters["period"])
            and (not filters["company"] or notice.corporate_number == filters["company"]))


def _as_of(text: str) -> datetime | None:
    """``2027-01-31T23:59`` (Japan time when no zone is given) → an aware time; blank → None."""
    text = text.strip()
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError("as of is a date and time, e.g. 2027-01-31T23:59", field="as_of",
                              expected="YYYY-MM-DDTHH:MM (Japan time)", got=f"{len(text)} characters", code="invalid_time") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=JST)


def _table(snap: Any) -> tuple[list[str], list[list[Any]]]:
    """The snapshot's lines as a table: the line number, then every field of the procedure's lines."""
    if snap.payload is None:
        return [], []
    lines = snap.payload.get("lines") or []
    numbers = snap.visible_lines or list(range(1, len(lines) + 1))
    rules = PROCEDURES[snap.info.procedure].line
    flat = [flat_line(rules, line) for line in lines]
    keys = [k for k in (flat[0] if flat else {}) if any(row.get(k) not in (None, "", [], False) for row in flat)]
    rows = [[n, *("" if row.get(k) is None else row.get(k) for k in keys)] for n, row in zip(numbers, flat, strict=True)]
    return ["#", *keys], rows


def oidc_from(settings: Any) -> OidcClient | None:
    """The OpenID Connect client the ``web_oidc_*`` settings describe, or None when they name no provider."""
    if not settings.web_oidc_issuer:
        return None
    from viewers.web.oidc import OidcConfig

    secret = settings.web_oidc_client_secret.get_secret_value() if settings.web_oidc_client_secret else ""
    return OidcClient(OidcConfig(issuer=settings.web_oidc_issuer, client_id=settings.web_oidc_client_id or "", client_secret=secret,
                                 redirect_uri=settings.web_oidc_redirect_uri or ""))
