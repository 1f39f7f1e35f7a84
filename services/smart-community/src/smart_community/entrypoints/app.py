"""App factory of the smart-community service (``uvicorn --factory smart_community.entrypoints.app:create_app``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from fastapi import FastAPI

from renovation_common.app import Runtime, ServiceDefinition, Worker
from renovation_common.app import create_app as build_app
from smart_community.adapters.orm import infra
from smart_community.config import Settings
from smart_community.entrypoints.api import routers
from smart_community.entrypoints.broker_workers import broker_workers, device_broker
from smart_community.entrypoints.consumers import consumers
from smart_community.entrypoints.workers import ensure_devices_stream, workers

log = structlog.get_logger("smart_community")

TAGS = [
    {"name": "devices", "description": "Device registry, MQTT credentials, device events"},
    {"name": "alarms", "description": "Alarms: active → acknowledged → cleared"},
    {"name": "rules", "description": "Alarm rule settings per community"},
    {"name": "parking", "description": "Parking occupancy from licence-plate cameras and barrier gates"},
]


def create_app(*, clock: Callable[[], datetime] | None = None, **overrides: Any) -> FastAPI:
    """``clock`` (tests) replaces the wall clock of the rules, the deadline scanner and the purge."""
    settings = Settings(**overrides)

    async def on_startup(runtime: Runtime) -> None:
        runtime.extras["device_broker"] = device_broker(settings)

    def all_workers(runtime: Runtime) -> list[Worker]:
        return [*workers(runtime), *broker_workers(runtime)]

    return build_app(
        ServiceDefinition(
            settings=settings,
            infra=infra,
            title="Smart-community service",
            description="Device events, alarm rules and care for elderly residents living alone.",
            routers=routers,
            openapi_tags=TAGS,
            consumers=consumers,
            workers=all_workers,
            on_startup=on_startup,
            on_messaging_ready=ensure_devices_stream,
            clock=clock,
        )
    )
