"""What every page shares: rendering (Jinja2, autoescaped, in the reader's language), the signed-in
person (a :class:`ledger.service.staff.StaffSession` from the session cookie, looked up on every
request), the checks of every form (same origin, the session's CSRF token), and the pages' small helpers.

The page modules (``agency_pages``, ``company_pages``, ``firm_pages``) call the same views the SDK and
the HTTP API call, inside :meth:`Site.as_person`: authorization, denials and access records are the
service layer's, never a page's.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment

from ledger.bootstrap import Kiroku
from ledger.domain.model import JST, PrincipalKind, jst
from ledger.domain.procedures import PROCEDURES
from ledger.encoding.csv_cells import flat_line
from ledger.errors import NotFound, Unauthenticated, ValidationError
from ledger.service.acting import acting_as
from ledger.service.staff import StaffSession, StaffStore
from viewers.web.i18n import LANGS, lang_of, procedure_name, translate

COOKIE = "__Host-kiroku_session"
LANG_COOKIE = "kiroku_lang"
#: Notices scanned per page of the inbox when it is filtered (the feed itself has no filters).
SCAN = 1000
PAGE = 50
MAX_QUERY = 64


class SignIn(Exception):
    """The request needs a session it does not have (why: a ``ledger.service.staff`` code)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class Site:
    """The pages' shared machinery over one deployment and its staff accounts."""

    def __init__(self, kiroku: Kiroku, staff: StaffStore, env: Environment, *, secure_cookies: bool = True) -> None:
        self.kiroku, self.staff, self.env, self.secure_cookies = kiroku, staff, env, secure_cookies
        self.cookie_name = COOKIE if secure_cookies else COOKIE.removeprefix("__Host-")

    # -- rendering ----------------------------------------------------------------------------------

    def lang_for(self, request: Request) -> str:
        return lang_of(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))

    def render(self, request: Request, template: str, title_key: str, *, session: StaffSession | None = None, status: int = 200,
               here: str = "", title_values: dict[str, Any] | None = None, **context: Any) -> HTMLResponse:
        lang = self.lang_for(request)
        other = LANGS[1] if lang == LANGS[0] else LANGS[0]
        # The language link keeps the page's own filters, never anything else the address carried
        # (the provider's code and state on the sign-in callback must not be echoed into the page).
        query = {k: v for k, v in request.query_params.items() if k in _PAGE_PARAMS}
        query["lang"] = other

        def t(key: str, **values: Any) -> str:
            return translate(lang, key, **values)

        html = self.env.get_template(template).render(
            lang=lang, t=t, title=t(title_key, **(title_values or {})), root=request.scope.get("root_path", ""),
            me=session.staff if session else None, nav=_nav(session, t), here=here,
            csrf=(lambda form: session.csrf_token(form)) if session else (lambda form: ""),
            other_lang=other, other_lang_query=urllib.parse.urlencode(query), jst=jst,
            procedure_name=lambda code: procedure_name(lang, code), **context)
        response = HTMLResponse(html, status_code=status)
        if request.query_params.get("lang") in LANGS:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, secure=self.secure_cookies, httponly=True, samesite="strict")
        return response

    def message(self, request: Request, key: str, *, status: int = 200, session: StaffSession | None = None, alert: bool = False,
                hint_key: str | None = None) -> HTMLResponse:
        lang = self.lang_for(request)
        return self.render(request, "message.html", "error_title" if alert else "sign_in_title", session=session, status=status,
                      message=translate(lang, key), hint=translate(lang, hint_key) if hint_key else None, alert=alert)

    # -- sessions -----------------------------------------------------------------------------------

    def session_of(self, request: Request) -> StaffSession:
        try:
            return self.staff.session(request.cookies.get(self.cookie_name))
        except Unauthenticated as err:
            raise SignIn(err.code) from None

    def same_origin(self, request: Request) -> None:
        """A POST must come from a page of this site (browsers send Origin with every POST)."""
        origin = request.headers.get("origin")
        host = request.headers.get("host", "")
        if origin is None or urllib.parse.urlsplit(origin).netloc != host:
            raise Unauthenticated("this form did not come from this site", field="origin", code="csrf_failed")

    def form_of(self, request: Request, name: str, token: str | None) -> StaffSession:
        self.same_origin(request)
        session = self.session_of(request)
        session.check_csrf(name, token)
        return session

    def kind(self, session: StaffSession, *kinds: PrincipalKind) -> None:
        if session.staff.who.kind not in kinds:
            raise NotFound("this page is not for this kind of user", field="page", code="not_for_you")

    @contextmanager
    def as_person(self, session: StaffSession) -> Iterator[None]:
        with acting_as(session.staff.staff_id):
            yield

    def dispositions_page(self, request: Request, session: StaffSession, items: list[Any], here: str,
                          next_href: str | None) -> HTMLResponse:
        lang = self.lang_for(request)
        base = "/firm" if session.staff.who.kind is not PrincipalKind.COMPANY else "/company"
        columns = [translate(lang, k) for k in ("issued_at", "company", "agency", "kind", "period", "title_col", "arrived_at")]
        rows = [[jst(d.issued_at), d.corporate_number, d.agency_id, procedure_name(lang, d.kind), d.period,
                 Link(f"{base}/dispositions/{d.disposition_id}", d.title or d.disposition_id),
                 jst(d.delivered_at) if d.delivered_at else "-"] for d in items]
        return self.render(request, "list.html", "dispositions_title" if base == "/company" else "inbox_title", session=session, here=here,
                      columns=columns, rows=rows, empty=translate(lang, "dispositions_none"),
                      intro=translate(lang, "dispositions_intro"), next_href=next_href)


