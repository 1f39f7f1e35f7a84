"""The local copy of every event consumed (and every test ping): what replay reads."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from webhooks.adapters.orm import events

E = events.c


@dataclass(frozen=True)
class NewEvent:
    """An event to keep (values of one ``events`` row)."""

    id: uuid.UUID
    type: str
    source: str
    time: datetime
    district_id: str | None
    community_id: str | None
    payload: dict[str, Any]
    is_test: bool
    received_at: datetime


NEW_EVENT_FIELDS = [f.name for f in dataclasses.fields(NewEvent)]


@dataclass(frozen=True)
class KeptEvent:
    id: uuid.UUID
    type: str
    district_id: str | None
    community_id: str | None


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        *,
        event_id: uuid.UUID,
        type: str,
        source: str,
        time: datetime,
        district_id: str | None,
        community_id: str | None,
        payload: dict[str, Any],
        is_test: bool,
        received_at: datetime,
    ) -> None:
        """Keep an event (a redelivered one is kept once)."""
        await self.session.execute(
            pg_insert(events)
            .values(
                id=event_id,
                type=type,
                source=source,
                time=time,
                district_id=district_id,
                community_id=community_id,
                payload=payload,
                is_test=is_test,
                received_at=received_at,
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )

    async def add_many(self, new: Sequence[NewEvent]) -> None:
        """Keep events in one statement (a redelivered one is kept once)."""
        if new:
            await self.session.execute(
                pg_insert(events).on_conflict_do_nothing(index_elements=["id"]),
                [{f: getattr(e, f) for f in NEW_EVENT_FIELDS} for e in new],  # asdict would deep-copy payloads
            )

    async def since(
        self,
        since: datetime,
        until: datetime | None,
        district_id: str | None,
        community_id: str | None,
        limit: int,
    ) -> list[KeptEvent]:
        """Kept events (test pings excluded) in ``[since, until)``, oldest first, within a district/community."""
        stmt = (
            sa.select(E.id, E.type, E.district_id, E.community_id)
            .where(E.is_test.is_(False), E.time >= since)
            .order_by(E.time, E.id)
            .limit(limit)
        )
        if until is not None:
            stmt = stmt.where(E.time < until)
        if district_id is not None:
            stmt = stmt.where(E.district_id == district_id)
        if community_id is not None:
            stmt = stmt.where(E.community_id == community_id)
        return [KeptEvent(r.id, r.type, r.district_id, r.community_id) for r in (await self.session.execute(stmt))]
