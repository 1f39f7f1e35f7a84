"""Routes of the emergency repair fund's money: government deposits and a community's public income."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from finance.entrypoints.api.dependencies import ContextDep
from finance.entrypoints.api.schemas.emergency_repairs import DepositCreate, PostedRead, PublicIncomeCreate
from finance.service_layer import emergency as uc
from renovation_common.auth import Principal, Role, authorize
from renovation_common.idempotency import answer_replay, replay_responses

router = APIRouter(tags=["emergency repair fund"])
STAFF = (Role.COMMUNITY_WORKER, Role.STREET_OFFICER, Role.DISTRICT_ADMIN)


def _posted(p: uc.Posted, response: Response) -> PostedRead:
    if p.replayed:
        answer_replay(response)
    return PostedRead(transfer_id=p.transfer_id, account_id=p.account_id, amount_fen=p.amount_fen, replayed=p.replayed)


@router.post(
    "/v1/emergency-fund/deposits",
    operation_id="depositEmergencyFund",
    response_model=PostedRead,
    status_code=201,
    responses=replay_responses(PostedRead),
    summary="Government finance tops up the district's emergency repair fund",
)
async def deposit(
    body: DepositCreate,
    response: Response,
    principal: Annotated[Principal, authorize(Role.DISTRICT_ADMIN)],
    ctx: ContextDep,
) -> PostedRead:
    """Government finance tops up the district's emergency repair fund (treasury → fund). ``deposit_id`` becomes
    the transfer id: the same deposit again is a replay (200, ``Idempotent-Replayed: true``, ``replayed: true``)."""
    posted = await uc.deposit(ctx, principal, deposit_id=body.deposit_id, amount_fen=body.amount_fen, memo=body.memo)
    return _posted(posted, response)


@router.post(
    "/v1/communities/{community_id}/public-income",
    operation_id="receivePublicIncome",
    response_model=PostedRead,
    status_code=201,
    responses=replay_responses(PostedRead),
    summary="Record public income of a community (公共收益)",
)
async def receive_public_income(
    community_id: str,
    body: PublicIncomeCreate,
    response: Response,
    principal: Annotated[Principal, authorize(*STAFF)],
    ctx: ContextDep,
) -> PostedRead:
    """Record public income (parking, advertising, rents of common parts) into the community's account; it pays
    first towards the owners' 20% of an emergency repair. The same ``receipt_id`` again is a replay (200,
    ``Idempotent-Replayed: true``)."""
    posted = await uc.receive_public_income(
        ctx, principal, community_id, receipt_id=body.receipt_id, amount_fen=body.amount_fen, memo=body.memo
    )
    return _posted(posted, response)
