from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from renovation_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SURVEY_", extra="ignore")
    service_name: ClassVar[str] = "survey"
    default_port: ClassVar[int] = 8001

    auto_close_enabled: bool = Field(
        default=True, description="Close open consultations automatically once their closes_at has passed"
    )
    auto_close_interval_s: float = Field(
        default=30.0, ge=0.05, le=3600, description="Seconds between two scans of the auto-closer"
    )
    auto_close_batch_size: int = Field(default=100, ge=1, le=1000, description="Consultations closed per scan")
