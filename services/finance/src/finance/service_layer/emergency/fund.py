"""The emergency repair fund's money in: the government's deposits and a community's public income."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from finance.adapters.repositories import (
    AccountRepository,
    CommunityRepository,
)
from finance.domain.ledger import TransferKind, TransferSpec
from finance.service_layer import ledger, well_known_accounts
from finance.service_layer.context import Context
from finance.service_layer.scope import community_scope
from renovation_common.auth import Principal
from renovation_common.errors import Forbidden, NotFound


@dataclass(frozen=True)
class Posted:
    transfer_id: uuid.UUID
    account_id: uuid.UUID
    amount_fen: int
    replayed: bool


async def _post_income(
    ctx: Context, transfer_id: uuid.UUID, debit: uuid.UUID, credit: uuid.UUID, amount_fen: int, **labels: Any
) -> Posted:
    spec = TransferSpec(
        id=str(transfer_id),
        kind=TransferKind.POSTED,
        debit_account_id=str(debit),
        credit_account_id=str(credit),
        amount_fen=amount_fen,
        **labels,
    )
    result = await ledger.post(ctx, [spec])
    return Posted(transfer_id, credit, amount_fen, result.replayed)


async def deposit(
    ctx: Context, principal: Principal, *, deposit_id: uuid.UUID, amount_fen: int, memo: str | None
) -> Posted:
    """Government finance tops up the caller's district's emergency repair fund (treasury → fund)."""
    if principal.district_id is None:
        raise Forbidden("your token carries no district", code="out_of_scope")
    now = ctx.clock()
    async with ctx.uow() as uow:
        accounts = AccountRepository(uow.session)
        treasury = await well_known_accounts.treasury(accounts, principal.district_id, now)
        fund = await well_known_accounts.emergency_fund(accounts, principal.district_id, now)
        await uow.commit()
    return await _post_income(ctx, deposit_id, treasury, fund, amount_fen, code="emergency_fund_deposit", memo=memo)


async def receive_public_income(
    ctx: Context, principal: Principal, community_id: str, *, receipt_id: uuid.UUID, amount_fen: int, memo: str | None
) -> Posted:
    """Public income (parking, advertising, rents of common parts) into the community's account; the caller's scope
    is checked against the community's record (nothing is created for a caller outside it)."""
    now = ctx.clock()
    async with ctx.uow() as uow:
        community = await CommunityRepository(uow.session).get(community_id)
        if community is None:
            raise NotFound("community not found", code="community_not_found")
        principal.ensure_covers(community_scope(community), "community")
        accounts = AccountRepository(uow.session)
        outside = await well_known_accounts.external(accounts, community.district_id, now)
        account = await well_known_accounts.public_income(accounts, community, now)
        await uow.commit()
    return await _post_income(
        ctx, receipt_id, outside, account, amount_fen, code="public_income", memo=memo,
        reference=f"community:{community_id}",
    )  # fmt: skip
