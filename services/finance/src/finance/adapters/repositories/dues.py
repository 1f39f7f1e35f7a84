"""Dues: what each household owes under a scheme and what it has paid, and the community's collection."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters.orm import contribution_schemes, dues

D = dues.c
K = contribution_schemes.c


@dataclass(frozen=True)
class DueFilter:
    """What a list of dues is narrowed to: the caller's scope (from the token's claims, checked against the records
    by the use case) and the query's filters. ``status``: ``outstanding`` | ``paid`` | ``cancelled``."""

    district_id: str | None = None
    street_id: str | None = None
    community_id: str | None = None
    household_id: str | None = None
    scheme_id: uuid.UUID | None = None
    kind: str | None = None
    status: str | None = None


def _status(status: str) -> Any:
    if status == "cancelled":
        return D.cancelled_at.isnot(None)
    live = D.cancelled_at.is_(None)
    return sa.and_(live, D.paid_fen == D.amount_fen) if status == "paid" else sa.and_(live, D.paid_fen < D.amount_fen)


class DueRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _with_kind(self) -> Any:
        return sa.select(dues, K.kind).join(contribution_schemes, K.id == D.scheme_id)

    async def get(self, due_id: uuid.UUID, *, for_update: bool = False) -> Any:
        stmt = self._with_kind().where(D.id == due_id)
        if for_update:
            stmt = stmt.with_for_update(of=dues)
        return (await self.session.execute(stmt)).first()

    async def find(self, where: DueFilter, *, after: uuid.UUID | None, limit: int) -> list[Any]:
        stmt = self._with_kind().order_by(D.id).limit(limit)
        for column in ("district_id", "street_id", "community_id", "household_id", "scheme_id"):
            value = getattr(where, column)
            if value is not None:
                stmt = stmt.where(D[column] == value)
        if where.kind is not None:
            stmt = stmt.where(K.kind == where.kind)
        if where.status is not None:
            stmt = stmt.where(_status(where.status))
        if after is not None:
            stmt = stmt.where(D.id > after)
        return list((await self.session.execute(stmt)).all())

    async def of_scheme(self, scheme_id: uuid.UUID, *, for_update: bool = False) -> list[Any]:
        stmt = sa.select(dues).where(D.scheme_id == scheme_id).order_by(D.id)
        if for_update:
            stmt = stmt.with_for_update()
        return list((await self.session.execute(stmt)).all())

    async def cancel_scheme(self, scheme_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            sa.update(dues).where(D.scheme_id == scheme_id, D.cancelled_at.is_(None)).values(cancelled_at=now)
        )

    async def raise_paid(self, due_id: uuid.UUID, amount_fen: int) -> None:
        """The due's paid amount rises under the database's ``paid ≤ due`` check."""
        await self.session.execute(sa.update(dues).where(D.id == due_id).values(paid_fen=D.paid_fen + amount_fen))

    async def collection(self, community_id: str, scheme_id: uuid.UUID | None) -> list[Any]:
        """Collection per (scheme, building) of the dues in force (a cancelled due is not collected)."""
        stmt = (
            sa.select(
                D.scheme_id,
                K.kind,
                D.building_id,
                sa.func.sum(D.amount_fen).label("due_fen"),
                sa.func.sum(D.paid_fen).label("paid_fen"),
                sa.func.count(D.household_id.distinct()).label("households"),
                sa.func.count(D.household_id.distinct()).filter(D.paid_fen > 0).label("households_paying"),
                sa.func.count(D.household_id.distinct())
                .filter(D.paid_fen == D.amount_fen)
                .label("households_paid_in_full"),
            )
            .join(contribution_schemes, K.id == D.scheme_id)
            .where(D.community_id == community_id, D.cancelled_at.is_(None))
            .group_by(D.scheme_id, K.kind, D.building_id)
            .order_by(D.scheme_id, D.building_id)
        )
        if scheme_id is not None:
            stmt = stmt.where(D.scheme_id == scheme_id)
        return list((await self.session.execute(stmt)).all())

    async def community_households(self, community_id: str, scheme_id: uuid.UUID | None) -> Any:
        """The community's totals counting each household once, whatever its number of dues or payments:
        households with a due, households that paid something, households that paid every due in full."""
        per_home = sa.select(
            D.household_id,
            sa.func.sum(D.amount_fen).label("due_fen"),
            sa.func.sum(D.paid_fen).label("paid_fen"),
            sa.func.bool_and(D.paid_fen == D.amount_fen).label("in_full"),
        ).where(D.community_id == community_id, D.cancelled_at.is_(None))
        if scheme_id is not None:
            per_home = per_home.where(D.scheme_id == scheme_id)
        homes = per_home.group_by(D.household_id).subquery()
        stmt = sa.select(
            sa.func.coalesce(sa.func.sum(homes.c.due_fen), 0).label("due_fen"),
            sa.func.coalesce(sa.func.sum(homes.c.paid_fen), 0).label("paid_fen"),
            sa.func.count().label("households"),
            sa.func.count().filter(homes.c.paid_fen > 0).label("households_paying"),
            sa.func.count().filter(homes.c.in_full).label("households_paid_in_full"),
        )
        return (await self.session.execute(stmt)).one()
