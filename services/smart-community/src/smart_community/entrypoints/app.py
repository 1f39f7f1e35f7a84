"""App factory of the smart-community service (``uvicorn --factory smart_community.entrypoints.app:create_app``)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from renovation_common.app import ServiceDefinition
from renovation_common.app import create_app as build_app
from smart_community.adapters.orm import infra
from smart_community.config import Settings
from smart_community.entrypoints.api import routers
from smart_community.entrypoints.consumers import consumers


def create_app(**overrides: Any) -> FastAPI:
    settings = Settings(**overrides)
    return build_app(
        ServiceDefinition(
            settings=settings,
            infra=infra,
            title="Smart-community service",
            description="Device events, alarm rules and care for elderly residents living alone.",
            routers=routers,
            consumers=consumers,
        )
    )
