"""AWS calls for the S3 and KMS adapters: one retry policy, and AWS errors turned into Kiroku's.

Every boto3 call of ``s3_objects`` and ``kms_keys`` goes through :func:`call`. botocore's own retries
are switched off (:func:`client`) so that this module is the one place that decides:

- throttling (``SlowDown``, ``ThrottlingException``, …), 5xx answers and dropped connections are
  retried with exponential backoff and full jitter (delay drawn uniformly from
  ``[0, min(cap, base·2^attempt)]``), then raised as :class:`~ledger.errors.Unavailable`
  (retriable: the caller may try again later);
- access denied, a missing bucket or KMS key, a disabled key are raised at once, not retriable, as
  :class:`~ledger.errors.ConfigurationError` naming the setting and the IAM action to grant;
- codes the adapter handles itself (``NoSuchKey``, ``PreconditionFailed``, …) are passed through
  as the original ``ClientError`` when listed in ``expect``.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, TypeVar

from ledger.errors import ConfigurationError, IntegrityError, KirokuError, Unavailable

T = TypeVar("T")

#: Codes AWS uses for "slow down": retrying later succeeds.
THROTTLING = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "RequestThrottled",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "BandwidthLimitExceeded", "LimitExceededException", "SlowDown", "PriorRequestNotComplete",
    "TransactionInProgressException", "EC2ThrottledException",
})
#: Codes of transient server-side faults (besides any HTTP 5xx status).
TRANSIENT = frozenset({
    "RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure", "ServiceUnavailable",
    "KMSInternalException", "DependencyTimeoutException",
})
#: Codes meaning "this identity may not do that": fixing IAM, not retrying, helps.
ACCESS_DENIED = frozenset({
    "AccessDenied", "AccessDeniedException", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch",
    "ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException", "InvalidClientTokenId",
    "MissingAuthenticationToken", "IncompleteSignature", "InvalidToken",
})


@dataclass
class RetryPolicy:
    """How often and how patiently a retriable AWS call is repeated. ``sleep`` and ``random`` are
    injectable so tests observe the delays instead of waiting for them."""

    attempts: int = 6
    base: float = 0.05
    cap: float = 5.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    random: Callable[[], float] = field(default=random.random, repr=False)

    def delay(self, attempt: int) -> float:
        """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in
        ``[0, min(cap, base·2^attempt)]`` for the ``attempt``-th retry (0-based)."""
        return self.random() * min(self.cap, self.base * (2 ** attempt))


def client(service: str, region: str | None, endpoint: str | None) -> Any:
    """A boto3 client with botocore's retries off (this module retries) and modest timeouts.

    Credentials come from boto3's usual chain (environment, profile, instance or task role) —
    never from Kiroku's settings."""
    from botocore.config import Config

    config = Config(
        region_name=region, retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=5, read_timeout=60, max_pool_connections=32,
        s3={"addressing_style": "path"} if endpoint else None,
    )
    return _session().client(service, endpoint_url=endpoint, config=config)


_SESSION: Any = None
_SESSION_LOCK = threading.Lock()


def _session() -> Any:
    """One boto3 session per process: loading the service models once, not per client."""
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:
            import boto3

            _SESSION = boto3.session.Session()
        return _SESSION


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (``""`` for other exceptions)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def http_status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return 0


def is_retriable(exc: BaseException) -> bool:
    """Throttling, 5xx and connection-level failures may succeed when tried again; nothing else."""
    from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError, HTTPClientError

    if isinstance(exc, ClientError):
        code = error_code(exc)
        return code in THROTTLING or code in TRANSIENT or http_status(exc) >= 500
    return isinstance(exc, (BotoConnectionError, HTTPClientError))


def translate(exc: BaseException, *, service: str, action: str, resource: str, setting: str,
              attempts: int = 1) -> KirokuError:
    """The Kiroku error for an AWS failure: what happened, to what, and what to do about it."""
    code = error_code(exc) or type(exc).__name__
    detail = str(getattr(exc, "response", {}).get("Error", {}).get("Message", "")) if error_code(exc) else str(exc)
    where = f"{action} on {resource}"
    if is_retriable(exc):
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        return Unavailable(
            f"{service} did not complete {where}{tried} ({code}{': ' + detail if detail else ''}); "
            f"it is throttling or unavailable — retrying later may succeed",
            field=setting, expected=f"{service} to answer {action}", got=code, code="unavailable",
        )
    if code in ACCESS_DENIED or http_status(exc) == 403:
        return ConfigurationError(
            f"AWS refused {where} for Kiroku's AWS identity ({code}). Grant {action} on {resource} in the "
            f"IAM policy of the role Kiroku runs as (README, 'Running on AWS'), or check its credentials; "
            f"{setting} names the resource",
            field=setting, expected=f"permission {action} on {resource}", got=code, code="aws_access_denied",
            retriable=False,
        )
    if code in ("NoSuchBucket",):
        return ConfigurationError(
            f"the S3 bucket in {setting} does not exist ({where}): create it with versioning and Object Lock "
            f"enabled, or let Kiroku create it at start-up (needs s3:CreateBucket)",
            field=setting, expected="an existing bucket", got=resource, code="bucket_missing", retriable=False,
        )
    if code == "NotFoundException" and service == "KMS":
        return ConfigurationError(
            f"the KMS key in {setting} does not exist in this account and region ({where}): create it "
            f"(symmetric, ENCRYPT_DECRYPT) or fix the key id, alias or ARN in {setting}",
            field=setting, expected="an existing KMS key", got=resource, code="kms_key_missing", retriable=False,
        )
    if code in ("DisabledException", "KMSInvalidStateException", "KeyUnavailableException"):
        return ConfigurationError(
            f"the KMS key in {setting} cannot be used ({code}: {detail}); enable it, or cancel its "
            f"scheduled deletion — every data key it wraps depends on it",
            field=setting, expected="an enabled KMS key", got=code, code="kms_key_unusable", retriable=False,
        )
    if code in ("InvalidCiphertextException", "IncorrectKeyException"):
        return IntegrityError(
            f"{service} refused to decrypt with {resource} ({code}): the ciphertext was altered or belongs to "
            f"another key or encryption context",
            field=resource, got=code, code="wrapped_key",
        )
    return KirokuError(
        f"{service} refused {where}: {code}{': ' + detail if detail else ''}",
        field=setting, got=code, code="aws_error", retriable=False,
    )


def call(fn: Callable[..., T], *, service: str, action: str, resource: str, setting: str,
         policy: RetryPolicy, expect: Collection[str] = (), **kwargs: Any) -> T:
    """Call ``fn(**kwargs)``; retry what is retriable under ``policy``; translate what fails.

    A ``ClientError`` whose code (or HTTP status, as text) is in ``expect`` is re-raised unchanged
    for the adapter to handle (``NoSuchKey``, ``404``, ``PreconditionFailed``, …)."""
    from botocore.exceptions import BotoCoreError, ClientError

    attempt = 0
    while True:
        try:
            return fn(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and (error_code(exc) in expect or str(http_status(exc)) in expect):
                raise
            if is_retriable(exc) and attempt + 1 < policy.attempts:
                policy.sleep(policy.delay(attempt))
                attempt += 1
                continue
            raise translate(exc, service=service, action=action, resource=resource, setting=setting,
                            attempts=attempt + 1) from exc
