"""App factory of the survey service (``uvicorn --factory survey.entrypoints.app:create_app``)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from renovation_common.app import ServiceDefinition
from renovation_common.app import create_app as build_app
from survey.adapters.orm import infra
from survey.config import Settings
from survey.entrypoints.api import routers
from survey.entrypoints.consumers import consumers


def create_app(**overrides: Any) -> FastAPI:
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
        )
    )
