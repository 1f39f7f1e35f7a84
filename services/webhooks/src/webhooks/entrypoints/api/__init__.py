"""HTTP routers of the webhooks service."""

from fastapi import APIRouter

routers: list[APIRouter] = []
