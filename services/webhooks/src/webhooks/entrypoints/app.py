"""App factory of the webhooks service (``uvicorn --factory webhooks.entrypoints.app:create_app``)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from renovation_common.app import Runtime, ServiceDefinition, Worker
from renovation_common.app import create_app as build_app
from webhooks.adapters.http import Resolver, system_resolver
from webhooks.adapters.orm import infra
from webhooks.config import Settings
from webhooks.entrypoints.api import routers
from webhooks.entrypoints.consumers import consumers_with_clock
from webhooks.entrypoints.workers import build_context, build_dispatcher, dispatcher_worker
from webhooks.service_layer.context import Clock, system_clock

TAGS = [
    {"name": "subscriptions", "description": "Endpoints of government systems and the events they receive"},
    {"name": "deliveries", "description": "Delivery log: attempts, failures, retries"},
]


def create_app(*, clock: Clock = system_clock, resolver: Resolver = system_resolver, **overrides: Any) -> FastAPI:
    """``clock`` and ``resolver`` can be injected (tests); everything else is a setting."""
    settings = Settings(**overrides)

    async def on_startup(runtime: Runtime) -> None:
        ctx = build_context(settings, clock, resolver)
        runtime.extras["ctx"] = ctx
        runtime.extras["dispatcher"] = build_dispatcher(runtime, ctx, settings)

    def workers(runtime: Runtime) -> list[Worker]:
        return [dispatcher_worker] if settings.dispatcher_enabled else []

    return build_app(
        ServiceDefinition(
            settings=settings,
            infra=infra,
            title="Webhooks service",
            description="Signed, retried, replayable delivery of domain events to government systems.",
            routers=routers,
            openapi_tags=TAGS,
            consumers=consumers_with_clock(clock),
            workers=workers,
            on_startup=on_startup,
        )
    )
