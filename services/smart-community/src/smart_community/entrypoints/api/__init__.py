"""HTTP routers of the smart-community service."""

from fastapi import APIRouter

routers: list[APIRouter] = []
