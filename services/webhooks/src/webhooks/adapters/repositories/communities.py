"""Where communities lie: the read model of ``survey.community.registered.v1``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from renovation_common.db import upsert_newest_many
from webhooks.adapters.orm import communities
from webhooks.domain.model import Community

C = communities.c


@dataclass(frozen=True)
class CommunityState:
    """A community as one registry event describes it: its version and the event's time."""

    community: Community
    version: int
    at: datetime


class CommunityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, community_id: str) -> Community | None:
        row = (await self.session.execute(sa.select(communities).where(C.community_id == community_id))).first()
        if row is None:
            return None
        return Community(community_id=row.community_id, district_id=row.district_id, street_id=row.street_id)

    async def upsert_newest(self, states: Sequence[CommunityState]) -> int:
        """Record where communities lie, in one statement; a state older than the one kept (a lower version, or the
        same version from an older event) is ignored. Returns how many rows were written."""
        rows = [
            {
                "community_id": s.community.community_id,
                "district_id": s.community.district_id,
                "street_id": s.community.street_id,
                "source_version": s.version,
                "updated_at": s.at,
            }
            for s in states
        ]
        return await upsert_newest_many(self.session, communities, "community_id", rows, tiebreak_column="updated_at")
