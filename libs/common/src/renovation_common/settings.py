"""Settings base shared by every service.

Shared infrastructure variables are read without a prefix (``DATABASE_URL``, ``NATS_URL``, ``JWT_SECRET`` ...);
a service may override any of them with its own prefix (``SURVEY_DATABASE_URL``). ``DATABASE_URL`` names a
*server*: each service connects to its own database on it, named after the service, unless the service's own
``<PREFIX>DATABASE_URL`` is given in full.
"""

from __future__ import annotations

import os
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"  # noqa: S105 - development only

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
)


def database_url_for(server_url: str, database: str) -> str:
    """Return ``server_url`` pointing at ``database`` and using the asyncpg driver."""
    parts = urlsplit(server_url)
    scheme = parts.scheme
    if scheme in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        scheme = "postgresql+asyncpg"
    return urlunsplit((scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


class ServiceSettings(BaseSettings):
    """Base class: a service subclasses it, sets ``service_name`` and ``model_config`` with its env prefix."""

    model_config = SettingsConfigDict(extra="ignore")

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000

    environment: str = Field(default="development", description="development | test | production")
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
    nats_url: str = "nats://127.0.0.1:4222"
    jwt_secret: str = ""
    jwt_jwks_url: str = ""
    jwt_issuer: str = "renovation-platform"
    jwt_audience: str = "renovation-api"
    log_level: str = "INFO"
    log_json: bool = True
    outbox_poll_interval_s: float = Field(default=0.5, gt=0, le=60)
    outbox_batch_size: int = Field(default=200, ge=1, le=5000)
    consumers_enabled: bool = True
    stream_replicas: int = Field(default=1, ge=1, le=5, description="JetStream replicas of the streams it creates")
    metrics_through_proxy: bool = Field(
        default=False, description="Serve /metrics to requests that came through a proxy (X-Forwarded-For)"
    )
    root_path: str = Field(default="", description="Path prefix when served behind a gateway, e.g. /survey")
    relay_enabled: bool = True

    @model_validator(mode="after")
    def _fill_from_shared_environment(self) -> ServiceSettings:
        prefix = (self.model_config.get("env_prefix") or "").upper()
        for name in SHARED_FIELDS:
            own = os.environ.get(prefix + name.upper())
            shared = os.environ.get(name.upper())
            if own is None and shared is not None and name in type(self).model_fields:
                field = type(self).model_fields[name]
                value = field.annotation(shared) if field.annotation in (int, str, float) else shared
                if field.annotation is bool:
                    value = shared.strip().lower() in ("1", "true", "yes", "on")
                object.__setattr__(self, name, value)
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
        if not self.jwt_secret and not self.jwt_jwks_url:
            if self.environment == "production":
                raise ValueError("production needs JWT_JWKS_URL or JWT_SECRET")
            object.__setattr__(self, "jwt_secret", DEV_JWT_SECRET)
        return self

    @property
    def database_name(self) -> str:
        return self.service_name.replace("-", "_")

    @property
    def event_source(self) -> str:
        return f"/renovation/{self.service_name}"
