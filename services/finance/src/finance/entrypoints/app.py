"""App factory of the finance service (``uvicorn --factory finance.entrypoints.app:create_app``)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from finance.adapters.orm import infra
from finance.config import Settings
from finance.entrypoints.api import routers
from finance.entrypoints.consumers import consumers
from renovation_common.app import ServiceDefinition
from renovation_common.app import create_app as build_app


def create_app(**overrides: Any) -> FastAPI:
    settings = Settings(**overrides)
    return build_app(
        ServiceDefinition(
            settings=settings,
            infra=infra,
            title="Finance service",
            description="Funding plans, ledger, contributions and the emergency repair fund.",
            routers=routers,
            consumers=consumers,
        )
    )
