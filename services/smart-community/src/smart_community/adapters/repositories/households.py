"""Care flags of households (read model of survey events; no names)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from renovation_common.db import upsert_newest
from smart_community.adapters.orm import households
from smart_community.domain.model import HouseholdFlags


def household_flags(row: Any) -> HouseholdFlags:
    return HouseholdFlags(
        household_id=row.id,
        community_id=row.community_id,
        building_id=row.building_id,
        elderly_living_alone=row.elderly_living_alone,
        needs_accompaniment=row.needs_accompaniment,
    )


class HouseholdRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, flags: HouseholdFlags, district_id: str, *, version: int = 0) -> tuple[bool, bool | None]:
        """Write the flags unless the stored row is newer; return (written, the previous ``elderly_living_alone``
        — ``None`` when the household is new)."""
        previous = await self.session.scalar(
            sa.select(households.c.elderly_living_alone).where(households.c.id == flags.household_id).with_for_update()
        )
        written = await upsert_newest(
            self.session,
            households,
            "id",
            {
                "id": flags.household_id,
                "community_id": flags.community_id,
                "district_id": district_id,
                "building_id": flags.building_id,
                "elderly_living_alone": flags.elderly_living_alone,
                "needs_accompaniment": flags.needs_accompaniment,
                "source_version": version,
            },
        )
        return written, previous

    async def by_ids(self, ids: Iterable[str]) -> dict[str, HouseholdFlags]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = await self.session.execute(sa.select(households).where(households.c.id.in_(wanted)))
        return {r.id: household_flags(r) for r in rows}

    async def get(self, household_id: str) -> HouseholdFlags | None:
        return (await self.by_ids([household_id])).get(household_id)
