"""Settings: one pydantic-settings model read from ``KIROKU_*`` variables and an optional TOML file.

Every backing service is chosen by a URL, never by a code edit. Unknown keys and malformed URLs
fail at start-up, before any I/O, naming the key.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.errors import ConfigurationError

#: URL schemes each port accepts: the scheme picks the adapter.
SCHEMES: dict[str, tuple[str, ...]] = {
    "log": ("sqlite:///", "kafka://"),
    "catalog": ("sqlite:///", "sqlite+pysqlite:///", "postgresql+psycopg://", "postgresql://"),
    "objects": ("file://", "s3://"),
    "keys": ("local://", "aws-kms://"),
}


#: What each URL setting accepts, as its error says it.
URL_FORMS: dict[str, str] = {
    "log": "sqlite:///PATH or kafka://HOST:PORT[,HOST:PORT][?prefix=…&timeout_ms=…&replication=…]",
    "catalog": "sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DATABASE",
    "objects": "file:///DIR or s3://BUCKET[/PREFIX]?region=…",
    "keys": "local:///DIR[?master_key=/ABSOLUTE/PATH] or aws-kms://KEY-ID?region=…",
}


def _shown_url(url: str) -> str:
    """``url`` as an error may repeat it: a password in it replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if at and ":" in userinfo:
        authority = f"{userinfo.split(':', 1)[0]}:***@{host}"
    return f"{scheme}{sep}{authority}{slash}{path}"


def check_url(name: str, url: str) -> None:
    """Refuse a malformed URL for setting ``name`` (log, catalog, objects, keys) with a
    ConfigurationError naming ``KIROKU_<NAME>``, the forms it accepts and what it got. No I/O."""
    setting = f"KIROKU_{name.upper()}"
    shown = _shown_url(url)

    def bad(message: str, expected: str | None = None) -> ConfigurationError:
        return ConfigurationError(f"{setting}={shown}: {message}", field=setting, expected=expected or URL_FORMS[name],
                                  got=shown, code="bad_setting")

    if not url.startswith(SCHEMES[name]):
        raise bad(f"expected a URL starting with one of {', '.join(SCHEMES[name])}")
    if url.startswith(("sqlite:///", "sqlite+pysqlite:///")):
        path = url.split(":///", 1)[1]
        if not path or path.endswith("/") or "?" in path:
            raise bad("names no database file", "sqlite:///relative/file.db or sqlite:////absolute/file.db")
    elif url.startswith("kafka://"):
        from ledger.adapters.kafka_client import KafkaOptions  # parsing only: kafka-python is imported on use

        KafkaOptions.from_url(url)
    elif url.startswith("postgresql://"):
        raise bad("SQLAlchemy would use psycopg2, which Kiroku does not use; name the driver",
                  "postgresql+psycopg://USER@HOST:PORT/DATABASE")
    elif url.startswith("postgresql+psycopg://"):
        from urllib.parse import urlsplit

        try:
            parsed = urlsplit(url)
            port = parsed.port
        except ValueError as exc:
            raise bad(f"not a database URL ({exc})", "postgresql+psycopg://USER@HOST:PORT/DATABASE") from None
        if not parsed.path.strip("/"):
            raise bad("names no database", "postgresql+psycopg://USER@HOST:PORT/DATABASE")
        if port == 0:
            raise bad("port 0 is out of range", "a port from 1 to 65535")
    elif url.startswith("file://"):
        if not url.removeprefix("file://").strip("/"):
            raise bad("names no directory", "file:///absolute/dir or file://relative/dir")
    elif url.startswith("local://"):
        from ledger.adapters.local_keyring import parse_local_keys_url

        parse_local_keys_url(url)
    elif url.startswith("s3://"):
        from ledger.adapters.aws_urls import parse_objects_url

        parse_objects_url(url)
    elif url.startswith("aws-kms://"):
        from ledger.adapters.aws_urls import parse_keys_url

        parse_keys_url(url)


def default_home() -> Path:
    """Where the embedded deployment keeps its files unless told otherwise."""
    return Path.home() / ".kiroku"