#: Query parameters of the pages (kept by the language link).
_PAGE_PARAMS = frozenset({"after", "procedure", "period", "period_from", "period_to", "page", "company", "as_of", "why", "cursor",
                          "done"})


class Link:
    """A table cell that links to a page of the site."""

    def __init__(self, href: str, text: str) -> None:
        self.href, self.text = href, text


def end_of_day(text: str) -> datetime:
    """A date from a form (``2027-03-31``) → the end of that day, Japan time."""
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d")
    except ValueError:
        raise ValidationError("expires is a date, e.g. 2027-03-31", field="expires", expected="YYYY-MM-DD",
                              got=f"{len(text)} characters", code="invalid_date") from None
    return day.replace(hour=23, minute=59, second=59, tzinfo=JST)


CODES = frozenset({"oidc_failed", "signed_out", "session_idle", "session_expired", "account_disabled", "invite_used", "invite_expired",
                    "invite_unknown", "csrf_failed", "identity_taken", "no_account"})


def _nav(session: StaffSession | None, t: Callable[..., str]) -> list[tuple[str, str]]:
    if session is None:
        return []
    kind = session.staff.who.kind
    if kind is PrincipalKind.AGENCY:
        return [("/agency/notices", t("nav_notices")), ("/agency/filings", t("nav_filings")), ("/agency/missing", t("nav_missing")),
                ("/agency/progress", t("ag_nav_progress")), ("/agency/dispositions/new", t("ag_nav_issue"))]
    if kind is PrincipalKind.COMPANY:
        return [("/company", t("nav_home")), ("/company/dispositions", t("nav_dispositions")), ("/company/access", t("nav_access")),
                ("/company/enrollments", t("nav_enrollments")), ("/company/grants", t("nav_grants")), ("/company/upload", t("nav_upload"))]
    if kind in (PrincipalKind.FIRM, PrincipalKind.VENDOR):
        return [("/firm", t("nav_clients")), ("/firm/inbox", t("nav_dispositions")), ("/firm/upload", t("nav_upload"))]
    return []


def bounded(value: str, field: str) -> str:
    text = value.strip()
    if len(text) > MAX_QUERY or not text.isprintable():
        raise ValidationError(f"{field} is at most {MAX_QUERY} printable characters", field=field,
                              expected=f"at most {MAX_QUERY} characters", got=f"{len(text)} characters", code="invalid_filter")
    return text


def as_of_time(text: str) -> datetime | None:
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


def table(snap: Any) -> tuple[list[str], list[list[Any]]]:
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
