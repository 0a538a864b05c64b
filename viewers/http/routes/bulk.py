"""Bulk recording: a streamed NDJSON or CSV upload, answered by a stream of one result per item.

The upload is read as it arrives and recorded in durable batches as soon as items are complete,
so memory stays bounded whatever the size; each result line is written as soon as its batch is
recorded. NDJSON items are submissions, each with its own ``idempotency_key`` (sending the same
upload again returns the original receipts). CSV is a salary-payment-report export, one row per
employee, each run of rows of one company and year one submission, keyed by its rows (as
``kiroku import-csv`` does). Result lines:

    {"item": 1, "status": 201, "receipt": {...}}
    {"item": 2, "status": 422, "problem": {...}}          # RFC 9457, pointers relative to the item
    {"done": true, "items": 2, "recorded": 1, "failed": 1}   # last: the upload was read to its end

A stream without the ``done`` line was cut short; send the same upload again.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import anyio
import anyio.from_thread
import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError as PydanticError
from starlette.requests import ClientDisconnect

from ledger.bootstrap import Kiroku
from ledger.domain.model import Principal, Receipt, SubmissionRequest
from ledger.encoding.payroll_csv import RowGroup, group_rows, header_mapping, locate_errors, submission_request
from ledger.errors import KirokuError, UnsupportedMediaType, ValidationError
from viewers.http.deps import current_principal, kiroku_of, problems
from viewers.http.problems import http_status, problem_body, validation_errors
from viewers.http.schemas import SUBMISSION_FIELDS, BulkItemIn

router = APIRouter(tags=["submissions"])

NDJSON = "application/x-ndjson"
CSV = "text/csv"
BULK_PATH = "/v1/submissions/bulk"

Who = Annotated[Principal, Depends(current_principal)]


@router.post(BULK_PATH, summary="Record many submissions from a streamed NDJSON or CSV upload",
             openapi_extra={"requestBody": {"required": True, "content": {
                 NDJSON: {"schema": {"type": "string", "description": "one SubmissionIn object with an idempotency_key per line"}},
                 CSV: {"schema": {"type": "string", "description": "salary payment report rows, English or Japanese headers"}},
             }}},
             responses={200: {"description": "one NDJSON result line per item, then a `done` line",
                              "content": {NDJSON: {"schema": {"type": "string"}}}}, **problems(415)})
async def bulk(request: Request, who: Who) -> Response:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in (NDJSON, CSV, "application/jsonl", "application/json-seq"):
        raise UnsupportedMediaType("send the submissions as application/x-ndjson (one JSON object per line) or text/csv",
                                   field="content-type", expected=f"{NDJSON} or {CSV}", got=media or None)
    return BulkResponse(request, who, kiroku_of(request), csv_mode=media == CSV)


class BulkResponse(Response):
    """Reads the request body while it writes the results (Starlette's StreamingResponse would
    compete for the body with its disconnect listener under ASGI spec < 2.4)."""

    media_type = NDJSON

    def __init__(self, request: Request, who: Principal, kiroku: Kiroku, csv_mode: bool) -> None:
        super().__init__(media_type=NDJSON)
        self.request, self.who, self.kiroku, self.csv_mode = request, who, kiroku, csv_mode
        self.batch = request.app.state.limits.bulk_batch
        self.bell = request.app.state.bell

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", NDJSON.encode()), (b"cache-control", b"no-store")]})
        chunks = self.request.stream()

        async def next_chunk() -> bytes | None:
            try:
                return await chunks.__anext__()
            except StopAsyncIteration:
                return None

        async def write(data: bytes) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": True})

        def read() -> bytes | None:
            return anyio.from_thread.run(next_chunk)

        def emit(lines: list[dict]) -> None:
            if lines:
                anyio.from_thread.run(write, "".join(json.dumps(x, ensure_ascii=False, default=str) + "\n" for x in lines).encode())

        try:
            await anyio.to_thread.run_sync(self._work, read, emit)
        except ClientDisconnect:
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    # -- in a worker thread ------------------------------------------------------------------------

    def _work(self, read: Callable[[], bytes | None], emit: Callable[[list[dict]], None]) -> None:
        counts = {"items": 0, "recorded": 0, "failed": 0}
        try:
            if self.csv_mode:
                try:
                    self._csv(_text_lines(read), emit, counts)
                except csv.Error as exc:
                    raise ValidationError(f"the CSV is malformed after item {counts['items']}: {exc}", field="body",
                                          expected="RFC 4180 CSV", got=str(exc), code="invalid_csv") from None
            else:
                self._ndjson(read, emit, counts)
        except ClientDisconnect:
            raise
        except KirokuError as err:  # the upload itself is unusable (too large, a broken CSV header…)
            emit([{"item": None, "status": http_status(err), "problem": problem_body(err, instance=BULK_PATH)}])
            return
        emit([{"done": True, **counts}])

    def _record(self, items: list[tuple[int, SubmissionRequest | KirokuError]], counts: dict) -> list[dict]:
        """Record the well-formed items in one durable batch; one result line per item, in order."""
        requests = [x for _, x in items if isinstance(x, SubmissionRequest)]
        outcomes = iter(list(self.kiroku.commands.record_many(self.who, requests, batch_size=max(1, len(requests)))) if requests else [])
        if requests:
            self.bell.ring()
        out = []
        for number, x in items:
            result: Receipt | KirokuError = next(outcomes) if isinstance(x, SubmissionRequest) else x
            counts["items"] += 1
            if isinstance(result, KirokuError):
                counts["failed"] += 1
                line = {"item": number, "status": http_status(result),
                        "problem": problem_body(result, instance=f"{BULK_PATH}#item={number}", top_level=SUBMISSION_FIELDS,
                                                location="body")}
            else:
                counts["recorded"] += 1
                line = {"item": number, "status": 201, "receipt": result.model_dump(mode="json")}
            out.append(line)
        return out

    def _ndjson(self, read: Callable[[], bytes | None], emit: Callable[[list[dict]], None], counts: dict) -> None:
        # Items are recorded as soon as a chunk completes them: a client that sends a few and waits
        # for their answers gets them without having to send a whole batch first.
        number = 0  # items (non-blank lines)
        line_no = 0  # lines of the upload, blank ones too: where a problem is
        pending = ""
        for text in _text_chunks(read):
            *complete, pending = (pending + text).split("\n")
            items: list[tuple[int, SubmissionRequest | KirokuError]] = []
            for line in complete:
                line_no += 1
                if line.strip():
                    number += 1
                    items.append((number, _parse_item(line, line_no)))
                if len(items) >= self.batch:
                    emit(self._record(items, counts))
                    items = []
            emit(self._record(items, counts))
        if pending.strip():
            emit(self._record([(number + 1, _parse_item(pending, line_no + 1))], counts))

    def _csv(self, lines: Iterator[str], emit: Callable[[list[dict]], None], counts: dict) -> None:
        reader = csv.DictReader(lines)
        mapping = header_mapping(list(reader.fieldnames) if reader.fieldnames else None)
        groups: list[RowGroup] = []
        for group in group_rows(reader, mapping):
            groups.append(group)
            if len(groups) >= self.batch:
                emit(self._record_groups(groups, counts))
                groups = []
        emit(self._record_groups(groups, counts))

    def _record_groups(self, groups: list[RowGroup], counts: dict) -> list[dict]:
        """Record CSV row groups; errors also name the CSV row and column."""
        if not groups:
            return []
        results = list(self.kiroku.commands.record_many(self.who, [submission_request(g) for g in groups], batch_size=len(groups)))
        self.bell.ring()
        out = []
        for group, result in zip(groups, results):
            counts["items"] += 1
            rows = [group.rows[0][0], group.rows[-1][0]]
            line: dict[str, Any] = {"item": counts["items"], "rows": rows}
            if isinstance(result, KirokuError):
                counts["failed"] += 1
                problem = problem_body(result, instance=f"{BULK_PATH}#rows={rows[0]}-{rows[1]}", top_level=SUBMISSION_FIELDS,
                                       location="body")
                problem["locations"] = [{k: d[k] for k in ("row", "column", "code", "message") if k in d}
                                        for d in locate_errors(result, group)]
                line.update(status=http_status(result), problem=problem)
            else:
                counts["recorded"] += 1
                line.update(status=201, receipt=result.model_dump(mode="json"))
            out.append(line)
        return out


def _parse_item(text: str, line_no: int) -> SubmissionRequest | KirokuError:
    try:
        item = BulkItemIn.model_validate_json(text)
    except PydanticError as exc:
        errors = exc.errors(include_url=False)
        broken = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if broken is not None:
            return _not_json(broken, line_no, len(text))
        return _from_pydantic(exc)
    return SubmissionRequest(**item.model_dump())


def _not_json(error: Any, line_no: int, length: int) -> ValidationError:
    """A line that is not JSON, placed by line and column: never its text (it would carry
    everything the line holds, personal numbers included), only the decoder's reason and the length."""
    reason = str((error.get("ctx") or {}).get("error") or "invalid JSON")
    # The decoder sees one line, so its own "line 1" is the upload's line ``line_no``.
    where = re.search(r"\bline \d+ column (\d+)", reason)
    column = int(where[1]) if where else None
    reason = re.sub(r"\s*at line \d+ column \d+$", "", reason)
    at = f"line {line_no}" + (f", column {column}" if column is not None else "")
    return ValidationError(f"{at} of the upload is not JSON: {reason}", expected="one JSON object per line",
                           got=f"{length} characters (not shown)", code="json_invalid")


def _from_pydantic(exc: PydanticError) -> KirokuError:
    return validation_errors(exc.errors(include_url=False), prefix=())


def _text_chunks(read: Callable[[], bytes | None]) -> Iterator[str]:
    """The upload decoded as it arrives (UTF-8, a BOM allowed), chunk by chunk."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
    while True:
        chunk = read()
        try:
            text = decoder.decode(chunk or b"", final=chunk is None)
        except UnicodeDecodeError as exc:
            raise ValidationError("the upload is not UTF-8 text", field="body", expected="UTF-8", got=str(exc),
                                  code="invalid_encoding") from None
        if text:
            yield text
        if chunk is None:
            return


def _text_lines(read: Callable[[], bytes | None]) -> Iterator[str]:
    """Lines of the upload, line endings kept for the csv module (which wants them)."""
    pending = ""
    for text in _text_chunks(read):
        # Universal newlines, as a text-mode file would give the csv module (a lone CR ends a line too).
        *complete, pending = (pending + text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for line in complete:
            yield line + "\n"
    if pending:
        yield pending
