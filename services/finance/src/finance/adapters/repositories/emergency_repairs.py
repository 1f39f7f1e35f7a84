"""Emergency repair requests (危急维修) with their 80/20 split and the households' shares; the fund's statistics."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters.orm import emergency_repairs, repair_household_shares

R = emergency_repairs.c
S = repair_household_shares.c


def _paid_in(district_id: str | None, start: datetime | None, end: datetime | None) -> list[Any]:
    filters: list[Any] = [R.status == "paid"]
    if district_id is not None:
        filters.append(R.district_id == district_id)
    if start is not None:
        filters.append(R.paid_at >= start)
    if end is not None:
        filters.append(R.paid_at < end)
    return filters


class EmergencyRepairRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> bool:
        """Insert a request once per id; ``False`` when the id exists."""
        stmt = pg_insert(emergency_repairs).values(**values).on_conflict_do_nothing().returning(R.id)
        return (await self.session.execute(stmt)).first() is not None

    async def get(self, request_id: uuid.UUID, *, for_update: bool = False) -> Any:
        stmt = sa.select(emergency_repairs).where(R.id == request_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).first()

    async def update(self, request_id: uuid.UUID, values: dict[str, Any]) -> None:
        await self.session.execute(sa.update(emergency_repairs).where(R.id == request_id).values(**values))

    async def replace_shares(self, request_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
        await self.session.execute(sa.delete(repair_household_shares).where(S.request_id == request_id))
        if rows:
            await self.session.execute(sa.insert(repair_household_shares), rows)

    async def shares(self, request_id: uuid.UUID) -> list[Any]:
        stmt = sa.select(repair_household_shares).where(S.request_id == request_id).order_by(S.household_id)
        return list((await self.session.execute(stmt)).all())

    async def find(self, *, filters: dict[str, str], after: uuid.UUID | None, limit: int) -> list[Any]:
        stmt = sa.select(emergency_repairs).order_by(R.id).limit(limit)
        for column, value in filters.items():
            stmt = stmt.where(R[column] == value)
        if after is not None:
            stmt = stmt.where(R.id > after)
        return list((await self.session.execute(stmt)).all())

    async def stats(self, *, district_id: str | None, start: datetime | None, end: datetime | None) -> list[Any]:
        """Paid uses per district in ``[start, end)``: count, approved cost, government and owners' shares."""
        stmt = (
            sa.select(
                R.district_id,
                sa.func.count().label("uses"),
                sa.func.coalesce(sa.func.sum(R.approved_cost_fen), 0).label("total_fen"),
                sa.func.coalesce(sa.func.sum(R.government_fen), 0).label("government_fen"),
                sa.func.coalesce(sa.func.sum(R.owners_fen), 0).label("owners_fen"),
            )
            .where(*_paid_in(district_id, start, end))
            .group_by(R.district_id)
            .order_by(R.district_id)
        )
        return list((await self.session.execute(stmt)).all())

    async def paid(
        self, *, district_id: str | None, start: datetime | None, end: datetime | None, limit: int
    ) -> list[Any]:
        stmt = (
            sa.select(emergency_repairs)
            .where(*_paid_in(district_id, start, end))
            .order_by(R.paid_at, R.id)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).all())
