"""Composition root of the finance service (``uvicorn --factory finance.entrypoints.app:create_app``).

The only entrypoint module that imports adapters (the tables' infrastructure); it builds the use cases' context
(``service_layer.context.Context``: units of work, the clock, the payment rules from the settings), maps the
finance rules' refusals to problem+json and declares the consumers.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from finance.adapters.orm import infra
from finance.config import Settings
from finance.domain.errors import RuleViolation
from finance.entrypoints.api import routers
from finance.entrypoints.api.dependencies import CONTEXT
from finance.entrypoints.consumers import build_consumers
from finance.service_layer.context import Context
from renovation_common.app import Runtime, ServiceDefinition
from renovation_common.app import create_app as build_app
from renovation_common.clock import Clock
from renovation_common.errors import problem_response
from renovation_common.messaging import ConsumerSpec

TAGS = [
    {"name": "ledger", "description": "Double-entry accounts and immutable transfers, exact to the fen"},
    {"name": "funding plans", "description": "The 'four a little' sources, approval, disbursement"},
    {"name": "contributions", "description": "Maintenance fund and water-meter contributions"},
    {
        "name": "payments",
        "description": "Intents, staff receipts and signed provider callbacks: money is posted only on proof",
    },
    {"name": "emergency repair fund", "description": "危急维修资金: 80% government, 20% owners and public income"},
    {"name": "payback analysis", "description": "Jinsong model: cash flows, payback year, NPV, IRR"},
]


async def _rule_violation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RuleViolation)
    # 401 comes only from payment callbacks, which authenticate by signature (docs/payments.md), not a bearer token
    headers = {"WWW-Authenticate": 'Payment-Signature realm="payment-callbacks"'} if exc.status == 401 else None
    return problem_response(
        exc.status,
        exc.code,
        "A finance rule was violated",
        exc.detail,
        instance=request.url.path,
        headers=headers,
        **exc.extra,
    )


def create_app(clock: Clock | None = None, **overrides: Any) -> FastAPI:
    """``clock``: tests inject a controllable clock (intent expiry, timestamp tolerance); None = the wall clock."""
    settings = Settings(**overrides)
    payment_rules = settings.payment_rules()

    async def on_startup(runtime: Runtime) -> None:
        runtime.extras[CONTEXT] = Context(
            uow=runtime.uow,
            read=runtime.read,
            source=settings.event_source,
            clock=runtime.clock,
            payment_rules=payment_rules,
        )

    def consumers(runtime: Runtime) -> list[ConsumerSpec]:
        ctx: Context = runtime.extras[CONTEXT]
        return build_consumers(runtime, ctx)

    app = build_app(
        ServiceDefinition(
            settings=settings,
            infra=infra,
            title="Finance service",
            description="Funding plans, ledger, contributions and the emergency repair fund.",
            routers=routers,
            consumers=consumers,
            openapi_tags=TAGS,
            on_startup=on_startup,
            clock=clock,
        )
    )
    app.add_exception_handler(RuleViolation, _rule_violation)
    return app
