"""HTTP routers of the smart-community service."""

from fastapi import APIRouter

from smart_community.entrypoints.api.alarms import router as alarms_router
from smart_community.entrypoints.api.communities import router as communities_router
from smart_community.entrypoints.api.devices import router as devices_router

routers: list[APIRouter] = [devices_router, alarms_router, communities_router]
