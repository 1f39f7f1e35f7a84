"""Payback analyses (Jinsong model) are computed by the pure domain and kept for the record."""

from __future__ import annotations

import uuid
from typing import Any

from finance.adapters import repos
from finance.domain.payback import PaybackInput, PaybackResult, analyse
from finance.service_layer.context import Context
from renovation_common.auth import Principal
from renovation_common.errors import NotFound


async def run(
    ctx: Context,
    principal: Principal,
    *,
    title: str,
    inp: PaybackInput,
    input_json: dict[str, Any],
    result_json: Any,
) -> tuple[uuid.UUID, PaybackResult]:
    result = analyse(inp)
    analysis_id = ctx.new_id()
    async with ctx.uow() as uow:
        await repos.insert_analysis(
            uow.session,
            {
                "id": analysis_id,
                "title": title,
                "district_id": principal.district_id,
                "community_id": principal.community_id,
                "created_by": principal.sub,
                "input": input_json,
                "result": result_json(result),
            },
        )
        await uow.commit()
    return analysis_id, result


async def get(ctx: Context, analysis_id: uuid.UUID) -> Any:
    async with ctx.uow() as uow:
        row = await repos.analysis(uow.session, analysis_id)
    if row is None:
        raise NotFound("payback analysis not found", code="payback_analysis_not_found")
    return row
