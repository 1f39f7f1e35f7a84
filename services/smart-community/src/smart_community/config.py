from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from renovation_common.settings import ServiceSettings


def _env(name: str) -> AliasChoices:
    """``SMART_COMMUNITY_<NAME>``, or the unprefixed ``<NAME>`` the development stack sets, or the field name."""
    return AliasChoices(f"SMART_COMMUNITY_{name}", name, name.lower())


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SMART_COMMUNITY_", extra="ignore", populate_by_name=True)
    service_name: ClassVar[str] = "smart_community"
    default_port: ClassVar[int] = 8004
    # production: each at least 32 bytes when set (the passwords inside the two URLs are measured by
    # deploy/validate.py against what the deployments give them)
    secret_fields: ClassVar[tuple[str, ...]] = ("broker_auth_url", "broker_system_url", "device_account_seed")

    db_pre_ping: bool = Field(
        default=False,
        description="Off: the pre-ping's 3 round trips were as many as the rest of an alarm's transaction; a batch "
        "whose pooled connection the server dropped is applied again at once by the consumer runner (deduplicated "
        "by stream sequence), and the one request it fails is safe to resend (gateway event ids)",
    )
    ingest_enabled: bool = True
    ingest_batch_size: int = Field(default=500, ge=1, le=5000)
    ingest_batches_in_flight: int = Field(
        default=2,
        ge=1,
        le=8,
        description="telemetry batches applied at once (own transactions) while the next is fetched",
    )
    ingest_fetch_timeout_s: float = Field(default=1.0, gt=0, le=30)
    devices_stream_max_age_h: float = Field(default=72, gt=0, le=24 * 365, description="DEVICES stream retention")
    event_retention_days: float = Field(default=180, gt=0, le=3650, description="device events kept in Postgres")
    purge_interval_s: float = Field(default=3600, gt=0, le=86400)
    scan_interval_s: float = Field(default=5.0, gt=0, le=3600, description="deadline scanner period")
    # ---- devices at the broker (auth callout responder, connection reconciliation, credential probe)
    broker_auth_enabled: bool = Field(default=True, description="answer the broker's auth callout for devices")
    broker_auth_url: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=_env("NATS_AUTH_URL"),
        description="NATS URL with the auth callout user's credentials (account AUTH)",
    )
    broker_system_url: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=_env("NATS_SYSTEM_URL"),
        description="NATS URL with the system account user: lists and closes device connections",
    )
    device_account_seed: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=_env("NATS_DEVICE_ACCOUNT_SEED"),
        description="NKey seed (SA...) of the account signing key; its public key is the broker's callout issuer",
    )
    mqtt_url: str = Field(
        default="", validation_alias=_env("MQTT_URL"), description="mqtts://host:port the credential probe logs in to"
    )
    mqtt_ca_file: str = Field(
        default="", validation_alias=_env("MQTT_CA_FILE"), description="CA bundle verifying the broker's MQTT TLS"
    )
    device_session_max_s: int = Field(
        default=86400, ge=60, le=30 * 86400, description="a device's broker session expires (and reconnects) after"
    )
    broker_auth_concurrency: int = Field(default=4, ge=1, le=64, description="bcrypt checks at once")
    broker_auth_max_pending: int = Field(default=256, ge=1, le=100_000, description="checks waiting, then busy")
    broker_auth_cache_size: int = Field(default=10_000, ge=0, le=1_000_000, description="verified logins remembered")
    broker_reconcile_interval_s: float = Field(
        default=30, gt=0, le=60, description="period of closing device connections whose credential is stale"
    )
    credential_probe_timeout_s: float = Field(default=10, gt=0, le=60)

    @model_validator(mode="after")
    def _broker_settings_complete(self) -> Settings:
        if self.is_production and self.broker_auth_enabled:
            missing = [
                name
                for name, value in (
                    ("SMART_COMMUNITY_NATS_AUTH_URL", self.broker_auth_url.get_secret_value()),
                    ("SMART_COMMUNITY_NATS_SYSTEM_URL", self.broker_system_url.get_secret_value()),
                    ("SMART_COMMUNITY_NATS_DEVICE_ACCOUNT_SEED", self.device_account_seed.get_secret_value()),
                    ("SMART_COMMUNITY_MQTT_URL", self.mqtt_url),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"production needs {', '.join(missing)} (device authorization at the broker)")
        return self
