"""HTTP routers of the finance service, one module per resource."""

from fastapi import APIRouter

from finance.entrypoints.api import (
    accounts,
    contributions,
    emergency_fund,
    emergency_repairs,
    funding_plans,
    payback,
    payments,
    transfers,
)

routers: list[APIRouter] = [
    accounts.router,
    transfers.router,
    funding_plans.router,
    contributions.router,
    payments.router,
    emergency_repairs.router,
    emergency_fund.router,
    payback.router,
]
