"""Read model of the survey's communities: where each lies, its delivery year and maintenance-fund status."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters.orm import communities
from renovation_common.db import upsert_newest


class CommunityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, community_id: str) -> Any:
        stmt = sa.select(communities).where(communities.c.community_id == community_id)
        return (await self.session.execute(stmt)).first()

    async def upsert_newest(self, values: dict[str, Any]) -> bool:
        """Keep the newest state (``source_version``): an older event arriving late changes nothing."""
        return await upsert_newest(self.session, communities, "community_id", values)
