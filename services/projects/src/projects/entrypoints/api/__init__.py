"""HTTP routers of the projects service."""

from fastapi import APIRouter

from projects.entrypoints.api.routes import router

routers: list[APIRouter] = [router]
