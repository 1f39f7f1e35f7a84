"""HTTP routers of the smart-community service."""

from fastapi import APIRouter

from smart_community.entrypoints.api.routes import router

routers: list[APIRouter] = [router]
