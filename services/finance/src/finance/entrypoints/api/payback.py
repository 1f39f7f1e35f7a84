"""Payback analysis routes (Jinsong model) for social capital."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter

from finance.domain.payback import CostLine, PaybackInput, RevenueStream
from finance.entrypoints.api.dependencies import ContextDep
from finance.entrypoints.api.schemas.payback import PaybackCreate, PaybackRead
from finance.service_layer import payback as uc
from renovation_common.auth import Principal, Role, authorize

router = APIRouter(tags=["payback analysis"])
ANALYSTS = (Role.OPERATOR, Role.DISTRICT_ADMIN)


def _read(analysis: uc.Analysis) -> PaybackRead:
    result = analysis.result if isinstance(analysis.result, dict) else asdict(analysis.result)
    return PaybackRead(id=analysis.id, title=analysis.title, created_at=analysis.created_at, **result)


@router.post(
    "/v1/payback-analyses",
    operation_id="createPaybackAnalysis",
    response_model=PaybackRead,
    status_code=201,
    summary="Analyse an investment's payback: yearly flows, payback year, NPV and IRR",
)
async def create_analysis(
    body: PaybackCreate, principal: Annotated[Principal, authorize(*ANALYSTS)], ctx: ContextDep
) -> PaybackRead:
    """Exact arithmetic on integer fen and decimal rates; each year's lines are rounded half up to the fen, NPV
    and IRR are computed on those yearly flows (IRR by bisection to 1e-9). The analysis is kept."""
    inp = PaybackInput(
        investment_fen=body.investment_fen,
        years=body.years,
        discount_rate=body.discount_rate,
        revenues=[RevenueStream(**r.model_dump()) for r in body.revenues],
        costs=[CostLine(**c.model_dump()) for c in body.costs],
    )
    return _read(await uc.run(ctx, principal, title=body.title, inp=inp, input_json=body.model_dump(mode="json")))


@router.get(
    "/v1/payback-analyses/{analysis_id}",
    operation_id="getPaybackAnalysis",
    response_model=PaybackRead,
    summary="A kept payback analysis",
)
async def get_analysis(
    analysis_id: uuid.UUID, principal: Annotated[Principal, authorize(*ANALYSTS)], ctx: ContextDep
) -> PaybackRead:
    """Its author reads it, and so does anyone allowed in the analysis's district."""
    return _read(await uc.get(ctx, principal, analysis_id))
