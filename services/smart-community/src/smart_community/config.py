from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from renovation_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SMART_COMMUNITY_", extra="ignore", populate_by_name=True)
    service_name: ClassVar[str] = "smart_community"
    default_port: ClassVar[int] = 8004

    # Development broker: where the embedded NATS keeps its users file (set by devstack / the test stack).
    nats_data_dir: str = Field(
        default="", validation_alias=AliasChoices("SMART_COMMUNITY_NATS_DATA_DIR", "NATS_DATA_DIR", "nats_data_dir")
    )
    ingest_enabled: bool = True
    ingest_batch_size: int = Field(default=500, ge=1, le=5000)
    ingest_fetch_timeout_s: float = Field(default=1.0, gt=0, le=30)
    devices_stream_max_age_h: float = Field(default=72, gt=0, le=24 * 365, description="DEVICES stream retention")
    event_retention_days: float = Field(default=180, gt=0, le=3650, description="device events kept in Postgres")
    purge_interval_s: float = Field(default=3600, gt=0, le=86400)
    scan_interval_s: float = Field(default=5.0, gt=0, le=3600, description="deadline scanner period")
