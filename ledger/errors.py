"""Kiroku's error tree.

Every error carries a machine-readable ``code``, the offending ``field`` (a dotted path such as
``lines[3].personal_number``, or ``None``), what was ``expected`` and what was ``got``, and whether
retrying the same call may succeed (``retriable``, as kafka-python marks its errors). Messages are
written for the person who has to fix the input: a payroll clerk, not a developer.

The whole tree is here, including the errors only the HTTP API raises (a body too large, a rate
limit, a missing token): the remote SDKs raise them too. What HTTP status each one answers with is
the HTTP API's decision (``viewers/http/problems.py``), not the core's.
"""

from __future__ import annotations

from typing import Any


class KirokuError(Exception):
    """Root of every error Kiroku raises on purpose."""

    code: str = "kiroku_error"
    retriable: bool = False

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        expected: str | None = None,
        got: Any = None,
        code: str | None = None,
        retriable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.expected = expected
        self.got = got
        if code is not None:
            self.code = code
        if retriable is not None:
            self.retriable = retriable

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (used by the CLI, the SDKs and the HTTP API)."""
        out: dict[str, Any] = {"code": self.code, "message": self.message, "retriable": self.retriable}
        if self.field is not None:
            out["field"] = self.field
        if self.expected is not None:
            out["expected"] = self.expected
        if self.got is not None:
            out["got"] = self.got if isinstance(self.got, (str, int, float, bool)) else repr(self.got)
        return out

    def __str__(self) -> str:
        return self.message


class ValidationError(KirokuError):
    """The input does not fit: a field is missing, malformed, or fails a check digit."""

    code = "invalid"


class ValidationErrors(ValidationError):
    """Several validation errors found in one submission; ``errors`` lists each one."""

    code = "invalid"

    def __init__(self, errors: list[ValidationError]) -> None:
        self.errors = errors
        shown = "; ".join(e.message for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        first = errors[0]
        super().__init__(
            f"{len(errors)} problem(s) in the submission: {shown}{more}",
            field=first.field,
            expected=first.expected,
            got=first.got,
            code=first.code,
        )

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["errors"] = [e.to_dict() for e in self.errors]
        return out


class NotFound(KirokuError):
    """Nothing visible to the caller under that name.

    Also what a forbidden read answers, so that a denial reveals nothing about existence.
    """

    code = "not_found"


class Forbidden(KirokuError):
    """The caller may not perform this action (raised only where existence is not secret)."""

    code = "forbidden"


class Conflict(KirokuError):
    """The request contradicts what is already recorded (e.g. an idempotency key reused)."""

    code = "conflict"


class Unavailable(KirokuError):
    """A backing service (log, catalog, object store, key service) could not be reached."""

    code = "unavailable"
    retriable = True


class IntegrityError(KirokuError):
    """Stored bytes do not match what was recorded: a torn write, tampering, or corruption."""

    code = "integrity"


class KeyErased(KirokuError):
    """A data key was destroyed at the end of retention; the personal data it sealed is gone."""

    code = "erased"


class ConfigurationError(KirokuError):
    """A setting is unknown, malformed, or names something that cannot be used."""

    code = "configuration"


class Unauthenticated(KirokuError):
    """No valid API token: missing, malformed, unknown, expired or revoked."""

    code = "unauthenticated"


class PayloadTooLarge(KirokuError):
    """The request body is larger than this server accepts."""

    code = "too_large"


class TooManyRequests(KirokuError):
    """The principal's rate limit is spent; retry after ``retry_after`` seconds."""

    code = "rate_limited"
    retriable = True

    def __init__(self, message: str, retry_after: int, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class NotAcceptable(KirokuError):
    """The resource cannot be given in the representation asked for."""

    code = "not_acceptable"


class UnsupportedMediaType(KirokuError):
    """The request body is in a format the operation does not read."""

    code = "unsupported_media_type"
