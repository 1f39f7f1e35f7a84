"""Fan-out (consumer use case): keep a copy of each event and create one delivery per matching subscription.

Runs in the consumer's inbox transaction (``ConsumerUnitOfWork``): a redelivered event is skipped by the inbox,
and ``(subscription_id, event_id)`` is unique besides, so an event never yields a second delivery.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from renovation_common.db import UnitOfWork
from renovation_common.events import CloudEvent
from webhooks.adapters.repositories import DeliveryRepository, EventRepository, SubscriptionRepository
from webhooks.adapters.repositories.deliveries import new_delivery


def _scope(event: CloudEvent, key: str) -> str | None:
    value = event.data.get(key)
    return str(value)[:64] if value not in (None, "") else None


async def fan_out(uow: UnitOfWork, event: CloudEvent, *, now: datetime) -> int:
    """Keep the event and create its deliveries; returns how many deliveries were created."""
    event_id = uuid.UUID(event.id)
    district_id, community_id = _scope(event, "district_id"), _scope(event, "community_id")
    await EventRepository(uow.session).add(
        event_id=event_id,
        type=event.type,
        source=event.source[:200],
        time=event.time,
        district_id=district_id,
        community_id=community_id,
        payload=event.model_dump(mode="json", exclude_none=True),
        is_test=False,
        received_at=now,
    )
    rows = [
        new_delivery(uuid.uuid4(), subscription_id, event_id, event.type, now)
        for subscription_id, flt in await SubscriptionRepository(uow.session).candidates(district_id, community_id)
        if flt.accepts(event.type, event.data)
    ]
    created = await DeliveryRepository(uow.session).add_new(rows)
    await uow.commit()
    return created
