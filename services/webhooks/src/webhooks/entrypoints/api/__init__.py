"""HTTP routers of the webhooks service."""

from fastapi import APIRouter

from webhooks.entrypoints.api.deliveries import router as deliveries_router
from webhooks.entrypoints.api.subscriptions import router as subscriptions_router

routers: list[APIRouter] = [subscriptions_router, deliveries_router]
