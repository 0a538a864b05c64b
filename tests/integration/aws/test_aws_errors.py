"""AWS errors become Kiroku errors: throttling, 5xx and dropped connections are retried by botocore
(standard retry mode, a bounded number of attempts, backoff with jitter), then reported as retriable
Unavailable; access denied and missing resources are not retried and say what to fix.

The adapters talk to the moto server. Faults are injected with botocore's ``before-send`` event,
which runs inside botocore's retry loop: a handler that answers stands in for that one HTTP
exchange, so the retries tested are botocore's own. The backoff delays are recorded, never slept.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from tests.integration.aws.support import REGION, require

require("moto")
require("boto3")

import botocore.endpoint  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402
from botocore.exceptions import EndpointConnectionError  # noqa: E402
from urllib3.exceptions import ProtocolError  # noqa: E402

from ledger.adapters.aws_errors import DEFAULT_MAX_ATTEMPTS, client  # noqa: E402
from ledger.adapters.kms_keys import KmsKeyService  # noqa: E402
from ledger.adapters.s3_objects import S3ObjectStore  # noqa: E402
from ledger.encoding.snapshots import content_key  # noqa: E402
from ledger.errors import ConfigurationError, IntegrityError, KirokuError, Unavailable  # noqa: E402
from tests.integration.aws.conftest import boto, unique_bucket  # noqa: E402

pytestmark = pytest.mark.integration

DATA = b"a snapshot"
KEY = content_key("snapshots", DATA)
SCOPE = "7000012050002|PAYROLL_REPORT|2026"
ATTEMPTS = 4  # the clients under test try each call this often in all

#: Backoff bounds of botocore's standard mode: retry i (0-based) waits rand(0, 1)·scale·2^i.
THROTTLING_SCALE, OTHER_SCALE = 1.0, 0.05


class _Body:
    """The raw body of a canned answer: all of it, or ``cut_after`` bytes and then a dropped connection."""

    def __init__(self, data: bytes, cut_after: int | None = None) -> None:
        self.data, self.cut_after, self.sent = data, cut_after, 0

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data

    def read(self, amt: int | None = None) -> bytes:
        if self.cut_after is not None and self.sent >= self.cut_after:
            raise ProtocolError("Connection broken: the peer closed the connection")
        end = len(self.data) if amt is None else self.sent + amt
        if self.cut_after is not None:
            end = min(end, self.cut_after)
        chunk, self.sent = self.data[self.sent:end], max(self.sent, min(end, len(self.data)))
        return chunk


def aws_error(aws: Any, code: str, status: int) -> AWSResponse:
    """The answer AWS gives for an error ``code``, in the client's protocol (S3's XML, KMS's JSON)."""
    if aws.meta.service_model.protocol == "json":
        body = b'{"__type": "%s", "message": "injected by the test"}' % code.encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": str(uuid.uuid4())}
    else:
        body = (b"<?xml version='1.0' encoding='UTF-8'?>"
                b"<Error><Code>%s</Code><Message>injected by the test</Message></Error>") % code.encode()
        headers = {"Content-Type": "application/xml", "x-amz-request-id": str(uuid.uuid4())}
    return AWSResponse("https://aws.invalid/", status, headers, _Body(body))


def broken_download(data: bytes, cut_after: int) -> AWSResponse:
    """A GetObject answer whose body breaks off after ``cut_after`` bytes."""
    return AWSResponse("https://aws.invalid/", 200, {"Content-Length": str(len(data)), "ETag": '"e"'},
                       _Body(data, cut_after))


@dataclass
class Injected:
    """Sends of one operation seen by the fault injector, and the faults still to give."""

    faults: list[Any]
    forever: bool = False
    sends: int = 0

    def before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        self.sends += 1
        if not self.faults:
            return None  # through to moto
        fault = self.faults[0] if self.forever else self.faults.pop(0)
        if isinstance(fault, Exception):
            raise fault
        return fault() if callable(fault) else fault


def inject(aws: Any, operation: str, *faults: Any, forever: bool = False) -> Injected:
    """Answer the next sends of ``operation`` with ``faults`` in turn (the last one for good with
    ``forever``), then let them through to moto; counts every send. A fault is an answer, a
    function making one, or an exception to raise where the HTTP exchange would fail."""
    injected = Injected(list(faults), forever)
    service = aws.meta.service_model.service_id.hyphenize()
    aws.meta.events.register_first(f"before-send.{service}.{operation}", injected.before_send)
    return injected


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays botocore waits before each retry, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=waited.append))
    return waited


