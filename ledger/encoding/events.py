"""Events: the stored form of everything that happens, and the mapper to and from log bytes.

An event is an Avro ``Envelope`` (event id, type, time, actor, company, grant, correlation) whose
``body`` is the typed body, itself single-object encoded — so each body type evolves on its own
and any reader finds the writer schema from the body's fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.domain.model import Receipt, SubmissionKind, new_id, utcnow
from ledger.encoding.codec import SchemaRegistry
from ledger.ports import LogRecord, Position

NS = "kiroku.events."
ENVELOPE = NS + "Envelope"

ENROLLMENT_REQUESTED = "EnrollmentRequested"
ENROLLMENT_ACCEPTED = "EnrollmentAccepted"
ENROLLMENT_REJECTED = "EnrollmentRejected"
ENROLLMENT_WITHDRAWN = "EnrollmentWithdrawn"
ENROLLMENT_POLICY_SET = "EnrollmentPolicySet"
SUBMISSION_RECORDED = "SubmissionRecorded"
SUBMISSION_NOTICE = "SubmissionNotice"  # one notice per record: read (older logs), no longer written
NOTICES_ISSUED = "NoticesIssued"
FILING_VIEWED = "FilingViewed"
DISPOSITION_ISSUED = "DispositionIssued"
DISPOSITION_DELIVERED = "DispositionDelivered"
GRANT_ISSUED = "GrantIssued"
GRANT_REVOKED = "GrantRevoked"
FILING_MISSING = "FilingMissing"


@dataclass(slots=True)
class Event:
    """A domain event with its envelope fields. ``type`` is the short body name."""

    type: str
    body: dict[str, Any]
    actor: str
    corporate_number: str | None = None
    grant_id: str | None = None
    correlation_id: str | None = None
    event_id: str = field(default_factory=lambda: new_id("evt"))
    time: datetime | None = None  # set by whoever appends, from the service's clock

    @property
    def key(self) -> bytes:
        """The log key: the company (per-company order), else the agency the event is about."""
        if self.corporate_number:
            return self.corporate_number.encode()
        return str(self.body.get("agency_id") or self.actor).encode()


class EventCodec:
    """Maps events to log records and back, through the schema registry."""

    CACHE_BYTES = 16 * 1024 * 1024  # about one processing batch of large submissions, bounded

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        # Decoded events by log position. In the embedded deployment the notifier, the projector
        # and the notices the notifier just produced are read moments apart: decode each once.
        self._decoded: dict[tuple[str, int, int], tuple[Event, int]] = {}
        self._bytes = 0

    def remember(self, position: Any, ev: Event, size: int = 512) -> None:
        """Keep the event known to be stored at ``position`` (a record this process just wrote)."""
        while self._bytes + size > self.CACHE_BYTES and self._decoded:
            oldest = next(iter(self._decoded))  # dicts keep insertion order: evict the oldest first
            self._bytes -= self._decoded.pop(oldest)[1]
        self._decoded[(position.topic, position.partition, position.offset)] = (ev, size)
        self._bytes += size

    def decode_record(self, rec: Any) -> Event:
        """Decode a stored record, once per position while it stays in the bounded cache."""
        hit = self._decoded.get((rec.topic, rec.partition, rec.offset))
        if hit is not None:
            return hit[0]
        ev = self.decode(rec.value)
        self.remember(rec, ev, len(rec.value))
        return ev

    def encode(self, ev: Event) -> bytes:
        if ev.time is None:
            ev.time = utcnow()
        body = self.registry.encode(NS + ev.type, ev.body)
        return self.registry.encode(
            ENVELOPE,
            {
                "event_id": ev.event_id, "type": NS + ev.type, "time": ev.time, "actor": ev.actor,
                "corporate_number": ev.corporate_number, "grant_id": ev.grant_id,
                "correlation_id": ev.correlation_id, "body": body,
            },
        )

    def record(self, ev: Event) -> LogRecord:
        return LogRecord(ev.key, self.encode(ev))

    def decode(self, data: bytes) -> Event:
        env = self.registry.decode_as(data, ENVELOPE)
        name, body = self.registry.decode(env["body"])
        return Event(
            type=name.removeprefix(NS), body=body, actor=env["actor"], corporate_number=env["corporate_number"],
            grant_id=env["grant_id"], correlation_id=env["correlation_id"], event_id=env["event_id"], time=env["time"],
        )


def receipt_from_event(ev: Event, pos: Position) -> Receipt:
    """The receipt of an appended ``SubmissionRecorded`` event, from the event itself (the catalog may lag)."""
    b = ev.body
    assert ev.time is not None  # only appended events (which _append gave a time) have a position
    return Receipt(
        submission_id=b["submission_id"], corporate_number=ev.corporate_number or "", procedure=b["procedure"], period=b["period"],
        office=b["office"], kind=SubmissionKind(b["kind"]), replaces=b["replaces"], position=str(pos), recorded_at=ev.time,
        payload_digest=b["payload_digest"], deadline=b["deadline"], on_time=b["on_time"], line_count=b["line_count"],
        targets=[t["agency_id"] for t in b["targets"]], unreached=list(b["unreached"]),
    )
