"""Composition root of the smart-community service (``uvicorn --factory smart_community.entrypoints.app:create_app``).

The only entrypoint module that imports adapters: it builds the device broker (the MQTT credential probe and, once
connected, the system-account client) and the broker workers' NATS wiring from the settings, and declares the
routers, the consumers (survey read model, device ingestion) and the background work.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI

from renovation_common.app import Runtime, ServiceDefinition, Worker
from renovation_common.app import create_app as build_app
from renovation_common.clock import Clock
from smart_community.adapters.broker import AUTH_CALLOUT_SUBJECT, BrokerAdmin, NatsDeviceBroker, connect, mqtt_endpoint
from smart_community.adapters.orm import infra
from smart_community.adapters.repositories import learn_array_types
from smart_community.config import Settings
from smart_community.entrypoints.api import routers
from smart_community.entrypoints.api.dependencies import DEVICE_BROKER
from smart_community.entrypoints.broker_workers import BrokerWiring, broker_workers
from smart_community.entrypoints.consumers import consumers
from smart_community.entrypoints.workers import ensure_devices_stream, workers

TAGS = [
    {"name": "devices", "description": "Device registry, MQTT credentials, device events and rejects"},
    {"name": "alarms", "description": "Alarms: active → acknowledged → cleared"},
    {"name": "rules", "description": "Alarm rule settings per community"},
    {"name": "parking", "description": "Parking occupancy from licence-plate cameras and barrier gates"},
]

WIRING = BrokerWiring(connect=connect, system_admin=BrokerAdmin, callout_subject=AUTH_CALLOUT_SUBJECT)


def create_app(*, clock: Clock | None = None, **overrides: Any) -> FastAPI:
    """``clock`` (tests) replaces the wall clock of the rules, the deadline scanner and the purge."""
    settings = Settings(**overrides)

    async def on_startup(runtime: Runtime) -> None:
        # every new pooled connection learns the ingestion's array types when it opens, not on an alarm's path
        sa.event.listen(runtime.engine.sync_engine, "connect", learn_array_types)
        endpoint = mqtt_endpoint(settings.mqtt_url, settings.mqtt_ca_file) if settings.mqtt_url else None
        runtime.extras[DEVICE_BROKER] = NatsDeviceBroker(
            mqtt=endpoint, probe_timeout_s=settings.credential_probe_timeout_s
        )

    def all_workers(runtime: Runtime) -> list[Worker]:
        return [*workers(runtime), *broker_workers(runtime, WIRING, runtime.extras[DEVICE_BROKER])]

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
