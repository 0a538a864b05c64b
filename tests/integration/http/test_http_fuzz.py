"""Schemathesis against the OpenAPI document, in-process: generated requests for every operation
(bounded examples) find no server error and no response that breaks the document.

Calls are authenticated as a company for most operations and as a municipality for the
agency's; the deployment holds a little real data so that some generated ids exist.
"""

from __future__ import annotations

import json

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance  # noqa: E402

from ledger.service.principals import TokenStore  # noqa: E402
from tests.factories import CHIYODA, CORP_A, payroll  # noqa: E402
from tests.integration.helpers import company, enroll_payroll  # noqa: E402
from viewers.http.app import create_app  # noqa: E402
from viewers.http.deps import Limits  # noqa: E402
from viewers.http.openapi import DEFAULT  # noqa: E402

pytestmark = pytest.mark.integration

#: Examples per operation: enough to reach every parameter's edges, small enough for the suite's budget.
MAX_EXAMPLES = 12

AGENCY_PATHS = ("/v1/notices", "/v1/missing-filings", "/v1/enrollments/pending", "/accept", "/reject", "/v1/policies")


@pytest.fixture
def fuzzed(kiroku, home, clock):
    tokens = TokenStore.for_home(home, clock)
    enroll_payroll(kiroku, CORP_A, CHIYODA)
    company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
    app = create_app(kiroku, tokens, rate=0, limits=Limits(max_wait=0.1, max_stream_seconds=0.1, poll_interval=0.05))
    app.state.fuzz_tokens = {"company": tokens.add(f"company:{CORP_A}")[1],
                             "agency": tokens.add(f"agency:municipality:{CHIYODA}")[1]}
    yield app
    tokens.close()


_CURRENT: dict = {}


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value):
    """A generated bulk body: text as it is, anything else as one JSON line."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    return value.encode() if isinstance(value, str) else (json.dumps(value) + "\n").encode()


async def _current_app(scope, receive, send):
    """Routes schemathesis's in-process calls to the app of the running test."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await _CURRENT["app"](scope, receive, send)


#: The committed document (kept equal to the served one by test_http_api); calls go to the app in-process.
schema = schemathesis.openapi.from_path(DEFAULT)
schema.app = _current_app


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_no_generated_request_gets_a_server_error_or_a_response_the_document_does_not_describe(case, fuzzed):
    agency_case = any(p in case.path for p in AGENCY_PATHS) or (case.path == "/v1/dispositions" and case.method == "POST")
    who = "agency" if agency_case else "company"
    token = fuzzed.state.fuzz_tokens[who]
    _CURRENT["app"] = fuzzed
    if case.headers and "Authorization" in case.headers:  # a generated one: make it real (negative cases leave it out)
        case.headers["Authorization"] = f"Bearer {token}"
    # positive_data_acceptance is left out: the service layer rightly refuses much schema-valid input
    # (check digits, unknown procedures, ids that do not exist) with 4xx problems the document declares.
    excluded = [positive_data_acceptance]
    if case.path == "/v1/submissions/bulk":
        # A bulk upload is answered 200 with one result per item, bad items included: that is the
        # design, and a plain "string" schema cannot tell an NDJSON body from another text.
        excluded.append(negative_data_rejection)
    case.call_and_validate(excluded_checks=excluded)
