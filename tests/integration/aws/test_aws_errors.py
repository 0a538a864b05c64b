"""AWS errors become Kiroku errors: throttling and 5xx are retried with backoff and jitter, then
reported as retriable Unavailable; access denied and missing resources are not retried and say
what to fix. AWS answers come from botocore's Stubber; delays are recorded, never slept."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.integration.aws.support import REGION, require

require("boto3")

from botocore.exceptions import EndpointConnectionError  # noqa: E402
from botocore.stub import Stubber  # noqa: E402

from ledger.adapters.aws_errors import RetryPolicy, call, client  # noqa: E402
from ledger.adapters.kms_keys import KmsKeyService  # noqa: E402
from ledger.encoding.snapshots import content_key  # noqa: E402
from ledger.adapters.s3_objects import S3ObjectStore  # noqa: E402
from ledger.errors import ConfigurationError, IntegrityError, Unavailable  # noqa: E402

pytestmark = pytest.mark.integration

DATA = b"a snapshot"
KEY = content_key("snapshots", DATA)
BUCKET = "kiroku-stubbed"


@pytest.fixture
def delays() -> list[float]:
    return []


@pytest.fixture
def policy(delays: list[float]) -> RetryPolicy:
    """Up to 4 attempts; the jitter draw is pinned to its maximum so the delays show the backoff cap."""
    return RetryPolicy(attempts=4, base=0.1, cap=0.3, sleep=delays.append, random=lambda: 1.0)


@pytest.fixture
def s3(policy: RetryPolicy) -> Iterator[tuple[S3ObjectStore, Stubber]]:
    store = S3ObjectStore(client("s3", REGION, None), BUCKET, retry=policy)
    with Stubber(store.s3) as stub:
        # put_immutable first looks for an existing object: none.
        stub.add_client_error("head_object", service_error_code="404", http_status_code=404)
        yield store, stub


@pytest.fixture
def kms(policy: RetryPolicy) -> Iterator[tuple[KmsKeyService, Stubber, Stubber]]:
    keys = KmsKeyService(client("kms", REGION, None), client("s3", REGION, None), "alias/kiroku", BUCKET, retry=policy)
    with Stubber(keys.kms) as kms_stub, Stubber(keys.s3) as s3_stub:
        yield keys, kms_stub, s3_stub


def new_scope(s3_stub: Stubber) -> None:
    """The key store holds no key for the scope yet."""
    s3_stub.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404)


def test_throttling_is_retried_with_exponential_backoff_then_succeeds(s3: tuple[S3ObjectStore, Stubber], delays: list[float]) -> None:
    store, stub = s3
    stub.add_client_error("put_object", service_error_code="SlowDown", http_status_code=503)
    stub.add_client_error("put_object", service_error_code="SlowDown", http_status_code=503)
    stub.add_response("put_object", {"ETag": '"e"', "VersionId": "v1"})
    store.put_immutable(KEY, DATA)
    stub.assert_no_pending_responses()
    assert delays == [0.1, 0.2]


def test_persistent_5xx_is_reported_as_retriable_unavailable_after_the_last_attempt(s3: tuple[S3ObjectStore, Stubber], delays: list[float]) -> None:
    store, stub = s3
    for _ in range(4):
        stub.add_client_error("put_object", service_error_code="InternalError", http_status_code=500)
    with pytest.raises(Unavailable) as err:
        store.put_immutable(KEY, DATA)
    assert (err.value.code, err.value.retriable, err.value.field, err.value.got) == ("unavailable", True, "KIROKU_OBJECTS", "InternalError")
    assert "after 4 attempts" in err.value.message and KEY in err.value.message
    assert delays == [0.1, 0.2, 0.3]  # capped at 0.3 s
    stub.assert_no_pending_responses()


def test_access_denied_is_not_retried_and_names_the_permission_to_grant(s3: tuple[S3ObjectStore, Stubber], delays: list[float]) -> None:
    store, stub = s3
    stub.add_client_error("put_object", service_error_code="AccessDenied", http_status_code=403)
    with pytest.raises(ConfigurationError) as err:
        store.put_immutable(KEY, DATA)
    e = err.value
    assert (e.code, e.retriable, e.field) == ("aws_access_denied", False, "KIROKU_OBJECTS")
    assert e.expected == f"permission s3:PutObject on arn:aws:s3:::{BUCKET}/{KEY}"
    assert "IAM policy" in e.message and delays == []


def test_a_bucket_deleted_under_a_running_kiroku_is_not_retried_and_says_what_to_do(s3: tuple[S3ObjectStore, Stubber], delays: list[float]) -> None:
    store, stub = s3
    stub.add_client_error("put_object", service_error_code="NoSuchBucket", http_status_code=404)
    with pytest.raises(ConfigurationError) as err:
        store.put_immutable(KEY, DATA)
    assert (err.value.code, err.value.retriable, err.value.field) == ("bucket_missing", False, "KIROKU_OBJECTS")
    assert "Object Lock" in err.value.message and delays == []


def test_kms_throttling_is_retried_and_access_denied_names_the_kms_action(kms: tuple[KmsKeyService, Stubber, Stubber], delays: list[float]) -> None:
    keys, kms_stub, s3_stub = kms
    new_scope(s3_stub)
    kms_stub.add_client_error("generate_data_key", service_error_code="ThrottlingException", http_status_code=400)
    kms_stub.add_client_error("generate_data_key", service_error_code="AccessDeniedException", http_status_code=400)
    with pytest.raises(ConfigurationError) as err:
        keys.data_key("7000012050002|PAYROLL_REPORT|2026")
    assert delays == [0.1]  # throttling once, then a refusal that no retry can fix
    assert (err.value.code, err.value.field, err.value.retriable) == ("aws_access_denied", "KIROKU_KEYS", False)
    assert err.value.expected == "permission kms:GenerateDataKey on KMS key alias/kiroku"


@pytest.mark.parametrize("code, kind, expected", [
    ("NotFoundException", ConfigurationError, "kms_key_missing"),
    ("DisabledException", ConfigurationError, "kms_key_unusable"),
    ("KMSInvalidStateException", ConfigurationError, "kms_key_unusable"),
    ("KMSInternalException", Unavailable, "unavailable"),
])
def test_kms_failures_are_translated(kms: tuple[KmsKeyService, Stubber, Stubber], delays: list[float], code: str, kind: type, expected: str) -> None:
    keys, kms_stub, s3_stub = kms
    new_scope(s3_stub)
    for _ in range(4):
        kms_stub.add_client_error("generate_data_key", service_error_code=code, http_status_code=500 if "Internal" in code else 400)
    with pytest.raises(kind) as err:
        keys.data_key("7000012050002|PAYROLL_REPORT|2026")
    assert err.value.code == expected and err.value.field == "KIROKU_KEYS"
    assert err.value.retriable is (kind is Unavailable)
    assert len(delays) == (3 if kind is Unavailable else 0)


def test_a_wrapped_key_kms_cannot_unwrap_is_an_integrity_error(kms: tuple[KmsKeyService, Stubber, Stubber]) -> None:
    keys, kms_stub, s3_stub = kms
    from io import BytesIO

    from botocore.response import StreamingBody

    from ledger.adapters.kms_keys import key_id_for

    scope = "7000012050002|PAYROLL_REPORT|2026"
    body = (b'{"created_us": 1, "destroyed_us": null, "key_id": "%s", "kms_key": "arn:aws:kms:k", "scope": "%s", "wrapped": "AAAA"}'
            % (key_id_for(scope).encode(), scope.encode()))
    s3_stub.add_response("get_object", {"Body": StreamingBody(BytesIO(body), len(body))})
    kms_stub.add_client_error("decrypt", service_error_code="InvalidCiphertextException", http_status_code=400)
    with pytest.raises(IntegrityError) as err:
        keys.key_by_id(key_id_for(scope))
    assert err.value.code == "wrapped_key" and key_id_for(scope) in err.value.field


def test_dropped_connections_are_retried_then_reported_unavailable(policy: RetryPolicy, delays: list[float]) -> None:
    attempts: list[int] = []

    def unreachable() -> Any:
        attempts.append(1)
        raise EndpointConnectionError(endpoint_url="https://s3.ap-northeast-1.amazonaws.com")

    with pytest.raises(Unavailable) as err:
        call(unreachable, service="S3", action="s3:GetObject", resource="arn:aws:s3:::b/k", setting="KIROKU_OBJECTS", policy=policy)
    assert len(attempts) == 4 and err.value.retriable and err.value.got == "EndpointConnectionError"


def test_full_jitter_draws_each_delay_between_zero_and_the_capped_exponential() -> None:
    draws = iter([0.0, 0.5, 0.25, 1.0, 0.5])
    p = RetryPolicy(base=0.1, cap=1.0, random=lambda: next(draws))
    assert [p.delay(a) for a in range(5)] == [0.0, 0.1, 0.1, 0.8, 0.5]
