from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from renovation_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROJECTS_", extra="ignore")
    service_name: ClassVar[str] = "projects"
    default_port: ClassVar[int] = 8002

    plan_sync_max_packages: int = Field(default=200, ge=0, le=5000, description="Larger plans run as jobs (202)")
    plan_sync_max_time_limit_s: float = Field(
        default=10.0, ge=0, le=600, description="Plans with a longer deterministic budget run as jobs (202)"
    )
    plan_worker_enabled: bool = True
    plan_poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    plan_sync_wait_s: float = Field(
        default=15.0, ge=0, le=120, description="How long a request waits for an inline plan before answering 202"
    )
    plan_stale_after_s: float = Field(
        default=3600.0,
        ge=10,
        description="A claimed plan this old is retried by another replica (the solve's wall cap stays under half)",
    )
    max_concurrent_solves: int = Field(default=1, ge=1, le=16, description="CP-SAT solves at once per replica")
    max_time_limit_s: float = Field(default=60.0, gt=0, le=600)
    delay_check_interval_s: float = Field(
        default=3600.0, gt=0, le=86400, description="How often the delay check compares plans with progress"
    )
    timezone: str = Field(default="Asia/Shanghai", description="Whose calendar 'today' is (reports, delay check)")
