"""Bulk recording: a streamed NDJSON or CSV upload, answered by a stream of one result per item.

The upload is read as it arrives and recorded in durable batches as soon as items are complete,
so memory stays bounded whatever the size; each result line is written as soon as its batch is
recorded. NDJSON items are submissions, each with its own ``idempotency_key`` (sending the same
upload again returns the original receipts). CSV is a salary-payment-report export, one row per
employee, each run of rows of one company, year and office one submission, keyed by its rows (as
``kiroku import-csv`` does), in UTF-8 (with or without a BOM) or CP932 (Windows' Shift_JIS): the
``charset`` parameter of ``text/csv`` says which (``shift_jis``, ``cp932``, ``utf-8`` …), or,
without one, it is detected (:mod:`ledger.encoding.text_files`). The IANA text/csv registration
(RFC 4180 as RFC 7111 updated it, after RFC 6657) says to assume UTF-8 without a charset:
detection reads every UTF-8 body as UTF-8 still (a valid UTF-8 line decides UTF-8), and reads a
CP932 body that would otherwise be refused. NDJSON is UTF-8, as JSON is (RFC 8259 §8.1).

A ``text/csv`` upload may also be one of the national files vendors already produce, named by the
query parameter ``format`` (:mod:`ledger.encoding.file_formats`): ``eltax-315`` (給与支払報告書・
源泉徴収票, record 315, CP932 by rule) or ``nenkin-shfd0006`` (日本年金機構 SHFD0006.CSV, with
``corporate_number=<法人番号>``: the file has none); ``payroll-csv`` is Kiroku's own, and ``auto``
(the default) tells them apart by the first line. Each group of the file — one filing — is one
item, recorded (or refused, 403 for a principal without the company's grant) like any submission;
a 訂正表示 group is a person-level correction of the filing in force. E.g.
``POST /v1/submissions/bulk?format=nenkin-shfd0006&corporate_number=7000012050002`` with
``Content-Type: text/csv; charset=shift_jis``. Result lines:

    {"item": 1, "status": 201, "receipt": {...}}
    {"item": 2, "status": 200, "replayed": true, "receipt": {...}}   # recorded before: the original receipt
    {"item": 3, "status": 422, "problem": {...}}          # RFC 9457, pointers relative to the item
    {"item": 4, "rows": [7, 9], "status": 422, "problem": {..., "locations": [{"row": 8, "column": …}]}}  # a CSV group
    {"done": true, "items": 3, "recorded": 1, "replayed": 1, "failed": 1}   # last: the upload was read to its end

``recorded`` counts what this upload appended to the ledger, ``replayed`` the items it found
recorded already (by an earlier upload, or earlier in this one): sending an upload again answers
the original receipts with ``recorded: 0``. A stream without the ``done`` line was cut short; send
the same upload again.

Bounds (``Limits``): a principal runs at most ``bulk_per_principal`` uploads at once and the server
``bulk_workers`` (429 with ``Retry-After`` beyond, before a byte of the body is read); each upload
runs on a thread of its own bounded pool, never on the thread pool that serves every other route;
its lines are read incrementally, in linear time, and one longer than ``max_line`` bytes is
answered 413 for that line (named by its number) and skipped without being held in memory; a body
that stalls or trickles is cut off (408, ``app.BodyPace``). The token is checked again before each
batch: once it is revoked or expires the upload ends with a 401 line and records nothing more.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
import anyio.from_thread
import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError as PydanticError
from starlette.requests import ClientDisconnect

from ledger.bootstrap import Kiroku
from ledger.domain.model import Principal, Receipt, SubmissionRequest
from ledger.encoding.file_formats import AUTO as AUTO_FORMAT
from ledger.encoding.file_formats import Pending, check_options, format_named, read_pending, reading_error, sniff
from ledger.encoding.text_files import ACCEPTED, AUTO, SPELLINGS, UTF8, LineDecoder
from ledger.errors import KirokuError, PayloadTooLarge, TooManyRequests, UnsupportedMediaType, ValidationError
from ledger.ports import FILINGS, Position
from viewers.http.deps import Limits, current_principal, kiroku_of, problems, reauthenticate
from viewers.http.problems import PROBLEM_JSON, http_status, problem_body, problem_bytes, validation_errors
from viewers.http.schemas import SUBMISSION_FIELDS, BulkItemIn
from viewers.http.server import RequestTimeout

router = APIRouter(tags=["submissions"])

NDJSON = "application/x-ndjson"
CSV = "text/csv"
BULK_PATH = "/v1/submissions/bulk"

Who = Annotated[Principal, Depends(current_principal)]

#: Seconds a refused bulk upload is told to wait (``Retry-After``).
BULK_RETRY_AFTER = 5


@dataclass
class BulkSlots:
    """Bulk uploads running now, per principal and in all, and the bounded thread pool they run on
    (an anyio capacity limiter of their own: the default one, which every other sync route and
    ``/health``'s neighbours use, is never taken by a bulk upload). Touched only on the event loop."""

    limits: Limits
    running: dict[str, int] = field(default_factory=dict)
    _limiters: dict[int, anyio.CapacityLimiter] = field(default_factory=dict)

    def take(self, who: Principal) -> None:
        """Count one more upload for ``who``, or refuse it (429 with ``Retry-After``)."""
        mine, total = self.running.get(who.id, 0), sum(self.running.values())
        if mine >= self.limits.bulk_per_principal:
            raise TooManyRequests(
                f"{who} is running {mine} bulk upload(s) already, the most a principal may run at once; "
                f"retry when one has finished", retry_after=BULK_RETRY_AFTER, field="authorization",
                expected=f"at most {self.limits.bulk_per_principal} bulk upload(s) at once", got=f"{mine + 1} at once",
                code="too_many_bulk_uploads")
        if total >= self.limits.bulk_workers:
            raise TooManyRequests(
                f"the server is running its most bulk uploads at once ({self.limits.bulk_workers}); retry shortly",
                retry_after=BULK_RETRY_AFTER, expected=f"at most {self.limits.bulk_workers} bulk uploads at once",
                got=f"{total + 1} at once", code="bulk_capacity")
        self.running[who.id] = mine + 1

    def give_back(self, who: Principal) -> None:
        left = self.running.get(who.id, 1) - 1
        if left > 0:
            self.running[who.id] = left
        else:
            self.running.pop(who.id, None)

    def limiter(self) -> anyio.CapacityLimiter:
        """The bulk pool's limiter on the running event loop (made there, on first use)."""
        import asyncio

        key = id(asyncio.get_running_loop())
        if key not in self._limiters:
            self._limiters = {key: anyio.CapacityLimiter(self.limits.bulk_workers)}
        return self._limiters[key]


def _lines_bytes(lines: list[dict]) -> bytes:
    """NDJSON: one JSON object per line."""
    return "".join(json.dumps(x, ensure_ascii=False, default=str) + "\n" for x in lines).encode()


def slots_of(request: Request) -> BulkSlots:
    state = request.app.state
    if getattr(state, "bulk_slots", None) is None:
        state.bulk_slots = BulkSlots(state.limits)
    return state.bulk_slots


@router.post(BULK_PATH, summary="Record many submissions from a streamed NDJSON or CSV upload (payroll CSV, 315, SHFD0006)",
             openapi_extra={"requestBody": {"required": True, "content": {
                 NDJSON: {"schema": {"type": "string", "description": "one SubmissionIn object with an idempotency_key per line"}},
                 CSV: {"schema": {"type": "string", "description": (
                     "a file vendors produce, in the format the `format` query parameter names (auto: detected from "
                     "the first line): Kiroku's payroll CSV (salary payment report rows, English or Japanese headers), "
                     "the national 給与支払報告書・源泉徴収票 CSV (format=eltax-315, record 315) or 日本年金機構 "
                     "SHFD0006.CSV (format=nenkin-shfd0006&corporate_number=<法人番号>); one result line per group "
                     "(filing), with `rows` and, for a problem, `locations` by row and column. UTF-8 (with or without "
                     "a BOM) or Shift_JIS (CP932): charset=utf-8, shift_jis, cp932 (sjis, windows-31j, ms932), or none "
                     "(detected)")}},
             }}},
             responses={200: {"description": "one NDJSON result line per item, then a `done` line",
                              "content": {NDJSON: {"schema": {"type": "string"}}}}, **problems(415, 422)})
async def bulk(request: Request, who: Who,
               format: Annotated[str, Query(max_length=40, description=(  # noqa: A002 - the query parameter's name
                   "for text/csv: the file's format — auto (detected from the first line), payroll-csv (Kiroku's own), "
                   "eltax-315 (給与支払報告書・源泉徴収票, record 315) or nenkin-shfd0006 (日本年金機構 SHFD0006.CSV, "
                   "needs corporate_number)"))] = AUTO_FORMAT,
               corporate_number: Annotated[str | None, Query(max_length=40, description=(
                   "for format=nenkin-shfd0006: the company's 法人番号, which SHFD0006.CSV does not carry"))] = None) -> Response:
    media, *params = request.headers.get("content-type", "").split(";")
    media = media.strip().lower()
    if media not in (NDJSON, CSV, "application/jsonl", "application/json-seq"):
        raise UnsupportedMediaType("send the submissions as application/x-ndjson (one JSON object per line) or text/csv",
                                   field="content-type", expected=f"{NDJSON} or {CSV}", got=media or None)
    charset = _charset(params)
    codec = AUTO if charset is None else SPELLINGS.get(charset.lower())
    if media == CSV and codec is None:
        raise UnsupportedMediaType(f"a CSV upload in charset {charset!r} is not read: send it as UTF-8 or Shift_JIS (CP932), "
                                   "naming it in the charset parameter or not", field="content-type",
                                   expected=f"{CSV} with charset {ACCEPTED}, or none (detected)", got=f"charset={charset}")
    if media != CSV and codec not in (AUTO, UTF8):  # JSON is UTF-8 (RFC 8259 §8.1)
        raise UnsupportedMediaType(f"{media} is UTF-8 text (RFC 8259 §8.1), not {charset!r}", field="content-type",
                                   expected=f"{media} with charset=utf-8, or none", got=f"charset={charset}")
    fmt = format_named(format)
    if media != CSV and fmt != AUTO_FORMAT:
        raise UnsupportedMediaType(f"format={fmt} is a CSV file: send it as {CSV}", field="content-type",
                                   expected=f"{CSV} (with format={fmt})", got=media)
    number = check_options(fmt, corporate_number)
    return BulkResponse(request, who, kiroku_of(request), csv_mode=media == CSV, encoding=codec or AUTO, fmt=fmt,
                        corporate_number=number)


def _charset(params: list[str]) -> str | None:
    """The ``charset`` parameter among a Content-Type's parameters (RFC 9110 §8.3.1: its name is
    case-insensitive, its value may be quoted), at most 40 characters of it; None without one."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').strip()[:40]
    return None


class BulkResponse(Response):
    """Reads the request body while it writes the results (Starlette's StreamingResponse would
    compete for the body with its disconnect listener under ASGI spec < 2.4)."""

    media_type = NDJSON

    def __init__(self, request: Request, who: Principal, kiroku: Kiroku, csv_mode: bool, encoding: str = AUTO,
                 fmt: str = AUTO_FORMAT, corporate_number: str | None = None) -> None:
        super().__init__(media_type=NDJSON)
        self.request, self.who, self.kiroku, self.csv_mode, self.encoding = request, who, kiroku, csv_mode, encoding
        self.fmt, self.corporate_number = fmt, corporate_number
        limits: Limits = request.app.state.limits
        self.batch, self.max_line = limits.bulk_batch, limits.max_line
        self.bell = request.app.state.bell

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        slots = slots_of(self.request)
        try:
            slots.take(self.who)
        except TooManyRequests as err:  # before a byte of the body is read
            body = problem_bytes(problem_body(err, instance=BULK_PATH, location="header" if err.field else None))
            await send({"type": "http.response.start", "status": 429, "headers": [
                (b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(err.retry_after).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        given_back = False

        def give_back() -> None:  # once: before the last line is sent, or when the stream ends otherwise
            nonlocal given_back
            if not given_back:
                given_back = True
                slots.give_back(self.who)

        try:
            await self._stream(send, slots.limiter(), give_back)
        finally:
            give_back()

    async def _stream(self, send: Any, limiter: anyio.CapacityLimiter, give_back: Callable[[], None]) -> None:
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
                anyio.from_thread.run(write, _lines_bytes(lines))

        try:
            last = await anyio.to_thread.run_sync(self._work, read, emit, limiter=limiter)
        except ClientDisconnect:
            return
        # The upload's work is over: its slot is free before its client reads the last line, so a
        # client that saw ``done`` (or the upload's problem) may start its next upload at once.
        give_back()
        await send({"type": "http.response.body", "body": _lines_bytes(last), "more_body": False})

    # -- in a worker thread ------------------------------------------------------------------------

    def _work(self, read: Callable[[], bytes | None], emit: Callable[[list[dict]], None]) -> list[dict]:
        """Read and record the upload, emitting each item's result; return the last line (``done``,
        or the problem that made the upload unusable), which the caller sends once the slot is free."""
        counts = {"items": 0, "recorded": 0, "replayed": 0, "failed": 0}
        try:
            if self.csv_mode:
                try:
                    self._csv(_text_lines(read, self.max_line, self.encoding), emit, counts)
                except csv.Error as exc:
                    raise ValidationError(f"the CSV is malformed after item {counts['items']}: {exc}", field="body",
                                          expected="RFC 4180 CSV", got=str(exc), code="invalid_csv") from None
            else:
                self._ndjson(read, emit, counts)
        except ClientDisconnect:
            raise
        except KirokuError as err:  # the upload itself is unusable (too large, too slow, a broken CSV header…)
            status = 408 if isinstance(err, RequestTimeout) else http_status(err)
            return [{"item": None, "status": status, "problem": problem_body(err, instance=BULK_PATH, status=status)}]
        return [{"done": True, **counts}]

    def _record_batch(self, requests: list[SubmissionRequest]) -> Iterator[tuple[Receipt | KirokuError, bool]]:
        """Record ``requests`` in one durable batch: each one's receipt or error, and whether this
        batch appended it (``False``: it was recorded before, its original receipt is answered).

        A receipt is new when its position is past the end the log had before the batch and no
        earlier item of the batch got it (a key sent twice in one batch gets the first's receipt)."""
        if not requests:
            return
        reauthenticate(self.request)  # an upload can outlast its token: nothing is recorded once it is revoked or expired
        log = self.kiroku.log
        ends = [log.end_offset(FILINGS, p) for p in range(log.partitions(FILINGS))]
        results = list(self.kiroku.commands.record_many(self.who, requests, batch_size=len(requests)))
        self.bell.ring()
        seen: set[str] = set()
        for result in results:
            if isinstance(result, KirokuError):
                yield result, False
                continue
            pos = Position.parse(result.position)
            fresh = result.submission_id not in seen and pos.partition < len(ends) and pos.offset >= ends[pos.partition]
            seen.add(result.submission_id)
            yield result, fresh

    @staticmethod
    def _outcome(line: dict[str, Any], result: Receipt | KirokuError, fresh: bool, counts: dict, instance: str) -> dict[str, Any]:
        counts["items"] += 1
        if isinstance(result, KirokuError):
            counts["failed"] += 1
            line.update(status=http_status(result),
                        problem=problem_body(result, instance=instance, top_level=SUBMISSION_FIELDS, location="body"))
        elif fresh:
            counts["recorded"] += 1
            line.update(status=201, receipt=result.model_dump(mode="json"))
        else:
            counts["replayed"] += 1
            line.update(status=200, replayed=True, receipt=result.model_dump(mode="json"))
        return line

    def _record(self, items: list[tuple[int, SubmissionRequest | KirokuError]], counts: dict) -> list[dict]:
        """Record the well-formed items in one durable batch; one result line per item, in order."""
        outcomes = self._record_batch([x for _, x in items if isinstance(x, SubmissionRequest)])
        out = []
        for number, x in items:
            result, fresh = next(outcomes) if isinstance(x, SubmissionRequest) else (x, False)
            out.append(self._outcome({"item": number}, result, fresh, counts, f"{BULK_PATH}#item={number}"))
        return out

    def _ndjson(self, read: Callable[[], bytes | None], emit: Callable[[list[dict]], None], counts: dict) -> None:
        # Items are recorded as soon as a chunk completes them: a client that sends a few and waits
        # for their answers gets them without having to send a whole batch first.
        number = 0  # items (non-blank lines)
        items: list[tuple[int, SubmissionRequest | KirokuError]] = []
        for line_no, line in _lines(read, self.max_line):
            if line is None:  # the end of a chunk
                emit(self._record(items, counts))
                items = []
                continue
            if isinstance(line, int):
                number += 1
                items.append((number, _too_long(line_no, line, self.max_line)))
            elif line.strip():
                number += 1
                items.append((number, _parse_item(line, line_no)))
            if len(items) >= self.batch:
                emit(self._record(items, counts))
                items = []
        emit(self._record(items, counts))

    def _csv(self, lines: Iterator[str], emit: Callable[[list[dict]], None], counts: dict) -> None:
        """A CSV upload in any format Kiroku imports, one item per group (filing), as ``kiroku import`` reads it."""
        first = next(lines, None)
        fmt = self.fmt
        if fmt == AUTO_FORMAT:
            fmt = sniff(first) if first is not None else "payroll-csv"
        body = itertools.chain((first,), lines) if first is not None else iter(())
        groups: list[Pending] = []
        for group in read_pending(body, fmt, corporate_number=self.corporate_number):
            groups.append(group)
            if len(groups) >= self.batch:
                emit(self._record_groups(groups, counts))
                groups = []
        emit(self._record_groups(groups, counts))

    def _record_groups(self, groups: list[Pending], counts: dict) -> list[dict]:
        """Record a file's groups; errors also name the file's row and column (``locations``)."""
        ready = [g.request for g in groups if g.request is not None]
        outcomes = self._record_batch(ready)
        out = []
        for group in groups:
            result, fresh = next(outcomes) if group.request is not None else (reading_error(group.errors), False)
            rows = [group.first_row, group.last_row]
            line = self._outcome({"item": counts["items"] + 1, "rows": rows}, result, fresh, counts,
                                 f"{BULK_PATH}#rows={rows[0]}-{rows[1]}")
            if isinstance(result, KirokuError):
                found = group.errors if group.request is None else group.locate(result)
                line["problem"]["locations"] = [{k: d[k] for k in LOCATION_KEYS if d.get(k) is not None} for d in found]
            out.append(line)
        return out


#: What a result line says of each problem's place in the file (all redacted: never a personal datum).
LOCATION_KEYS = ("row", "column", "code", "message", "expected", "got")


def _parse_item(raw: bytes, line_no: int) -> SubmissionRequest | KirokuError:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ValidationError(f"line {line_no} of the upload is not UTF-8 text (byte {exc.start + 1} of the line)",
                               field="body", expected="UTF-8", got=f"byte {exc.start + 1} of {len(raw):,}", code="invalid_encoding")
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


def _too_long(line_no: int, length: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"line {line_no} of the upload is longer than this server accepts ({limit:,} bytes); it was skipped",
                           expected=f"at most {limit:,} bytes per line", got=f"{length:,} bytes", code="line_too_long")


def _lines(read: Callable[[], bytes | None], limit: int, drop_bom: bool = True) -> Iterator[tuple[int, bytes | int | None]]:
    """The upload's lines as they arrive, numbered from 1: ``(n, bytes)`` without the line ending;
    ``(n, length)`` for a line longer than ``limit`` bytes, which is counted, never kept; ``(n, None)``
    after each chunk (what it completed may be recorded now). Linear in the upload: a line's
    pieces are joined once, when it ends; a leading UTF-8 BOM is dropped if ``drop_bom``.

    Splitting bytes at LF is safe in UTF-8 and in CP932 alike: neither has 0x0A inside a
    character (:mod:`ledger.encoding.text_files`)."""
    parts: list[bytes] = []
    size = 0  # of the line so far
    line_no = 1
    while (chunk := read()) is not None:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            size += len(piece)
            if size > limit:
                parts = []
            elif piece:
                parts.append(piece)
            if end < 0:
                break
            yield line_no, (size if size > limit else _joined(parts, line_no, drop_bom))
            line_no, parts, size, start = line_no + 1, [], 0, end + 1
        yield line_no, None
    if size:
        yield line_no, (size if size > limit else _joined(parts, line_no, drop_bom))


def _joined(parts: list[bytes], line_no: int, drop_bom: bool) -> bytes:
    line = b"".join(parts)
    if drop_bom and line_no == 1 and line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    return line[:-1] if line.endswith(b"\r") else line


def _text_lines(read: Callable[[], bytes | None], limit: int, encoding: str = AUTO) -> Iterator[str]:
    """Lines of a CSV upload, decoded (UTF-8 or CP932, as ``encoding`` — a charset — says, or
    detected: :class:`LineDecoder`), line endings kept for the csv module (which wants them); a
    line longer than ``limit`` bytes ends the upload (413, naming it: a CSV cannot be resynchronised),
    as does one that cannot be decoded (422 ``invalid_encoding`` or ``mixed_encoding``, naming it)."""
    decoder = LineDecoder(encoding, said_by="as the Content-Type charset said", where="the upload")
    for line_no, line in _lines(read, limit, drop_bom=False):
        if line is None:
            continue
        if isinstance(line, int):
            raise PayloadTooLarge(f"line {line_no} of the upload is longer than this server accepts ({limit:,} bytes)",
                                  field="body", expected=f"at most {limit:,} bytes per line", got=f"{line:,} bytes",
                                  code="line_too_long")
        text = decoder.decode(line, line_no)
        # Universal newlines, as a text-mode file would give the csv module (a lone CR ends a line too).
        for part in text.split("\r"):
            yield part + "\n"
