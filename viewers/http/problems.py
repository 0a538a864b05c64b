"""Errors as RFC 9457 problem details (``application/problem+json``).

RFC 9457 (July 2023) obsoletes RFC 7807 with the same media type and members (``type``, ``title``,
``status``, ``detail``, ``instance``) and lets a problem carry extension members — here ``code``,
``field``, ``in``, ``expected``, ``got``, ``retriable`` and ``errors`` (RFC 9457 §3.2).
``got`` never repeats a personal number or a whole line or body: longer or possibly personal
values are described instead (:func:`ledger.encoding.echo.shown`).

Every ``KirokuError`` keeps its ``code`` and ``retriable`` flag and answers with the status
:data:`STATUS` gives its class; its ``field`` (the service layer's dotted path, e.g.
``lines[3].payment_amount`` with 1-based line numbers) becomes a JSON pointer into the request
(``/payload/lines/2/payment_amount``), and ``in`` says where that is: ``body``, ``path``,
``query`` or ``header``. ``from_pointer`` turns it back, so the remote SDKs raise the very
errors the in-process SDKs raise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from ledger.encoding.echo import redact, shown
from ledger.errors import (
    ConfigurationError,
    Conflict,
    Forbidden,
    IntegrityError,
    KeyErased,
    KirokuError,
    NotAcceptable,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
    ValidationError,
    ValidationErrors,
)

PROBLEM_JSON = "application/problem+json"
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")

TITLES = {
    400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found", 406: "Not acceptable",
    405: "Method not allowed", 408: "Request timeout", 409: "Conflict", 410: "Gone", 413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input", 429: "Too many requests", 500: "Internal error", 503: "Unavailable",
}

#: The HTTP status each error class answers with (the nearest class in an error's MRO decides).
#: The HTTP API decides statuses, not the core: ``ledger/errors.py`` says only what went wrong.
STATUS: dict[type[KirokuError], int] = {
    KirokuError: 500, ConfigurationError: 500, IntegrityError: 500, Unavailable: 503,
    ValidationError: 422, Unauthenticated: 401, Forbidden: 403, NotFound: 404, NotAcceptable: 406,
    Conflict: 409, KeyErased: 410, PayloadTooLarge: 413, UnsupportedMediaType: 415, TooManyRequests: 429,
}


def http_status(err: KirokuError) -> int:
    """The status a service error answers with: :data:`STATUS` of the nearest class it is an instance of."""
    return next(STATUS[cls] for cls in type(err).__mro__ if cls in STATUS)


class ProblemItem(BaseModel):
    """One of several problems found in one request."""

    model_config = ConfigDict(extra="allow")

    code: str
    detail: str
    field: str | None = Field(None, description="JSON pointer to the offending value")
    expected: str | None = None
    got: Any = None


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, where (a JSON pointer), what was expected and got."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="urn:kiroku:problem:<code>")
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str = Field(description="stable, machine-readable error code")
    field: str | None = Field(None, description="JSON pointer to the offending value in the request")
    in_: str | None = Field(None, alias="in", description="body, path, query or header")
    expected: str | None = None
    got: Any = None
    retriable: bool = False
    errors: list[ProblemItem] | None = None


def to_pointer(field: str | None, top_level: frozenset[str] | None = None) -> str | None:
    """``lines[3].payment_amount`` → ``/payload/lines/2/payment_amount`` (lines are 1-based in the
    service's messages, as a clerk counts them; pointers index from 0). With ``top_level`` (the
    request body's own fields), any other field is a path inside ``payload``."""
    if field is None:
        return None
    parts: list[str] = []
    for name, index in _SEGMENT.findall(field):
        parts.append(name if name else index)
    if not parts:
        return "/" + _escape(field)
    if top_level is not None and parts[0] not in top_level:
        parts.insert(0, "payload")
    if parts[0] == "payload" and len(parts) >= 3 and parts[1] == "lines" and parts[2].isdigit():
        parts[2] = str(int(parts[2]) - 1)
    return "/" + "/".join(_escape(p) for p in parts)


def from_pointer(pointer: str | None) -> str | None:
    """The inverse of ``to_pointer``: the service layer's dotted field name."""
    if pointer is None or not pointer.startswith("/"):
        return pointer
    parts = [_unescape(p) for p in pointer[1:].split("/")]
    if parts and parts[0] == "payload" and len(parts) > 1:
        parts = parts[1:]
        if len(parts) >= 2 and parts[0] == "lines" and parts[1].isdigit():
            parts[1] = str(int(parts[1]) + 1)
    out = ""
    for p in parts:
        if p.isdigit() and out:
            out += f"[{p}]"
        else:
            out += ("." if out else "") + p
    return out


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _got(value: Any, field: str | None) -> Any:
    """What a problem says was got: never a personal number or a whole line (:func:`shown`)."""
    return shown(value, field)


def _pointer(field: str | None, top_level: frozenset[str] | None) -> str | None:
    """The JSON pointer, with a key that may be a personal number withheld (an unknown key is
    whatever the sender typed)."""
    pointer = to_pointer(field, top_level)
    return None if pointer is None else redact(pointer)


#: A request body (or bulk line) that is not JSON has one code, whichever layer found it (FastAPI's
#: decoder said ``json_invalid``, Starlette's body parser ``invalid_json``).
MALFORMED_JSON = "malformed_json"
_CODE_ALIASES = {"json_invalid": MALFORMED_JSON, "invalid_json": MALFORMED_JSON}


def problem_code(code: str) -> str:
    """The code a problem carries for a service error's ``code`` (:data:`_CODE_ALIASES`)."""
    return _CODE_ALIASES.get(code, code)


def problem_body(err: KirokuError, *, instance: str | None = None, top_level: frozenset[str] | None = None,
                 location: str | None = None, status: int | None = None) -> dict[str, Any]:
    """The problem document for a service error; ``status`` overrides :func:`http_status` (for the
    HTTP layer's own errors: no such route, method not allowed, …)."""
    status = status if status is not None and 400 <= status < 600 else http_status(err)
    code = problem_code(err.code)
    body: dict[str, Any] = {
        "type": f"urn:kiroku:problem:{code}", "title": TITLES.get(status, "Error"), "status": status,
        "detail": redact(err.message), "code": code, "retriable": err.retriable,
    }
    if instance:
        body["instance"] = instance
    pointer = _pointer(err.field, top_level)
    if pointer is not None:
        body["field"] = pointer
        if location:
            body["in"] = location
    if err.expected is not None:
        body["expected"] = str(err.expected)
    if err.got is not None:
        body["got"] = _got(err.got, err.field)
    if isinstance(err, ValidationErrors):
        body["errors"] = [
            {"code": problem_code(e.code), "detail": redact(e.message), "field": _pointer(e.field, top_level),
             **({"expected": str(e.expected)} if e.expected is not None else {}),
             **({"got": _got(e.got, e.field)} if e.got is not None else {})}
            for e in err.errors
        ]
    return body


def problem_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


# -- in the app: responses, and FastAPI's own validation errors -----------------------------------

def _location(request: Request, field: str | None) -> str | None:
    """Where in ``request`` a service field was sent: ``path``, ``query``, ``header`` or ``body``."""
    if field is None:
        return None
    head = re.split(r"[.\[]", field, maxsplit=1)[0]
    if head in request.path_params:
        return "path"
    if head in request.query_params:
        return "query"
    if head in getattr(request.state, "header_fields", ()) or head in ("principal", "authorization", "Last-Event-ID", "content-type"):
        return "header"
    return "body"


def problem_response(request: Request, err: KirokuError, location: str | None = None,
                     status: int | None = None) -> Response:
    """The problem response for a service error raised while serving ``request`` (with ``Retry-After``
    when the error says when to retry). ``location`` overrides where the field is guessed to be,
    ``status`` the error's own status (:func:`problem_body`)."""
    received = _as_received(request, err)
    if received is not err:
        err, location = received, ("header" if isinstance(received, UnsupportedMediaType) else location)
    body = problem_body(err, instance=request.url.path, top_level=getattr(request.state, "top_level", None),
                        location=location or _location(request, err.field), status=status)
    headers = {}
    retry_after = getattr(err, "retry_after", None)
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return Response(problem_bytes(body), status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


JSON_MEDIA = "application/json"
#: pydantic's codes for a body that is not an object at all (bytes, a string, a list, nothing).
_NOT_AN_OBJECT = frozenset({"model_attributes_type", "dict_type", "model_type"})


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _is_json(media: str) -> bool:
    return media == JSON_MEDIA or (media.startswith("application/") and media.endswith("+json"))


def _as_received(request: Request, err: KirokuError) -> KirokuError:
    """The error as the request explains it: a body that is no object, sent as another media type
    (``text/plain``, a form, none), is 415 naming the type expected — not a 422 without a field —
    and a body that is not JSON is placed by line and column, never by a pointer or with its text."""
    if getattr(err, "not_an_object", False):
        media = _media_type(request)
        if not _is_json(media):
            return UnsupportedMediaType(
                f"send the request body as {JSON_MEDIA}" + (f", not {media}" if media else " (no Content-Type was sent)"),
                field="content-type", expected=JSON_MEDIA, got=media or None)
    offset = getattr(err, "json_offset", None)
    if offset is not None:
        body = getattr(request, "_body", None)  # read (and kept) by FastAPI before it failed to decode it
        return malformed_json(str(getattr(err, "json_reason", "invalid JSON")),
                              body if isinstance(body, (bytes, str)) else None, offset)
    return err


def malformed_json(reason: str, body: bytes | str | None, offset: int | None) -> ValidationError:
    """A body that is not JSON, placed by line and column (1-based, as editors count) — never by
    a JSON pointer (there is no document to point into) and never with any of its text."""
    where = ""
    if offset is not None and body is not None:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        before = text[:offset]
        line = before.count("\n") + 1
        column = offset - (before.rfind("\n") + 1) + 1
        where = f" at line {line}, column {column}"
    elif offset is not None:
        where = f" at character {offset + 1}"
    length = "" if body is None else f"{len(body)} bytes (not shown)"
    return ValidationError(f"the request body is not JSON: {reason}{where}", expected="a JSON object",
                           got=length or None, code=MALFORMED_JSON)


def validation_errors(errors: Sequence[Any], prefix: tuple = ("body",)) -> ValidationError:
    """FastAPI's / pydantic's validation errors as one service ``ValidationError`` (fields dotted, lines as sent)."""
    items = []
    for e in errors:
        if e.get("type") == "json_invalid":  # FastAPI's decoder: loc is ("body", <character offset>)
            where = list(e.get("loc", ()))
            offset = where[1] if len(where) == 2 and isinstance(where[1], int) else None
            reason = str((e.get("ctx") or {}).get("error") or "invalid JSON")
            broken = malformed_json(reason, None, offset)
            broken.json_offset, broken.json_reason = offset, reason  # type: ignore[attr-defined]
            items.append(broken)
            continue
        loc = list(e.get("loc", ()))
        if prefix and loc[: len(prefix)] == list(prefix):
            loc = loc[len(prefix):]
        elif loc and loc[0] in ("query", "path", "header", "cookie", "body"):
            loc = loc[1:]
        field = ""
        for part in loc:
            field += f"[{part}]" if isinstance(part, int) else (("." if field else "") + str(part))
        if field.startswith("payload.lines[") or field.startswith("lines["):
            # pydantic counts list items from 0; the service layer (and the pointer conversion) from 1
            field = re.sub(r"lines\[(\d+)\]", lambda m: f"lines[{int(m[1]) + 1}]", field, count=1)
        # Never the input itself when it is the whole body or line (a JSON syntax error, a body of
        # the wrong shape): it would carry everything, personal numbers included.
        whole = e.get("type") == "json_invalid" or not loc
        item = ValidationError(str(e.get("msg", "invalid")), field=field or None, expected=_expected(e),
                               got=None if whole else shown(e.get("input"), field), code=str(e.get("type", "invalid")))
        if not loc and e.get("type") in _NOT_AN_OBJECT:
            item.not_an_object = True  # type: ignore[attr-defined]  # 415 when it was not sent as JSON
        items.append(item)
    if not items:
        return ValidationError("the request is not valid", code="invalid")
    return items[0] if len(items) == 1 else ValidationErrors(items)


def _expected(e: Any) -> str | None:
    ctx = e.get("ctx") or {}
    if "expected" in ctx:
        return str(ctx["expected"])
    for key in ("max_length", "min_length", "ge", "le", "gt", "lt", "pattern"):
        if key in ctx:
            return f"{key} {ctx[key]}"
    return None


_BY_STATUS: dict[int, type[KirokuError]] = {
    403: Forbidden, 404: NotFound, 406: NotAcceptable, 409: Conflict, 410: KeyErased, 413: PayloadTooLarge,
    415: UnsupportedMediaType, 422: ValidationError, 500: IntegrityError, 503: Unavailable,
}


def error_from_problem(body: dict[str, Any], status: int, retry_after: int | None = None) -> KirokuError:
    """Rebuild the service error a problem describes (used by the remote SDKs)."""
    message = str(body.get("detail") or body.get("title") or f"HTTP {status}")
    kw: dict[str, Any] = dict(field=from_pointer(body.get("field")), expected=body.get("expected"), got=body.get("got"),
                              code=body.get("code"), retriable=body.get("retriable"))
    if status == 422 and body.get("errors"):
        items = [ValidationError(e.get("detail", ""), field=from_pointer(e.get("field")), expected=e.get("expected"),
                                 got=e.get("got"), code=e.get("code")) for e in body["errors"]]
        err: KirokuError = ValidationErrors(items)
        err.message = message
        err.args = (message,)
        return err
    if status == 429:
        return TooManyRequests(message, retry_after or 1, **kw)
    if status == 401:
        return Unauthenticated(message, **kw)
    cls = _BY_STATUS.get(status) or (Unavailable if status >= 500 else KirokuError)
    return cls(message, **kw)


def document_problems(statuses: Iterable[int]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these problem statuses."""
    return {s: {"description": TITLES.get(s, "Problem"),
                "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}} for s in statuses}
