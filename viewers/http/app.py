"""The HTTP API's composition: ``create_app(kiroku)`` gives a FastAPI (ASGI) application.

Every flow of the service layer behind bearer-token authentication; errors as RFC 9457 problem
details; bodies over the configured size refused with 413 before they are read; a per-principal
rate limit (429 + ``Retry-After``); bodies that stall or trickle cut off with 408 (``BodyPace``);
bulk uploads bounded per principal and in all, on a thread pool of their own (``routes/bulk.py``);
``/health`` served on the event loop itself, so it answers whatever the thread pools are doing.
The routes only translate HTTP to service calls and back: the service layer validates,
authorizes, records and audits.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ledger.bootstrap import Kiroku
from ledger.encoding.echo import redact
from ledger.errors import KirokuError, ValidationError
from ledger.service.principals import TokenStore
from ledger.service.staff import StaffStore
from ledger.settings import Settings
from viewers.http.deps import Limits, NoticeBell
from viewers.http.gate import FailureLimiter, Gate, GateConfig, TokenBucket
from viewers.http.problems import PROBLEM_JSON, TITLES, Problem, http_status, problem_response, validation_errors
from viewers.http.routes import bulk, companies, dispositions, enrollments, grants, notices, submissions
from viewers.http.schemas import SnapshotOut
from viewers.http.server import BodyPace, RequestTimeout

log = logging.getLogger("kiroku.http")

API_VERSION = "1.0.0"
DESCRIPTION = """\
Kiroku (記録): record company filings once, notify agencies at the moment of recording, read
immutable snapshots as of any time, and receive dispositions back — on an event-sourced ledger.

**Authentication**: every call except `/health` carries `Authorization: Bearer kk_…`, a token made
with `kiroku principals add` for one principal (company, vendor, firm, bank, agency, operator).

**Authorization** is decided by the service layer, not here: a company sees its own data; a vendor,
firm or bank only what an unexpired grant allows; an agency only submissions it was a target of.
Every read — and every refused attempt — is recorded in the company's access log, and a refused
read answers exactly as a missing resource would (404).

**Errors** are RFC 9457 `application/problem+json`: a stable `code`, the offending `field` as a JSON
pointer into the request (`in` says body, path, query or header), `expected` and `got`, `retriable`.

