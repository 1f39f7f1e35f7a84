"""Funding plans with their source lines (each with its fund account), milestones and disbursements."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters.orm import accounts, disbursements, funding_milestones, funding_plan_lines, funding_plans
from renovation_common.db import rows_after_id

F = funding_plans.c
L = funding_plan_lines.c
M = funding_milestones.c
D = disbursements.c


class FundingPlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, plan: dict[str, Any], lines: list[dict[str, Any]], milestones: list[dict[str, Any]]) -> bool:
        """Insert a plan with its lines and milestones; ``False`` when the project has a plan already."""
        inserted = (
            await self.session.execute(pg_insert(funding_plans).values(**plan).on_conflict_do_nothing().returning(F.id))
        ).first()
        if inserted is None:
            return False
        await self.session.execute(sa.insert(funding_plan_lines), lines)
        if milestones:
            await self.session.execute(sa.insert(funding_milestones), milestones)
        return True

    async def get(self, plan_id: uuid.UUID, *, for_update: bool = False) -> Any:
        stmt = sa.select(funding_plans).where(F.id == plan_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).first()

    async def find(
        self, *, filters: dict[str, str], status: str | None, after: uuid.UUID | None, limit: int
    ) -> list[Any]:
        """Plans whose columns equal ``filters`` (and in ``status``), by id after the cursor."""
        return await rows_after_id(self.session, funding_plans, {**filters, "status": status}, after, limit)

    async def lines(self, plan_id: uuid.UUID) -> list[Any]:
        """The plan's sources with what their accounts received and disbursed."""
        stmt = (
            sa.select(
                funding_plan_lines,
                sa.func.coalesce(accounts.c.credits_posted, 0).label("received_fen"),
                sa.func.coalesce(accounts.c.debits_posted, 0).label("disbursed_fen"),
            )
            .select_from(funding_plan_lines.outerjoin(accounts, accounts.c.id == L.account_id))
            .where(L.plan_id == plan_id)
            .order_by(L.source)
        )
        return list((await self.session.execute(stmt)).all())

    async def milestones(self, plan_id: uuid.UUID) -> list[Any]:
        stmt = sa.select(funding_milestones).where(M.plan_id == plan_id).order_by(M.code)
        return list((await self.session.execute(stmt)).all())

    async def disbursements(self, plan_id: uuid.UUID) -> list[Any]:
        stmt = sa.select(disbursements).where(D.plan_id == plan_id).order_by(D.created_at, D.id)
        return list((await self.session.execute(stmt)).all())

    async def approve(self, plan_id: uuid.UUID, by: str, at: datetime) -> None:
        await self.session.execute(
            sa.update(funding_plans).where(F.id == plan_id).values(status="approved", approved_by=by, approved_at=at)
        )

    async def set_line_account(self, plan_id: uuid.UUID, source: str, account_id: uuid.UUID) -> None:
        await self.session.execute(
            sa.update(funding_plan_lines).where(L.plan_id == plan_id, L.source == source).values(account_id=account_id)
        )

    async def disbursement(self, disbursement_id: uuid.UUID) -> Any:
        return (await self.session.execute(sa.select(disbursements).where(D.id == disbursement_id))).first()

    async def add_disbursement(self, values: dict[str, Any]) -> None:
        """Record a disbursement and raise its milestone's disbursed amount (capped by the database)."""
        await self.session.execute(sa.insert(disbursements).values(**values))
        await self.session.execute(
            sa.update(funding_milestones)
            .where(M.plan_id == values["plan_id"], M.code == values["milestone_code"])
            .values(disbursed_fen=M.disbursed_fen + values["amount_fen"])
        )
