"""The agency's view (税務署, 市区町村, 年金事務所, 労働局, 労働基準監督署).

Notice feed, enrollment decisions, queries as of any time, snapshots, CSV export, dispositions
and missing-filing reports — every read recorded in the company's access log.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from typing import IO, Any

from ledger.bootstrap import Kiroku
from ledger.domain.model import Disposition, Enrollment, MissingFiling, Notice, PersonVersion, Principal, Snapshot, SubmissionInfo
from ledger.domain.procedures import PROCEDURES, validate_agency_id
from ledger.encoding.csv_cells import flat_line, safe_row
from viewers import exports


class AgencyView:
    """What one agency sees and does."""

    def __init__(self, kiroku: Kiroku, agency_id: str) -> None:
        self.kiroku = kiroku
        self.agency_id = validate_agency_id(agency_id)
        self.principal = Principal.agency(agency_id)

    def notices(self, after: int = 0, limit: int = 100) -> list[Notice]:
        """Notices after sequence number ``after`` (start at 0): ordered, no gaps, no duplicates."""
        return self.kiroku.queries.notices(self.principal, after, limit)

    def pending_enrollments(self) -> list[Enrollment]:
        return self.kiroku.queries.pending_enrollments(self.principal)

    def accept(self, enrollment_id: str, assigned_id: str | None = None, office_number: str | None = None) -> Enrollment:
        """Accept, optionally giving the identifier this agency assigned to the company (指定番号, …)."""
        return self.kiroku.commands.accept_enrollment(self.principal, enrollment_id, assigned_id, office_number)

    def reject(self, enrollment_id: str, reason: str) -> Enrollment:
        return self.kiroku.commands.reject_enrollment(self.principal, enrollment_id, reason)

    def accept_all(self, procedure: str, accept: bool = True) -> None:
        """Standing policy: accept every enrollment for a line-routed procedure."""
        self.kiroku.commands.set_policy(self.principal, procedure, accept)

    def filings(self, corporate_number: str | None = None, procedure: str | None = None, period_from: str | None = None,
                period_to: str | None = None, as_of: datetime | None = None) -> list[SubmissionInfo]:
        return self.kiroku.queries.filings(self.principal, corporate_number, procedure, period_from, period_to, as_of)

    def snapshot(self, submission_id: str) -> Snapshot:
        return self.kiroku.queries.snapshot(self.principal, submission_id)

    def effective(self, corporate_number: str, procedure: str, period: str, as_of: datetime | None = None, *,
                  office: str = "") -> Snapshot:
        """The version in force of a filing (of one office, or "" the company's as a whole) at ``as_of``."""
        return self.kiroku.queries.effective(self.principal, corporate_number, procedure, period, as_of, office=office)

    def history(self, submission_id: str) -> list[SubmissionInfo]:
        return self.kiroku.queries.history(self.principal, submission_id)

    def person_history(self, submission_id: str, person: str) -> list[PersonVersion]:
        """One person's line (by 受給者番号) through the filing's corrections, oldest first."""
        return self.kiroku.queries.person_history(self.principal, submission_id, person)

    def snapshot_bytes(self, submission_id: str) -> bytes:
        """The exact payload bytes recorded (Avro single-object encoding), when the agency sees every line."""
        snap = self.snapshot(submission_id)
        if snap.raw is None:
            raise PermissionError("this agency sees only its own residents' lines; use snapshot() for them")
        return snap.raw

    def export_csv(self, submission_ids: Iterable[str], out: IO[str]) -> int:
        """Write the lines of the given submissions (as this agency may see them) as CSV; returns rows written.

        Text cells that a spreadsheet would read as a formula are neutralised (:func:`safe_row`)."""
        writer: Any = None
        rows = 0
        for sid in submission_ids:
            snap = self.snapshot(sid)
            if snap.payload is None:
                continue
            numbers = snap.visible_lines or list(range(1, len(snap.payload["lines"]) + 1))
            for number, line in zip(numbers, snap.payload["lines"]):
                record = {"submission_id": sid, "corporate_number": snap.info.corporate_number, "procedure": snap.info.procedure,
                          "period": snap.info.period, "line": number,
                          **flat_line(PROCEDURES[snap.info.procedure].line, line)}
                if writer is None:
                    writer = csv.DictWriter(out, fieldnames=list(record))
                    writer.writeheader()
                writer.writerow(safe_row(record))
                rows += 1
        return rows

    def export(self, submission_id: str, format: str = "xlsx", lang: exports.Lang = "ja", as_of: datetime | None = None, *,
               encoding: str = "utf-8") -> bytes:
        """A submission as this agency may see it, as a file its staff open: ``xlsx`` or ``csv``
        (``encoding`` utf-8 with a BOM, or cp932), headers in ``lang`` (ja, en) — see
        :mod:`viewers.exports`. The read is :meth:`snapshot`'s, recorded in the access log alike.
        With ``as_of``, the version of the submission's filing in force then (its history and that
        version are read, and recorded)."""
        exports.check_options(format, lang, encoding)
        if as_of is None:
            snap = self.snapshot(submission_id)
        else:
            info = self.history(submission_id)[-1]
            snap = self.effective(info.corporate_number, info.procedure, info.period, as_of, office=info.office)
        return exports.export(snap, format, lang, encoding, as_of)

    def issue_disposition(self, corporate_number: str, kind: str, period: str, payload: dict[str, Any],
                          based_on: list[str] | None = None, title: str | None = None) -> Disposition:
        return self.kiroku.commands.issue_disposition(self.principal, corporate_number, kind, period, payload, based_on, title)

    def expected_filers(self, procedure: str, period: str) -> list[str]:
        """The companies this agency expects a filing of ``procedure`` for ``period`` from (their enrollments it accepted)."""
        return self.kiroku.queries.expected_filers(self.principal, procedure, period)

    def missing_report(self, procedure: str | None = None, period: str | None = None) -> list[MissingFiling]:
        return self.kiroku.queries.missing_report(self.principal, procedure, period)
