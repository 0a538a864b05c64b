"""Dispositions (処分通知): agencies issue decisions; companies and their agents receive them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from ledger.domain.model import Disposition, Principal
from viewers.http.deps import context, current_principal, kiroku_of, problems
from viewers.http.schemas import DISPOSITION_FIELDS, MAX_SEQ, DispositionIn, InboxPage

router = APIRouter(tags=["dispositions"])

Who = Annotated[Principal, Depends(current_principal)]


@router.post("/v1/dispositions", status_code=201, response_model=Disposition, summary="Issue a disposition (agency)",
             responses=problems(403, 404))
def issue(request: Request, body: DispositionIn, who: Who) -> Disposition:
    """An agency sends a decision to a company through the ledger, optionally citing the
    submissions it was based on (which must have been filed to it)."""
    context(request, top_level=DISPOSITION_FIELDS)
    return kiroku_of(request).commands.issue_disposition(who, body.corporate_number, body.kind, body.period, body.payload,
                                                         body.based_on, body.title)


@router.get("/v1/dispositions", response_model=InboxPage, summary="Inbox: dispositions for every client since a cursor")
def inbox(request: Request, who: Who,
          cursor: Annotated[str | None, Query(max_length=2000,
                                              description="what the previous call returned (empty = from the start)")] = None,
          limit: Annotated[int, Query(ge=1, le=1000)] = 500) -> InboxPage:
    """For a company, its own dispositions; for a firm, vendor or bank, those of every company that
    granted it ``receive_notices`` — gap-free across all of them, like a high-water mark."""
    items, next_cursor = kiroku_of(request).queries.inbox(who, cursor, limit)
    return InboxPage(dispositions=items, cursor=next_cursor)


@router.get("/v1/dispositions/{disposition_id}", response_model=Disposition, summary="Open a disposition (records arrival)",
            responses=problems(404))
def fetch(request: Request, disposition_id: Annotated[str, Path(max_length=64)], who: Who) -> Disposition:
    """The disposition with its content. The first fetch by the company or its agent records its
    arrival (到達): ``delivered_at`` and ``delivered_to``."""
    return kiroku_of(request).queries.fetch_disposition(who, disposition_id)


@router.get("/v1/companies/{corporate_number}/dispositions", response_model=list[Disposition],
            summary="A company's dispositions by its sequence number", responses=problems(404))
def company_dispositions(request: Request, corporate_number: Annotated[str, Path(max_length=40)], who: Who,
                         after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0) -> list[Disposition]:
    return kiroku_of(request).queries.dispositions(who, corporate_number, after)
