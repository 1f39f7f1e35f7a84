"""Fan-out (consumer use case): keep a copy of each event and create one delivery per matching subscription.

Runs in the consumer's inbox transaction (``ConsumerUnitOfWork``): a redelivered event is skipped by the inbox,
and ``(subscription_id, event_id)`` is unique besides, so an event never yields a second delivery. A batch of events
takes three statements whatever its size: the events kept in one, the candidate subscriptions of every district and
community of the batch read in one, the deliveries inserted in one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from renovation_common.db import UnitOfWork
from renovation_common.events import CloudEvent
from webhooks.adapters.repositories import DeliveryRepository, EventRepository, SubscriptionRepository
from webhooks.adapters.repositories.deliveries import new_delivery
from webhooks.adapters.repositories.events import NewEvent


def _scope(event: CloudEvent, key: str) -> str | None:
    value = event.data.get(key)
    return str(value)[:64] if value not in (None, "") else None


async def fan_out_many(uow: UnitOfWork, events: Sequence[CloudEvent], *, now: datetime) -> int:
    """Keep the events and create their deliveries; returns how many deliveries were created."""
    if not events:
        return 0
    kept = [
        NewEvent(
            id=uuid.UUID(event.id),
            type=event.type,
            source=event.source[:200],
            time=event.time,
            district_id=_scope(event, "district_id"),
            community_id=_scope(event, "community_id"),
            payload=event.model_dump(mode="json", exclude_none=True),
            is_test=False,
            received_at=now,
        )
        for event in events
    ]
    await EventRepository(uow.session).add_many(kept)
    candidates = await SubscriptionRepository(uow.session).candidates_for_any(
        {e.district_id for e in kept}, {e.community_id for e in kept}
    )
    rows = [
        new_delivery(uuid.uuid4(), subscription_id, row.id, event.type, now)
        for event, row in zip(events, kept, strict=True)
        for subscription_id, flt in candidates
        if flt.accepts(event.type, event.data)
    ]
    created = await DeliveryRepository(uow.session).add_new(rows)
    await uow.commit()
    return created


async def fan_out(uow: UnitOfWork, event: CloudEvent, *, now: datetime) -> int:
    """One event (see :func:`fan_out_many`)."""
    return await fan_out_many(uow, [event], now=now)