@pytest.fixture
def s3(moto_endpoint: str) -> S3ObjectStore:
    """A store on the moto server, its bucket created."""
    store = S3ObjectStore(client("s3", REGION, moto_endpoint, max_attempts=ATTEMPTS), unique_bucket())
    store.ensure_bucket(region=REGION)
    return store


@pytest.fixture
def kms(moto_endpoint: str) -> KmsKeyService:
    """A key service on the moto server: a master key under an alias, and its key store."""
    alias = f"alias/{unique_bucket()}"
    master = boto("kms", moto_endpoint)
    master.create_alias(AliasName=alias, TargetKeyId=master.create_key()["KeyMetadata"]["KeyId"])
    keys = KmsKeyService(client("kms", REGION, moto_endpoint, max_attempts=ATTEMPTS),
                         client("s3", REGION, moto_endpoint, max_attempts=ATTEMPTS), alias, unique_bucket())
    keys.ensure_ready()
    return keys


def within_backoff(delays: list[float], scale: float) -> bool:
    return all(0 <= d <= scale * 2**i for i, d in enumerate(delays))


def test_clients_retry_in_botocores_standard_mode_a_bounded_number_of_times() -> None:
    assert client("s3", REGION, None).meta.config.retries == {"mode": "standard", "total_max_attempts": DEFAULT_MAX_ATTEMPTS}
    assert client("kms", REGION, None, max_attempts=2).meta.config.retries == {"mode": "standard", "total_max_attempts": 2}


def test_throttling_is_retried_with_exponential_backoff_then_succeeds(s3: S3ObjectStore, delays: list[float]) -> None:
    puts = inject(s3.s3, "PutObject", aws_error(s3.s3, "SlowDown", 503), aws_error(s3.s3, "SlowDown", 503))
    s3.put_immutable(KEY, DATA)
    assert puts.sends == 3 and s3.get(KEY) == DATA
    assert len(delays) == 2 and within_backoff(delays, THROTTLING_SCALE)


def test_persistent_5xx_is_reported_as_retriable_unavailable_after_the_last_attempt(s3: S3ObjectStore, delays: list[float]) -> None:
    puts = inject(s3.s3, "PutObject", lambda: aws_error(s3.s3, "InternalError", 500), forever=True)
    with pytest.raises(Unavailable) as err:
        s3.put_immutable(KEY, DATA)
    e = err.value
    assert (e.code, e.retriable, e.field, e.got) == ("unavailable", True, "KIROKU_OBJECTS", "InternalError")
    assert e.expected == "S3 to answer s3:PutObject"
    assert f"after {ATTEMPTS} attempts" in e.message and KEY in e.message
    assert puts.sends == ATTEMPTS  # bounded: botocore gives up after the configured attempts
    assert len(delays) == ATTEMPTS - 1 and within_backoff(delays, OTHER_SCALE)
    assert not s3.exists(KEY)


def test_access_denied_is_not_retried_and_names_the_permission_to_grant(s3: S3ObjectStore, delays: list[float]) -> None:
    puts = inject(s3.s3, "PutObject", aws_error(s3.s3, "AccessDenied", 403))
    with pytest.raises(ConfigurationError) as err:
        s3.put_immutable(KEY, DATA)
    e = err.value
    assert (e.code, e.retriable, e.field, e.got) == ("aws_access_denied", False, "KIROKU_OBJECTS", "AccessDenied")
    assert e.expected == f"permission s3:PutObject on arn:aws:s3:::{s3.bucket}/{KEY}"
    assert "IAM policy" in e.message
    assert puts.sends == 1 and delays == []


def test_a_bucket_deleted_under_a_running_kiroku_is_not_retried_and_says_what_to_do(moto_endpoint: str, delays: list[float]) -> None:
    store = S3ObjectStore(client("s3", REGION, moto_endpoint, max_attempts=ATTEMPTS), unique_bucket())  # never created
    puts = inject(store.s3, "PutObject")  # moto answers NoSuchBucket itself
    with pytest.raises(ConfigurationError) as err:
        store.put_immutable(KEY, DATA)
    e = err.value
    assert (e.code, e.retriable, e.field, e.got) == ("bucket_missing", False, "KIROKU_OBJECTS", f"arn:aws:s3:::{store.bucket}/{KEY}")
    assert "Object Lock" in e.message
    assert puts.sends == 1 and delays == []


def test_dropped_connections_are_retried_then_reported_unavailable(s3: S3ObjectStore, delays: list[float]) -> None:
    heads = inject(s3.s3, "HeadObject", EndpointConnectionError(endpoint_url="https://s3.ap-northeast-1.amazonaws.com"),
                   forever=True)
    with pytest.raises(Unavailable) as err:
        s3.put_immutable(KEY, DATA)  # which first looks for an existing object
    e = err.value
    assert (e.code, e.retriable, e.field, e.got) == ("unavailable", True, "KIROKU_OBJECTS", "EndpointConnectionError")
    assert "after retrying" in e.message
    assert heads.sends == ATTEMPTS and len(delays) == ATTEMPTS - 1


