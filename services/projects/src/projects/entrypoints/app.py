"""App factory of the projects service (``uvicorn --factory projects.entrypoints.app:create_app``)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from projects.adapters.orm import infra
from projects.adapters.uow import ProjectsUnitOfWork
from projects.config import Settings
from projects.entrypoints.api import routers
from projects.entrypoints.consumers import consumers
from projects.entrypoints.workers import workers
from renovation_common.app import ServiceDefinition
from renovation_common.app import create_app as build_app


def create_app(**overrides: Any) -> FastAPI:
    settings = Settings(**overrides)
    return build_app(
        ServiceDefinition(
            settings=settings,
            infra=infra,
            title="Projects service",
            description="Scheduling of renovation works.",
            routers=routers,
            consumers=consumers,
            workers=workers,
            uow_class=ProjectsUnitOfWork,
            openapi_tags=[
                {"name": "catalog", "description": "Work-package catalog and the menu mapping"},
                {"name": "projects", "description": "Renovation projects, work faces and packages"},
                {"name": "plans", "description": "CP-SAT plans (jobs), re-plans and the stateless solver"},
                {"name": "views", "description": "Schedule, handover chart, progress table, daily report"},
                {"name": "progress", "description": "Daily progress, handovers, inspections"},
            ],
        )
    )
