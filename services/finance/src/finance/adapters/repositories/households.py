"""Read model of the survey's households: community, building and exclusive floor area of each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters.orm import households
from renovation_common.db import upsert_newest

H = households.c


class HouseholdRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, household_id: str) -> Any:
        return (await self.session.execute(sa.select(households).where(H.household_id == household_id))).first()

    async def of_community(self, community_id: str, building_ids: Sequence[str] = ()) -> list[Any]:
        """The community's households (or those of ``building_ids``), by household id."""
        stmt = sa.select(households).where(H.community_id == community_id)
        if building_ids:
            stmt = stmt.where(H.building_id.in_(list(building_ids)))
        return list((await self.session.execute(stmt.order_by(H.household_id))).all())

    async def upsert_newest(self, values: dict[str, Any]) -> bool:
        """Keep the newest state (``source_version``): a stale floor area never wins over a newer one."""
        return await upsert_newest(self.session, households, "household_id", values)
