"""HTTP routers of the projects service, one module per resource."""

from fastapi import APIRouter

from projects.entrypoints.api.catalog import router as catalog_router
from projects.entrypoints.api.lifecycle import router as lifecycle_router
from projects.entrypoints.api.plans import router as plans_router
from projects.entrypoints.api.progress import router as progress_router
from projects.entrypoints.api.projects import router as projects_router
from projects.entrypoints.api.views import router as views_router

routers: list[APIRouter] = [
    catalog_router,
    projects_router,
    plans_router,
    views_router,
    progress_router,
    lifecycle_router,
]
