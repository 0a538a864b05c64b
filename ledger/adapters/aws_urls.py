"""The ``s3://`` and ``aws-kms://`` setting URLs, parsed without any I/O (and without boto3).

Settings call these at start-up so that a malformed URL fails before anything is opened, naming
the setting; the S3 and KMS adapters build themselves from the parsed form.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

from ledger.errors import ConfigurationError

OBJECTS = "KIROKU_OBJECTS"
KEYS = "KIROKU_KEYS"
DEFAULT_KEY_PREFIX = "data-keys/"


@dataclass(frozen=True)
class S3Url:
    """``s3://BUCKET?region=…&endpoint=…&part_mb=16&multipart_mb=64&create=true``."""

    bucket: str
    region: str | None = None
    endpoint: str | None = None
    part_mb: int = 16
    multipart_mb: int = 64
    create: bool = True


@dataclass(frozen=True)
class KmsUrl:
    """``aws-kms://KEY?region=…&endpoint=…&store=s3://BUCKET/PREFIX/&cache_seconds=300&revalidate_seconds=1``."""

    key: str
    region: str | None = None
    endpoint: str | None = None
    store_bucket: str | None = None  # None: the KIROKU_OBJECTS bucket
    store_prefix: str = DEFAULT_KEY_PREFIX
    store_endpoint: str | None = None
    store_region: str | None = None
    cache_seconds: float = 300.0
    revalidate_seconds: float = 1.0


def require_boto3(setting: str, url: str) -> None:
    """The S3 and KMS adapters need boto3 (the ``aws`` extra); say so, naming the setting."""
    import importlib.util

    if importlib.util.find_spec("boto3") is None:
        raise ConfigurationError(f"{setting}={url} needs boto3: pip install 'kiroku-ledger[aws]'", field=setting,
                                 expected="boto3 installed", got="not installed", code="adapter_unavailable")


def _bad(setting: str, message: str, expected: str, got: str) -> ConfigurationError:
    return ConfigurationError(f"{setting}: {message}", field=setting, expected=expected, got=got, code="bad_setting")


def split_bucket(url: str, setting: str) -> tuple[str, str, dict[str, str]]:
    """``s3://bucket/prefix?k=v`` → (bucket, prefix, params)."""
    if not url.startswith("s3://"):
        raise _bad(setting, f"{url!r} is not an s3:// URL", "s3://BUCKET", url)
    rest, _, query = url[len("s3://"):].partition("?")
    bucket, _, prefix = rest.partition("/")
    if not (3 <= len(bucket) <= 63) or not all(c.islower() or c.isdigit() or c in "-." for c in bucket) \
            or not bucket[0].isalnum() or not bucket[-1].isalnum():
        raise _bad(setting, f"{bucket!r} is not a valid S3 bucket name (3-63 lowercase letters, digits, '-', '.')",
                   "s3://BUCKET", url)
    return bucket, prefix, {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}


def _whole(params: dict[str, str], name: str, default: int, setting: str, minimum: int) -> int:
    raw = params.pop(name, None)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise _bad(setting, f"{name}={raw!r} must be a whole number ≥ {minimum}", f"{name}=N (N ≥ {minimum})", raw)
    return int(raw)


def _no_more(params: dict[str, str], setting: str, known: str, url: str) -> None:
    if params:
        raise _bad(setting, f"unknown parameter(s) {', '.join(sorted(params))}", known, url)


def parse_objects_url(url: str) -> S3Url:
    """Parse ``KIROKU_OBJECTS=s3://…``; ConfigurationError naming it."""
    bucket, prefix, params = split_bucket(url, OBJECTS)
    if prefix:
        raise _bad(OBJECTS, "give the bucket only (snapshots are stored under snapshots/)", "s3://BUCKET?region=…", url)
    parsed = S3Url(
        bucket, params.pop("region", None) or None, params.pop("endpoint", None) or None,
        _whole(params, "part_mb", 16, OBJECTS, 5), _whole(params, "multipart_mb", 64, OBJECTS, 5),
        params.pop("create", "true").lower() not in ("false", "0", "no"),
    )
    _no_more(params, OBJECTS, "region, endpoint, part_mb, multipart_mb, create", url)
    return parsed


def parse_keys_url(url: str) -> KmsUrl:
    """Parse ``KIROKU_KEYS=aws-kms://…``; ConfigurationError naming it."""
    if not url.startswith("aws-kms://"):
        raise _bad(KEYS, f"{url!r} is not an aws-kms:// URL", "aws-kms://KEY-ID?region=…", url)
    key, _, query = url[len("aws-kms://"):].partition("?")
    if not key:
        raise _bad(KEYS, "names no KMS key", "aws-kms://KEY-ID, aws-kms://alias/NAME or aws-kms://arn:aws:kms:…", url)
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    store_bucket, store_prefix = None, DEFAULT_KEY_PREFIX
    if "store" in params:
        store_bucket, prefix, _ = split_bucket(params.pop("store"), KEYS)
        store_prefix = (prefix.rstrip("/") + "/") if prefix else DEFAULT_KEY_PREFIX
    seconds = {}
    for name, default in (("cache_seconds", "300"), ("revalidate_seconds", "1")):
        text = params.pop(name, default)
        try:
            seconds[name] = float(text)
        except ValueError:
            raise _bad(KEYS, f"{name}={text!r} is not a number", f"{name}=SECONDS", text) from None
        if not seconds[name] >= 0:  # also refuses nan
            raise _bad(KEYS, f"{name}={text!r} must be 0 or more", f"{name}=SECONDS (0 or more)", text)
    parsed = KmsUrl(key, params.pop("region", None) or None, params.pop("endpoint", None) or None, store_bucket,
                    store_prefix, params.pop("store_endpoint", None) or None, params.pop("store_region", None) or None,
                    seconds["cache_seconds"], seconds["revalidate_seconds"])
    _no_more(params, KEYS, "region, endpoint, store, store_endpoint, store_region, cache_seconds, revalidate_seconds", url)
    return parsed
