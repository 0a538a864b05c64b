"""Request bodies and response shapes of the HTTP API that the domain models do not already give.

Responses reuse the domain's pydantic models (``Receipt``, ``Enrollment``, ``Grant``, ``Notice``,
``SubmissionInfo``, ``Disposition``, ``AccessRecord``, ``MissingFiling``) so the wire form and the
in-process SDK's return values are one and the same.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from ledger.domain.model import Disposition, Notice, SubmissionInfo, SubmissionKind

#: Sequence numbers, offsets and counts are bounded so that no input overflows a 64-bit column.
MAX_SEQ = 2**62

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$")


def _rfc3339(value: Any) -> Any:
    # pydantic would also take a Unix timestamp for a datetime; the document promises RFC 3339 text.
    if isinstance(value, str) and not _RFC3339.match(value):
        raise ValueError("expected an RFC 3339 date-time with its offset, e.g. 2027-01-31T17:00:00+09:00")
    if isinstance(value, (int, float)):
        raise ValueError("expected an RFC 3339 date-time with its offset, not a number")
    return value


#: A point in time as RFC 3339 text with an offset (2027-01-31T17:00:00+09:00).
Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmissionIn(_In):
    """A submission to record. The ``Idempotency-Key`` header is required with it."""

    corporate_number: str = Field(max_length=40, description="法人番号 of the company the data belongs to", examples=["7000012050002"])
    procedure: str = Field(max_length=40, examples=["PAYROLL_REPORT"])
    period: str = Field(max_length=20, examples=["2026"])
    kind: SubmissionKind = SubmissionKind.ORIGINAL
    replaces: str | None = Field(None, max_length=64, description="for a CORRECTION or CANCELLATION: the submission it replaces")
    payload: dict[str, Any] | None = Field(None, description="header and lines, as the procedure's rules say (none for a CANCELLATION)")


class BulkItemIn(SubmissionIn):
    """One line of an NDJSON bulk upload: a submission with its own idempotency key."""

    idempotency_key: str = Field(min_length=1, max_length=200)


#: Fields of a submission request; any other field a service error names lies inside ``payload``.
SUBMISSION_FIELDS = frozenset({"corporate_number", "procedure", "period", "kind", "replaces", "idempotency_key", "payload"})


class EnrollmentIn(_In):
    corporate_number: str = Field(max_length=40, examples=["7000012050002"])
    procedure: str = Field(max_length=40, examples=["WITHHOLDING_SLIP"])
    agency_id: str | None = Field(None, max_length=60, description="the agency, except for line-routed procedures",
                                  examples=["tax-office:01101"])
    bonus_months: list[int] | None = Field(None, max_length=12, description="BONUS_PAYMENT only: the 賞与支払予定月 (1-12) "
                                           "registered with the pension office; in each, a 賞与支払届 or a 賞与不支給報告書 "
                                           "(BONUS_NON_PAYMENT) is expected", examples=[[6, 12]])


class AcceptIn(_In):
    """What an agency may give when it accepts: the identifier it assigned to the company."""

    assigned_id: str | None = Field(None, max_length=40, description="a municipality's 指定番号 (up to 10 digits), a pension "
                                    "office's 事業所整理記号 (e.g. 01-イロハ), a tax office's 整理番号 (8 or 10 digits)",
                                    examples=["12345678"])
    office_number: str | None = Field(None, max_length=10, description="a pension office's 事業所番号 (up to 5 digits)",
                                      examples=["12345"])


class ReasonIn(_In):
    reason: str | None = Field(None, max_length=2000)


class RejectIn(_In):
    reason: str = Field(max_length=2000)


class PolicyIn(_In):
    accept_all: bool = Field(description="accept every enrollment for this line-routed procedure by standing policy")


class GrantIn(_In):
    grantee: str = Field(max_length=100, examples=["firm:tanaka-tax"])
    procedures: list[str] = Field(max_length=20, examples=[["PAYROLL_REPORT"]])
    actions: list[str] = Field(max_length=3, examples=[["submit", "read", "receive_notices"]])
    expires_at: Instant
    personal_numbers: bool = False


class DispositionIn(_In):
    corporate_number: str = Field(max_length=40)
    kind: str = Field(max_length=60, examples=["SPECIAL_COLLECTION_NOTICE"])
    period: str = Field(max_length=20, examples=["2027"])
    payload: dict[str, Any]
    based_on: list[str] = Field(default_factory=list, max_length=100)
    title: str | None = Field(None, max_length=200)


DISPOSITION_FIELDS = frozenset({"corporate_number", "kind", "period", "payload", "based_on", "title"})


class SnapshotOut(BaseModel):
    """A submission as the caller may see it: personal numbers shown or masked, lines filtered."""

    info: SubmissionInfo
    payload: dict[str, Any] | None
    visible_lines: list[int] | None = Field(None, description="1-based lines shown; null = all")
    personal_numbers: str = Field(description="shown | masked | erased | none")
    legal_basis: str | None = None


class NoticePage(BaseModel):
    """Notices after ``after``; pass ``last_seq`` as ``after`` next time (no gaps, no duplicates)."""

    notices: list[Notice]
    last_seq: int


class InboxPage(BaseModel):
    """Dispositions for every client since ``cursor``; pass the returned ``cursor`` next time."""

    dispositions: list[Disposition]
    cursor: str


class Reminder(BaseModel):
    procedure: str
    period: str
    deadline: datetime


class Me(BaseModel):
    """Who the token stands for."""

    principal: str
    kind: str
    name: str


class Health(BaseModel):
    status: str
    version: str
