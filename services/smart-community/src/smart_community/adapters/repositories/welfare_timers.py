"""Persisted welfare-check deadlines per household (a restart keeps them; the scanner fires each once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from smart_community.adapters.orm import welfare_timers


@dataclass(frozen=True)
class WelfareTimer:
    household_id: str
    community_id: str
    door_opened_at: datetime | None
    due_at: datetime


class WelfareTimerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def arm(
        self, household_id: str, community_id: str, door_opened_at: datetime | None, due_at: datetime
    ) -> None:
        """A newer door opening sets the deadline (and re-arms a fired timer); an older one arriving late is
        ignored."""
        t = welfare_timers
        stmt = pg_insert(t).values(
            household_id=household_id, community_id=community_id, door_opened_at=door_opened_at, due_at=due_at
        )
        later = sa.or_(t.c.door_opened_at.is_(None), stmt.excluded.door_opened_at > t.c.door_opened_at)
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[t.c.household_id],
                set_={
                    "due_at": sa.case((later, stmt.excluded.due_at), else_=t.c.due_at),
                    "door_opened_at": sa.func.greatest(t.c.door_opened_at, stmt.excluded.door_opened_at),
                    "fired_at": sa.case((later, sa.null()), else_=t.c.fired_at),
                },
            )
        )

    async def arm_if_absent(self, household_id: str, community_id: str, due_at: datetime) -> None:
        await self.session.execute(
            pg_insert(welfare_timers)
            .values(household_id=household_id, community_id=community_id, due_at=due_at)
            .on_conflict_do_nothing()
        )

    async def drop(self, household_id: str) -> None:
        await self.session.execute(sa.delete(welfare_timers).where(welfare_timers.c.household_id == household_id))

    async def claim_due(self, now: datetime, limit: int) -> list[WelfareTimer]:
        """Due deadlines not fired yet, locked for this transaction (``SKIP LOCKED``: replicas share them)."""
        t = welfare_timers
        rows = await self.session.execute(
            sa.select(t)
            .where(t.c.fired_at.is_(None), t.c.due_at <= now)
            .order_by(t.c.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [WelfareTimer(r.household_id, r.community_id, r.door_opened_at, r.due_at) for r in rows]

    async def mark_fired(self, household_id: str, now: datetime) -> None:
        await self.session.execute(
            sa.update(welfare_timers).where(welfare_timers.c.household_id == household_id).values(fired_at=now)
        )
