"""End of retention: crypto-shredding the data keys of periods whose legal retention is over.

Personal numbers are sealed under one data key per scope — company | procedure | period
(``ledger.service.sealing.key_scope``). A scope's retention ends at the end of its period plus the
procedure's ``retention_years`` (``ledger.domain.procedures.retention_ends``; the 賃金台帳 counts
from the end of the month after its month, its latest pay day): a PAYROLL_REPORT (給与支払報告書)
for payment year 2026 covers 2026-01-01 … 2026-12-31 and is kept 7 years, so its key is destroyed
from 2034-01-01 00:00 JST on. Destroying the key makes the sealed fields unreadable for good —
readers see ``[erased at end of retention]`` — while the recorded bytes, their digests, receipts
and the log's Merkle proofs are untouched (only the key is gone, never a recorded byte).

``run_retention`` is idempotent: keys already destroyed are counted, not destroyed again, and a
scope that cannot be read as company | procedure | period is reported and left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ledger.domain.procedures import PROCEDURES
from ledger.domain.procedures import retention_ends as procedure_retention_ends
from ledger.errors import KirokuError
from ledger.ports import KeyService


def retention_ends(procedure: str, period: str) -> datetime:
    """The instant (JST midnight) a scope's retention is over (``ledger.domain.procedures.retention_ends``)."""
    return procedure_retention_ends(PROCEDURES[procedure], period)


@dataclass(frozen=True)
class ExpiredScope:
    """A data key whose retention is over."""

    key_id: str
    scope: str
    corporate_number: str
    procedure: str
    period: str
    retention_ended: datetime


@dataclass
class RetentionReport:
    """What one ``kiroku retention run`` found and did."""

    as_of: datetime
    dry_run: bool
    destroyed: list[ExpiredScope] = field(default_factory=list)
    already_destroyed: int = 0
    retained: int = 0
    unreadable: list[tuple[str, str, str]] = field(default_factory=list)  # (key_id, scope, why)

    def to_dict(self) -> dict[str, object]:
        return {
            "as_of": self.as_of.isoformat(), "dry_run": self.dry_run,
            "destroyed": [{"key_id": s.key_id, "scope": s.scope, "corporate_number": s.corporate_number,
                           "procedure": s.procedure, "period": s.period,
                           "retention_ended": s.retention_ended.isoformat()} for s in self.destroyed],
            "already_destroyed": self.already_destroyed, "retained": self.retained,
            "unreadable": [{"key_id": k, "scope": s, "reason": why} for k, s, why in self.unreadable],
        }


def _expiry(key_id: str, scope: str) -> ExpiredScope:
    parts = scope.split("|")
    if len(parts) != 3:
        raise ValueError("expected company|procedure|period")
    corp, procedure, period = parts
    if procedure not in PROCEDURES:
        raise ValueError(f"unknown procedure {procedure!r}")
    try:
        ends = retention_ends(procedure, period)
    except KirokuError as err:
        raise ValueError(err.message) from None
    return ExpiredScope(key_id, scope, corp, procedure, period, ends)


def run_retention(keys: KeyService, as_of: datetime, *, dry_run: bool = False) -> RetentionReport:
    """Destroy (unless ``dry_run``) every live data key whose scope's retention ended by ``as_of``."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    report = RetentionReport(as_of=as_of, dry_run=dry_run)
    for key_id, scope, destroyed in keys.scopes():
        if destroyed:
            report.already_destroyed += 1
            continue
        try:
            expiry = _expiry(key_id, scope)
        except ValueError as exc:
            report.unreadable.append((key_id, scope, str(exc)))
            continue
        if expiry.retention_ended > as_of:
            report.retained += 1
            continue
        if not dry_run:
            keys.destroy(key_id)
        report.destroyed.append(expiry)
    return report
