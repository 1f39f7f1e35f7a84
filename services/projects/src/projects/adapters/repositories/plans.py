"""Plans (jobs any replica can claim, run or answer) and the schedules they store."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from projects.adapters.orm import PlanProjectRow, PlanRow, ScheduleEntryRow
from projects.domain.model import Plan, PlanKind, PlanStatus, ScheduleEntry, SolverStatus


def _plan(row: PlanRow, project_ids: list[uuid.UUID]) -> Plan:
    return Plan(
        id=row.id,
        kind=PlanKind(row.kind),
        status=PlanStatus(row.status),
        district_id=row.district_id,
        request=dict(row.request),
        result=dict(row.result) if row.result is not None else None,
        solver_status=SolverStatus(row.solver_status) if row.solver_status else None,
        error_code=row.error_code,
        error=row.error,
        created_by=row.created_by,
        created_at=row.created_at,
        finished_at=row.finished_at,
        project_ids=project_ids,
    )


class PlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        *,
        plan_id: uuid.UUID,
        kind: PlanKind,
        district_id: str | None,
        request: dict[str, Any],
        project_ids: Sequence[uuid.UUID],
        created_by: str,
        created_at: datetime,
        claimed_at: datetime | None,
    ) -> None:
        """A new plan: ``queued`` for the workers, or ``running`` when this request claims it (``claimed_at``)."""
        await self.session.execute(
            sa.insert(PlanRow).values(
                id=plan_id,
                kind=kind.value,
                status=(PlanStatus.RUNNING if claimed_at else PlanStatus.QUEUED).value,
                district_id=district_id,
                request=request,
                created_by=created_by[:200],
                created_at=created_at,
                started_at=claimed_at,
                attempts=1 if claimed_at else 0,
            )
        )
        await self.session.execute(
            sa.insert(PlanProjectRow), [{"plan_id": plan_id, "project_id": pid} for pid in project_ids]
        )

    async def get(self, plan_id: uuid.UUID, *, for_update: bool = False) -> Plan | None:
        stmt = sa.select(PlanRow).where(PlanRow.id == plan_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self.session.scalars(stmt)).first()
        if row is None:
            return None
        return _plan(row, await self.project_ids(plan_id))

    async def project_ids(self, plan_id: uuid.UUID) -> list[uuid.UUID]:
        stmt = sa.select(PlanProjectRow.project_id).where(PlanProjectRow.plan_id == plan_id)
        return sorted((await self.session.scalars(stmt)).all(), key=str)

    async def claim_next(self, *, now: datetime, stale_after_s: float, max_attempts: int = 3) -> uuid.UUID | None:
        """Claim the oldest queued plan, or a running one whose runner stopped answering (``FOR UPDATE SKIP
        LOCKED``: two replicas never claim the same plan)."""
        stale = now - timedelta(seconds=stale_after_s)
        pick = (
            sa.select(PlanRow.id)
            .where(
                sa.or_(
                    PlanRow.status == PlanStatus.QUEUED.value,
                    sa.and_(
                        PlanRow.status == PlanStatus.RUNNING.value,
                        PlanRow.started_at < stale,
                        PlanRow.attempts < max_attempts,
                    ),
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
            .values(status=PlanStatus.RUNNING.value, started_at=now, attempts=PlanRow.attempts + 1)
            .returning(PlanRow.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def fail(self, plan_id: uuid.UUID, code: str, message: str, *, at: datetime) -> None:
        await self.session.execute(
            sa.update(PlanRow)
            .where(PlanRow.id == plan_id, PlanRow.status != PlanStatus.DONE.value)
            .values(status=PlanStatus.FAILED.value, error_code=code[:64], error=message[:500], finished_at=at)
        )

    async def finish(
        self, plan_id: uuid.UUID, solver_status: SolverStatus, result: dict[str, Any], *, at: datetime
    ) -> None:
        await self.session.execute(
            sa.update(PlanRow)
            .where(PlanRow.id == plan_id)
            .values(status=PlanStatus.DONE.value, solver_status=solver_status.value, result=result, finished_at=at)
        )

    async def add_schedule(self, plan_id: uuid.UUID, entries: Sequence[ScheduleEntry]) -> None:
        if entries:
            await self.session.execute(
                sa.insert(ScheduleEntryRow),
                [
                    {
                        "plan_id": plan_id,
                        "package_id": e.package_id,
                        "project_id": e.project_id,
                        "start_idx": e.start_idx,
                        "end_idx": e.end_idx,
                        "start_date": e.start_date,
                        "finish_date": e.finish_date,
                    }
                    for e in entries
                ],
            )

    async def schedule(self, plan_id: uuid.UUID, project_id: uuid.UUID) -> list[ScheduleEntry]:
        stmt = (
            sa.select(ScheduleEntryRow)
            .where(ScheduleEntryRow.plan_id == plan_id, ScheduleEntryRow.project_id == project_id)
            .order_by(ScheduleEntryRow.start_idx, ScheduleEntryRow.package_id)
        )
        return [
            ScheduleEntry(r.package_id, r.project_id, r.start_idx, r.end_idx, r.start_date, r.finish_date)
            for r in (await self.session.scalars(stmt)).all()
        ]