class Settings(BaseSettings):
    """Kiroku's configuration. Each field is also a ``KIROKU_<NAME>`` environment variable."""

    model_config = SettingsConfigDict(env_prefix="KIROKU_", extra="forbid", validate_default=True)

    home: Path = Field(default_factory=default_home, description="Data directory of the embedded deployment.")
    log: str | None = Field(None, description="Ledger log URL: sqlite:///PATH or kafka://HOST:PORT[,HOST:PORT].")
    catalog: str | None = Field(None, description="Catalog URL: sqlite:///PATH or postgresql+psycopg://…")
    objects: str | None = Field(None, description="Snapshot store URL: file:///DIR or s3://BUCKET?region=…")
    keys: str | None = Field(None, description="Key service URL: local:///DIR[?master_key=/PATH] or aws-kms://KEY-ID?region=…")
    partitions: int = Field(4, ge=1, le=256, description="Partitions per ledger topic.")
    deployment: str = Field("kiroku.local", description="Name of this deployment, used in checkpoint origins.")
    checkpoint_every: int = Field(1000, ge=1, description="Publish a signed checkpoint of a log partition every N new entries.")
    inline_processing: bool = Field(
        True, description="Run the projector and notifier in-process right after each append (embedded default)."
    )
    # The HTTP API's bounds (``kiroku serve``): no slow or huge client can starve the others.
    http_header_timeout: float = Field(10.0, gt=0, description="Seconds a client has to send a request's whole head (408, closed, beyond).")
    http_body_timeout: float = Field(30.0, gt=0, description="Seconds the server waits for the next bytes of a request body (408 beyond).")
    http_min_body_rate: float = Field(
        1024.0, ge=0, description="Bytes per second a body must average, counted while the server waits for it, "
                                  "after the first http_body_timeout seconds (408 below; 0: no minimum)."
    )
    http_max_line_bytes: int = Field(10 * 2**20, ge=1024, description="Longest line of a bulk NDJSON or CSV upload, in bytes (413).")
    http_bulk_per_principal: int = Field(2, ge=1, description="Bulk uploads one principal may run at once (429 + Retry-After beyond).")
    http_bulk_workers: int = Field(8, ge=1, description="Bulk uploads the server runs at once, on a thread pool of their own (429 beyond).")
    http_max_connections: int = Field(1000, ge=1, description="Open connections the server keeps; more are answered 503 and closed.")
    http_max_header_bytes: int = Field(16384, ge=1024, description="Largest request head (request line and headers), in bytes (400).")
    http_backlog: int = Field(1024, ge=1, description="Connections the kernel queues before the server accepts them.")
    # The web pages (``kiroku serve`` at /web): staff sessions, and sign-in through an OpenID Connect provider.
    web_idle_minutes: float = Field(30, gt=0, le=24 * 60, description="A web session ends after this many minutes without a request.")
    web_absolute_hours: float = Field(12, gt=0, le=7 * 24, description="A web session ends this many hours after signing in.")
    web_oidc_issuer: str | None = Field(None, description="OpenID Connect provider staff sign in with (its issuer URL), e.g. "
                                                          "GビズID's; unset: sign-in links only.")
    web_oidc_name: str = Field("OpenID Connect", description="The provider's name on the sign-in button (e.g. GビズID).")
    web_oidc_client_id: str | None = Field(None, description="Kiroku's client id at the provider.")
    web_oidc_client_secret: SecretStr | None = Field(None, description="Kiroku's client secret at the provider (never printed).")
    web_oidc_redirect_uri: str | None = Field(None, description="Where the provider sends staff back: <base URL>/web/oidc/callback.")

    @field_validator("log", "catalog", "objects", "keys")
    @classmethod
    def _url(cls, value: str | None, info: Any) -> str | None:
        # Every URL is parsed in full here, without I/O and without the adapters' drivers, so a
        # malformed one fails at start-up with a ConfigurationError naming its KIROKU_* variable,
        # what was expected and what came — never a traceback from the adapter that would use it.
        if value is not None:
            check_url(info.field_name, value)
        return value

    # The resolved URLs: embedded defaults live under ``home``.
    @property
    def log_url(self) -> str:
        return self.log or f"sqlite:///{self.home / 'log.db'}"

    @property
    def catalog_url(self) -> str:
        return self.catalog or f"sqlite:///{self.home / 'catalog.db'}"

    @property
    def objects_url(self) -> str:
        return self.objects or f"file://{self.home / 'objects'}"

    @property
    def keys_url(self) -> str:
        return self.keys or f"local://{self.home / 'keyring'}"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, ``$KIROKU_HOME/kiroku.toml`` and explicit overrides.

    Raises ConfigurationError naming the key for unknown ``KIROKU_*`` variables, unknown TOML keys
    and malformed values — before anything is opened.
    """
    # KIROKU_PURE_PYTHON is read by ledger.accelerator at import, before any settings exist.
    # KIROKU_CACHE is the download cache of `kiroku infra` (Maven jars; infra/services.py).
    known = {f"KIROKU_{name.upper()}" for name in Settings.model_fields} | {"KIROKU_CONFIG", "KIROKU_PURE_PYTHON", "KIROKU_CACHE"}
    for key in os.environ:
        if key.startswith("KIROKU_") and key not in known:
            raise ConfigurationError(
                f"Unknown setting {key}. Known settings: {', '.join(sorted(known))}.",
                field=key, expected="one of " + ", ".join(sorted(known)), got=key, code="unknown_setting",
            )
    file_values: dict[str, Any] = {}
    home = overrides.get("home") or os.environ.get("KIROKU_HOME") or default_home()
    config_path = Path(os.environ.get("KIROKU_CONFIG") or Path(home) / "kiroku.toml")
    if config_path.is_file():
        with config_path.open("rb") as fh:
            try:
                file_values = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigurationError(f"{config_path} is not valid TOML: {exc}", field=str(config_path)) from exc
        for key in file_values:
            if key not in Settings.model_fields:
                raise ConfigurationError(
                    f"Unknown key {key!r} in {config_path}.", field=key,
                    expected="one of " + ", ".join(sorted(Settings.model_fields)), got=key, code="unknown_setting",
                )
    try:
        # Environment variables win over the file; explicit overrides win over both.
        env_only = Settings()
        merged = {**file_values}
        for name in Settings.model_fields:
            if f"KIROKU_{name.upper()}" in os.environ:
                merged[name] = getattr(env_only, name)
        merged.update({k: v for k, v in overrides.items() if v is not None})
        return Settings(**merged) if merged else env_only
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "?"
        raise ConfigurationError(
            f"Setting {name} (KIROKU_{name.upper()}) is invalid: {err['msg']}",
            field=f"KIROKU_{name.upper()}", expected=err["msg"], got=err.get("input"), code="bad_setting",
        ) from exc
