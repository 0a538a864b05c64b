"""Enrollment (クラウド提出の申出): request, accept, reject, withdraw; agencies' standing policies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from ledger.domain.model import Enrollment, Principal
from viewers.http.deps import context, current_principal, kiroku_of, problems
from viewers.http.schemas import AcceptIn, EnrollmentIn, PolicyIn, ReasonIn, RejectIn

router = APIRouter(tags=["enrollments"])

Who = Annotated[Principal, Depends(current_principal)]
EnrollmentId = Annotated[str, Path(max_length=64)]


@router.post("/v1/enrollments", status_code=201, response_model=Enrollment, summary="Enroll a procedure",
             responses=problems(403))
def enroll(request: Request, body: EnrollmentIn, who: Who) -> Enrollment:
    """Declare that a procedure will be filed through Kiroku (the company, or its agent under a
    ``submit`` grant). A BONUS_PAYMENT enrollment may register ``bonus_months``. Idempotent: an
    active enrollment for the same target is returned as it is."""
    context(request, top_level=frozenset(EnrollmentIn.model_fields))
    return kiroku_of(request).commands.request_enrollment(who, body.corporate_number, body.procedure, body.agency_id,
                                                          body.bonus_months)


@router.get("/v1/enrollments", response_model=list[Enrollment], summary="A company's enrollments", responses=problems(404))
def enrollments(request: Request, who: Who, corporate_number: Annotated[str, Query(max_length=40)]) -> list[Enrollment]:
    """The company's enrollments and each agency's decision (the company, or its agent under a grant)."""
    return kiroku_of(request).queries.enrollments(who, corporate_number)


@router.get("/v1/enrollments/pending", response_model=list[Enrollment], summary="Enrollments awaiting this agency",
            responses=problems(403))
def pending(request: Request, who: Who) -> list[Enrollment]:
    return kiroku_of(request).queries.pending_enrollments(who)


@router.post("/v1/enrollments/{enrollment_id}/accept", response_model=Enrollment, summary="Accept an enrollment (agency)",
             responses=problems(403, 404))
def accept(request: Request, enrollment_id: EnrollmentId, who: Who, body: AcceptIn | None = None) -> Enrollment:
    """Accept an enrollment, optionally giving the identifier this agency assigned to the company
    (指定番号, 事業所整理記号 and 事業所番号, 整理番号); it is shown next to the company's filings."""
    context(request, top_level=frozenset(AcceptIn.model_fields))
    given = body or AcceptIn()
    return kiroku_of(request).commands.accept_enrollment(who, enrollment_id, given.assigned_id, given.office_number)


@router.post("/v1/enrollments/{enrollment_id}/reject", response_model=Enrollment, summary="Reject an enrollment (agency)",
             responses=problems(403, 404))
def reject(request: Request, enrollment_id: EnrollmentId, body: RejectIn, who: Who) -> Enrollment:
    context(request, top_level=frozenset(RejectIn.model_fields))
    return kiroku_of(request).commands.reject_enrollment(who, enrollment_id, body.reason)


@router.post("/v1/enrollments/{enrollment_id}/withdraw", response_model=Enrollment, summary="Withdraw an enrollment",
             responses=problems(404))
def withdraw(request: Request, enrollment_id: EnrollmentId, who: Who, body: ReasonIn | None = None) -> Enrollment:
    context(request, top_level=frozenset(ReasonIn.model_fields))
    return kiroku_of(request).commands.withdraw_enrollment(who, enrollment_id, body.reason if body else None)


@router.put("/v1/policies/{procedure}", status_code=204, summary="Accept all enrollments by standing policy (municipality)",
            responses=problems(403))
def policy(request: Request, procedure: Annotated[str, Path(max_length=40)], body: PolicyIn, who: Who) -> None:
    """A municipality accepts every enrollment for a line-routed procedure (PAYROLL_REPORT) by standing policy."""
    kiroku_of(request).commands.set_policy(who, procedure, body.accept_all)
