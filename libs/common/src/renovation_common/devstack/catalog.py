"""The five services as the development stack knows them (folder, package, environment prefix, port)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[5]  # the repository (libs/common/src/renovation_common/devstack/ -> root)


@dataclass(frozen=True)
class ServiceInfo:
    name: str  # folder under services/
    package: str  # Python package
    env_prefix: str
    port: int

    @property
    def database(self) -> str:
        return self.name.replace("-", "_")

    @property
    def directory(self) -> Path:
        return ROOT / "services" / self.name


SERVICES: tuple[ServiceInfo, ...] = (
    ServiceInfo("survey", "survey", "SURVEY_", 8001),
    ServiceInfo("projects", "projects", "PROJECTS_", 8002),
    ServiceInfo("finance", "finance", "FINANCE_", 8003),
    ServiceInfo("smart-community", "smart_community", "SMART_COMMUNITY_", 8004),
    ServiceInfo("webhooks", "webhooks", "WEBHOOKS_", 8005),
)
