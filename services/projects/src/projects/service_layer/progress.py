"""Use cases on site: daily progress (每日调度), handovers between trades, inspections by resident supervisors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from projects.adapters.repositories import ProgressRepository, ProjectRepository
from projects.domain.catalog import package_type
from projects.domain.model import (
    Defect,
    Inspection,
    InspectionResult,
    ProgressReport,
    ProjectStatus,
)
from projects.domain.progress import HUNDRED
from projects.service_layer import lifecycle
from projects.service_layer.context import Context
from projects.service_layer.delays import announce_delay
from projects.service_layer.projects import visible_project
from projects.service_layer.views import load_view
from renovation_common.auth import Principal
from renovation_common.contracts.projects import ProgressReported, ProjectCompleted, WorkFaceHandedOver
from renovation_common.db import ReadOnlyUnitOfWork, UnitOfWork
from renovation_common.errors import BadRequest, Conflict, DomainError, NotFound
from renovation_common.events import new_event


@dataclass(frozen=True)
class ReportProgress:
    project_id: uuid.UUID
    package_id: uuid.UUID
    report_date: date
    percent_complete: Decimal
    note: str = ""


async def report_progress(
    uow: UnitOfWork, ctx: Context, principal: Principal, cmd: ReportProgress
) -> tuple[ProgressReport, bool]:
    """One report per package and date: a repeat with the same values answers with the first (created=False).

    A report dated after today (in the service's time zone) is refused: progress is reported, not forecast."""
    today = ctx.today()
    if cmd.report_date > today:
        raise DomainError(
            f"a progress report is dated at the latest today ({today}), not {cmd.report_date}",
            code="report_date_in_future",
            status=422,
        )
    async with uow:
        project = await visible_project(uow, principal, cmd.project_id)
        projects = ProjectRepository(uow.session)
        reports = ProgressRepository(uow.session)
        pkg = await projects.package(cmd.package_id, for_update=True)
        if pkg is None or pkg.project_id != cmd.project_id:
            raise NotFound("work package not found in this project", code="package_not_found")
        before = await reports.latest_before(pkg.id, cmd.report_date)
        after = await reports.earliest_after(pkg.id, cmd.report_date)
        added = await reports.add_report(
            project_id=cmd.project_id,
            package_id=cmd.package_id,
            report_date=cmd.report_date,
            percent_complete=cmd.percent_complete,
            note=cmd.note,
            reported_by=principal.sub,
            created_at=ctx.now(),
        )
        if added is None:
            existing = await reports.report(pkg.id, cmd.report_date)
            assert existing is not None
            if existing.percent_complete != cmd.percent_complete or existing.note != cmd.note:
                raise Conflict(
                    "progress for this package and date was already reported with other values",
                    code="progress_already_reported",
                )
            return existing, False
        if (before is not None and cmd.percent_complete < before) or (
            after is not None and cmd.percent_complete > after
        ):
            raise BadRequest("progress cannot go backwards in time", code="progress_regressed")
        if pkg.last_report_date is None or cmd.report_date >= pkg.last_report_date:
            pkg = replace(pkg, percent_complete=cmd.percent_complete, last_report_date=cmd.report_date)
        if cmd.percent_complete > 0 and (pkg.actual_start is None or cmd.report_date < pkg.actual_start):
            pkg = replace(pkg, actual_start=cmd.report_date)
        if cmd.percent_complete >= HUNDRED and (pkg.actual_finish is None or cmd.report_date < pkg.actual_finish):
            pkg = replace(pkg, actual_finish=cmd.report_date)
        await projects.save_package_progress(pkg)
        await projects.advance(project.id, ProjectStatus.PLANNED, ProjectStatus.IN_PROGRESS)
        uow.publish(
            new_event(
                ProgressReported(
                    project_id=str(project.id),
                    community_id=project.community_id,
                    district_id=project.district_id,
                    package_id=str(pkg.id),
                    report_date=cmd.report_date,
                    percent_complete=cmd.percent_complete,
                ),
                source=ctx.source,
                subject=str(project.id),
            )
        )
        view = await load_view(uow, project)
        if view.calendar is not None:
            await announce_delay(uow, ctx, view, cmd.report_date)
        if all(p.percent_complete >= HUNDRED for p in view.packages) and await projects.complete(project.id):
            uow.publish(
                new_event(
                    ProjectCompleted(
                        project_id=str(project.id),
                        community_id=project.community_id,
                        district_id=project.district_id,
                        completed_on=cmd.report_date,
                    ),
                    source=ctx.source,
                    subject=str(project.id),
                )
            )
        await lifecycle.refresh(uow, ctx, project.community_id)
        await uow.commit()
    return added, True


@dataclass(frozen=True)
class RecordHandover:
    project_id: uuid.UUID
    work_face_id: uuid.UUID
    from_trade: str
    to_trade: str
    handed_over_at: datetime
    note: str = ""


@dataclass(frozen=True)
class HandoverRecorded:
    id: uuid.UUID
    work_face_id: uuid.UUID
    from_trade: str
    to_trade: str
    handed_over_at: datetime
    created_at: datetime


async def record_handover(uow: UnitOfWork, ctx: Context, principal: Principal, cmd: RecordHandover) -> HandoverRecorded:
    async with uow:
        project = await visible_project(uow, principal, cmd.project_id)
        view = await load_view(uow, project)
        face = next((f for f in view.faces if f.id == cmd.work_face_id), None)
        if face is None:
            raise NotFound("work face not found in this project", code="work_face_not_found")
        trades = {package_type(p.type_code).trade for p in view.packages if p.work_face_id == face.id}
        if cmd.from_trade not in trades or cmd.to_trade not in trades or cmd.from_trade == cmd.to_trade:
            raise BadRequest("both trades must work on this face and differ", code="unknown_trade_on_face")
        handover_id = uuid.uuid4()
        if not await ProgressRepository(uow.session).add_handover(
            handover_id=handover_id,
            project_id=cmd.project_id,
            work_face_id=face.id,
            from_trade=cmd.from_trade,
            to_trade=cmd.to_trade,
            handed_over_at=cmd.handed_over_at,
            note=cmd.note,
            recorded_by=principal.sub,
        ):
            raise Conflict("this handover was already recorded", code="handover_already_recorded")
        uow.publish(
            new_event(
                WorkFaceHandedOver(
                    project_id=str(project.id),
                    community_id=project.community_id,
                    district_id=project.district_id,
                    work_face_id=str(face.id),
                    from_trade=cmd.from_trade,
                    to_trade=cmd.to_trade,
                    handed_over_at=cmd.handed_over_at,
                ),
                source=ctx.source,
                subject=str(project.id),
            )
        )
        await uow.commit()
    return HandoverRecorded(handover_id, face.id, cmd.from_trade, cmd.to_trade, cmd.handed_over_at, ctx.now())


@dataclass(frozen=True)
class FileInspection:
    project_id: uuid.UUID
    package_id: uuid.UUID | None
    work_face_id: uuid.UUID | None
    result: InspectionResult
    defects: list[Defect]
    note: str
    inspected_on: date


async def file_inspection(uow: UnitOfWork, ctx: Context, principal: Principal, cmd: FileInspection) -> Inspection:
    async with uow:
        project = await visible_project(uow, principal, cmd.project_id)
        view = await load_view(uow, project)
        if cmd.package_id is not None and all(p.id != cmd.package_id for p in view.packages):
            raise NotFound("work package not found in this project", code="package_not_found")
        if cmd.work_face_id is not None and all(f.id != cmd.work_face_id for f in view.faces):
            raise NotFound("work face not found in this project", code="work_face_not_found")
        if cmd.result is InspectionResult.FAILED and not cmd.defects:
            raise BadRequest("a failed inspection lists its defects", code="defects_required")
        inspection = Inspection(
            id=uuid.uuid4(),
            project_id=cmd.project_id,
            package_id=cmd.package_id,
            work_face_id=cmd.work_face_id,
            result=cmd.result,
            defects=list(cmd.defects),
            note=cmd.note,
            inspected_on=cmd.inspected_on,
            supervisor=principal.sub,
            created_at=ctx.now(),
        )
        await ProgressRepository(uow.session).add_inspection(inspection)
        await lifecycle.refresh(uow, ctx, project.community_id)
        await uow.commit()
    return inspection


async def list_inspections(
    read: ReadOnlyUnitOfWork,
    principal: Principal,
    project_id: uuid.UUID,
    *,
    after: tuple[date, uuid.UUID] | None,
    limit: int,
) -> list[Inspection]:
    async with read:
        await visible_project(read, principal, project_id)
        return await ProgressRepository(read.session).inspections(project_id, after=after, limit=limit)
