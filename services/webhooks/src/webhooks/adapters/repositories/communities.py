"""Where communities lie: the read model of ``survey.community.registered.v1``."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from webhooks.adapters.orm import communities
from webhooks.domain.model import Community

C = communities.c


class CommunityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, community_id: str) -> Community | None:
        row = (await self.session.execute(sa.select(communities).where(C.community_id == community_id))).first()
        if row is None:
            return None
        return Community(community_id=row.community_id, district_id=row.district_id, street_id=row.street_id)

    async def upsert(self, community: Community, *, at: datetime) -> None:
        """Record where a community lies as of ``at``; a state older than the one kept is ignored."""
        values = {"district_id": community.district_id, "street_id": community.street_id, "updated_at": at}
        await self.session.execute(
            pg_insert(communities)
            .values(community_id=community.community_id, **values)
            .on_conflict_do_update(index_elements=[C.community_id], set_=values, where=C.updated_at <= at)
        )
