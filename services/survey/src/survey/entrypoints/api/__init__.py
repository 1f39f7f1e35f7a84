"""HTTP routers of the survey service."""

from fastapi import APIRouter

routers: list[APIRouter] = []
