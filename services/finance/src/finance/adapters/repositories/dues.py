"""Dues: what each household owes under a scheme and what it has paid, and the community's collection."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters.orm import contribution_schemes, dues

D = dues.c


class DueRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, due_id: uuid.UUID, *, for_update: bool = False) -> Any:
        stmt = sa.select(dues).where(D.id == due_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).first()

    async def find(
        self, *, household_id: str | None, scheme_id: uuid.UUID | None, after: uuid.UUID | None, limit: int
    ) -> list[Any]:
        stmt = sa.select(dues).order_by(D.id).limit(limit)
        if household_id is not None:
            stmt = stmt.where(D.household_id == household_id)
        if scheme_id is not None:
            stmt = stmt.where(D.scheme_id == scheme_id)
        if after is not None:
            stmt = stmt.where(D.id > after)
        return list((await self.session.execute(stmt)).all())

    async def raise_paid(self, due_id: uuid.UUID, amount_fen: int) -> None:
        """The due's paid amount rises under the database's ``paid ≤ due`` check."""
        await self.session.execute(sa.update(dues).where(D.id == due_id).values(paid_fen=D.paid_fen + amount_fen))

    async def collection(self, community_id: str, scheme_id: uuid.UUID | None) -> list[Any]:
        """Collection per (scheme, building)."""
        stmt = (
            sa.select(
                D.scheme_id,
                contribution_schemes.c.kind,
                D.building_id,
                sa.func.sum(D.amount_fen).label("due_fen"),
                sa.func.sum(D.paid_fen).label("paid_fen"),
                sa.func.count().label("households"),
                sa.func.count().filter(D.paid_fen == D.amount_fen).label("households_paid_in_full"),
            )
            .join(contribution_schemes, contribution_schemes.c.id == D.scheme_id)
            .where(D.community_id == community_id)
            .group_by(D.scheme_id, contribution_schemes.c.kind, D.building_id)
            .order_by(D.scheme_id, D.building_id)
        )
        if scheme_id is not None:
            stmt = stmt.where(D.scheme_id == scheme_id)
        return list((await self.session.execute(stmt)).all())
