"""App factory of the survey service (``uvicorn --factory survey.entrypoints.app:create_app``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.routing import APIRoute

from renovation_common.app import Runtime, ServiceDefinition
from renovation_common.app import create_app as build_app
from survey.adapters.files import HouseholdFileReader, ImportLimits
from survey.adapters.orm import infra
from survey.config import Settings
from survey.entrypoints.api import routers
from survey.entrypoints.api.consultations import render_result
from survey.entrypoints.api.deps import CONTEXT
from survey.entrypoints.consumers import consumers
from survey.entrypoints.workers import workers
from survey.service_layer.consultations.results import ResultCache
from survey.service_layer.context import Context


def create_app(*, clock: Callable[[], datetime] | None = None, **overrides: Any) -> FastAPI:
    """``clock`` (tests) replaces the wall clock of the auto-closer (routes keep the wall clock)."""
    settings = Settings(**overrides)
    timezone = ZoneInfo(settings.timezone)  # an unknown zone fails here, at start
    limits = ImportLimits(
        max_bytes=settings.import_max_bytes,
        max_rows=settings.import_max_rows,
        max_uncompressed_bytes=settings.import_max_uncompressed_bytes,
        timeout_s=settings.import_timeout_s,
        max_concurrent=settings.import_concurrency,
    )

    async def on_startup(runtime: Runtime) -> None:
        runtime.extras[CONTEXT] = Context(
            files=HouseholdFileReader(limits),
            results=ResultCache(render_result),
            source=settings.event_source,
            clock=runtime.clock,
            timezone=timezone,
        )

    app = build_app(
        ServiceDefinition(
            settings=settings,
            infra=infra,
            title="Survey service",
            description="Resident consultation for old-community renovation: households, willingness polls, "
            "menu-style item selection, design votes, demand surveys and satisfaction.",
            routers=routers,
            consumers=consumers,
            workers=workers,
            clock=clock,
            on_startup=on_startup,
        )
    )
    _expose_route_body_limits(app)
    return app


def _expose_route_body_limits(app: FastAPI) -> None:
    """Give routes declaring ``x-max-body-bytes`` (the household import: 5 MB) their own body limit.

    ``renovation_common.app.BodyLimitMiddleware`` reads the limit from the top-level route that matches; FastAPI
    0.165 keeps an included router as one ``_IncludedRouter`` entry, so a route inside it is never seen and the
    1 MiB default applies. Until the middleware descends into included routers, each such route is also registered
    at the top level (first, hidden from the schema: the documented operation is the included one, the same
    endpoint with the same dependencies, answers the same)."""
    hoisted = []
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and (route.openapi_extra or {}).get("x-max-body-bytes"):
                app.router.add_api_route(
                    route.path,
                    route.endpoint,
                    methods=list(route.methods),
                    status_code=route.status_code,
                    response_model=route.response_model,
                    dependencies=route.dependencies,
                    include_in_schema=False,
                    openapi_extra=route.openapi_extra,
                    name=f"{route.name}_body_limit",
                )
                hoisted.append(app.router.routes.pop())
    app.router.routes[:0] = hoisted
