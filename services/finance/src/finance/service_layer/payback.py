"""Payback analyses (Jinsong model) are computed by the pure domain and kept for the record."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from finance.adapters.repositories import PaybackAnalysisRepository
from finance.domain.payback import PaybackInput, PaybackResult, analyse
from finance.service_layer.context import Context
from renovation_common.auth import Principal
from renovation_common.errors import Forbidden, NotFound


@dataclass(frozen=True)
class Analysis:
    id: uuid.UUID
    title: str
    result: PaybackResult | dict[str, Any]  # a stored analysis is read back as its JSON form
    created_at: datetime


def result_json(result: PaybackResult) -> dict[str, Any]:
    """The stored form: decimals as strings (exact), everything else as computed."""
    data = asdict(result)
    for key in ("payback_period_years", "irr"):
        data[key] = None if data[key] is None else str(data[key])
    return data


async def run(ctx: Context, principal: Principal, *, title: str, inp: PaybackInput, input_json: Any) -> Analysis:
    """Analyse and keep the analysis (input and result) in the caller's district and community."""
    result = analyse(inp)
    analysis = Analysis(ctx.new_id(), title, result, ctx.clock())
    async with ctx.uow() as uow:
        await PaybackAnalysisRepository(uow.session).add(
            {
                "id": analysis.id,
                "title": title,
                "district_id": principal.district_id,
                "community_id": principal.community_id,
                "created_by": principal.sub,
                "input": input_json,
                "result": result_json(result),
                "created_at": analysis.created_at,
            }
        )
        await uow.commit()
    return analysis


async def get(ctx: Context, principal: Principal, analysis_id: uuid.UUID) -> Analysis:
    """Its author, or anyone allowed in its district, reads it."""
    async with ctx.read() as reader:
        row = await PaybackAnalysisRepository(reader.session).get(analysis_id)
    if row is None:
        raise NotFound("payback analysis not found", code="payback_analysis_not_found")
    if row.created_by != principal.sub and (principal.district_id is None or row.district_id != principal.district_id):
        raise Forbidden("this analysis is outside your scope", code="out_of_scope")
    return Analysis(row.id, row.title, row.result, row.created_at)
