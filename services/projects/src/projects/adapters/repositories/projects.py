"""Projects with their work faces, work packages and links (one aggregate)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from projects.adapters.orm import PackageLinkRow, ProjectRow, WorkFaceRow, WorkPackageRow
from projects.domain.catalog import FaceKind
from projects.domain.model import (
    FaceSource,
    PackageLink,
    Project,
    ProjectStatus,
    WorkFace,
    WorkPackage,
)


def project_of(row: ProjectRow) -> Project:
    return Project(
        id=row.id,
        community_id=row.community_id,
        district_id=row.district_id,
        street_id=row.street_id,
        name=row.name,
        status=ProjectStatus(row.status),
        source_consultation_id=row.source_consultation_id,
        current_plan_id=row.current_plan_id,
        start_date=row.start_date,
        finish_date=row.finish_date,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _face(row: WorkFaceRow) -> WorkFace:
    return WorkFace(
        row.id, row.project_id, row.code, row.name, FaceKind(row.kind), row.size, FaceSource(row.source), row.source_id
    )


def _package(row: WorkPackageRow) -> WorkPackage:
    return WorkPackage(
        id=row.id,
        project_id=row.project_id,
        work_face_id=row.work_face_id,
        type_code=row.type_code,
        duration_days=row.duration_days,
        percent_complete=row.percent_complete,
        last_report_date=row.last_report_date,
        actual_start=row.actual_start,
        actual_finish=row.actual_finish,
    )


@dataclass(frozen=True)
class ProjectFilter:
    """Which projects a list shows: the caller's scope (every given field must match) and the query's filters."""

    district_id: str | None = None
    street_id: str | None = None
    community_id: str | None = None
    status: ProjectStatus | None = None


class ProjectRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self, project: Project, faces: Sequence[WorkFace], packages: Sequence[WorkPackage], links: Sequence[PackageLink]
    ) -> bool:
        """Insert a project with its layout; ``False`` (nothing written) when its consultation already has one."""
        inserted = (
            await self.session.execute(
                pg_insert(ProjectRow)
                .values(
                    id=project.id,
                    community_id=project.community_id,
                    district_id=project.district_id,
                    street_id=project.street_id,
                    name=project.name[:200],
                    status=project.status.value,
                    source_consultation_id=project.source_consultation_id,
                    created_by=project.created_by[:200],
                    created_at=project.created_at,
                )
                .on_conflict_do_nothing(index_elements=["source_consultation_id"])
                .returning(ProjectRow.id)
            )
        ).scalar_one_or_none()
        if inserted is None:
            return False
        if faces:
            await self.session.execute(
                sa.insert(WorkFaceRow),
                [
                    {
                        "id": f.id,
                        "project_id": f.project_id,
                        "code": f.code,
                        "name": f.name[:100],
                        "kind": f.kind.value,
                        "size": f.size,
                        "source": f.source.value,
                        "source_id": f.source_id,
                    }
                    for f in faces
                ],
            )
        if packages:
            await self.session.execute(
                sa.insert(WorkPackageRow),
                [
                    {
                        "id": p.id,
                        "project_id": p.project_id,
                        "work_face_id": p.work_face_id,
                        "type_code": p.type_code,
                        "duration_days": p.duration_days,
                    }
                    for p in packages
                ],
            )
        if links:
            await self.session.execute(
                sa.insert(PackageLinkRow),
                [
                    {"pred_id": k.pred_id, "succ_id": k.succ_id, "project_id": project.id, "lag_days": k.lag_days}
                    for k in links
                ],
            )
        return True

    async def get(self, project_id: uuid.UUID, *, for_update: bool = False) -> Project | None:
        stmt = sa.select(ProjectRow).where(ProjectRow.id == project_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self.session.scalars(stmt)).first()
        return project_of(row) if row is not None else None

    async def by_consultation(self, consultation_id: str) -> Project | None:
        stmt = sa.select(ProjectRow).where(ProjectRow.source_consultation_id == consultation_id)
        row = (await self.session.scalars(stmt)).first()
        return project_of(row) if row is not None else None

    async def many(self, ids: Sequence[uuid.UUID]) -> list[Project]:
        rows = (await self.session.scalars(sa.select(ProjectRow).where(ProjectRow.id.in_(list(ids))))).all()
        return sorted((project_of(r) for r in rows), key=lambda p: str(p.id))

    async def page(
        self, where: ProjectFilter, *, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Project]:
        """Up to ``limit + 1`` projects in creation order after the cursor key ``after``."""
        stmt = sa.select(ProjectRow)
        for name in ("district_id", "street_id", "community_id"):
            value = getattr(where, name)
            if value is not None:
                stmt = stmt.where(getattr(ProjectRow, name) == value)
        if where.status is not None:
            stmt = stmt.where(ProjectRow.status == where.status.value)
        if after is not None:
            stmt = stmt.where(sa.tuple_(ProjectRow.created_at, ProjectRow.id) > sa.tuple_(*after))
        stmt = stmt.order_by(ProjectRow.created_at, ProjectRow.id).limit(limit + 1)
        return [project_of(r) for r in (await self.session.scalars(stmt)).all()]

    async def active_with_plan(self, *, after: uuid.UUID | None, limit: int) -> list[Project]:
        """Planned or running projects (what the daily delay check looks at), in id order after ``after``."""
        stmt = sa.select(ProjectRow).where(
            ProjectRow.current_plan_id.is_not(None),
            ProjectRow.status.in_([ProjectStatus.PLANNED.value, ProjectStatus.IN_PROGRESS.value]),
        )
        if after is not None:
            stmt = stmt.where(ProjectRow.id > after)
        stmt = stmt.order_by(ProjectRow.id).limit(limit)
        return [project_of(r) for r in (await self.session.scalars(stmt)).all()]

    async def faces(self, project_ids: Sequence[uuid.UUID]) -> list[WorkFace]:
        stmt = (
            sa.select(WorkFaceRow)
            .where(WorkFaceRow.project_id.in_(list(project_ids)))
            .order_by(WorkFaceRow.project_id, WorkFaceRow.code)
        )
        return [_face(r) for r in (await self.session.scalars(stmt)).all()]

    async def packages(self, project_ids: Sequence[uuid.UUID]) -> list[WorkPackage]:
        stmt = (
            sa.select(WorkPackageRow)
            .where(WorkPackageRow.project_id.in_(list(project_ids)))
            .order_by(WorkPackageRow.project_id, WorkPackageRow.id)
        )
        return [_package(r) for r in (await self.session.scalars(stmt)).all()]

    async def count_packages(self, project_ids: Sequence[uuid.UUID]) -> int:
        stmt = sa.select(sa.func.count()).where(WorkPackageRow.project_id.in_(list(project_ids)))
        return int((await self.session.execute(stmt)).scalar_one())

    async def package(self, package_id: uuid.UUID, *, for_update: bool = False) -> WorkPackage | None:
        stmt = sa.select(WorkPackageRow).where(WorkPackageRow.id == package_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self.session.scalars(stmt)).first()
        return _package(row) if row is not None else None

    async def save_package_progress(self, package: WorkPackage) -> None:
        await self.session.execute(
            sa.update(WorkPackageRow)
            .where(WorkPackageRow.id == package.id)
            .values(
                percent_complete=package.percent_complete,
                last_report_date=package.last_report_date,
                actual_start=package.actual_start,
                actual_finish=package.actual_finish,
            )
        )

    async def links(self, project_ids: Sequence[uuid.UUID]) -> list[PackageLink]:
        stmt = sa.select(PackageLinkRow).where(PackageLinkRow.project_id.in_(list(project_ids)))
        return [PackageLink(r.pred_id, r.succ_id, r.lag_days) for r in (await self.session.scalars(stmt)).all()]

    async def advance(self, project_id: uuid.UUID, from_: ProjectStatus, to: ProjectStatus) -> bool:
        """Move from ``from_`` to ``to``; whether it moved (it was in another status)."""
        stmt = (
            sa.update(ProjectRow)
            .where(ProjectRow.id == project_id, ProjectRow.status == from_.value)
            .values(status=to.value)
            .returning(ProjectRow.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def complete(self, project_id: uuid.UUID) -> bool:
        """Mark completed once; ``True`` only for the call that did it."""
        stmt = (
            sa.update(ProjectRow)
            .where(ProjectRow.id == project_id, ProjectRow.status != ProjectStatus.COMPLETED.value)
            .values(status=ProjectStatus.COMPLETED.value)
            .returning(ProjectRow.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def set_current_plan(
        self, project_id: uuid.UUID, plan_id: uuid.UUID, start: date, finish: date, *, status: ProjectStatus | None
    ) -> None:
        values: dict[str, object] = {"current_plan_id": plan_id, "start_date": start, "finish_date": finish}
        if status is not None:
            values["status"] = status.value
        await self.session.execute(sa.update(ProjectRow).where(ProjectRow.id == project_id).values(**values))
