"""Sharing (共有・委任): a company grants a firm, vendor or bank scoped, expiring rights."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from ledger.domain.model import Grant, Principal
from viewers.http.deps import context, current_principal, kiroku_of, problems
from viewers.http.schemas import GrantIn, ReasonIn

router = APIRouter(tags=["grants"])

Who = Annotated[Principal, Depends(current_principal)]


@router.post("/v1/grants", status_code=201, response_model=Grant, summary="Grant rights (company)", responses=problems(403))
def issue(request: Request, body: GrantIn, who: Who) -> Grant:
    """Rights over the caller's own data: procedures × actions (submit, read, receive_notices), until ``expires_at``."""
    context(request, top_level=frozenset(GrantIn.model_fields))
    return kiroku_of(request).commands.issue_grant(who, body.grantee, body.procedures, body.actions, body.expires_at,
                                                   body.personal_numbers)


@router.get("/v1/grants", response_model=list[Grant], summary="Grants given (company) or held (firm, vendor, bank)")
def grants(request: Request, who: Who) -> list[Grant]:
    return kiroku_of(request).queries.grants(who)


@router.post("/v1/grants/{grant_id}/revoke", response_model=Grant, summary="Revoke a grant (company)", responses=problems(404))
def revoke(request: Request, grant_id: Annotated[str, Path(max_length=64)], who: Who, body: ReasonIn | None = None) -> Grant:
    """Revocation is immediate: the next call under the grant is refused."""
    context(request, top_level=frozenset(ReasonIn.model_fields))
    return kiroku_of(request).commands.revoke_grant(who, grant_id, body.reason if body else None)
