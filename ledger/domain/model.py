"""Domain models: who acts, what they ask, and what Kiroku answers (pydantic; Avro lives at the edge)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, computed_field

from ledger.errors import ValidationError

JST = ZoneInfo("Asia/Tokyo")

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    """A sortable unique id (ULID: 48-bit milliseconds + 80 random bits), e.g. ``sub_01J…``."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_us(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError("naive datetime: Kiroku's times are timezone-aware")
    return int(dt.timestamp() * 1_000_000)


def from_us(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC)


def jst(dt: datetime | None) -> str:
    """Display form: Japan time, to the second."""
    return "" if dt is None else dt.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S JST")


class PrincipalKind(str, Enum):
    COMPANY = "company"
    VENDOR = "vendor"  # payroll / HR SaaS
    FIRM = "firm"  # 税理士・社労士事務所
    BANK = "bank"
    AGENCY = "agency"
    OPERATOR = "operator"


class Principal(BaseModel):
    """Who is calling. Ids: ``company:<法人番号>``, ``firm:<name>``, ``agency:municipality:131016``…"""

    model_config = ConfigDict(frozen=True)

    kind: PrincipalKind
    name: str

    @property
    def id(self) -> str:
        return f"{self.kind.value}:{self.name}"

    def __str__(self) -> str:
        return self.id

    @classmethod
    def parse(cls, text: str) -> Principal:
        kind, _, name = text.partition(":")
        try:
            return cls(kind=PrincipalKind(kind), name=name)
        except ValueError:
            raise ValidationError(
                f"principal must look like company:7000012050002, firm:NAME or agency:municipality:131016, got {text!r}",
                field="principal", expected="<kind>:<name> with kind one of " + ", ".join(k.value for k in PrincipalKind),
                got=text, code="invalid_principal",
            ) from None

    @classmethod
    def company(cls, corporate_number: str) -> Principal:
        return cls(kind=PrincipalKind.COMPANY, name=corporate_number)

    @classmethod
    def agency(cls, agency_id: str) -> Principal:
        return cls(kind=PrincipalKind.AGENCY, name=agency_id)

    @classmethod
    def firm(cls, name: str) -> Principal:
        return cls(kind=PrincipalKind.FIRM, name=name)

    @classmethod
    def vendor(cls, name: str) -> Principal:
        return cls(kind=PrincipalKind.VENDOR, name=name)

    @classmethod
    def operator(cls, name: str = "operator") -> Principal:
        return cls(kind=PrincipalKind.OPERATOR, name=name)


class SubmissionKind(str, Enum):
    ORIGINAL = "ORIGINAL"
    CORRECTION = "CORRECTION"  # whole restatement replacing an earlier submission
    CANCELLATION = "CANCELLATION"  # nulls an earlier submission


class Action(str, Enum):
    SUBMIT = "submit"
    READ = "read"
    RECEIVE_NOTICES = "receive_notices"


class SubmissionRequest(BaseModel):
    """What a producer asks to record. ``payload`` is the domain form (plain personal numbers)."""

    corporate_number: str
    procedure: str
    period: str
    kind: SubmissionKind = SubmissionKind.ORIGINAL
    replaces: str | None = None
    idempotency_key: str | None = None
    payload: dict[str, Any] | None = None


class Receipt(BaseModel):
    """Proof of recording: what was recorded, where in the log, when, and against which deadline."""

    submission_id: str
    corporate_number: str
    procedure: str
    period: str
    office: str = Field("", description="the office the filing is for (本支店等区分番号, 事業所整理記号-事業所番号, 事業場), "
                        "\"\" for the company as a whole: a company files once per procedure, period and office")
    kind: SubmissionKind
    replaces: str | None = None
    position: str = Field(description="topic/partition/offset in the ledger log")
    recorded_at: datetime
    payload_digest: str = Field(description="SHA-256 (hex) of the recorded payload bytes")
    deadline: datetime | None = None
    on_time: bool | None = None
    line_count: int = 0
    targets: list[str] = Field(default_factory=list, description="agencies notified")
    unreached: list[str] = Field(default_factory=list, description="agencies not reached: named in the lines but not "
                                 "accepting (line-routed), or enrolled with but not (yet) accepting")

    @property
    def late(self) -> bool:
        return self.on_time is False

    @computed_field(  # type: ignore[prop-decorator]  # pydantic's documented form for a computed field
        description="true when the submission was recorded but no agency was notified: the company has no "
                    "accepted enrollment for the procedure (enroll, and file a correction once accepted)")
    @property
    def reached_no_agency(self) -> bool:
        """Derived from ``targets`` alone, so it needs no field of its own in the signed entry."""
        return not self.targets


