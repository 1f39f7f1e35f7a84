"""HTTP routers of the finance service."""

from fastapi import APIRouter

routers: list[APIRouter] = []
