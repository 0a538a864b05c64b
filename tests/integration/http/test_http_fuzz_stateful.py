"""Schemathesis, stateful, against the OpenAPI document in-process (issue 14, the fuzz layer): sequences
of calls whose later steps use what earlier ones returned — the links schemathesis infers from the
document (a recorded submission's id into its snapshot, history and proof; an enrollment's id into
its decision; a grant's id into its revocation) — find no server error and no response the document
does not describe. Bounded (scenarios × steps) so that it runs with the rest of the suite.

The stateless run over every operation is ``test_http_fuzz.py``.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
)

from ledger.service.principals import TokenStore  # noqa: E402
from tests.factories import CHIYODA, CORP_A, payroll  # noqa: E402
from tests.integration.helpers import company, enroll_payroll  # noqa: E402
from viewers.http.app import create_app  # noqa: E402
from viewers.http.deps import Limits  # noqa: E402
from viewers.http.openapi import DEFAULT  # noqa: E402

pytestmark = pytest.mark.integration

#: Scenarios and steps per scenario: enough for chains of three or four linked calls.
SCENARIOS, STEPS = 30, 6

AGENCY_PATHS = ("/v1/notices", "/v1/missing-filings", "/v1/enrollments/pending", "/accept", "/reject", "/v1/policies")

_CURRENT: dict = {}


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


schema = schemathesis.openapi.from_path(DEFAULT)
schema.app = _current_app


def _who(case) -> str:
    agency = any(p in case.path for p in AGENCY_PATHS) or (case.path == "/v1/dispositions" and case.method == "POST")
    return "agency" if agency else "company"


class Calls(schema.as_state_machine()):  # type: ignore[misc]
    """Every call authenticated as the company, or the municipality for an agency's operations (the
    stateless run covers calls without a token): a chain of linked calls is only worth running when
    its steps are let in."""

    def before_call(self, case):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {_CURRENT['tokens'][_who(case)]}"}
        _CURRENT["calls"][(case.method, case.path)] = _CURRENT["calls"].get((case.method, case.path), 0) + 1

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        # As in the stateless run: the service rightly refuses much schema-valid input, and a bulk
        # upload answers 200 with a result per item. Every call carries a real token here, which
        # ignored_auth would take for a generated (invalid) one.
        excluded = [positive_data_acceptance, ignored_auth]
        if case.path == "/v1/submissions/bulk":
            excluded.append(negative_data_rejection)
        case.validate_response(response, excluded_checks=excluded, transport_kwargs=kwargs)


def test_schemathesis_infers_links_between_operations() -> None:
    assert schema.statistic.transitions.total >= 20  # linked steps, not only random calls
    steps = set(dir(Calls))
    for linked in ("POST_v1_submissions___201_GetReceipt__GET_v1_submissions_submission_id_",
                   "POST_v1_grants___201_PostGrant__POST_v1_grants_grant_id_revoke",
                   "POST_v1_enrollments___201_PostEnrollment__POST_v1_enrollments_enrollment_id_accept"):
        assert linked in steps


def test_no_sequence_of_linked_calls_gets_a_server_error_or_a_response_the_document_does_not_describe(kiroku, home, clock) -> None:
    tokens = TokenStore.for_home(home, clock)
    try:
        enroll_payroll(kiroku, CORP_A, CHIYODA)
        company(kiroku, CORP_A).record(CORP_A, "PAYROLL_REPORT", "2026", payroll())
        _CURRENT["app"] = create_app(kiroku, tokens, rate=0, limits=Limits(max_wait=0.1, max_stream_seconds=0.1, poll_interval=0.05))
        _CURRENT["calls"] = {}
        _CURRENT["tokens"] = {"company": tokens.add(f"company:{CORP_A}")[1], "agency": tokens.add(f"agency:municipality:{CHIYODA}")[1]}
        Calls.run(settings=settings(max_examples=SCENARIOS, stateful_step_count=STEPS, deadline=None, derandomize=True,
                                    suppress_health_check=list(HealthCheck)))
        assert len(_CURRENT["calls"]) >= 10  # the scenarios reached many operations, not one
    finally:
        tokens.close()
