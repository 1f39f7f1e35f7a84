"""HTTP routers of the finance service."""

from fastapi import APIRouter

from finance.entrypoints.api import contributions, emergency, funding, ledger, payback

routers: list[APIRouter] = [ledger.router, funding.router, contributions.router, emergency.router, payback.router]
