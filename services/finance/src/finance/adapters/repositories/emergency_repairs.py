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


# Periods are the calendar's in China (a repair paid at 2026-03-31T20:00Z is paid on 1 April in Jiaxing).
LOCAL_TIME_ZONE = "Asia/Shanghai"
PERIOD_UNITS = {"month": "month", "quarter": "quarter", "year": "year"}


def _paid_in(
    district_id: str | None, start: datetime | None, end: datetime | None, street_id: str | None = None
) -> list[Any]:
    filters: list[Any] = [R.status == "paid"]
    if district_id is not None:
        filters.append(R.district_id == district_id)
    if street_id is not None:
        filters.append(R.street_id == street_id)
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

    async def stats_by_period(
        self, *, district_id: str, street_id: str | None, period: str, start: datetime | None, end: datetime | None
    ) -> list[Any]:
        """Paid uses per (local calendar period, kind) in ``[start, end)``: the period's first local moment
        (``period_start``, a timestamp without zone in China's time), count and money."""
        # the unit and the zone are literals from the whitelist above (not bind parameters): the planner then sees
        # one grouping expression and can plan it (measured in bench/bench_finance.py)
        unit = sa.literal_column(f"'{PERIOD_UNITS[period]}'")
        bucket = sa.func.date_trunc(unit, sa.func.timezone(sa.literal_column(f"'{LOCAL_TIME_ZONE}'"), R.paid_at))
        stmt = (
            sa.select(
                bucket.label("period_start"),
                R.kind,
                sa.func.count().label("uses"),
                sa.func.sum(R.approved_cost_fen).label("total_fen"),
                sa.func.sum(R.government_fen).label("government_fen"),
                sa.func.sum(R.owners_fen).label("owners_fen"),
                sa.func.sum(R.public_income_fen).label("public_income_fen"),
                sa.func.sum(R.households_fen).label("households_fen"),
            )
            .where(*_paid_in(district_id, start, end, street_id))
            .group_by(bucket, R.kind)
            .order_by(bucket, R.kind)
        )
        return list((await self.session.execute(stmt)).all())

    async def stats(
        self, *, district_id: str | None, start: datetime | None, end: datetime | None, street_id: str | None = None
    ) -> list[Any]:
        """Paid uses per district in ``[start, end)``: count, approved cost, government and owners' shares."""
        stmt = (
            sa.select(
                R.district_id,
                sa.func.count().label("uses"),
                sa.func.coalesce(sa.func.sum(R.approved_cost_fen), 0).label("total_fen"),
                sa.func.coalesce(sa.func.sum(R.government_fen), 0).label("government_fen"),
                sa.func.coalesce(sa.func.sum(R.owners_fen), 0).label("owners_fen"),
            )
            .where(*_paid_in(district_id, start, end, street_id))
            .group_by(R.district_id)
            .order_by(R.district_id)
        )
        return list((await self.session.execute(stmt)).all())

    async def paid(
        self,
        *,
        district_id: str | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        street_id: str | None = None,
    ) -> list[Any]:
        stmt = (
            sa.select(emergency_repairs)
            .where(*_paid_in(district_id, start, end, street_id))
            .order_by(R.paid_at, R.id)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).all())
