"""The remote SDK for publishers: ``Producer``'s interface over Kiroku's HTTP API (httpx).

    from producers.remote import RemoteProducer
    with RemoteProducer.open("https://kiroku.example", token) as p:
        receipt = p.record("7000012050002", "PAYROLL_REPORT", "2026", payload, idempotency_key="2027-01-run-7")

Same methods, same return types (``Receipt``, ``Enrollment``, ``Grant``, ``Disposition``) and the
same errors (``NotFound``, ``Forbidden``, ``Conflict``, ``ValidationError``…) as the in-process
``Producer``. Every recording carries an idempotency key — the caller's, or one made here — and a
recording that timed out is sent again with the same key, so it is recorded once whatever happens
on the way. ``record_many`` streams NDJSON uploads of ``chunk`` items each and yields one receipt
or error per request, in order.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.domain.model import Disposition, Enrollment, Grant, Principal, Receipt, SubmissionKind, SubmissionRequest
from ledger.encoding.file_formats import AUTO, PAYROLL_CSV, check_options, format_named, sniff
from ledger.encoding.text_files import codec_named, text_lines, unknown_encoding
from ledger.errors import KirokuError, TooManyRequests, Unavailable
from producers.file_import import ImportResult, Source
from viewers.http.client import HttpClient
from viewers.http.problems import error_from_problem


def new_key() -> str:
    """An idempotency key for a recording the caller gave none for."""
    return f"sdk-{uuid.uuid4()}"


#: Bytes per piece of a file sent to the bulk upload.
CHUNK_BYTES = 64 * 1024


def _chunks(source: Source) -> Iterator[bytes]:
    """The file's bytes in pieces, read as they are sent (a path is opened here, and closed)."""
    if isinstance(source, bytes):
        yield source
        return
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            while piece := fh.read(CHUNK_BYTES):
                yield piece
        return
    while True:
        read: bytes | str = source.read(CHUNK_BYTES)
        if not read:
            return
        yield read.encode("utf-8") if isinstance(read, str) else read


def _sniffed(source: Source, codec: str) -> str:
    """The format the server's ``auto`` will find, from the file's first line (a path or bytes; a
    stream cannot be read twice: ``auto`` then)."""
    if isinstance(source, bytes):
        first = source.split(b"\n", 1)[0]
    elif isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            first = fh.readline()
    else:
        return AUTO
    try:
        return sniff(next(text_lines([first], codec), ""))
    except KirokuError:
        return AUTO  # the server names the line it cannot read


