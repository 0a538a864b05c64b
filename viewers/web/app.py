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
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.bootstrap import Kiroku
from ledger.domain.model import PrincipalKind
from ledger.errors import KirokuError, NotFound, Unauthenticated
from ledger.service.staff import StaffStore
from viewers.web import agency_pages, company_pages, firm_pages
from viewers.web.i18n import translate
from viewers.web.oidc import Begin as OidcBegin
from viewers.web.oidc import OidcClient, OidcError
from viewers.web.site import CODES, SignIn, Site

log = logging.getLogger("kiroku.web")
HERE = Path(__file__).parent
#: The Content-Security-Policy of every page; ``{forms}`` is where forms may go: this site, and the OpenID
#: provider's origin when there is one (a form's POST that redirects there is held to form-action too).
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; form-action {forms}; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"same-origin"), (b"cross-origin-opener-policy", b"same-origin"),
           (b"permissions-policy", b"camera=(), microphone=(), geolocation=()")]


def csp(provider: str | None = None) -> str:
    """The policy, with ``provider`` (an origin such as ``https://gbiz-id.go.jp``) as a form's allowed destination."""
    return CSP.format(forms="'self'" + (f" {provider}" if provider else ""))


class SecurityHeaders:
    """ASGI middleware: the headers every page and file of the web application is sent with."""

    def __init__(self, app: ASGIApp, policy: str = csp()) -> None:
        self.app = app
        self.headers = [(b"content-security-policy", policy.encode()), *HEADERS]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in names]
                if not scope.get("path", "").startswith("/static/"):
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


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
    provider = None
    if oidc is not None:
        issuer = urllib.parse.urlsplit(oidc.config.issuer)
        provider = f"{issuer.scheme}://{issuer.netloc}"
    web.add_middleware(SecurityHeaders, policy=csp(provider))
    pending = _Pending()  # OpenID Connect sign-ins under way, by state

    site = Site(kiroku, staff, env, secure_cookies=secure_cookies)
    render, message, lang_for = site.render, site.message, site.lang_for
    session_of, same_origin, form_of = site.session_of, site.same_origin, site.form_of
    cookie_name = site.cookie_name

    @web.exception_handler(SignIn)
    async def _sign_in(request: Request, err: SignIn) -> Response:
        where = request.scope.get("root_path", "")
        return RedirectResponse(f"{where}/sign-in?why={urllib.parse.quote(err.why)}", status_code=303)

    @web.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, err: RequestValidationError) -> Response:
        """A query or form value of the wrong shape (``?after=x``): an HTML page naming the field, never the value."""
        names = sorted({str(e.get("loc", ("", "?"))[-1]) for e in err.errors()})[:5]
        lang = lang_for(request)
        return render(request, "message.html", "error_title", status=422, alert=True,
                      message=translate(lang, "invalid", field=", ".join(names) or "?"), hint=translate(lang, "error_back"))

    @web.exception_handler(KirokuError)
    async def _error(request: Request, err: KirokuError) -> Response:
        if isinstance(err, NotFound):
            key = "not_for_you" if err.code == "not_for_you" else "not_found"
            return message(request, key, status=404, alert=True, hint_key="error_back")
        if isinstance(err, OidcError):  # the provider's answer did not hold: which check is in the server's log only
            log.info("an OpenID Connect sign-in failed: %s", err.code)
            return message(request, "oidc_failed", status=401, alert=True)
        if isinstance(err, Unauthenticated):
            return message(request, err.code if err.code in CODES else "signed_out", status=403 if err.code == "csrf_failed" else 401,
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
        key = why if why in CODES else "signed_out"
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

    agency_pages.add(web, site)
    company_pages.add(web, site)
    firm_pages.add(web, site)
    return web


OIDC_COOKIE = "kiroku_oidc"


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



def oidc_from(settings: Any) -> OidcClient | None:
    """The OpenID Connect client the ``web_oidc_*`` settings describe, or None when they name no provider."""
    if not settings.web_oidc_issuer:
        return None
    from viewers.web.oidc import OidcConfig

    secret = settings.web_oidc_client_secret.get_secret_value() if settings.web_oidc_client_secret else ""
    return OidcClient(OidcConfig(issuer=settings.web_oidc_issuer, client_id=settings.web_oidc_client_id or "", client_secret=secret,
                                 redirect_uri=settings.web_oidc_redirect_uri or ""))
