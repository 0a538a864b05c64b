"""The agency notice feed (提出通知): by sequence number, long-polled, or as Server-Sent Events.

Notices are numbered per agency from 1 with no gaps; a reader resumes after the last number it
handled, so nothing is missed and nothing repeats, whichever way it reads. Waiting readers wake
as soon as this server records something, and look at the catalog every ``poll_interval``
otherwise (recording may happen in another process).

A waiting reader's token is checked again at every wake-up, at least once a second, after each
look at the catalog and before anything found is sent: once the token is revoked or has expired,
a long-poll answers 401 and a stream ends with a final ``event: problem`` (the 401 problem as
JSON, no ``id``) — nothing recorded after the revocation reaches it. Each look runs the service
layer's authorization again, so a refusal there ends a stream the same way.

``after`` (or ``Last-Event-ID``) beyond the feed's last notice is refused with 422 (field
``after``, expected ``0 … last``), as a log refuses an offset past its end (Kafka's
``OFFSET_OUT_OF_RANGE``): a reader that believes it handled notices the feed never had is
wrong about where it is (another feed's cursor, a restored backup), and answering with its own
number — or quietly with ours — would let it skip the notices recorded under those numbers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ledger.domain.model import MissingFiling, Principal
from ledger.errors import KirokuError, Unauthenticated, ValidationError
from viewers.http.deps import current_principal, kiroku_of, problems, reauthenticate, unauthenticated
from viewers.http.problems import problem_body, problem_bytes
from viewers.http.schemas import MAX_SEQ, NoticePage

router = APIRouter(tags=["notices"])

Who = Annotated[Principal, Depends(current_principal)]
#: One Server-Sent Event of the stream (OpenAPI describes the events of an event stream one by one).
SSE_EVENT = {"type": "object", "properties": {
    "id": {"type": "string", "description": "the notice's sequence number"},
    "event": {"type": "string", "enum": ["notice", "problem"],
              "description": "`problem` is the last event of a stream ended by the server (e.g. the token was revoked)"},
    "data": {"type": "string", "description": "the Notice as JSON; for `problem`, the problem details as JSON"},
    "retry": {"type": "integer"}}}
After = Annotated[int, Query(ge=0, le=MAX_SEQ, description="the last sequence number already handled (0 = from the start; "
                                                              "past the feed's last notice: 422)")]
#: The longest a waiting reader goes without its token being checked again (whatever ``poll_interval`` is).
RECHECK_EVERY = 1.0


@router.get("/v1/notices", response_model=NoticePage, summary="The agency's notice feed (long-poll)", responses=problems(403))
async def notices(request: Request, who: Who, after: After = 0,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                  wait: Annotated[float, Query(ge=0, le=60, description="seconds to wait when nothing is new yet "
                                                                         "(the server may cap it; 0 = answer at once)")] = 0
                  ) -> NoticePage | Response:
    """Notices after ``after``. With ``wait``, an empty answer is held until a notice arrives or
    the time is up (long-polling), so a reader needs no polling loop of its own. A token revoked
    or expired while the answer is held gets 401, not what arrived after."""
    k, limits, bell = kiroku_of(request), request.app.state.limits, request.app.state.bell
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(wait, limits.max_wait)
    while True:
        items = await run_in_threadpool(k.queries.notices, who, after, limit)
        try:
            reauthenticate(request)  # after the look: what it found is sent only if the token is still good
        except Unauthenticated as err:
            return unauthenticated(request, err)
        left = deadline - loop.time()
        if items or left <= 0:
            # Empty only when ``after`` is the feed's last number: the service refuses one past it.
            return NoticePage(notices=items, last_seq=items[-1].seq if items else after)
        await bell.wait(min(left, limits.poll_interval, RECHECK_EVERY))


@router.get("/v1/notices/stream", summary="The agency's notice feed as Server-Sent Events",
            responses={200: {"description": "an event stream: `id` is the notice's sequence number, `data` the notice as JSON",
                             "content": {"text/event-stream": {"schema": SSE_EVENT}}}, **problems(403)})
async def stream(request: Request, who: Who, after: After = 0,
                 last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=24,
                                                              description="resume after this sequence number (wins over `after`)")] = None,
                 max_seconds: Annotated[float, Query(
                     ge=0, le=3600,
                     description="close the stream after this long (the server may cap it); reconnect with Last-Event-ID")] = 3600
                 ) -> Response:
    """Each notice as an event (``id: <seq>``, ``event: notice``, ``data: <json>``), in order, live.
    A dropped connection resumes exactly where it stopped with the standard ``Last-Event-ID``.
    When the server ends the stream for a reason (the token was revoked or expired), the last
    event is ``event: problem`` with the problem details as ``data``: reconnecting will not help."""
    k, limits, bell = kiroku_of(request), request.app.state.limits, request.app.state.bell
    start, field = after, "after"
    if last_event_id is not None:
        if not last_event_id.strip().isdigit() or int(last_event_id) > MAX_SEQ:
            raise ValidationError("Last-Event-ID must be the sequence number of the last notice received",
                                  field="Last-Event-ID", expected="a whole number ≥ 0", got=last_event_id, code="invalid_cursor")
        start, field = int(last_event_id), "Last-Event-ID"
    # Refuses a non-agency, or a start past the feed's end, before streaming.
    first = await run_in_threadpool(lambda: k.queries.notices(who, start, 100, field=field))
    try:
        reauthenticate(request)
    except Unauthenticated as err:
        return unauthenticated(request, err)
    loop = asyncio.get_running_loop()
    until = loop.time() + min(max_seconds, limits.max_stream_seconds)

    async def events() -> AsyncIterator[str]:
        cursor, batch = start, first
        quiet_since = loop.time()
        yield "retry: 2000\n\n"
        while True:
            for n in batch:
                yield f"id: {n.seq}\nevent: notice\ndata: {n.model_dump_json()}\n\n"
                cursor = n.seq
            if batch:
                quiet_since = loop.time()
            now = loop.time()
            if now >= until:
                return
            if not batch:
                if now - quiet_since >= limits.keepalive:
                    yield ": keep-alive\n\n"
                    quiet_since = now
                await bell.wait(min(limits.poll_interval, RECHECK_EVERY, until - now))
            try:
                batch = await run_in_threadpool(k.queries.notices, who, cursor, 100)
                reauthenticate(request)  # after the look: nothing found is sent on a dead token
            except KirokuError as err:
                yield _problem_event(request, err)
                return

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _problem_event(request: Request, err: KirokuError) -> str:
    """The last event of a stream the server ends: the problem as JSON, without an ``id`` (the
    reader's Last-Event-ID stays at the last notice it got)."""
    body = problem_body(err, instance=request.url.path, location="header" if isinstance(err, Unauthenticated) else None)
    return f"event: problem\ndata: {problem_bytes(body).decode()}\n\n"


@router.get("/v1/missing-filings", response_model=list[MissingFiling], summary="Missing-filing reports (agency)",
            tags=["deadlines"], responses=problems(403))
def missing(request: Request, who: Who, procedure: Annotated[str | None, Query(max_length=40)] = None,
            period: Annotated[str | None, Query(max_length=20)] = None) -> list[MissingFiling]:
    """Enrolled companies that filed nothing to this agency by the deadline."""
    return kiroku_of(request).queries.missing_report(who, procedure, period)


@router.get("/v1/expected-filers", response_model=list[str], summary="Companies expected to file (agency)",
            tags=["deadlines"], responses=problems(403, 422))
def expected_filers(request: Request, who: Who, procedure: Annotated[str, Query(max_length=40)],
                    period: Annotated[str, Query(max_length=20)]) -> list[str]:
    """The 法人番号 of the companies this agency expects a filing of ``procedure`` for ``period`` from: those whose
    enrollment it accepted before the period's deadline, one by one or by standing policy for its employers."""
    return kiroku_of(request).queries.expected_filers(who, procedure, period)