class RemoteProducer:
    """Record submissions and follow what comes back, as the principal the token stands for."""

    def __init__(self, http: HttpClient, *, chunk: int = 200) -> None:
        self.http = http
        self.chunk = chunk

    @classmethod
    def open(cls, base_url: str, token: str, **client: Any) -> RemoteProducer:
        """Connect to the Kiroku at ``base_url`` with an API token (``timeout``, ``retries``… go to ``HttpClient``)."""
        chunk = client.pop("chunk", 200)
        return cls(HttpClient(base_url, token, **client), chunk=chunk)

    @property
    def principal(self) -> Principal:
        return self.http.principal

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RemoteProducer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- enrollment --------------------------------------------------------------------------------

    def enroll(self, corporate_number: str, procedure: str, agency_id: str | None = None,
               bonus_months: list[int] | None = None) -> Enrollment:
        """Declare that ``procedure`` will be filed through Kiroku (クラウド提出の申出); idempotent.
        ``bonus_months``: the 賞与支払予定月 of a BONUS_PAYMENT enrollment."""
        body: dict = {"corporate_number": corporate_number, "procedure": procedure, "agency_id": agency_id}
        if bonus_months:
            body["bonus_months"] = list(bonus_months)
        return Enrollment.model_validate(self.http.call("POST", "/v1/enrollments", json=body, safe=True).json())

    def withdraw(self, enrollment_id: str, reason: str | None = None) -> Enrollment:
        resp = self.http.call("POST", f"/v1/enrollments/{enrollment_id}/withdraw", json={"reason": reason}, safe=True)
        return Enrollment.model_validate(resp.json())

    def enrollments(self, corporate_number: str) -> list[Enrollment]:
        resp = self.http.call("GET", "/v1/enrollments", params={"corporate_number": corporate_number})
        return [Enrollment.model_validate(x) for x in resp.json()]

    # -- recording ---------------------------------------------------------------------------------

    def _submit(self, req: SubmissionRequest) -> Receipt:
        key = req.idempotency_key or new_key()
        body = req.model_dump(mode="json", exclude={"idempotency_key"})
        resp = self.http.call("POST", "/v1/submissions", json=body, headers={"Idempotency-Key": key}, safe=True)
        return Receipt.model_validate(resp.json())

    def record(self, corporate_number: str, procedure: str, period: str, payload: dict[str, Any],
               idempotency_key: str | None = None) -> Receipt:
        """Record an original submission and return its receipt."""
        return self._submit(SubmissionRequest(corporate_number=corporate_number, procedure=procedure, period=period,
                                              payload=payload, idempotency_key=idempotency_key))

    def correct(self, replaces: str, payload: dict[str, Any], idempotency_key: str | None = None) -> Receipt:
        """Record a correction replacing submission ``replaces``: a whole restatement, or a person-level
        one whose lines each say ADD, CORRECT or CANCEL (``line_action``)."""
        prior = self.receipt(replaces)
        return self._submit(SubmissionRequest(corporate_number=prior.corporate_number, procedure=prior.procedure, period=prior.period,
                                              kind=SubmissionKind.CORRECTION, replaces=replaces, payload=payload,
                                              idempotency_key=idempotency_key))

    def cancel(self, replaces: str, idempotency_key: str | None = None) -> Receipt:
        """Record a cancellation: the filing is no longer in force (its history stays)."""
        prior = self.receipt(replaces)
        return self._submit(SubmissionRequest(corporate_number=prior.corporate_number, procedure=prior.procedure, period=prior.period,
                                              kind=SubmissionKind.CANCELLATION, replaces=replaces, idempotency_key=idempotency_key))

    def record_many(self, requests: Iterable[SubmissionRequest], batch_size: int = 500) -> Iterator[Receipt | KirokuError]:
        """Stream many submissions; yields a receipt or an error for each, in order.

        Requests go up in NDJSON uploads of ``chunk`` items (the server records each upload in
        durable batches); an upload cut short is sent again with the same keys, and only the items
        not yet answered are yielded."""
        pending: list[SubmissionRequest] = []
        for req in requests:
            pending.append(req if req.idempotency_key else req.model_copy(update={"idempotency_key": new_key()}))
            if len(pending) >= min(self.chunk, batch_size):
                yield from self._upload(pending)
                pending = []
        if pending:
            yield from self._upload(pending)

    def _upload(self, items: list[SubmissionRequest]) -> Iterator[Receipt | KirokuError]:
        body = "".join(json.dumps(r.model_dump(mode="json"), ensure_ascii=False) + "\n" for r in items).encode()
        answered = 0
        for attempt in range(self.http.retries + 1):
            try:
                for line in self.http.stream_lines("POST", "/v1/submissions/bulk", content=body,
                                                   headers={"Content-Type": "application/x-ndjson"}):
                    if not line.strip():
                        continue
                    result = json.loads(line)
                    if result.get("done"):
                        return
                    number = result.get("item")
                    if number is None:  # the upload as a whole was refused
                        raise error_from_problem(result["problem"], result["status"])
                    if number <= answered:
                        continue
                    answered = number
                    yield (Receipt.model_validate(result["receipt"]) if "receipt" in result
                           else error_from_problem(result["problem"], result["status"]))
                raise Unavailable("the bulk answer ended before its last line", retriable=True)
            except TooManyRequests as err:
                if attempt == self.http.retries:
                    raise
                time.sleep(min(self.http.max_retry_after, err.retry_after))
            except Unavailable:
                if attempt == self.http.retries:
                    raise
                self.http.pause(attempt)

    def import_file(self, source: Source, *, format: str = AUTO, encoding: str = AUTO,  # noqa: A002 - as --format
                    corporate_number: str | None = None, batch_size: int = 200, on_row: Callable[[int], None] | None = None,
                    keep_receipts: bool = True, on_receipt: Callable[[Receipt], None] | None = None) -> ImportResult:
        """Import a file vendors produce through the HTTP bulk upload (``text/csv`` with ``format=``,
        ``corporate_number=`` and the encoding as its ``charset``): the same result as the embedded
        ``Producer.import_file``, its errors placed on the file's rows by the server. The file is sent
        as a stream, never held whole; a broken-off upload raises ``Unavailable`` — send the file
        again: its groups' keys make the second upload answer the first receipts. (``batch_size``
        is the server's: it records in batches of its own.)"""
        del batch_size
        fmt = format_named(format)
        codec = codec_named(encoding)
        if codec is None:
            raise unknown_encoding(encoding)
        check_options(fmt, corporate_number)
        params = {"format": fmt, **({"corporate_number": corporate_number} if corporate_number else {})}
        content_type = "text/csv" + (f"; charset={codec}" if codec != AUTO else "")
        result = ImportResult(format=fmt if fmt != AUTO else _sniffed(source, codec))
        header = 1 if result.format == PAYROLL_CSV else 0
        for text in self.http.stream_lines("POST", "/v1/submissions/bulk", content=_chunks(source), params=params,
                                           headers={"Content-Type": content_type}):
            if not text.strip():
                continue
            answer = json.loads(text)
            if answer.get("done"):
                return result
            if answer.get("item") is None:  # the upload as a whole was refused
                raise error_from_problem(answer["problem"], answer["status"])
            last = (answer.get("rows") or [0, 0])[-1]
            result.rows = max(result.rows, last - header)
            if on_row is not None:
                on_row(last)
            if "receipt" in answer:
                receipt = Receipt.model_validate(answer["receipt"])
                result.recorded += 1
                if keep_receipts:
                    result.receipts.append(receipt)
                if on_receipt is not None:
                    on_receipt(receipt)
            else:
                result.failed += 1
                problem = answer["problem"]
                result.add_errors(problem.get("locations") or [{"row": (answer.get("rows") or [None])[0], "column": "",
                                                                "message": problem.get("detail", ""), "code": problem.get("code")}])
        raise Unavailable("the import's answer ended before its last line: send the file again", retriable=True)

    def import_files(self, files: Iterable[Source | tuple[Source, str | None]], *, format: str = AUTO,  # noqa: A002 - as --format
                     encoding: str = AUTO, corporate_number: str | None = None, batch_size: int = 200,
                     on_row: Callable[[int], None] | None = None, keep_receipts: bool = True,
                     on_receipt: Callable[[Receipt], None] | None = None) -> ImportResult:
        """Import several files, one upload each (the server batches each upload's groups), into one
        result as the embedded ``Producer.import_files`` gives it: each of ``files`` a source or
        (source, 法人番号); with more than one file, errors name their ``file``."""
        todo = [f if isinstance(f, tuple) else (f, corporate_number) for f in files]
        for _, number in todo:
            check_options(format_named(format), number)
        total = ImportResult(format=format_named(format))
        seen: list[str] = []
        for position, (source, number) in enumerate(todo, start=1):
            before = total.rows
            one = self.import_file(source, format=format, encoding=encoding, corporate_number=number,
                                   keep_receipts=keep_receipts, on_receipt=on_receipt,
                                   on_row=None if on_row is None else (lambda n, b=before: on_row(b + n)))  # type: ignore[misc]
            name = (str(source) if isinstance(source, (str, Path)) else str(position)) if len(todo) > 1 else None
            total.add_errors([{"file": name, **e} if name else e for e in one.errors])
            total.more_errors += one.more_errors
            total.receipts.extend(one.receipts)
            total.rows, total.recorded, total.failed = total.rows + one.rows, total.recorded + one.recorded, total.failed + one.failed
            if one.format not in seen:
                seen.append(one.format)
        total.format = ",".join(seen) or total.format
        return total

    def receipt(self, submission_id: str) -> Receipt:
        """Fetch a receipt again (e.g. after a timeout)."""
        return Receipt.model_validate(self.http.call("GET", f"/v1/submissions/{submission_id}/receipt").json())

    def receipt_with_proof(self, submission_id: str, *, wait: bool = True, timeout: float = 10.0, seal: bool = False) -> Any:
        """The receipt with its entry and an inclusion proof against a signed checkpoint (a
        ``ReceiptProof``; ``proof.to_json()`` is the file ``kiroku verify --receipt`` checks). With
        ``wait``, asks again until the entry is integrated or ``timeout`` seconds pass."""
        from ledger.transparency.proofs import ReceiptProof

        give_up = time.monotonic() + timeout
        while True:
            try:
                resp = self.http.call("GET", f"/v1/submissions/{submission_id}/proof", params={"seal": "true"} if seal else None)
                return ReceiptProof.from_json(resp.content)
            except KirokuError as err:
                if not (wait and err.retriable) or time.monotonic() >= give_up:
                    raise
            time.sleep(min(0.05, max(0.0, give_up - time.monotonic())))

    # -- what comes back ---------------------------------------------------------------------------

    def dispositions(self, cursor: str | None = None) -> tuple[list[Disposition], str]:
        """Dispositions for every client company (or for the company itself) after ``cursor``."""
        page = self.http.call("GET", "/v1/dispositions", params={"cursor": cursor} if cursor else None).json()
        return [Disposition.model_validate(d) for d in page["dispositions"]], page["cursor"]

    def fetch_disposition(self, disposition_id: str) -> Disposition:
        """A disposition's content; the first fetch records its arrival (到達)."""
        return Disposition.model_validate(self.http.call("GET", f"/v1/dispositions/{disposition_id}").json())

    # -- grants (companies only) -------------------------------------------------------------------

    def grant(self, grantee: str, procedures: list[str], actions: list[str], expires_at: datetime,
              personal_numbers: bool = False) -> Grant:
        body = {"grantee": grantee, "procedures": procedures, "actions": actions, "expires_at": expires_at.isoformat(),
                "personal_numbers": personal_numbers}
        return Grant.model_validate(self.http.call("POST", "/v1/grants", json=body).json())

    def revoke(self, grant_id: str, reason: str | None = None) -> Grant:
        return Grant.model_validate(self.http.call("POST", f"/v1/grants/{grant_id}/revoke", json={"reason": reason}, safe=True).json())
