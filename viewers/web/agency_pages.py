"""The agency's pages: the notice inbox, a filing as the agency may see it (as of any time), the missing list."""

from __future__ import annotations

import urllib.parse
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from ledger.domain.model import PrincipalKind
from ledger.domain.procedures import FILING_CODES
from viewers.agency import AgencyView
from viewers.web.i18n import procedure_name
from viewers.web.site import PAGE, SCAN, Site, as_of_time, bounded, table


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
        return site.render(request, "snapshot.html", "snapshot_title", session=session,
                           title_values={"submission": snap.info.submission_id},
                      info=snap.info, columns=columns, rows=rows, history=history, as_of=as_of)

    @web.get("/agency/missing", response_class=HTMLResponse)
    def missing(request: Request) -> Response:
        session = site.session_of(request)
        site.kind(session, PrincipalKind.AGENCY)
        with site.as_person(session):
            rows = AgencyView(site.kiroku, session.staff.who.name).missing_report()
        return site.render(request, "missing.html", "missing_title", session=session, here="/agency/missing", rows=rows)


def _matches(notice: Any, filters: dict[str, str]) -> bool:
    return ((not filters["procedure"] or notice.procedure == filters["procedure"])
            and (not filters["period"] or notice.period == filters["period"])
            and (not filters["company"] or notice.corporate_number == filters["company"]))
