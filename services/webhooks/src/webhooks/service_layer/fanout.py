"""Inbound domain events -> a local copy and one pending delivery per matching subscription.

Runs inside the consumer's transaction (the inbox row is written in the same one), so an event is fanned out
exactly once even when NATS redelivers it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from renovation_common.events import CloudEvent
from webhooks.adapters import repository as repo
from webhooks.domain.subscriptions import EventFilter


def _scope(event: CloudEvent, key: str) -> str | None:
    value = event.data.get(key)
    return str(value)[:64] if value not in (None, "") else None


async def fan_out(session: AsyncSession, event: CloudEvent, *, now: datetime) -> int:
    """Keep the event and create its deliveries; returns how many deliveries were created."""
    event_id = uuid.UUID(event.id)
    district_id, community_id = _scope(event, "district_id"), _scope(event, "community_id")
    await repo.insert_event(
        session,
        {
            "id": event_id,
            "type": event.type,
            "source": event.source[:200],
            "time": event.time,
            "district_id": district_id,
            "community_id": community_id,
            "payload": event.model_dump(mode="json", exclude_none=True),
            "is_test": False,
            "received_at": now,
        },
    )
    rows = []
    for sub in await repo.candidate_subscriptions(session, district_id, community_id):
        if EventFilter(sub.event_types, sub.district_id, sub.community_id).accepts(event.type, event.data):
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "subscription_id": sub.id,
                    "event_id": event_id,
                    "event_type": event.type,
                    "status": "pending",
                    "attempts": 0,
                    "round_failures": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    return await repo.insert_deliveries(session, rows)