def test_a_download_that_breaks_off_is_fetched_again_from_the_start(s3: S3ObjectStore) -> None:
    s3.put_immutable(KEY, DATA)
    gets = inject(s3.s3, "GetObject", broken_download(DATA, cut_after=3))
    sink = io.BytesIO(b"kept:")
    sink.seek(0, io.SEEK_END)
    assert s3.get_to(KEY, sink) == len(DATA)
    assert sink.getvalue() == b"kept:" + DATA  # the broken attempt's bytes were discarded
    assert gets.sends == 2


def test_a_download_that_keeps_breaking_off_is_unavailable_after_the_last_attempt(s3: S3ObjectStore) -> None:
    s3.put_immutable(KEY, DATA)
    gets = inject(s3.s3, "GetObject", lambda: broken_download(DATA, cut_after=3), forever=True)
    with pytest.raises(Unavailable) as err:
        s3.get(KEY)
    e = err.value
    assert (e.code, e.retriable, e.field, e.got) == ("unavailable", True, "KIROKU_OBJECTS", "ResponseStreamingError")
    assert f"after {ATTEMPTS} attempts" in e.message
    assert gets.sends == ATTEMPTS


def test_a_broken_download_into_a_sink_that_cannot_rewind_is_not_fetched_again(s3: S3ObjectStore) -> None:
    s3.put_immutable(KEY, DATA)
    gets = inject(s3.s3, "GetObject", broken_download(DATA, cut_after=3))

    class Pipe(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, b: Any) -> int:
            return len(b)

    with pytest.raises(Unavailable) as err:
        s3.get_to(KEY, Pipe())  # type: ignore[arg-type]
    assert (err.value.code, err.value.field) == ("unavailable", KEY)
    assert "cannot be rewound" in err.value.message and gets.sends == 1


def test_kms_throttling_is_retried_and_access_denied_names_the_kms_action(kms: KmsKeyService, delays: list[float]) -> None:
    made = inject(kms.kms, "GenerateDataKey", aws_error(kms.kms, "ThrottlingException", 400),
                  aws_error(kms.kms, "AccessDeniedException", 400))
    with pytest.raises(ConfigurationError) as err:
        kms.data_key(SCOPE)
    e = err.value
    assert (e.code, e.field, e.retriable, e.got) == ("aws_access_denied", "KIROKU_KEYS", False, "AccessDeniedException")
    assert e.expected == f"permission kms:GenerateDataKey on KMS key {kms.master_key}"
    assert made.sends == 2  # throttling once, then a refusal that no retry can fix
    assert len(delays) == 1 and within_backoff(delays, THROTTLING_SCALE)


@pytest.mark.parametrize("code, status, kind, expected", [
    ("NotFoundException", 400, ConfigurationError, "kms_key_missing"),
    ("DisabledException", 400, ConfigurationError, "kms_key_unusable"),
    ("KMSInvalidStateException", 400, ConfigurationError, "kms_key_unusable"),
    ("KMSInternalException", 500, Unavailable, "unavailable"),
])
def test_kms_failures_are_translated(kms: KmsKeyService, delays: list[float], code: str, status: int,
                                     kind: type[KirokuError], expected: str) -> None:
    made = inject(kms.kms, "GenerateDataKey", lambda: aws_error(kms.kms, code, status), forever=True)
    with pytest.raises(kind) as err:
        kms.data_key(SCOPE)
    e = err.value
    assert (e.code, e.field, e.retriable) == (expected, "KIROKU_KEYS", kind is Unavailable)
    retried = kind is Unavailable
    assert made.sends == (ATTEMPTS if retried else 1)
    assert len(delays) == (ATTEMPTS - 1 if retried else 0)


def test_a_wrapped_key_kms_cannot_unwrap_is_an_integrity_error(kms: KmsKeyService, delays: list[float]) -> None:
    key_id = kms.data_key(SCOPE).key_id
    kms.clear_cache()
    unwraps = inject(kms.kms, "Decrypt", aws_error(kms.kms, "InvalidCiphertextException", 400))
    with pytest.raises(IntegrityError) as err:
        kms.key_by_id(key_id)
    assert (err.value.code, err.value.field, err.value.got) == ("wrapped_key", key_id, "InvalidCiphertextException")
    assert unwraps.sends == 1 and delays == []
