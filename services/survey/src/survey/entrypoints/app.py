"""App factory of the survey service (``uvicorn --factory survey.entrypoints.app:create_app``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from renovation_common.app import ServiceDefinition
from renovation_common.app import create_app as build_app
from survey.adapters.orm import infra
from survey.config import Settings
from survey.entrypoints.api import routers
from survey.entrypoints.consumers import consumers
from survey.entrypoints.workers import workers


def create_app(*, clock: Callable[[], datetime] | None = None, **overrides: Any) -> FastAPI:
    """``clock`` (tests) replaces the wall clock of the auto-closer (routes keep the wall clock)."""
    settings = Settings(**overrides)

    return build_app(
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
        )
    )
