"""AWS calls for the S3 and KMS adapters: botocore's standard retries, and AWS errors turned into Kiroku's.

**Retries are botocore's**, in its standard retry mode (:func:`client`; boto/botocore
``botocore/retries/standard.py``): throttling (``SlowDown``, ``ThrottlingException``, …), transient
errors (``RequestTimeout``, HTTP 500/502/503/504, the service model's retryable errors) and dropped
connections are tried up to :data:`DEFAULT_MAX_ATTEMPTS` times in all, each retry after a delay
drawn uniformly from ``[0, min(scale·2^i, 20 s)]`` (full jitter; ``scale`` is 1 s for throttling,
50 ms otherwise; an ``x-amz-retry-after`` header is honoured), and only while the client's retry
quota lasts, so that a failing service is not flooded with retries.

Every boto3 call of ``s3_objects`` and ``kms_keys`` goes through :func:`call`, which translates what
still fails (:func:`translate`):

- throttling, 5xx answers and dropped connections, once botocore has given up, are raised as
  :class:`~ledger.errors.Unavailable` (retriable: the caller may try again later), saying how many
  attempts were made;
- access denied, a missing bucket or KMS key, a disabled key are raised at once (botocore does not
  retry them), not retriable, as :class:`~ledger.errors.ConfigurationError` naming the setting and
  the IAM action to grant;
- codes the adapter handles itself (``NoSuchKey``, ``PreconditionFailed``, …) are passed through
  as the original ``ClientError`` when listed in ``expect``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from ledger.errors import ConfigurationError, IntegrityError, KirokuError, Unavailable

T = TypeVar("T")

#: Attempts in all (the first and its retries) for one AWS call. botocore's standard mode defaults
#: to 3; Kiroku is more patient, since S3 answers SlowDown while it scales up a prefix's request
#: rate, and a snapshot or data-key write that gives up fails the whole batch it belongs to.
#: 5 attempts wait at most 1 + 2 + 4 + 8 = 15 s for throttling (about half that on average; more
#: only if the service asks with ``x-amz-retry-after``) and 0.75 s for a 5xx before the caller
#: gets ``unavailable``.
DEFAULT_MAX_ATTEMPTS = 5

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


def client(service: str, region: str | None, endpoint: str | None, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Any:
    """A boto3 client retrying in botocore's standard mode, ``max_attempts`` attempts in all, with
    modest timeouts.

    ``total_max_attempts`` rather than botocore's ``max_attempts``: in a client ``Config`` the latter
    counts retries, not attempts (``max_attempts=N`` tries N + 1 times). Credentials come from
    boto3's usual chain (environment, profile, instance or task role) — never from Kiroku's settings."""
    from botocore.config import Config

    config = Config(
        region_name=region, retries={"mode": "standard", "total_max_attempts": max_attempts},
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
    """The HTTP status of a botocore ``ClientError`` (0 for other exceptions)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return 0


def attempts_made(exc: BaseException) -> int | None:
    """How many times botocore sent the request that ended in ``exc`` (None when it does not say:
    a failure without an answer, such as a dropped connection)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        retries = response.get("ResponseMetadata", {}).get("RetryAttempts")
        if retries is not None:
            return int(retries) + 1
    return None


def is_retriable(exc: BaseException) -> bool:
    """Throttling, 5xx and connection-level failures may succeed when tried again later; nothing else."""
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, ClientError):
        code = error_code(exc)
        return code in THROTTLING or code in TRANSIENT or http_status(exc) >= 500
    return isinstance(exc, (BotoConnectionError, HTTPClientError))


def translate(exc: BaseException, *, service: str, action: str, resource: str, setting: str,
              attempts: int | None = 1) -> KirokuError:
    """The Kiroku error for an AWS failure: what happened, to what, and what to do about it.

    ``attempts``: how often the call was tried (None: unknown, botocore retried it as configured)."""
    code = error_code(exc) or type(exc).__name__
    detail = str(getattr(exc, "response", {}).get("Error", {}).get("Message", "")) if error_code(exc) else str(exc)
    where = f"{action} on {resource}"
    if is_retriable(exc):
        tried = " after retrying" if attempts is None else f" after {attempts} attempts" if attempts > 1 else ""
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
         expect: Collection[str] = (), **kwargs: Any) -> T:
    """Call ``fn(**kwargs)`` — botocore retries what is retriable — and translate what still fails.

    A ``ClientError`` whose code (or HTTP status, as text) is in ``expect`` is re-raised unchanged
    for the adapter to handle (``NoSuchKey``, ``404``, ``PreconditionFailed``, …)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        if isinstance(exc, ClientError) and (error_code(exc) in expect or str(http_status(exc)) in expect):
            raise
        raise translate(exc, service=service, action=action, resource=resource, setting=setting,
                        attempts=attempts_made(exc)) from exc
