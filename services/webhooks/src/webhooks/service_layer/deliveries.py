"""Use cases on the delivery log: list, attempts, retry one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from renovation_common.db import UnitOfWork
from renovation_common.errors import InvalidState, NotFound
from webhooks.adapters import repository as repo
from webhooks.domain.subscriptions import Manager, can_manage
from webhooks.service_layer.context import Context


async def _load(uow: UnitOfWork, manager: Manager, delivery_id: uuid.UUID, *, for_update: bool = False) -> Any:
    row = await repo.get_delivery(uow.session, delivery_id, for_update=for_update)
    if row is None or not can_manage(manager, owner_sub=row.owner_sub, district_id=row.subscription_district_id):
        raise NotFound("delivery not found", code="delivery_not_found")
    return row


async def list_deliveries(
    uow: UnitOfWork,
    manager: Manager,
    *,
    status: str | None,
    subscription_id: uuid.UUID | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Any]:
    async with uow:
        return await repo.list_deliveries(
            uow.session,
            repo.access_clause(manager.role, manager.sub, manager.district_id),
            status=status,
            subscription_id=subscription_id,
            after=after,
            limit=limit,
        )


async def get_delivery(uow: UnitOfWork, manager: Manager, delivery_id: uuid.UUID) -> Any:
    async with uow:
        return await _load(uow, manager, delivery_id)


async def list_attempts(uow: UnitOfWork, manager: Manager, delivery_id: uuid.UUID) -> list[Any]:
    async with uow:
        await _load(uow, manager, delivery_id)
        return await repo.list_attempts(uow.session, delivery_id)


async def retry_delivery(uow: UnitOfWork, ctx: Context, manager: Manager, delivery_id: uuid.UUID) -> Any:
    """Send a delivery again now, with a fresh retry schedule (same ``webhook-id``)."""
    now = ctx.clock()
    async with uow:
        row = await _load(uow, manager, delivery_id, for_update=True)
        if not row.enabled:
            raise InvalidState("the subscription is disabled", code="subscription_disabled")
        if row.status == "succeeded":
            raise InvalidState("the delivery already succeeded", code="delivery_already_succeeded")
        if row.status == "pending" and row.lease_expires_at is not None and row.lease_expires_at > now:
            raise InvalidState("the delivery is being sent right now", code="delivery_in_flight")
        await repo.update_delivery(
            uow.session,
            delivery_id,
            {
                "status": "pending",
                "next_attempt_at": now,
                "round_failures": 0,
                "lease_expires_at": None,
                "updated_at": now,
            },
        )
        updated = await repo.get_delivery(uow.session, delivery_id)
        await uow.commit()
    return updated
