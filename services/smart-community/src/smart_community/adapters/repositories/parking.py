"""Parking occupancy per community (licence-plate cameras and barrier gates)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from smart_community.adapters.orm import parking
from smart_community.domain.model import ParkingRecord


class ParkingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, community_id: str, delta: int, entries: int, exits: int, at: datetime) -> None:
        p = parking
        stmt = pg_insert(p).values(
            community_id=community_id, occupied=max(0, delta), entries=entries, exits=exits, updated_at=at
        )
        await self.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[p.c.community_id],
                set_={
                    "occupied": sa.func.greatest(0, p.c.occupied + delta),
                    "entries": p.c.entries + entries,
                    "exits": p.c.exits + exits,
                    "updated_at": at,
                },
            )
        )

    async def get(self, community_id: str) -> ParkingRecord:
        row = (await self.session.execute(sa.select(parking).where(parking.c.community_id == community_id))).first()
        if row is None:
            return ParkingRecord(community_id=community_id, occupied=0, entries=0, exits=0, updated_at=None)
        return ParkingRecord(
            community_id=community_id,
            occupied=row.occupied,
            entries=row.entries,
            exits=row.exits,
            updated_at=row.updated_at,
        )
