"""Use cases: progress reports, handovers, inspections, and the views built on the current plan."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from projects.adapters import repository as repo
from projects.adapters.orm import InspectionRow, ProjectRow, WorkFaceRow, WorkPackageRow
from projects.domain.calendar import WorkingCalendar
from projects.domain.catalog import package_type
from projects.domain.progress import HUNDRED, PlannedPackage, daily_report, planned_percent, status_of
from projects.service_layer.planning import calendar_of
from renovation_common.contracts.projects import (
    ProgressReported,
    ProjectCompleted,
    ProjectDelayed,
    WorkFaceHandedOver,
)
from renovation_common.db import UnitOfWork
from renovation_common.errors import BadRequest, Conflict, InvalidState, NotFound
from renovation_common.events import new_event


@dataclass
class ProjectView:
    project: ProjectRow
    faces: list[WorkFaceRow]
    packages: list[WorkPackageRow]
    planned: list[PlannedPackage]
    calendar: WorkingCalendar | None
    dates: list[date]


async def load_view(uow: UnitOfWork, project_id: uuid.UUID) -> ProjectView:
    """Inside an open unit of work: the project, its faces and packages, and the schedule of its current plan."""
    project = await repo.project(uow.session, project_id)
    if project is None:
        raise NotFound("project not found", code="project_not_found")
    faces = await repo.faces(uow.session, [project_id])
    packages = await repo.packages(uow.session, [project_id])
    planned: list[PlannedPackage] = []
    calendar = None
    dates: list[date] = []
    if project.current_plan_id is not None:
        plan = await repo.plan(uow.session, project.current_plan_id)
        assert plan is not None
        calendar = calendar_of(plan.request)
        entries = await repo.schedule(uow.session, plan.id, project_id)
        face_by_id = {f.id: f for f in faces}
        pkg_by_id = {p.id: p for p in packages}
        horizon = max([e.end_idx for e in entries] + [1])
        dates = calendar.dates(horizon + 1)
        for e in entries:
            pkg = pkg_by_id[e.package_id]
            face = face_by_id[pkg.work_face_id]
            pt = package_type(pkg.type_code)
            planned.append(
                PlannedPackage(
                    str(pkg.id),
                    pkg.type_code,
                    pt.name_zh,
                    str(face.id),
                    face.name,
                    pt.trade,
                    e.start_idx,
                    e.end_idx,
                    e.start_date,
                    e.finish_date,
                )
            )
    return ProjectView(project, faces, packages, planned, calendar, dates)


def require_plan(view: ProjectView) -> WorkingCalendar:
    if view.calendar is None:
        raise InvalidState("the project has no plan yet", code="no_current_plan")
    return view.calendar


@dataclass(frozen=True)
class ReportProgress:
    project_id: uuid.UUID
    package_id: uuid.UUID
    report_date: date
    percent_complete: Decimal
    note: str
    reported_by: str


async def report_progress(uow: UnitOfWork, cmd: ReportProgress, *, source: str) -> tuple[dict[str, Any], bool]:
    """One report per package and date: a repeat with the same values is answered with the first (created=False)."""
    async with uow:
        pkg = await repo.package(uow.session, cmd.package_id, for_update=True)
        if pkg is None or pkg.project_id != cmd.project_id:
            raise NotFound("work package not found in this project", code="package_not_found")
        project = await repo.project(uow.session, cmd.project_id)
        assert project is not None
        before = await repo.latest_before(uow.session, pkg.id, cmd.report_date)
        after = await repo.earliest_after(uow.session, pkg.id, cmd.report_date)
        new_id = await repo.insert_progress(
            uow.session,
            project_id=cmd.project_id,
            package_id=cmd.package_id,
            report_date=cmd.report_date,
            percent_complete=cmd.percent_complete,
            note=cmd.note,
            reported_by=cmd.reported_by[:200],
        )
        if new_id is None:
            existing = await repo.progress_report(uow.session, pkg.id, cmd.report_date)
            assert existing is not None
            if existing.percent_complete != cmd.percent_complete or existing.note != cmd.note:
                raise Conflict(
                    "progress for this package and date was already reported with other values",
                    code="progress_already_reported",
                )
            return _report_dict(existing.id, cmd, existing.percent_complete), False
        if (before is not None and cmd.percent_complete < before) or (
            after is not None and cmd.percent_complete > after
        ):
            raise BadRequest("progress cannot go backwards in time", code="progress_regressed")
        if pkg.last_report_date is None or cmd.report_date >= pkg.last_report_date:
            pkg.percent_complete = cmd.percent_complete
            pkg.last_report_date = cmd.report_date
        if cmd.percent_complete > 0 and (pkg.actual_start is None or cmd.report_date < pkg.actual_start):
            pkg.actual_start = cmd.report_date
        if cmd.percent_complete >= HUNDRED and (pkg.actual_finish is None or cmd.report_date < pkg.actual_finish):
            pkg.actual_finish = cmd.report_date
        if project.status == "planned":
            project.status = "in_progress"
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
                source=source,
                subject=str(project.id),
            )
        )
        await uow.session.flush()
        view = await load_view(uow, cmd.project_id)
        if view.calendar is not None:
            await _maybe_delayed(uow, view, cmd.report_date, source=source)
        if all(p.percent_complete >= HUNDRED for p in view.packages) and await repo.complete_project(
            uow.session, project.id
        ):
            uow.publish(
                new_event(
                    ProjectCompleted(
                        project_id=str(project.id),
                        community_id=project.community_id,
                        district_id=project.district_id,
                        completed_on=cmd.report_date,
                    ),
                    source=source,
                    subject=str(project.id),
                )
            )
        await uow.commit()
        return _report_dict(new_id, cmd, cmd.percent_complete), True


def _report_dict(report_id: int, cmd: ReportProgress, percent: Decimal) -> dict[str, Any]:
    return {
        "id": report_id,
        "package_id": cmd.package_id,
        "report_date": cmd.report_date,
        "percent_complete": percent,
        "note": cmd.note,
    }


async def _maybe_delayed(uow: UnitOfWork, view: ProjectView, day: date, *, source: str) -> None:
    """Once per project and day: ``projects.project.delayed.v1`` when packages fall behind the plan."""
    calendar = require_plan(view)
    actual = {p.package_id: _pct(view, p.package_id) for p in view.planned}
    report = daily_report(view.planned, actual, set(), calendar, view.dates, day)
    if not report.late:
        return
    if await repo.insert_delay_notice(uow.session, view.project.id, day):
        uow.publish(
            new_event(
                ProjectDelayed(
                    project_id=str(view.project.id),
                    community_id=view.project.community_id,
                    district_id=view.project.district_id,
                    as_of=day,
                    late_packages=len(report.late),
                    delay_days=report.delay_days,
                ),
                source=source,
                subject=str(view.project.id),
            )
        )


def _pct(view: ProjectView, package_id: str) -> Decimal:
    return next((p.percent_complete for p in view.packages if str(p.id) == package_id), Decimal(0))


@dataclass(frozen=True)
class RecordHandover:
    project_id: uuid.UUID
    work_face_id: uuid.UUID
    from_trade: str
    to_trade: str
    handed_over_at: datetime
    note: str
    recorded_by: str


async def record_handover(uow: UnitOfWork, cmd: RecordHandover, *, source: str) -> uuid.UUID:
    async with uow:
        view = await load_view(uow, cmd.project_id)
        face = next((f for f in view.faces if f.id == cmd.work_face_id), None)
        if face is None:
            raise NotFound("work face not found in this project", code="work_face_not_found")
        trades = {package_type(p.type_code).trade for p in view.packages if p.work_face_id == face.id}
        if cmd.from_trade not in trades or cmd.to_trade not in trades or cmd.from_trade == cmd.to_trade:
            raise BadRequest("both trades must work on this face and differ", code="unknown_trade_on_face")
        handover_id = uuid.uuid4()
        inserted = await repo.insert_handover(
            uow.session,
            id=handover_id,
            project_id=cmd.project_id,
            work_face_id=face.id,
            from_trade=cmd.from_trade,
            to_trade=cmd.to_trade,
            handed_over_at=cmd.handed_over_at,
            note=cmd.note,
            recorded_by=cmd.recorded_by[:200],
        )
        if inserted is None:
            raise Conflict("this handover was already recorded", code="handover_already_recorded")
        uow.publish(
            new_event(
                WorkFaceHandedOver(
                    project_id=str(view.project.id),
                    community_id=view.project.community_id,
                    district_id=view.project.district_id,
                    work_face_id=str(face.id),
                    from_trade=cmd.from_trade,
                    to_trade=cmd.to_trade,
                    handed_over_at=cmd.handed_over_at,
                ),
                source=source,
                subject=str(view.project.id),
            )
        )
        await uow.commit()
        return handover_id


@dataclass(frozen=True)
class FileInspection:
    project_id: uuid.UUID
    package_id: uuid.UUID | None
    work_face_id: uuid.UUID | None
    result: str
    defects: list[dict[str, Any]]
    note: str
    inspected_on: date
    supervisor: str


async def file_inspection(uow: UnitOfWork, cmd: FileInspection) -> InspectionRow:
    async with uow:
        view = await load_view(uow, cmd.project_id)
        if cmd.package_id is not None and all(p.id != cmd.package_id for p in view.packages):
            raise NotFound("work package not found in this project", code="package_not_found")
        if cmd.work_face_id is not None and all(f.id != cmd.work_face_id for f in view.faces):
            raise NotFound("work face not found in this project", code="work_face_not_found")
        if cmd.result == "failed" and not cmd.defects:
            raise BadRequest("a failed inspection lists its defects", code="defects_required")
        row = InspectionRow(
            id=uuid.uuid4(),
            project_id=cmd.project_id,
            package_id=cmd.package_id,
            work_face_id=cmd.work_face_id,
            result=cmd.result,
            defects=cmd.defects,
            note=cmd.note,
            inspected_on=cmd.inspected_on,
            supervisor=cmd.supervisor[:200],
        )
        uow.session.add(row)
        await uow.commit()
        return row


async def actual_as_of(uow: UnitOfWork, view: ProjectView, day: date) -> dict[str, Decimal]:
    return {str(k): v for k, v in (await repo.percent_as_of(uow.session, view.project.id, day)).items()}


async def recorded_handovers(uow: UnitOfWork, view: ProjectView) -> dict[tuple[str, str, str], datetime]:
    return {
        (str(h.work_face_id), h.from_trade, h.to_trade): h.handed_over_at
        for h in await repo.handovers(uow.session, view.project.id)
    }


__all__ = ["daily_report", "planned_percent", "status_of"]