**Recording** requires an `Idempotency-Key`: the same key with the same body returns the original
receipt; with a different body, 409.
"""

#: Where the web pages are served (their own sessions, not API tokens: the gate lets them through).
WEB_ROOT = "/web"
#: Problem statuses every operation can answer with (the gate's, and request validation's).
GATE_PROBLEMS = (401, 413, 422, 429)
BODY_PROBLEMS = (408, 415)


def create_app(kiroku: Kiroku | None, tokens: TokenStore | None = None, *, max_body: int = 10 * 2**20,
               max_bulk_body: int = 2 * 2**30, rate: float = 200.0, burst: int = 400, limits: Limits | None = None,
               failures: FailureLimiter | None = None, staff: StaffStore | None = None, web: bool = True,
               secure_cookies: bool = True, oidc: Any = None) -> FastAPI:
    """The HTTP API over ``kiroku``, authenticating with ``tokens`` (default: ``<home>/principals.db``).

    ``max_body`` bounds ordinary request bodies and ``max_bulk_body`` bulk uploads (bytes);
    ``rate``/``burst`` are each principal's requests per second and burst (``rate=0`` turns the
    limit off); ``limits`` bounds long-polls, SSE streams and bulk batches; ``failures`` limits failed
    authentication per client address and token (default: ``FailureLimiter()``). ``kiroku=None`` gives
    an app that serves only its OpenAPI document (``openapi_document``). With ``web`` (and the web
    extra installed) the web pages are served under ``/web`` (:mod:`viewers.web.app`), their staff
    accounts in ``staff`` (default: ``<home>/principals.db``), signing in through ``oidc`` (an
    ``OidcClient``; default: the ``web_oidc_*`` settings' provider, if any); ``secure_cookies=False``
    only for test clients that cannot keep Secure cookies over plain HTTP."""
    app = FastAPI(title="Kiroku HTTP API", version=API_VERSION, description=DESCRIPTION,
                  openapi_tags=[{"name": n} for n in ("submissions", "notices", "enrollments", "dispositions", "grants",
                                                       "companies", "deadlines", "principals", "health")])
    app.state.kiroku = kiroku
    if tokens is None and kiroku is not None:
        tokens = TokenStore.for_home(kiroku.settings.home)
    app.state.tokens = tokens
    app.state.limits = limits or Limits()
    app.state.bell = NoticeBell()
    for module in (submissions, bulk, notices, enrollments, dispositions, grants, companies):
        app.include_router(module.router, dependencies=[Depends(known_query_parameters)])

    if web and kiroku is not None:
        try:
            from viewers.web.app import create_web
        except ImportError:  # the web extra (jinja2, python-multipart) is not installed: the API alone
            log.info("the web pages need the web extra: pip install 'kiroku-ledger[web]'")
        else:
            from datetime import timedelta

            from viewers.web.app import oidc_from

            config = kiroku.settings
            app.state.staff = staff or StaffStore.for_home(config.home, idle=timedelta(minutes=config.web_idle_minutes),
                                                           absolute=timedelta(hours=config.web_absolute_hours))
            app.mount(WEB_ROOT, create_web(kiroku, app.state.staff, secure_cookies=secure_cookies, oidc=oidc or oidc_from(config),
                                           oidc_name=config.web_oidc_name))

    @app.get("/health", tags=["health"], summary="Liveness (no token needed)", response_model=dict)
    async def health() -> dict:  # async: on the event loop, never waiting for a thread of a busy pool
        return {"status": "ok", "version": API_VERSION}

    app.add_exception_handler(KirokuError, _kiroku_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestTimeout, _timed_out)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _request_invalid)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(UnicodeError, _bad_text)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(Gate, tokens=app.state.tokens, limiter=TokenBucket(rate, burst),
                       config=GateConfig(max_body, max_bulk_body, frozenset({bulk.BULK_PATH})), failures=failures)
    app.add_middleware(BodyPace, limits=app.state.limits)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def known_query_parameters(request: Request) -> None:
    """Refuse query parameters the operation does not have (a misspelt ``?afer=`` would otherwise
    be ignored silently), as request bodies refuse unknown fields."""
    route = request.scope.get("route")
    if route is None or not request.query_params:
        return
    names = getattr(request.app.state, "query_names", None)
    if names is None:  # from the OpenAPI document: what each operation declares
        names = request.app.state.query_names = {
            (path, method.upper()): frozenset(p["name"] for p in op.get("parameters", []) if p.get("in") == "query")
            for path, ops in request.app.openapi()["paths"].items() for method, op in ops.items()}
    known = names.get((route.path, request.method), frozenset())
    for name in request.query_params:
        if name not in known:
            raise ValidationError(f"unknown query parameter {name!r}", field=name,
                                  expected="one of " + (", ".join(sorted(known)) or "none"),
                                  got=name, code="unknown_parameter")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


# -- errors ------------------------------------------------------------------------------------------

def limits_of(settings: Settings) -> Limits:
    """The server's bounds from the ``http_*`` settings (``kiroku serve``)."""
    return Limits(header_timeout=settings.http_header_timeout, body_timeout=settings.http_body_timeout,
                  min_body_rate=settings.http_min_body_rate, max_line=settings.http_max_line_bytes,
                  bulk_per_principal=settings.http_bulk_per_principal, bulk_workers=settings.http_bulk_workers,
                  max_connections=settings.http_max_connections, max_header_bytes=settings.http_max_header_bytes,
                  backlog=settings.http_backlog)


async def _kiroku_error(request: Request, err: KirokuError) -> Response:
    if http_status(err) >= 500:
        log.error("service error on %s %s: %s", request.method, request.url.path, redact(err.message))  # never a personal number
    return problem_response(request, err)


async def _request_invalid(request: Request, exc: RequestValidationError) -> Response:
    errors = list(exc.errors())
    first = errors[0].get("loc", ()) if errors else ()
    where = first[0] if first and first[0] in ("query", "path", "header", "body") else None
    return problem_response(request, validation_errors(errors), location=where)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    cause = exc.__cause__
    if isinstance(cause, RequestTimeout):  # the body stalled while FastAPI read it
        return await _timed_out(request, cause)
    if isinstance(cause, KirokuError):  # e.g. the body limit tripped while FastAPI read the body
        return problem_response(request, cause)
    status = exc.status_code
    code = {400: "bad_request", 404: "no_such_route", 405: "method_not_allowed"}.get(status, f"http_{status}")
    detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(status, "Error")
    if status == 400 and "parsing the body" in detail:
        detail, code, status = "the request body is not valid JSON", "invalid_json", 422
    resp = problem_response(request, KirokuError(detail, code=code), status=status)
    for name, value in (exc.headers or {}).items():
        resp.headers[name] = value
    if status == 405:
        resp.headers["Allow"] = _allowed_methods(request)
    return resp


async def _timed_out(request: Request, err: RequestTimeout) -> Response:
    resp = problem_response(request, err, status=408)
    resp.headers["Connection"] = "close"  # the rest of the body is not waited for
    return resp


async def _bad_text(request: Request, exc: UnicodeError) -> Response:
    return problem_response(request, ValidationError("text must be valid Unicode (no lone surrogates)", code="invalid_text"))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    err = KirokuError("an unexpected error; it was logged", code="internal")
    return problem_response(request, err)


# -- the OpenAPI document ------------------------------------------------------------------------------

def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes, tags=app.openapi_tags)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for model in (Problem, SnapshotOut):  # named only in hand-written response contents
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True, mode="serialization")
        for name, sub in schema.pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        schemas[model.__name__] = schema
    ref = {"$ref": "#/components/schemas/Problem"}
    for path, ops in doc.get("paths", {}).items():
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            statuses = GATE_PROBLEMS if path != "/health" else ()
            if "requestBody" in op:  # a body can stall (408) or come as something other than JSON (415)
                statuses = (*statuses, *BODY_PROBLEMS)
            for status in statuses:
                responses[str(status)] = {"description": TITLES[status], "content": {PROBLEM_JSON: {"schema": ref}}}
            if "429" in responses:
                responses["429"]["headers"] = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
            if "401" in responses:
                responses["401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
            for status, resp in list(responses.items()):
                content = resp.get("content", {})
                if status.startswith(("4", "5")) and "application/json" in content:
                    content.pop("application/json")
                    content.setdefault(PROBLEM_JSON, {"schema": ref})
                if status.startswith("2") and len(content) > 1 and content.get("application/json", {}).get("schema") == {}:
                    content.pop("application/json")
    app.openapi_schema = doc
    return doc


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, as committed in ``docs/openapi.json`` (independent of any deployment)."""
    return create_app(None).openapi()
