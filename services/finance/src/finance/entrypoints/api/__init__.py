"""HTTP routers of the finance service."""

from fastapi import APIRouter

from finance.entrypoints.api import contributions, emergency, funding, ledger, payback, payments

routers: list[APIRouter] = [
    ledger.router,
    funding.router,
    contributions.router,
    payments.router,
    emergency.router,
    payback.router,
]
