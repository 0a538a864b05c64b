"""The in-process SDK for publishers: payroll / HR vendors, accounting firms and companies.

    from producers import Producer
    with Producer.open("vendor:acme") as p:
        p.enroll("7000012050002", "PAYROLL_REPORT")
        receipt = p.record("7000012050002", "PAYROLL_REPORT", "2026", payload, idempotency_key="jan-2027-run-1")

Every call goes through the service layer, which validates, authorizes (a vendor or firm acts
only under the company's grant) and records; the SDK adds nothing but convenience.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ledger.bootstrap import Kiroku, open_kiroku
from ledger.domain.model import Disposition, Enrollment, Grant, Principal, Receipt, SubmissionKind, SubmissionRequest
from ledger.errors import KirokuError
from ledger.transparency.proofs import ReceiptProof

if TYPE_CHECKING:
    from producers.file_import import ImportResult


class Producer:
    """Record submissions and follow what comes back, as one principal."""

    def __init__(self, kiroku: Kiroku, principal: Principal | str, *, owns_kiroku: bool = False) -> None:
        self.kiroku = kiroku
        self.principal = principal if isinstance(principal, Principal) else Principal.parse(principal)
        self._owns = owns_kiroku

    @classmethod
    def open(cls, principal: Principal | str, **settings: Any) -> Producer:
        """Open the deployment the settings (or ``KIROKU_*`` variables) describe, as ``principal``."""
        return cls(open_kiroku(**settings), principal, owns_kiroku=True)

    def close(self) -> None:
        if self._owns:
            self.kiroku.close()

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- enrollment --------------------------------------------------------------------------------

    def enroll(self, corporate_number: str, procedure: str, agency_id: str | None = None,
               bonus_months: list[int] | None = None) -> Enrollment:
        """Declare that ``procedure`` will be filed through Kiroku (クラウド提出の申出)."""
        return self.kiroku.commands.request_enrollment(self.principal, corporate_number, procedure, agency_id, bonus_months)

    def withdraw(self, enrollment_id: str, reason: str | None = None) -> Enrollment:
        return self.kiroku.commands.withdraw_enrollment(self.principal, enrollment_id, reason)

    def enrollments(self, corporate_number: str) -> list[Enrollment]:
        """The company's enrollments (for the company, or an agent holding a grant to submit or read)."""
        return self.kiroku.queries.enrollments(self.principal, corporate_number)

    # -- recording ---------------------------------------------------------------------------------

    def record(self, corporate_number: str, procedure: str, period: str, payload: dict[str, Any],
               idempotency_key: str | None = None) -> Receipt:
        """Record an original submission and return its receipt."""
        return self.kiroku.commands.record(self.principal, SubmissionRequest(
            corporate_number=corporate_number, procedure=procedure, period=period, payload=payload, idempotency_key=idempotency_key))

    def correct(self, replaces: str, payload: dict[str, Any], idempotency_key: str | None = None) -> Receipt:
        """Record a correction replacing submission ``replaces`` (same company, procedure, period): a whole
        restatement, or a person-level one whose lines each say ADD, CORRECT or CANCEL (``line_action``)."""
        prior = self.receipt(replaces)
        return self.kiroku.commands.record(self.principal, SubmissionRequest(
            corporate_number=prior.corporate_number, procedure=prior.procedure, period=prior.period,
            kind=SubmissionKind.CORRECTION, replaces=replaces, payload=payload, idempotency_key=idempotency_key))

    def cancel(self, replaces: str, idempotency_key: str | None = None) -> Receipt:
        """Record a cancellation: the filing is no longer in force (its history stays)."""
        prior = self.receipt(replaces)
        return self.kiroku.commands.record(self.principal, SubmissionRequest(
            corporate_number=prior.corporate_number, procedure=prior.procedure, period=prior.period,
            kind=SubmissionKind.CANCELLATION, replaces=replaces, idempotency_key=idempotency_key))

    def record_many(self, requests: Iterable[SubmissionRequest], batch_size: int = 500) -> Iterator[Receipt | KirokuError]:
        """Stream many submissions; yields a receipt or an error for each, in order, with bounded memory."""
        return self.kiroku.commands.record_many(self.principal, requests, batch_size=batch_size)

    def import_file(self, source: Any, *, format: str = "auto", encoding: str = "auto",  # noqa: A002 - as --format
                    corporate_number: str | None = None, batch_size: int = 200, on_row: Callable[[int], None] | None = None,
                    keep_receipts: bool = True, on_receipt: Callable[[Receipt], None] | None = None) -> ImportResult:
        """Import a file vendors produce — Kiroku's payroll CSV, the national 315 CSV (``eltax-315``),
        SHFD0006.CSV (``nenkin-shfd0006``, with ``corporate_number``) — one filing per group, errors
        by the file's row and column (:func:`producers.file_import.import_file`)."""
        from producers.file_import import import_file

        return import_file(self, source, format=format, encoding=encoding, corporate_number=corporate_number,
                           batch_size=batch_size, on_row=on_row, keep_receipts=keep_receipts, on_receipt=on_receipt)

    def import_files(self, files: Any, *, format: str = "auto", encoding: str = "auto",  # noqa: A002 - as --format
                     corporate_number: str | None = None, batch_size: int = 200, on_row: Callable[[int], None] | None = None,
                     keep_receipts: bool = True, on_receipt: Callable[[Receipt], None] | None = None) -> ImportResult:
        """Import several files as one stream of filings, their groups sharing batches (a SHFD0006.CSV
        per 事業所: each of ``files`` a source or (source, 法人番号)); errors name their ``file``
        (:func:`producers.file_import.import_files`)."""
        from producers.file_import import import_files

        return import_files(self, files, format=format, encoding=encoding, corporate_number=corporate_number,
                            batch_size=batch_size, on_row=on_row, keep_receipts=keep_receipts, on_receipt=on_receipt)

    def receipt(self, submission_id: str) -> Receipt:
        """Fetch a receipt again (e.g. after a timeout)."""
        return self.kiroku.queries.receipt(self.principal, submission_id)

    def receipt_with_proof(self, submission_id: str, *, wait: bool = True, timeout: float = 10.0,
                           seal: bool = False) -> ReceiptProof:
        """The receipt completed with its log entry and an inclusion proof against a signed
        checkpoint (``seal``: against its deadline's seal) — a file anyone can verify with the log's
        public key (``proof.to_json()``; ``kiroku verify --receipt``). With ``wait``, polls until the
        sequencer has integrated the entry or ``timeout`` seconds pass (then the last retriable
        error is raised)."""
        transparency = self.kiroku.transparency
        give_up = time.monotonic() + timeout
        while True:
            try:
                return transparency.receipt_with_proof(self.principal, submission_id, seal=seal)
            except KirokuError as err:
                if not (wait and err.retriable) or time.monotonic() >= give_up:
                    raise
            time.sleep(min(0.05, max(0.0, give_up - time.monotonic())))

    # -- what comes back ---------------------------------------------------------------------------

    def dispositions(self, cursor: str | None = None) -> tuple[list[Disposition], str]:
        """Dispositions for every client company (or for the company itself) after ``cursor``."""
        return self.kiroku.queries.inbox(self.principal, cursor)

    def fetch_disposition(self, disposition_id: str) -> Disposition:
        """A disposition's content; the first fetch records its arrival (到達)."""
        return self.kiroku.queries.fetch_disposition(self.principal, disposition_id)

    # -- grants (companies only) -------------------------------------------------------------------

    def grant(self, grantee: str, procedures: list[str], actions: list[str], expires_at: datetime,
              personal_numbers: bool = False) -> Grant:
        return self.kiroku.commands.issue_grant(self.principal, grantee, procedures, actions, expires_at, personal_numbers)

    def revoke(self, grant_id: str, reason: str | None = None) -> Grant:
        return self.kiroku.commands.revoke_grant(self.principal, grant_id, reason)