class Enrollment(BaseModel):
    enrollment_id: str
    corporate_number: str
    procedure: str
    agency_id: str | None
    requested_at: datetime
    withdrawn_at: datetime | None = None
    decisions: dict[str, str] = Field(default_factory=dict, description="agency id → accepted / rejected")
    assigned_ids: dict[str, str] = Field(default_factory=dict, description="agency id → the identifier it assigned to the "
                                         "company at acceptance (指定番号, 事業所整理記号 and 事業所番号, 整理番号)")
    bonus_months: list[int] = Field(default_factory=list, description="賞与支払予定月 (1-12) of a BONUS_PAYMENT enrollment")


class Grant(BaseModel):
    grant_id: str
    corporate_number: str
    grantee: str
    procedures: list[str]
    actions: list[Action]
    personal_numbers: bool = False
    expires_at: datetime
    issued_at: datetime
    revoked_at: datetime | None = None

    def active(self, at: datetime) -> bool:
        return self.revoked_at is None and at < self.expires_at


class Notice(BaseModel):
    """One entry of an agency's notice feed, numbered from 1 without gaps."""

    agency_id: str
    seq: int
    notice_id: str
    notice_type: str
    corporate_number: str
    procedure: str
    period: str
    office: str = Field("", description="the office whose filing it is (本支店等区分番号, 事業所整理記号-番号), \"\" for "
                        "the company's filing as a whole")
    submission_id: str | None
    kind: str | None
    replaces: str | None
    recorded_at: datetime
    lines: list[int]
    assigned_id: str | None = Field(None, description="the identifier this agency assigned to the company (指定番号, …)")
    changed: list[int] | None = Field(None, description="a person-level correction's: the lines of this agency's it added or "
                                                        "corrected (null: the whole submission is news)")
    departed: int = Field(0, description="a person-level correction's: how many of this agency's persons it cancelled or moved away")
    reached: bool = Field(True, description="false when this agency sees no line of the new version: its persons all left the filing")


class SubmissionInfo(BaseModel):
    """A submission's catalog entry (no payload)."""

    submission_id: str
    corporate_number: str
    procedure: str
    period: str
    office: str = Field("", description="the office the filing is for, \"\" for the company as a whole")
    kind: SubmissionKind
    replaces: str | None
    version: int
    recorded_at: datetime
    recorded_by: str
    position: str
    payload_digest: str
    deadline: datetime | None
    on_time: bool | None
    line_count: int
    targets: list[str]
    unreached: list[str]
    assigned_id: str | None = Field(None, description="for an agency reader: the identifier it assigned to the company")


class Snapshot(BaseModel):
    """A submission as a reader may see it: decoded payload (personal numbers unsealed or masked)."""

    info: SubmissionInfo
    payload: dict[str, Any] | None
    visible_lines: list[int] | None = Field(None, description="1-based lines shown; None = all")
    personal_numbers: str = Field("masked", description="shown | masked | erased")
    legal_basis: str | None = None
    raw: bytes | None = Field(None, description="the exact payload bytes recorded (full readers only)")


class PersonVersion(BaseModel):
    """One person's line in one version of a filing (``Queries.person_history``)."""

    info: SubmissionInfo
    line_action: str | None = Field(None, description="ORIGINAL (carried over), ADD or CORRECT (written by this version); "
                                                      "None when the person is not on this version or not visible to the reader")
    line: dict[str, Any] | None = Field(None, description="the person's line as the reader may see it")
    personal_numbers: str = Field("masked", description="shown | masked | erased")


class Disposition(BaseModel):
    disposition_id: str
    corporate_number: str
    agency_id: str
    kind: str
    period: str
    title: str
    based_on: list[str]
    issued_at: datetime
    payload_digest: str
    company_seq: int
    cursor: str
    delivered_at: datetime | None = None
    delivered_to: str | None = None
    payload: dict[str, Any] | None = None
    assigned_id: str | None = Field(None, description="the identifier the issuing agency assigned to the company (指定番号, …)")


class AccessRecord(BaseModel):
    corporate_number: str | None
    seq: int
    access_id: str
    viewer: str
    action: str
    subject: str
    legal_basis: str | None
    outcome: str
    reason: str | None
    at: datetime
    person: str | None = Field(None, description="the staff account (stf_…) of the person who read through the web pages; "
                               "null for a read through an API token")


class MissingFiling(BaseModel):
    agency_id: str
    corporate_number: str
    procedure: str
    period: str
    enrollment_id: str
    deadline: datetime
    reported_at: datetime
    assigned_id: str | None = Field(None, description="the identifier this agency assigned to the company (指定番号, …)")
    seal: str | None = Field(None, description="the deadline seal of the company's filings partition, as "
                             "'<origin> <size> <base64 root>' (its signed checkpoint: kiroku checkpoint show --seal)")
