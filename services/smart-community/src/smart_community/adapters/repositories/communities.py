"""Where communities lie (read model of survey events): district and street of each community."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from renovation_common.db import upsert_newest
from smart_community.adapters.orm import communities


class CommunityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, community_id: str, district_id: str, street_id: str, *, version: int | None = None) -> None:
        """The community's scope. ``version``: from a community event, kept unless the stored row is newer;
        ``None``: learnt from a household event, only written when the community is not known yet."""
        values = {"id": community_id, "district_id": district_id, "street_id": street_id}
        if version is None:
            await self.session.execute(pg_insert(communities).values(**values).on_conflict_do_nothing())
            return
        await upsert_newest(self.session, communities, "id", {**values, "source_version": version})

    async def scope(self, community_id: str) -> tuple[str, str] | None:
        """(district id, street id) of a registered community."""
        row = (
            await self.session.execute(
                sa.select(communities.c.district_id, communities.c.street_id).where(communities.c.id == community_id)
            )
        ).first()
        return (row.district_id, row.street_id) if row else None
