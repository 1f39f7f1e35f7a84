"""Settings base shared by every service.

Shared infrastructure variables are read without a prefix (``DATABASE_URL``, ``NATS_URL``, ``JWT_SECRET`` ...);
a service may override any of them with its own prefix (``SURVEY_DATABASE_URL``). ``DATABASE_URL`` names a
*server*: each service connects to its own database on it, named after the service, unless the service's own
``<PREFIX>DATABASE_URL`` is given in full.

``ENVIRONMENT`` is ``development``, ``test`` or ``production`` (anything else fails at start). Production refuses what
is only safe on a developer's machine, before any connection is attempted (:func:`load_settings` turns the refusal
into one clear message and exit code 2):

* HS256 tokens and the development JWT secret: production verifies RS256/ES256 against ``JWT_JWKS_URL`` (https);
* a secret shorter than 32 bytes (every field a class lists in ``secret_fields``, and the passwords inside
  ``NATS_URL`` and ``DATABASE_URL``), or a development default;
* missing data encryption keys (``DATA_ENCRYPTION_KEYS``: what the idempotency store and other at-rest secrets are
  encrypted with).
"""

from __future__ import annotations

import json
import os
import re
import sys
from enum import StrEnum
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"  # noqa: S105 - development only
DEV_DATA_ENCRYPTION_KEY = "dev-only-data-encryption-key-change-me-0123456789"
MIN_SECRET_BYTES = 32

