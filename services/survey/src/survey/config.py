from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from renovation_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SURVEY_", extra="ignore")
    service_name: ClassVar[str] = "survey"
    default_port: ClassVar[int] = 8001

    db_pre_ping: bool = Field(
        default=False,
        description="Off: the pre-ping's 3 round trips were a fifth of an answer's; answers carry a submission_id, so "
        "the one request a dropped connection fails is retried safely (the pool reconnects after it)",
    )
    auto_close_enabled: bool = Field(
        default=True, description="Close open consultations automatically once their closes_at has passed"
    )
    auto_close_interval_s: float = Field(
        default=30.0, ge=0.05, le=3600, description="Seconds between two scans of the auto-closer"
    )
    auto_close_batch_size: int = Field(default=100, ge=1, le=1000, description="Consultations closed per scan")

    # household file imports (CSV/XLSX): every dimension bounded; see survey.adapters.files
    import_max_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, le=5 * 1024 * 1024, description="Largest household file, in bytes"
    )
    import_max_rows: int = Field(default=10_000, ge=1, le=10_000, description="Household rows per file")
    import_max_uncompressed_bytes: int = Field(
        default=40 * 1024 * 1024,
        ge=1024 * 1024,
        le=200 * 1024 * 1024,
        description="What an XLSX archive may inflate to, checked before it is decompressed",
    )
    import_timeout_s: float = Field(default=15.0, gt=0, le=120, description="Time to read one file")
    import_concurrency: int = Field(default=2, ge=1, le=16, description="Files read at once per replica")
    timezone: str = Field(
        default="Asia/Shanghai", description="The zone of the times people read in exports (北京时间 by default)"
    )
