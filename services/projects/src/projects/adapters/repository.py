"""SQL for the projects service (the only place queries live)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from projects.adapters.orm import (
    CommunityRow,
    DelayNoticeRow,
    HandoverRow,
    InspectionRow,
    PackageLinkRow,
    PlanProjectRow,
    PlanRow,
    ProgressReportRow,
    ProjectRow,
    ScheduleEntryRow,
    WorkFaceRow,
    WorkPackageRow,
)


async def upsert_community(session: AsyncSession, **values: Any) -> None:
    stmt = pg_insert(CommunityRow).values(**values)
    update = {k: stmt.excluded[k] for k in values if k not in ("community_id", "priority_rank", "ranking_id")}
    update["updated_at"] = sa.func.now()
    await session.execute(stmt.on_conflict_do_update(index_elements=["community_id"], set_=update))


async def set_community_rank(
    session: AsyncSession, community_id: str, district_id: str, rank: int, ranking_id: str
) -> None:
    stmt = pg_insert(CommunityRow).values(
        community_id=community_id, district_id=district_id, priority_rank=rank, ranking_id=ranking_id
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["community_id"],
            set_={"priority_rank": rank, "ranking_id": ranking_id, "updated_at": sa.func.now()},
        )
    )


async def community(session: AsyncSession, community_id: str) -> CommunityRow | None:
    return await session.get(CommunityRow, community_id)


async def communities(session: AsyncSession, ids: Sequence[str]) -> dict[str, CommunityRow]:
    rows = (await session.scalars(sa.select(CommunityRow).where(CommunityRow.community_id.in_(list(ids))))).all()
    return {r.community_id: r for r in rows}


async def insert_project(session: AsyncSession, **values: Any) -> uuid.UUID | None:
    """Insert a project; ``None`` when its consultation already produced one (unique constraint)."""
    stmt = (
        pg_insert(ProjectRow)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["source_consultation_id"])
        .returning(ProjectRow.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def project_by_consultation(session: AsyncSession, consultation_id: str) -> ProjectRow | None:
    return (
        await session.scalars(sa.select(ProjectRow).where(ProjectRow.source_consultation_id == consultation_id))
    ).first()


async def project(session: AsyncSession, project_id: uuid.UUID, *, for_update: bool = False) -> ProjectRow | None:
    return await session.get(ProjectRow, project_id, with_for_update=for_update)


async def projects(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[ProjectRow]:
    rows = (await session.scalars(sa.select(ProjectRow).where(ProjectRow.id.in_(list(ids))))).all()
    return sorted(rows, key=lambda r: str(r.id))


async def list_projects(
    session: AsyncSession, *, filters: Sequence[Any], after: str | None, limit: int
) -> list[ProjectRow]:
    stmt = sa.select(ProjectRow).where(*filters).order_by(ProjectRow.id).limit(limit + 1)
    if after:
        stmt = stmt.where(ProjectRow.id > uuid.UUID(after))
    return list((await session.scalars(stmt)).all())


async def faces(session: AsyncSession, project_ids: Sequence[uuid.UUID]) -> list[WorkFaceRow]:
    stmt = sa.select(WorkFaceRow).where(WorkFaceRow.project_id.in_(list(project_ids))).order_by(WorkFaceRow.code)
    return list((await session.scalars(stmt)).all())


async def packages(session: AsyncSession, project_ids: Sequence[uuid.UUID]) -> list[WorkPackageRow]:
    stmt = (
        sa.select(WorkPackageRow)
        .where(WorkPackageRow.project_id.in_(list(project_ids)))
        .order_by(WorkPackageRow.project_id, WorkPackageRow.id)
    )
    return list((await session.scalars(stmt)).all())


async def package(session: AsyncSession, package_id: uuid.UUID, *, for_update: bool = False) -> WorkPackageRow | None:
    return await session.get(WorkPackageRow, package_id, with_for_update=for_update)


async def links(session: AsyncSession, project_ids: Sequence[uuid.UUID]) -> list[PackageLinkRow]:
    stmt = sa.select(PackageLinkRow).where(PackageLinkRow.project_id.in_(list(project_ids)))
    return list((await session.scalars(stmt)).all())


def add_all(session: AsyncSession, rows: Sequence[Any]) -> None:
    session.add_all(list(rows))


# plans ------------------------------------------------------------------------------------------------------------


async def plan(session: AsyncSession, plan_id: uuid.UUID, *, for_update: bool = False) -> PlanRow | None:
    return await session.get(PlanRow, plan_id, with_for_update=for_update)


async def plan_project_ids(session: AsyncSession, plan_id: uuid.UUID) -> list[uuid.UUID]:
    stmt = sa.select(PlanProjectRow.project_id).where(PlanProjectRow.plan_id == plan_id)
    return sorted((await session.scalars(stmt)).all(), key=str)


async def claim_next_plan(session: AsyncSession, *, stale_after_s: float) -> uuid.UUID | None:
    """Claim the oldest queued plan (or one whose runner died) for this replica: ``FOR UPDATE SKIP LOCKED``."""
    stale = sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, stale_after_s)
    pick = (
        sa.select(PlanRow.id)
        .where(
            sa.or_(
                PlanRow.status == "queued",
                sa.and_(PlanRow.status == "running", PlanRow.started_at < stale, PlanRow.attempts < 3),
            )
        )
        .order_by(PlanRow.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        sa.update(PlanRow)
        .where(PlanRow.id == pick)
        .values(status="running", started_at=sa.func.now(), attempts=PlanRow.attempts + 1)
        .returning(PlanRow.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def claim_plan(session: AsyncSession, plan_id: uuid.UUID) -> bool:
    stmt = (
        sa.update(PlanRow)
        .where(PlanRow.id == plan_id, PlanRow.status == "queued")
        .values(status="running", started_at=sa.func.now(), attempts=PlanRow.attempts + 1)
        .returning(PlanRow.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def schedule(session: AsyncSession, plan_id: uuid.UUID, project_id: uuid.UUID) -> list[ScheduleEntryRow]:
    stmt = (
        sa.select(ScheduleEntryRow)
        .where(ScheduleEntryRow.plan_id == plan_id, ScheduleEntryRow.project_id == project_id)
        .order_by(ScheduleEntryRow.start_idx, ScheduleEntryRow.package_id)
    )
    return list((await session.scalars(stmt)).all())


async def insert_schedule(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(sa.insert(ScheduleEntryRow), list(rows))


# progress ---------------------------------------------------------------------------------------------------------


async def insert_progress(session: AsyncSession, **values: Any) -> int | None:
    stmt = (
        pg_insert(ProgressReportRow)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["package_id", "report_date"])
        .returning(ProgressReportRow.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def progress_report(session: AsyncSession, package_id: uuid.UUID, day: date) -> ProgressReportRow | None:
    stmt = sa.select(ProgressReportRow).where(
        ProgressReportRow.package_id == package_id, ProgressReportRow.report_date == day
    )
    return (await session.scalars(stmt)).first()


async def latest_before(session: AsyncSession, package_id: uuid.UUID, day: date) -> Decimal | None:
    stmt = (
        sa.select(ProgressReportRow.percent_complete)
        .where(ProgressReportRow.package_id == package_id, ProgressReportRow.report_date < day)
        .order_by(ProgressReportRow.report_date.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def earliest_after(session: AsyncSession, package_id: uuid.UUID, day: date) -> Decimal | None:
    stmt = (
        sa.select(ProgressReportRow.percent_complete)
        .where(ProgressReportRow.package_id == package_id, ProgressReportRow.report_date > day)
        .order_by(ProgressReportRow.report_date)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def percent_as_of(session: AsyncSession, project_id: uuid.UUID, day: date) -> dict[uuid.UUID, Decimal]:
    """The latest reported percent of each package of a project on or before ``day``."""
    stmt = (
        sa.select(ProgressReportRow.package_id, ProgressReportRow.percent_complete)
        .where(ProgressReportRow.project_id == project_id, ProgressReportRow.report_date <= day)
        .ext(distinct_on(ProgressReportRow.package_id))
        .order_by(ProgressReportRow.package_id, ProgressReportRow.report_date.desc())
    )
    return {row.package_id: row.percent_complete for row in (await session.execute(stmt)).all()}


async def insert_delay_notice(session: AsyncSession, project_id: uuid.UUID, as_of: date) -> bool:
    stmt = (
        pg_insert(DelayNoticeRow)
        .values(project_id=project_id, as_of=as_of)
        .on_conflict_do_nothing()
        .returning(DelayNoticeRow.project_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def complete_project(session: AsyncSession, project_id: uuid.UUID) -> bool:
    stmt = (
        sa.update(ProjectRow)
        .where(ProjectRow.id == project_id, ProjectRow.status != "completed")
        .values(status="completed")
        .returning(ProjectRow.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def insert_handover(session: AsyncSession, **values: Any) -> uuid.UUID | None:
    stmt = (
        pg_insert(HandoverRow)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["work_face_id", "from_trade", "to_trade"])
        .returning(HandoverRow.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def handovers(session: AsyncSession, project_id: uuid.UUID) -> list[HandoverRow]:
    stmt = sa.select(HandoverRow).where(HandoverRow.project_id == project_id).order_by(HandoverRow.handed_over_at)
    return list((await session.scalars(stmt)).all())


async def inspections(session: AsyncSession, project_id: uuid.UUID, limit: int = 500) -> list[InspectionRow]:
    stmt = (
        sa.select(InspectionRow)
        .where(InspectionRow.project_id == project_id)
        .order_by(InspectionRow.inspected_on.desc(), InspectionRow.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())
