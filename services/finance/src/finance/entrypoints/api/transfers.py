"""Transfer routes: post a transfer or a linked group, exactly once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from finance.entrypoints.api.dependencies import ContextDep
from finance.entrypoints.api.schemas.ledger import TransferBatch, TransferRead, TransfersRead
from finance.service_layer import ledger as uc
from renovation_common.auth import Principal, Role, authorize
from renovation_common.idempotency import answer_replay, replay_responses

router = APIRouter(tags=["ledger"])


@router.post(
    "/v1/transfers",
    operation_id="createTransfers",
    response_model=TransfersRead,
    status_code=201,
    responses=replay_responses(TransfersRead),
    summary="Post a transfer, or several as a linked group (all or nothing)",
)
async def create_transfers(
    body: TransferBatch,
    response: Response,
    principal: Annotated[Principal, authorize(Role.DISTRICT_ADMIN)],
    ctx: ContextDep,
) -> TransfersRead:
    """Every account must lie in the caller's district. A transfer id is the client's: the same ids and bodies
    again are a replay (200, ``Idempotent-Replayed: true``, ``replayed: true``), another body is 409
    ``transfer_id_reused``. A
    ``pending`` transfer reserves; ``post_pending`` (up to the reserved amount) or ``void_pending`` resolves it once.
    An overdraft of an account that may not go negative is 422 ``insufficient_funds``."""
    result = await uc.create_transfers(ctx, principal, [t.spec() for t in body.transfers])
    if result.replayed:
        answer_replay(response)
    return TransfersRead(
        transfers=[TransferRead.of(r) for r in result.transfers], group_id=result.group_id, replayed=result.replayed
    )
