from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from renovation_common.settings import ServiceSettings

DEV_SECRET_KEY = "dev-only-webhooks-secret-key-change-me"  # noqa: S105 - development only


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WEBHOOKS_", extra="ignore")
    service_name: ClassVar[str] = "webhooks"
    default_port: ClassVar[int] = 8005

    secret_fields: ClassVar[tuple[str, ...]] = ("secret_encryption_key",)
    required_in_production: ClassVar[tuple[str, ...]] = ("secret_encryption_key",)

    # Keys that encrypt the stored signing secrets: comma-separated, the first encrypts, all decrypt (rotation).
    # Required in production (each ≥ 32 bytes). After a rotation the re-seal job moves every stored secret under the
    # first key (README: "Rotating the encryption key").
    secret_encryption_key: str = ""
    secret_reseal_interval_s: float = Field(default=600.0, gt=0, le=86400)
    secret_reseal_chunk: int = Field(default=100, ge=1, le=1000)
    # SSRF: targets resolving to private/loopback/link-local/reserved addresses are refused unless allowed here.
    allow_private_targets: bool = False
    allowed_target_networks: list[str] = Field(default_factory=list, description="CIDRs allowed despite being private")
    # Delivery.
    dispatcher_enabled: bool = True
    delivery_timeout_s: float = Field(default=15.0, gt=0, le=60)
    dispatcher_poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    dispatcher_max_in_flight: int = Field(default=32, ge=1, le=1000)
    default_endpoint_concurrency: int = Field(default=4, ge=1, le=50)
    lease_s: float = Field(default=60.0, ge=20, le=3600)
    response_body_limit: int = Field(default=2048, ge=0, le=65536)
    replay_max_events: int = Field(default=10000, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _secret_key(self) -> Settings:
        if not self.secret_encryption_key and not self.is_production:
            object.__setattr__(self, "secret_encryption_key", DEV_SECRET_KEY)
        return self
