"""Payback analyses (Jinsong model): the input and the computed result, kept for the record."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters.orm import payback_analyses


class PaybackAnalysisRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> None:
        await self.session.execute(sa.insert(payback_analyses).values(**values))

    async def get(self, analysis_id: uuid.UUID) -> Any:
        stmt = sa.select(payback_analyses).where(payback_analyses.c.id == analysis_id)
        return (await self.session.execute(stmt)).first()
