"""What a company sees about itself: who read its data, and deadlines coming up."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from ledger.domain.model import AccessRecord, Principal
from viewers.http.deps import current_principal, kiroku_of, problems
from viewers.http.schemas import MAX_SEQ, Me, Reminder

router = APIRouter(tags=["companies"])

Who = Annotated[Principal, Depends(current_principal)]
Corp = Annotated[str, Path(max_length=40, description="法人番号")]


@router.get("/v1/companies/{corporate_number}/access-log", response_model=list[AccessRecord],
            summary="Who read the company's data (the company itself)", responses=problems(404))
def access_log(request: Request, corporate_number: Corp, who: Who,
               after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
               limit: Annotated[int, Query(ge=1, le=1000)] = 1000) -> list[AccessRecord]:
    """Every read of the company's data and every refused attempt: who, when, what, on which basis."""
    return kiroku_of(request).queries.access_log(who, corporate_number, after, limit)


@router.get("/v1/companies/{corporate_number}/reminders", response_model=list[Reminder],
            summary="Enrolled filings due soon and not yet filed", tags=["deadlines"], responses=problems(404))
def reminders(request: Request, corporate_number: Corp, who: Who,
              within_days: Annotated[int, Query(ge=1, le=3660)] = 30) -> list[Reminder]:
    rows = kiroku_of(request).queries.reminders(who, corporate_number, timedelta(days=within_days))
    return [Reminder(procedure=p, period=q, deadline=d) for p, q, d in rows]


@router.get("/v1/me", response_model=Me, summary="Who this token stands for", tags=["principals"])
def me(who: Who) -> Me:
    return Me(principal=who.id, kind=who.kind.value, name=who.name)
