"""Read use cases on a project's current plan: the schedule, the handover chart and the daily progress table
(一图一表), and the daily dispatch report (每日调度)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from projects.adapters.exports import progress_table_xlsx
from projects.adapters.repositories import PlanRepository, ProgressRepository, ProjectRepository
from projects.domain.calendar import WorkingCalendar
from projects.domain.catalog import TRADE_NAMES_ZH, package_type
from projects.domain.chart import FaceRow, build_chart, render_svg
from projects.domain.model import Plan, Project, WorkFace, WorkPackage
from projects.domain.progress import (
    DailyReport,
    PlannedPackage,
    ProgressRow,
    daily_report,
    overall,
    planned_handovers,
    progress_table,
)
from projects.service_layer.context import Context
from projects.service_layer.planning import calendar_of
from projects.service_layer.projects import visible_project
from renovation_common.auth import Principal
from renovation_common.db import ReadOnlyUnitOfWork, UnitOfWork
from renovation_common.errors import DomainError, InvalidState


@dataclass
class ProjectView:
    project: Project
    faces: list[WorkFace]
    packages: list[WorkPackage]
    plan: Plan | None
    planned: list[PlannedPackage]
    calendar: WorkingCalendar | None
    dates: list[date]

    def require_plan(self) -> WorkingCalendar:
        if self.calendar is None:
            raise InvalidState("the project has no plan yet", code="no_current_plan")
        return self.calendar


async def load_view(uow: UnitOfWork | ReadOnlyUnitOfWork, project: Project) -> ProjectView:
    """Inside an open unit of work: the project's faces and packages and the schedule of its current plan."""
    repo = ProjectRepository(uow.session)
    faces = await repo.faces([project.id])
    packages = await repo.packages([project.id])
    planned: list[PlannedPackage] = []
    calendar = None
    dates: list[date] = []
    plan = None
    if project.current_plan_id is not None:
        plans = PlanRepository(uow.session)
        plan = await plans.get(project.current_plan_id)
        assert plan is not None
        calendar = calendar_of(plan.request)
        entries = await plans.schedule(plan.id, project.id)
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
    return ProjectView(project, faces, packages, plan, planned, calendar, dates)


async def _view(read: ReadOnlyUnitOfWork, principal: Principal, project_id: uuid.UUID) -> ProjectView:
    project = await visible_project(read, principal, project_id)
    return await load_view(read, project)


@dataclass(frozen=True)
class Schedule:
    project_id: uuid.UUID
    plan: Plan | None
    packages: list[PlannedPackage]


async def get_schedule(read: ReadOnlyUnitOfWork, principal: Principal, project_id: uuid.UUID) -> Schedule:
    async with read:
        view = await _view(read, principal, project_id)
    return Schedule(project_id, view.plan, sorted(view.planned, key=lambda p: (p.start, p.face_name, p.code)))


@dataclass(frozen=True)
class HandoverChart:
    project_id: uuid.UUID
    title: str
    rows: list[FaceRow]
    dates: list[date]
    recorded: dict[tuple[str, str, str], datetime]

    def svg(self) -> str:
        return render_svg(self.title, self.rows, self.dates, self.recorded, TRADE_NAMES_ZH)


async def recorded_handovers(
    uow: UnitOfWork | ReadOnlyUnitOfWork, project_id: uuid.UUID
) -> dict[tuple[str, str, str], datetime]:
    return {
        (str(h.work_face_id), h.from_trade, h.to_trade): h.handed_over_at
        for h in await ProgressRepository(uow.session).handovers(project_id)
    }


async def handover_chart(read: ReadOnlyUnitOfWork, principal: Principal, project_id: uuid.UUID) -> HandoverChart:
    async with read:
        view = await _view(read, principal, project_id)
        view.require_plan()
        recorded = await recorded_handovers(read, project_id)
    rows = build_chart(view.planned, planned_handovers(view.planned, view.dates))
    return HandoverChart(project_id, f"{view.project.name} 交叉施工作业面移交时序图", rows, view.dates, recorded)


def _calendar_error(day: date, exc: ValueError) -> DomainError:
    """A date the working calendar cannot reach (decades after the plan's start) is the caller's error."""
    return DomainError(f"{day}: {exc}", code="date_out_of_range", status=422)


@dataclass(frozen=True)
class ProgressTable:
    project_id: uuid.UUID
    title: str
    day: date
    planned_percent: Decimal
    actual_percent: Decimal
    rows: list[ProgressRow]
    read_at: datetime  # in the service's time zone

    def xlsx(self) -> bytes:
        return progress_table_xlsx(
            self.title,
            self.day,
            self.rows,
            (self.planned_percent, self.actual_percent),
            exported_at=self.read_at,
            trade_names=TRADE_NAMES_ZH,
        )


async def actual_as_of(uow: UnitOfWork | ReadOnlyUnitOfWork, project_id: uuid.UUID, day: date) -> dict[str, Decimal]:
    return {str(k): v for k, v in (await ProgressRepository(uow.session).percent_as_of(project_id, day)).items()}


async def get_progress_table(
    read: ReadOnlyUnitOfWork, ctx: Context, principal: Principal, project_id: uuid.UUID, day: date
) -> ProgressTable:
    """工程日进度一栏表: planned against reported progress on ``day`` (reports dated up to that day)."""
    async with read:
        view = await _view(read, principal, project_id)
        calendar = view.require_plan()
        actual = await actual_as_of(read, project_id, day)
    try:
        rows = progress_table(view.planned, actual, calendar, day)
    except ValueError as exc:
        raise _calendar_error(day, exc) from None
    planned_total, actual_total = overall(view.planned, rows)
    read_at = ctx.now().astimezone(ctx.timezone)
    title = f"{view.project.name} 工程日进度一栏表"
    return ProgressTable(project_id, title, day, planned_total, actual_total, rows, read_at)


async def get_daily_report(
    read: ReadOnlyUnitOfWork, principal: Principal, project_id: uuid.UUID, day: date
) -> DailyReport:
    async with read:
        view = await _view(read, principal, project_id)
        calendar = view.require_plan()
        actual = await actual_as_of(read, project_id, day)
        recorded = await recorded_handovers(read, project_id)
    try:
        return daily_report(view.planned, actual, set(recorded), calendar, view.dates, day)
    except ValueError as exc:
        raise _calendar_error(day, exc) from None
