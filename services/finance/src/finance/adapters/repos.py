"""SQL for read models, funding plans, contributions, emergency repairs and payback analyses."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters.orm import (
    accounts,
    communities,
    contribution_schemes,
    disbursements,
    dues,
    emergency_repairs,
    funding_milestones,
    funding_plan_lines,
    funding_plans,
    households,
    payback_analyses,
    projects,
    repair_household_shares,
)


# ------------------------------------------------------------------------------------------ read models
async def upsert(session: AsyncSession, table: sa.Table, key: str, values: dict[str, Any]) -> None:
    stmt = pg_insert(table).values(**values)
    updates = {k: stmt.excluded[k] for k in values if k != key}
    if "updated_at" in table.c:
        updates["updated_at"] = sa.func.now()
    await session.execute(stmt.on_conflict_do_update(index_elements=[table.c[key]], set_=updates))


async def community(session: AsyncSession, community_id: str) -> Any:
    return (await session.execute(sa.select(communities).where(communities.c.community_id == community_id))).first()


async def household(session: AsyncSession, household_id: str) -> Any:
    return (await session.execute(sa.select(households).where(households.c.household_id == household_id))).first()


async def community_households(session: AsyncSession, community_id: str, building_ids: Sequence[str] = ()) -> list[Any]:
    stmt = sa.select(households).where(households.c.community_id == community_id)
    if building_ids:
        stmt = stmt.where(households.c.building_id.in_(list(building_ids)))
    return list((await session.execute(stmt.order_by(households.c.household_id))).all())


async def project(session: AsyncSession, project_id: str) -> Any:
    return (await session.execute(sa.select(projects).where(projects.c.project_id == project_id))).first()


async def set_project_account(session: AsyncSession, project_id: str, account_id: uuid.UUID) -> None:
    await session.execute(sa.update(projects).where(projects.c.project_id == project_id).values(account_id=account_id))


# ------------------------------------------------------------------------------------------ funding plans
async def insert_plan(
    session: AsyncSession, plan: dict[str, Any], lines: list[dict[str, Any]], milestones: list[dict[str, Any]]
) -> bool:
    inserted = (
        await session.execute(
            pg_insert(funding_plans).values(**plan).on_conflict_do_nothing().returning(funding_plans.c.id)
        )
    ).first()
    if inserted is None:
        return False
    await session.execute(sa.insert(funding_plan_lines), lines)
    if milestones:
        await session.execute(sa.insert(funding_milestones), milestones)
    return True


async def plan(session: AsyncSession, plan_id: uuid.UUID, *, for_update: bool = False) -> Any:
    stmt = sa.select(funding_plans).where(funding_plans.c.id == plan_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).first()


async def plan_by_project(session: AsyncSession, project_id: str) -> Any:
    return (await session.execute(sa.select(funding_plans).where(funding_plans.c.project_id == project_id))).first()


async def plan_lines(session: AsyncSession, plan_id: uuid.UUID) -> list[Any]:
    stmt = (
        sa.select(
            funding_plan_lines,
            sa.func.coalesce(accounts.c.credits_posted, 0).label("received_fen"),
            sa.func.coalesce(accounts.c.debits_posted, 0).label("disbursed_fen"),
        )
        .select_from(funding_plan_lines.outerjoin(accounts, accounts.c.id == funding_plan_lines.c.account_id))
        .where(funding_plan_lines.c.plan_id == plan_id)
        .order_by(funding_plan_lines.c.source)
    )
    return list((await session.execute(stmt)).all())


async def plan_milestones(session: AsyncSession, plan_id: uuid.UUID) -> list[Any]:
    stmt = sa.select(funding_milestones).where(funding_milestones.c.plan_id == plan_id)
    return list((await session.execute(stmt.order_by(funding_milestones.c.code))).all())


async def approve_plan(session: AsyncSession, plan_id: uuid.UUID, by: str, at: datetime) -> None:
    await session.execute(
        sa.update(funding_plans)
        .where(funding_plans.c.id == plan_id)
        .values(status="approved", approved_by=by, approved_at=at)
    )


async def set_line_account(session: AsyncSession, plan_id: uuid.UUID, source: str, account_id: uuid.UUID) -> None:
    await session.execute(
        sa.update(funding_plan_lines)
        .where(funding_plan_lines.c.plan_id == plan_id, funding_plan_lines.c.source == source)
        .values(account_id=account_id)
    )


async def disbursement(session: AsyncSession, disbursement_id: uuid.UUID) -> Any:
    return (await session.execute(sa.select(disbursements).where(disbursements.c.id == disbursement_id))).first()


async def record_disbursement(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(sa.insert(disbursements).values(**values))
    await session.execute(
        sa.update(funding_milestones)
        .where(funding_milestones.c.plan_id == values["plan_id"], funding_milestones.c.code == values["milestone_code"])
        .values(disbursed_fen=funding_milestones.c.disbursed_fen + values["amount_fen"])
    )


async def plan_disbursements(session: AsyncSession, plan_id: uuid.UUID) -> list[Any]:
    stmt = sa.select(disbursements).where(disbursements.c.plan_id == plan_id).order_by(disbursements.c.created_at)
    return list((await session.execute(stmt)).all())


# ------------------------------------------------------------------------------------------ contributions
async def insert_scheme(session: AsyncSession, scheme: dict[str, Any], due_rows: list[dict[str, Any]]) -> None:
    await session.execute(sa.insert(contribution_schemes).values(**scheme))
    if due_rows:
        await session.execute(sa.insert(dues), due_rows)


async def scheme(session: AsyncSession, scheme_id: uuid.UUID) -> Any:
    stmt = sa.select(contribution_schemes).where(contribution_schemes.c.id == scheme_id)
    return (await session.execute(stmt)).first()


async def due(session: AsyncSession, due_id: uuid.UUID, *, for_update: bool = False) -> Any:
    stmt = sa.select(dues).where(dues.c.id == due_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).first()


async def list_dues(
    session: AsyncSession, *, household_id: str | None, scheme_id: uuid.UUID | None, after: str | None, limit: int
) -> list[Any]:
    stmt = sa.select(dues).order_by(dues.c.id).limit(limit)
    if household_id is not None:
        stmt = stmt.where(dues.c.household_id == household_id)
    if scheme_id is not None:
        stmt = stmt.where(dues.c.scheme_id == scheme_id)
    if after is not None:
        stmt = stmt.where(dues.c.id > uuid.UUID(after))
    return list((await session.execute(stmt)).all())


async def collection(session: AsyncSession, community_id: str, scheme_id: uuid.UUID | None) -> list[Any]:
    """Collection per (scheme, building)."""
    stmt = (
        sa.select(
            dues.c.scheme_id,
            contribution_schemes.c.kind,
            dues.c.building_id,
            sa.func.sum(dues.c.amount_fen).label("due_fen"),
            sa.func.sum(dues.c.paid_fen).label("paid_fen"),
            sa.func.count().label("households"),
            sa.func.count().filter(dues.c.paid_fen == dues.c.amount_fen).label("households_paid_in_full"),
        )
        .join(contribution_schemes, contribution_schemes.c.id == dues.c.scheme_id)
        .where(dues.c.community_id == community_id)
        .group_by(dues.c.scheme_id, contribution_schemes.c.kind, dues.c.building_id)
        .order_by(dues.c.scheme_id, dues.c.building_id)
    )
    if scheme_id is not None:
        stmt = stmt.where(dues.c.scheme_id == scheme_id)
    return list((await session.execute(stmt)).all())


# ------------------------------------------------------------------------------------------ emergency repairs
async def insert_repair(session: AsyncSession, values: dict[str, Any]) -> bool:
    inserted = (
        await session.execute(
            pg_insert(emergency_repairs).values(**values).on_conflict_do_nothing().returning(emergency_repairs.c.id)
        )
    ).first()
    return inserted is not None


async def repair(session: AsyncSession, request_id: uuid.UUID, *, for_update: bool = False) -> Any:
    stmt = sa.select(emergency_repairs).where(emergency_repairs.c.id == request_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).first()


async def update_repair(session: AsyncSession, request_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(sa.update(emergency_repairs).where(emergency_repairs.c.id == request_id).values(**values))


async def replace_repair_shares(session: AsyncSession, request_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    await session.execute(sa.delete(repair_household_shares).where(repair_household_shares.c.request_id == request_id))
    if rows:
        await session.execute(sa.insert(repair_household_shares), rows)


async def repair_shares(session: AsyncSession, request_id: uuid.UUID) -> list[Any]:
    stmt = (
        sa.select(repair_household_shares)
        .where(repair_household_shares.c.request_id == request_id)
        .order_by(repair_household_shares.c.household_id)
    )
    return list((await session.execute(stmt)).all())


def _repair_filters(district_id: str | None, start: datetime | None, end: datetime | None) -> list[Any]:
    filters: list[Any] = [emergency_repairs.c.status == "paid"]
    if district_id is not None:
        filters.append(emergency_repairs.c.district_id == district_id)
    if start is not None:
        filters.append(emergency_repairs.c.paid_at >= start)
    if end is not None:
        filters.append(emergency_repairs.c.paid_at < end)
    return filters


async def repair_stats(
    session: AsyncSession, *, district_id: str | None, start: datetime | None, end: datetime | None
) -> list[Any]:
    stmt = (
        sa.select(
            emergency_repairs.c.district_id,
            sa.func.count().label("uses"),
            sa.func.coalesce(sa.func.sum(emergency_repairs.c.approved_cost_fen), 0).label("total_fen"),
            sa.func.coalesce(sa.func.sum(emergency_repairs.c.government_fen), 0).label("government_fen"),
            sa.func.coalesce(sa.func.sum(emergency_repairs.c.owners_fen), 0).label("owners_fen"),
        )
        .where(*_repair_filters(district_id, start, end))
        .group_by(emergency_repairs.c.district_id)
        .order_by(emergency_repairs.c.district_id)
    )
    return list((await session.execute(stmt)).all())


async def paid_repairs(
    session: AsyncSession, *, district_id: str | None, start: datetime | None, end: datetime | None, limit: int
) -> list[Any]:
    stmt = (
        sa.select(emergency_repairs)
        .where(*_repair_filters(district_id, start, end))
        .order_by(emergency_repairs.c.paid_at, emergency_repairs.c.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).all())


async def list_repairs(session: AsyncSession, *, filters: dict[str, str], after: str | None, limit: int) -> list[Any]:
    stmt = sa.select(emergency_repairs).order_by(emergency_repairs.c.id).limit(limit)
    for column, value in filters.items():
        stmt = stmt.where(emergency_repairs.c[column] == value)
    if after is not None:
        stmt = stmt.where(emergency_repairs.c.id > uuid.UUID(after))
    return list((await session.execute(stmt)).all())


# ------------------------------------------------------------------------------------------ payback
async def insert_analysis(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(sa.insert(payback_analyses).values(**values))


async def analysis(session: AsyncSession, analysis_id: uuid.UUID) -> Any:
    stmt = sa.select(payback_analyses).where(payback_analyses.c.id == analysis_id)
    return (await session.execute(stmt)).first()
