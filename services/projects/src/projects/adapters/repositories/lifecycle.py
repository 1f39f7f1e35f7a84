"""The seven-step lifecycle of communities: the event-fed records behind the steps, what projects' own tables say
about a community's newest project, and each community's current step (for lists and district summaries)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from projects.adapters.orm import (
    CommunityLifecycleRow,
    CommunityRow,
    InspectionRow,
    LifecycleRecordRow,
    ProgressReportRow,
    ProjectRow,
    WorkPackageRow,
)
from projects.domain.lifecycle import ProjectFacts, Record, Source, Step, StepStatus
from projects.domain.model import Community, ProjectStatus
from renovation_common.db import upsert_newest

FIRST_STEP = Step.COLLECT_OPINIONS.value


@dataclass(frozen=True)
class LifecycleFilter:
    district_id: str | None = None
    street_id: str | None = None
    community_id: str | None = None


@dataclass(frozen=True)
class CommunityStep:
    community: Community
    current_step: Step
    current_status: StepStatus


@dataclass(frozen=True)
class Tallies:
    """Over the communities of a filter: how many stand at each step, and households approving of all before
    (willingness) and after (satisfaction), summed."""

    per_step: dict[Step, int]
    communities: int
    before_communities: int
    before_approving: int
    before_total: int
    after_communities: int
    after_approving: int
    after_total: int


def _record(row: LifecycleRecordRow) -> Record:
    return Record(
        source=Source(row.source),
        record_id=row.record_id,
        occurred_at=row.occurred_at,
        kind=row.kind,
        rule=row.rule,
        outcome=row.outcome,
        approving_households=row.approving_households,
        total_households=row.total_households,
        approval_ratio=row.approval_ratio,
        approval_percent=row.approval_percent,
        detail=row.detail,
    )


class LifecycleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, community_id: str, record: Record) -> bool:
        """Keep the newest record of its kind (by when it happened): an older one arriving late changes nothing."""
        return await upsert_newest(
            self.session,
            LifecycleRecordRow.__table__,  # type: ignore[arg-type]
            ("community_id", "source"),
            {
                "community_id": community_id[:64],
                "source": record.source.value,
                "record_id": record.record_id[:64],
                "occurred_at": record.occurred_at,
                "kind": record.kind[:16],
                "rule": record.rule[:32],
                "outcome": record.outcome[:16],
                "approving_households": record.approving_households,
                "total_households": record.total_households,
                "approval_ratio": record.approval_ratio[:40],
                "approval_percent": record.approval_percent,
                "detail": record.detail[:200],
            },
            version_column="occurred_at",
        )

    async def records(self, community_id: str) -> dict[Source, Record]:
        rows = await self.session.scalars(
            sa.select(LifecycleRecordRow).where(LifecycleRecordRow.community_id == community_id)
        )
        return {Source(r.source): _record(r) for r in rows.all()}

    async def project_facts(self, community_id: str) -> ProjectFacts | None:
        """The community's newest project as projects' own tables have it (packages, reports, inspections)."""
        project = (
            await self.session.scalars(
                sa.select(ProjectRow)
                .where(ProjectRow.community_id == community_id)
                .order_by(ProjectRow.created_at.desc(), ProjectRow.id.desc())
                .limit(1)
            )
        ).first()
        if project is None:
            return None
        pid = project.id
        packages, complete, last_finish = (
            await self.session.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.count().filter(WorkPackageRow.percent_complete >= 100),
                    sa.func.max(WorkPackageRow.actual_finish),
                ).where(WorkPackageRow.project_id == pid)
            )
        ).one()
        reports, last_report = (
            await self.session.execute(
                sa.select(sa.func.count(), sa.func.max(ProgressReportRow.report_date)).where(
                    ProgressReportRow.project_id == pid
                )
            )
        ).one()
        inspections, failed = (
            await self.session.execute(
                sa.select(sa.func.count(), sa.func.count().filter(InspectionRow.result == "failed")).where(
                    InspectionRow.project_id == pid
                )
            )
        ).one()
        latest = (
            await self.session.execute(
                sa.select(InspectionRow.id, InspectionRow.inspected_on)
                .where(InspectionRow.project_id == pid)
                .order_by(InspectionRow.inspected_on.desc(), InspectionRow.created_at.desc())
                .limit(1)
            )
        ).first()
        status = ProjectStatus(project.status)
        return ProjectFacts(
            project_id=pid,
            status=status,
            created_at=project.created_at,
            current_plan_id=project.current_plan_id,
            packages=packages,
            packages_complete=complete,
            completed_on=last_finish if status is ProjectStatus.COMPLETED else None,
            reports=reports,
            last_report_date=last_report,
            inspections=inspections,
            failed_inspections=failed,
            last_inspection_id=uuid.UUID(str(latest[0])) if latest else None,
            last_inspected_on=latest[1] if latest else None,
        )

    async def lock(self, community_id: str) -> None:
        """Take the community's lifecycle row lock (creating the row): whoever recomputes the current step after
        this sees every record committed before it."""
        await self.session.execute(
            pg_insert(CommunityLifecycleRow)
            .values(community_id=community_id[:64], current_step=FIRST_STEP, current_status="not_started")
            .on_conflict_do_nothing(index_elements=[CommunityLifecycleRow.community_id])
        )
        await self.session.execute(
            sa.select(CommunityLifecycleRow.community_id)
            .where(CommunityLifecycleRow.community_id == community_id[:64])
            .with_for_update()
        )

    async def save_current(self, community_id: str, step: Step, status: StepStatus, now: datetime) -> None:
        await self.session.execute(
            sa.update(CommunityLifecycleRow)
            .where(CommunityLifecycleRow.community_id == community_id[:64])
            .values(current_step=step.value, current_status=status.value, updated_at=now)
        )

    def _communities(self, where: LifecycleFilter) -> list[sa.ColumnElement[bool]]:
        conds: list[sa.ColumnElement[bool]] = []
        if where.district_id is not None:
            conds.append(CommunityRow.district_id == where.district_id)
        if where.street_id is not None:
            conds.append(CommunityRow.street_id == where.street_id)
        if where.community_id is not None:
            conds.append(CommunityRow.community_id == where.community_id)
        return conds

    async def page(
        self, where: LifecycleFilter, *, step: Step | None, after: str | None, limit: int
    ) -> list[CommunityStep]:
        """Up to ``limit`` registered communities of the filter by id after ``after``, with their current step (a
        community no record has reached yet stands at the first step, not started)."""
        current = sa.func.coalesce(CommunityLifecycleRow.current_step, FIRST_STEP)
        stmt = (
            sa.select(CommunityRow, current, sa.func.coalesce(CommunityLifecycleRow.current_status, "not_started"))
            .outerjoin(CommunityLifecycleRow, CommunityLifecycleRow.community_id == CommunityRow.community_id)
            .where(*self._communities(where))
            .order_by(CommunityRow.community_id)
            .limit(limit)
        )
        if step is not None:
            stmt = stmt.where(current == step.value)
        if after is not None:
            stmt = stmt.where(CommunityRow.community_id > after)
        out = []
        for row, step_value, status_value in (await self.session.execute(stmt)).all():
            community = Community(row.community_id, row.district_id, row.street_id, row.name, row.household_count)
            out.append(CommunityStep(community, Step(step_value), StepStatus(status_value)))
        return out

    async def tallies(self, where: LifecycleFilter) -> Tallies:
        current = sa.func.coalesce(CommunityLifecycleRow.current_step, FIRST_STEP)
        per_step_rows = (
            await self.session.execute(
                sa.select(current, sa.func.count())
                .select_from(CommunityRow)
                .outerjoin(CommunityLifecycleRow, CommunityLifecycleRow.community_id == CommunityRow.community_id)
                .where(*self._communities(where))
                .group_by(current)
            )
        ).all()
        per_step = dict.fromkeys(Step, 0)
        for value, n in per_step_rows:
            per_step[Step(value)] = n
        sums: dict[Source, Sequence[int]] = {}
        for source in (Source.WILLINGNESS, Source.SATISFACTION):
            sums[source] = (
                await self.session.execute(
                    sa.select(
                        sa.func.count(),
                        sa.func.coalesce(sa.func.sum(LifecycleRecordRow.approving_households), 0),
                        sa.func.coalesce(sa.func.sum(LifecycleRecordRow.total_households), 0),
                    )
                    .select_from(CommunityRow)
                    .join(LifecycleRecordRow, LifecycleRecordRow.community_id == CommunityRow.community_id)
                    .where(LifecycleRecordRow.source == source.value, *self._communities(where))
                )
            ).one()
        before, after = sums[Source.WILLINGNESS], sums[Source.SATISFACTION]
        return Tallies(
            per_step=per_step,
            communities=sum(per_step.values()),
            before_communities=int(before[0]),
            before_approving=int(before[1]),
            before_total=int(before[2]),
            after_communities=int(after[0]),
            after_approving=int(after[1]),
            after_total=int(after[2]),
        )
