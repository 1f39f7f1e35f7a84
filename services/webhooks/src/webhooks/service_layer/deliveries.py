"""Use cases on the delivery log: list, read one, its attempts, retry one."""

from __future__ import annotations

import uuid
from datetime import datetime

from renovation_common.auth import Principal
from renovation_common.db import ReadOnlyUnitOfWork, UnitOfWork
from renovation_common.errors import InvalidState
from webhooks.adapters.repositories import DeliveryRepository
from webhooks.domain.model import Attempt, Delivery
from webhooks.service_layer.access import managed_delivery, manager_of
from webhooks.service_layer.context import Context


async def list_deliveries(
    reader: ReadOnlyUnitOfWork,
    principal: Principal,
    *,
    status: str | None,
    subscription_id: uuid.UUID | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Delivery]:
    """Up to ``limit + 1``, newest first (the extra one says there is a next page)."""
    async with reader:
        return await DeliveryRepository(reader.session).list(
            manager_of(principal), status=status, subscription_id=subscription_id, after=after, limit=limit
        )


async def get_delivery(reader: ReadOnlyUnitOfWork, principal: Principal, delivery_id: uuid.UUID) -> Delivery:
    async with reader:
        return await managed_delivery(DeliveryRepository(reader.session), manager_of(principal), delivery_id)


async def list_attempts(reader: ReadOnlyUnitOfWork, principal: Principal, delivery_id: uuid.UUID) -> list[Attempt]:
    async with reader:
        repo = DeliveryRepository(reader.session)
        await managed_delivery(repo, manager_of(principal), delivery_id)
        return await repo.attempts(delivery_id)


async def retry_delivery(uow: UnitOfWork, ctx: Context, principal: Principal, delivery_id: uuid.UUID) -> Delivery:
    """Send a delivery again now, with a fresh retry schedule (same ``webhook-id``)."""
    now = ctx.clock()
    async with uow:
        repo = DeliveryRepository(uow.session)
        delivery = await managed_delivery(repo, manager_of(principal), delivery_id, for_update=True)
        if not delivery.subscription_enabled:
            raise InvalidState("the subscription is disabled", code="subscription_disabled")
        if delivery.status == "succeeded":
            raise InvalidState("the delivery already succeeded", code="delivery_already_succeeded")
        if delivery.status == "pending" and delivery.lease_expires_at is not None and delivery.lease_expires_at > now:
            raise InvalidState("the delivery is being sent right now", code="delivery_in_flight")
        await repo.update(
            delivery_id, status="pending", next_attempt_at=now, round_failures=0, lease_expires_at=None, updated_at=now
        )
        updated = await repo.get(delivery_id)
        await uow.commit()
    ctx.deliveries_due()
    assert updated is not None
    return updated
