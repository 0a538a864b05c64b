"""The firm's and vendor's pages: clients and their grants, one inbox of dispositions across clients."""

from __future__ import annotations

import urllib.parse

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from ledger.domain.model import PrincipalKind, jst
from viewers.firm import FirmView
from viewers.web.i18n import procedure_name, translate
from viewers.web.site import PAGE, Site, bounded


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
        columns = [translate(lang, k) for k in ("company", "procedure", "actions", "expires", "state")]
        rows = [[g.corporate_number, "、".join(procedure_name(lang, p) for p in g.procedures), ", ".join(g.actions), jst(g.expires_at),
                 translate(lang, "active" if g.active(now) else "revoked")] for g in grants]
        return site.render(request, "list.html", "clients_title", session=session, here="/firm", columns=columns, rows=rows,
                      empty=translate(lang, "clients_none"))

    @web.get("/firm/inbox", response_class=HTMLResponse)
    def firm_inbox(request: Request, cursor: str = "") -> Response:
        session = site.session_of(request)
        site.kind(session, PrincipalKind.FIRM, PrincipalKind.VENDOR)
        with site.as_person(session):
            items, next_cursor = FirmView(site.kiroku, session.staff.who).inbox(bounded(cursor, "cursor") or None)
        return site.dispositions_page(request, session, items[:PAGE], "/firm/inbox",
                                  f"/firm/inbox?cursor={urllib.parse.quote(next_cursor)}" if items else None)
