"""Contribution schemes (maintenance fund, water meter) with the dues they create, one per household."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters.orm import contribution_schemes, dues


class SchemeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, scheme: dict[str, Any], due_rows: list[dict[str, Any]]) -> None:
        await self.session.execute(sa.insert(contribution_schemes).values(**scheme))
        if due_rows:
            await self.session.execute(sa.insert(dues), due_rows)

    async def get(self, scheme_id: uuid.UUID) -> Any:
        stmt = sa.select(contribution_schemes).where(contribution_schemes.c.id == scheme_id)
        return (await self.session.execute(stmt)).first()
