from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from renovation_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROJECTS_", extra="ignore")
    service_name: ClassVar[str] = "projects"
    default_port: ClassVar[int] = 8002
