"""HTTP routers of the projects service."""

from fastapi import APIRouter

routers: list[APIRouter] = []
