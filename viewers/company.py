"""The company's view (法人): what was filed for it, who read it, and what came back."""

from __future__ import annotations

from datetime import datetime, timedelta

from ledger.bootstrap import Kiroku
from ledger.domain.identifiers import validate_corporate_number
from ledger.domain.model import AccessRecord, Disposition, Enrollment, Grant, PersonVersion, Principal, Snapshot, SubmissionInfo
from viewers import exports


class CompanyView:
    """What one company sees and decides about its own data."""

    def __init__(self, kiroku: Kiroku, corporate_number: str) -> None:
        self.kiroku = kiroku
        self.corporate_number = validate_corporate_number(corporate_number)
        self.principal = Principal.company(self.corporate_number)

    def filings(self, procedure: str | None = None, as_of: datetime | None = None) -> list[SubmissionInfo]:
        return self.kiroku.queries.filings(self.principal, self.corporate_number, procedure, as_of=as_of)

    def snapshot(self, submission_id: str) -> Snapshot:
        return self.kiroku.queries.snapshot(self.principal, submission_id)

    def history(self, submission_id: str) -> list[SubmissionInfo]:
        return self.kiroku.queries.history(self.principal, submission_id)

    def person_history(self, submission_id: str, person: str) -> list[PersonVersion]:
        """One person's line (by 受給者番号) through the filing's corrections, oldest first."""
        return self.kiroku.queries.person_history(self.principal, submission_id, person)

    def export(self, submission_id: str, format: str = "xlsx", lang: exports.Lang = "ja", as_of: datetime | None = None, *,
               encoding: str = "utf-8") -> bytes:
        """One of the company's own filings as a file to open in a spreadsheet: ``xlsx`` or ``csv``
        (``encoding`` utf-8 with a BOM, or cp932), headers in ``lang`` (ja, en) — see
        :mod:`viewers.exports`. With ``as_of``, the version of its filing in force then."""
        exports.check_options(format, lang, encoding)
        if as_of is None:
            snap = self.snapshot(submission_id)
        else:
            info = self.history(submission_id)[-1]
            snap = self.kiroku.queries.effective(self.principal, info.corporate_number, info.procedure, info.period, as_of,
                                                 office=info.office)
        return exports.export(snap, format, lang, encoding, as_of)

    def enrollments(self) -> list[Enrollment]:
        return self.kiroku.queries.enrollments(self.principal, self.corporate_number)

    def access_log(self, after: int = 0) -> list[AccessRecord]:
        """Who read this company's data, when, what, and on which basis (denials included)."""
        return self.kiroku.queries.access_log(self.principal, self.corporate_number, after)

    def dispositions(self, after: int = 0) -> list[Disposition]:
        return self.kiroku.queries.dispositions(self.principal, self.corporate_number, after)

    def open_disposition(self, disposition_id: str) -> Disposition:
        """Read a disposition; the first read records its arrival (到達)."""
        return self.kiroku.queries.fetch_disposition(self.principal, disposition_id)

    def grants(self) -> list[Grant]:
        return self.kiroku.queries.grants(self.principal)

    def grant(self, grantee: str, procedures: list[str], actions: list[str], expires_at: datetime, personal_numbers: bool = False) -> Grant:
        return self.kiroku.commands.issue_grant(self.principal, grantee, procedures, actions, expires_at, personal_numbers)

    def revoke(self, grant_id: str, reason: str | None = None) -> Grant:
        return self.kiroku.commands.revoke_grant(self.principal, grant_id, reason)

    def reminders(self, within: timedelta = timedelta(days=30)) -> list[tuple[str, str, datetime]]:
        """Deadlines coming up for enrolled procedures with nothing filed yet."""
        return self.kiroku.queries.reminders(self.principal, self.corporate_number, within)