SHARED_FIELDS = (
    "nats_url",
    "jwt_secret",
    "jwt_jwks_url",
    "jwt_issuer",
    "jwt_audience",
    "log_level",
    "log_json",
    "environment",
    "stream_replicas",
    "data_encryption_keys",
    "retention_days",
    "cors_allow_origins",
    "cors_max_age_s",
)
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def database_url_for(server_url: str, database: str) -> str:
    """Return ``server_url`` pointing at ``database`` and using the asyncpg driver."""
    parts = urlsplit(server_url)
    scheme = parts.scheme
    if scheme in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        scheme = "postgresql+asyncpg"
    return urlunsplit((scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


class UnsafeSettings(ValueError):
    """A production setting that would be unsafe; the message says which and what to do."""


class ServiceSettings(BaseSettings):
    """Base class: a service subclasses it, sets ``service_name`` and ``model_config`` with its env prefix."""

    model_config = SettingsConfigDict(extra="ignore")

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000
    # Fields holding secrets: in production each must be at least MIN_SECRET_BYTES long when set (a subclass adds
    # its own, e.g. ``("secret_encryption_key",)``); ``required_in_production`` must also be set there.
    secret_fields: ClassVar[tuple[str, ...]] = ()
    required_in_production: ClassVar[tuple[str, ...]] = ()

    environment: Environment = Field(default=Environment.DEVELOPMENT, description="development | test | production")
    host: str = "127.0.0.1"
    port: int = 0
    database_url: str = ""
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int | None = Field(
        default=None, ge=0, le=200, description="Connections above db_pool_size under load (default: db_pool_size)"
    )
    db_transaction_pooler: bool = Field(
        default=False, description="DATABASE_URL is PgBouncer in transaction mode: no prepared-statement caches"
    )
    db_pre_ping: bool = Field(
        default=True,
        description="Test each pooled connection before use (3 round trips per transaction on asyncpg); without it a "
        "connection the server dropped fails one statement, then the pool reconnects",
    )
    nats_url: str = "nats://127.0.0.1:4222"
    jwt_secret: str = ""
    jwt_jwks_url: str = ""
    jwt_issuer: str = "renovation-platform"
    jwt_audience: str = "renovation-api"
    data_encryption_keys: str = Field(
        default="",
        description="Comma-separated keys (≥ 32 bytes each) for data encrypted at rest; the first encrypts, all "
        "decrypt (rotation: put the new key first, keep the old ones until re-encrypted or expired)",
    )
    log_level: str = "INFO"
    log_json: bool = True
    outbox_poll_interval_s: float = Field(default=0.5, gt=0, le=60)
    outbox_batch_size: int = Field(default=500, ge=1, le=4000)
    consumers_enabled: bool = True
    stream_replicas: int = Field(default=1, ge=1, le=5, description="JetStream replicas of the streams it creates")
    stream_max_age_days: float = Field(default=30, gt=0, le=3650, description="Event streams keep messages this long")
    stream_max_bytes: int = Field(
        default=1024**3, ge=1024**2, description="Event streams keep at most this much (reserved in JetStream storage)"
    )
    retention_days: float = Field(
        default=14, gt=0, le=3650, description="Sent outbox rows, inbox rows, idempotency records and dead letters"
    )
    retention_interval_s: float = Field(default=3600, gt=0, le=86400)
    metrics_through_proxy: bool = Field(
        default=False, description="Serve /metrics to requests that came through a proxy (X-Forwarded-For)"
    )
    root_path: str = Field(default="", description="Path prefix when served behind a gateway, e.g. /survey")
    public_base_url: str = Field(
        default="",
        max_length=300,
        pattern=r"^(https?://[^\s/?#]+(/[^\s?#]*)?)?$",
        description="The URL clients reach this service at, e.g. https://api.example.gov.cn/survey (the first "
        "`servers` entry of its OpenAPI document)",
    )
    relay_enabled: bool = True
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024, description="Request body limit")
    link_ttl_s: int = Field(
        default=300,
        ge=30,
        le=900,
        description="How long a signed link (POST /v1/links) opens its chart or export",
    )
    workers_enabled: bool = Field(default=True, description="Periodic jobs and background workers of the service")
    cors_allow_origins: list[str] = Field(
        default_factory=list,
        max_length=50,
        description='Browser origins allowed to call the API (CORS), JSON: ["https://h5.example.gov.cn"]; empty: no '
        'CORS headers at all. "*" (any origin) is refused in production',
    )
    cors_max_age_s: int = Field(default=600, ge=0, le=86400, description="How long browsers cache a preflight")

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _origins_from_text(cls, value: Any) -> Any:
        """The unprefixed shared variable arrives as text: a JSON list, or origins separated by commas."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [o.strip() for o in text.split(",") if o.strip()]
        return value

    @field_validator("cors_allow_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not ORIGIN.match(origin):
                raise ValueError(f"CORS_ALLOW_ORIGINS: {origin[:100]!r} is not an origin (scheme://host[:port])")
        return origins

    @model_validator(mode="before")
    @classmethod
    def _shared_environment(cls, data: Any) -> Any:
        """Unprefixed shared variables fill the fields the service's own prefix and the caller left unset."""
        if not isinstance(data, dict):
            return data
        prefix = (cls.model_config.get("env_prefix") or "").upper()
        for name in SHARED_FIELDS:
            if name in data or name not in cls.model_fields or (prefix + name.upper()) in os.environ:
                continue
            shared = os.environ.get(name.upper())
            if shared is not None:
                data[name] = shared
        return data

    @model_validator(mode="after")
    def _derive_and_check(self) -> ServiceSettings:
        if not self.database_url:
            server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
            object.__setattr__(self, "database_url", database_url_for(server, self.database_name))
        else:
            parts = urlsplit(self.database_url)
            object.__setattr__(
                self, "database_url", database_url_for(self.database_url, parts.path.lstrip("/") or self.database_name)
            )
        if not self.port:
            object.__setattr__(self, "port", self.default_port)
        if self.environment is Environment.PRODUCTION:
            problems = self.production_problems()
            if problems:
                raise UnsafeSettings("; ".join(problems))
        else:
            if not self.jwt_secret and not self.jwt_jwks_url:
                object.__setattr__(self, "jwt_secret", DEV_JWT_SECRET)
            if not self.data_encryption_keys:
                object.__setattr__(self, "data_encryption_keys", DEV_DATA_ENCRYPTION_KEY)
        return self

    def production_problems(self) -> list[str]:
        """What production refuses in these settings (empty: safe to start). Subclasses extend it."""
        problems: list[str] = []
        if not self.jwt_jwks_url:
            problems.append("JWT_JWKS_URL is required: production verifies RS256/ES256 tokens of the identity provider")
        elif not self.jwt_jwks_url.startswith("https://"):
            problems.append("JWT_JWKS_URL must be an https:// URL")
        if self.jwt_secret:
            problems.append("JWT_SECRET must be empty in production: HS256 shared-secret tokens are for development")
        keys = [k for k in self.data_encryption_keys.split(",") if k.strip()]
        if not keys:
            problems.append("DATA_ENCRYPTION_KEYS is required (one or more keys of at least 32 bytes)")
        for key in keys:
            if len(key.strip().encode()) < MIN_SECRET_BYTES or key.strip() == DEV_DATA_ENCRYPTION_KEY:
                problems.append("every DATA_ENCRYPTION_KEYS key must be a random secret of at least 32 bytes")
                break
        for name in self.required_in_production:
            if not getattr(self, name):
                problems.append(f"{self.env_name(name)} is required in production")
        for name in self.secret_fields:
            for value in _secret_values(getattr(self, name)):
                if len(value.encode()) < MIN_SECRET_BYTES or value.startswith("dev-only"):
                    problems.append(f"{self.env_name(name)} holds a secret shorter than 32 bytes or a development one")
                    break
        if "*" in self.cors_allow_origins:
            problems.append('CORS_ALLOW_ORIGINS must list the browser apps\' origins in production, not "*"')
        for label, url in (("NATS_URL", self.nats_url), ("DATABASE_URL", self.database_url)):
            for server in url.split(","):
                password = urlsplit(server.strip()).password
                if password is not None and len(password.encode()) < MIN_SECRET_BYTES:
                    problems.append(f"the password in {label} is shorter than 32 bytes")
                    break
        return problems

    def env_name(self, field: str) -> str:
        prefix = "" if field in SHARED_FIELDS else (self.model_config.get("env_prefix") or "")
        return (prefix + field).upper()

    @property
    def database_name(self) -> str:
        return self.service_name.replace("-", "_")

    @property
    def event_source(self) -> str:
        return f"/renovation/{self.service_name}"

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION


def _secret_values(value: Any) -> list[str]:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not value:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _secret_values(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _secret_values(v)]
    return [str(value)]


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def load_settings(cls: type[SettingsT], **overrides: Any) -> SettingsT:
    """Build a service's settings at process start; on a bad or unsafe value print one clear message and exit 2
    (before any connection is attempted)."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        lines = [f"{cls.service_name}: refusing to start, the configuration is not valid:"]
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ())) or "settings"
            message = str(error.get("msg", "")).removeprefix("Value error, ")
            for part in message.split("; "):
                lines.append(f"  - {where}: {part}" if where != "settings" else f"  - {part}")
        print("\n".join(lines), file=sys.stderr, flush=True)
        raise SystemExit(2) from None
