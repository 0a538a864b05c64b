"""Problems and limits of the HTTP API, without I/O: JSON pointers, error round trips, token buckets."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from ledger.errors import (  # noqa: E402
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
from viewers.http.gate import TokenBucket  # noqa: E402
from viewers.http.problems import error_from_problem, from_pointer, http_status, problem_body, to_pointer  # noqa: E402
from viewers.http.schemas import SUBMISSION_FIELDS  # noqa: E402

pytestmark = pytest.mark.unit

name = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True)


def test_payload_fields_become_pointers_into_the_payload_with_lines_counted_from_zero():
    assert to_pointer("lines[3].payment_amount", SUBMISSION_FIELDS) == "/payload/lines/2/payment_amount"
    assert to_pointer("employer.name", SUBMISSION_FIELDS) == "/payload/employer/name"
    assert to_pointer("lines", SUBMISSION_FIELDS) == "/payload/lines"
    assert to_pointer("corporate_number", SUBMISSION_FIELDS) == "/corporate_number"
    assert to_pointer("procedures[0]") == "/procedures/0"
    assert to_pointer("a/b~c") == "/a~1b~0c"
    assert to_pointer(None) is None


@given(st.lists(st.one_of(name, st.integers(0, 999)), min_size=1, max_size=5).filter(lambda p: isinstance(p[0], str)))
def test_a_pointer_turns_back_into_the_service_layers_field_name(parts):
    if parts[0] == "lines" and len(parts) > 1 and isinstance(parts[1], int):
        parts[1] += 1  # the service layer counts payload lines from 1
    field = ""
    for p in parts:
        field += f"[{p}]" if isinstance(p, int) else ("." if field else "") + p
    assert from_pointer(to_pointer(field, SUBMISSION_FIELDS)) == field


def test_a_problem_carries_code_pointer_expected_got_and_comes_back_as_the_same_error():
    err = ValidationErrors([ValidationError("line 2: amount", field="lines[2].payment_amount", expected="yen", got="x",
                                            code="invalid_amount"),
                            ValidationError("line 3: name", field="lines[3].employee_name", expected="text", code="required")])
    body = problem_body(err, instance="/v1/submissions", top_level=SUBMISSION_FIELDS, location="body")
    assert body["status"] == 422 and body["type"] == "urn:kiroku:problem:invalid_amount"
    assert [e["field"] for e in body["errors"]] == ["/payload/lines/1/payment_amount", "/payload/lines/2/employee_name"]
    again = error_from_problem(body, 422)
    assert isinstance(again, ValidationErrors)
    assert [(e.field, e.code, e.expected, e.got) for e in again.errors] == [(e.field, e.code, e.expected, e.got) for e in err.errors]
    conflict = error_from_problem(problem_body(Conflict("used", field="idempotency_key", code="idempotency_conflict")), 409)
    assert isinstance(conflict, Conflict) and (conflict.code, conflict.field) == ("idempotency_conflict", "idempotency_key")
    assert isinstance(error_from_problem(problem_body(NotFound("no")), 404), NotFound)


class _Outage(Unavailable):
    """A subclass the table does not list (as infra's ServiceError is)."""


@pytest.mark.parametrize(
    ("err", "status"),
    [
        (ValidationError("x"), 422), (ValidationErrors([ValidationError("x")]), 422), (Unauthenticated("x"), 401),
        (Forbidden("x"), 403), (NotFound("x"), 404), (NotAcceptable("x"), 406), (Conflict("x"), 409),
        (KeyErased("x"), 410), (PayloadTooLarge("x"), 413), (UnsupportedMediaType("x"), 415),
        (TooManyRequests("x", retry_after=3), 429), (IntegrityError("x"), 500), (ConfigurationError("x"), 500),
        (KirokuError("x"), 500), (Unavailable("x"), 503), (_Outage("x"), 503),
    ],
)
def test_the_http_api_decides_each_error_classes_status_and_subclasses_take_their_parents(err, status):
    assert http_status(err) == status
    body = problem_body(err)
    assert (body["status"], body["code"]) == (status, err.code)
    assert not hasattr(err, "http_status")  # the core says what went wrong, not how HTTP answers


def test_the_http_layers_own_errors_give_their_status_explicitly():
    body = problem_body(KirokuError("no such route", code="no_such_route"), status=404)
    assert (body["status"], body["title"], body["code"]) == (404, "Not found", "no_such_route")


def test_a_token_bucket_allows_a_burst_then_the_rate_and_says_how_long_to_wait():
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a") == pytest.approx(0.5)
    assert bucket.take("b") == 0.0  # each principal has its own bucket
    now[0] += 0.5
    assert bucket.take("a") == 0.0
    assert TokenBucket(rate=0, burst=1).take("a") == 0.0  # rate 0: no limit


def test_no_route_module_imports_the_app_module_so_app_and_routes_form_no_cycle():
    import ast
    from pathlib import Path

    import viewers.http.routes as routes

    here = Path(routes.__file__).parent
    for path in [*here.glob("*.py"), here.parent / "problems.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert "viewers.http.app" not in imported, path.name
