"""App factory of the webhooks service (``uvicorn --factory webhooks.entrypoints.app:create_app``)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from renovation_common.app import ServiceDefinition
from renovation_common.app import create_app as build_app
from webhooks.adapters.orm import infra
from webhooks.config import Settings
from webhooks.entrypoints.api import routers
from webhooks.entrypoints.consumers import consumers


def create_app(**overrides: Any) -> FastAPI:
    settings = Settings(**overrides)
    return build_app(
        ServiceDefinition(
            settings=settings,
            infra=infra,
            title="Webhooks service",
            description="Signed, retried, replayable delivery of domain events to government systems.",
            routers=routers,
            consumers=consumers,
        )
    )
