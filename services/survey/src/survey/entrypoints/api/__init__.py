"""HTTP routers of the survey service."""

from fastapi import APIRouter

from survey.entrypoints.api.consultations import rankings_router, responses_router, results_router
from survey.entrypoints.api.consultations import router as consultations_router
from survey.entrypoints.api.registry import router as registry_router
from survey.entrypoints.api.schemes import router as schemes_router

routers: list[APIRouter] = [registry_router, consultations_router, responses_router, results_router, rankings_router]
routers.append(schemes_router)  # design-scheme deliberation (三上三下, 一院一策)
