"""HTTP routes: thin — validate, authorise (role and scope), call one use case, return a schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from projects.adapters import repository as repo
from projects.adapters.exports import progress_table_xlsx
from projects.adapters.orm import ProjectRow
from projects.domain.catalog import (
    MENU_TO_PACKAGES,
    PACKAGE_TYPES,
    TRADES,
    FaceKind,
    UnknownPackage,
    package_type,
    packages_for_menu,
)
from projects.domain.chart import build_chart, render_svg
from projects.domain.planning import FaceSpec
from projects.domain.progress import daily_report, overall, planned_handovers, progress_table
from projects.domain.scheduling import Link, Problem, SchedulingError, SolveParams, Task, check, critical_path_length
from projects.entrypoints.api import schemas as s
from projects.service_layer import planning, progress
from projects.service_layer.projects import CreateProject, create_project
from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import Principal, Role, Scope, require_roles
from renovation_common.errors import BadRequest, DomainError, Forbidden, NotFound
from renovation_common.exports import XLSX_MEDIA_TYPE
from renovation_common.pagination import Page, PageParams, encode_cursor, page_params

PLANNERS = (Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
READERS = (
    Role.STREET_OFFICER,
    Role.DISTRICT_ADMIN,
    Role.COMMUNITY_WORKER,
    Role.CONTRACTOR,
    Role.QUALITY_SUPERVISOR,
    Role.GOV_SYSTEM,
    Role.OPERATOR,
    Role.RESIDENT,
)
ANY = tuple(Role)

router = APIRouter()
Rt = Annotated[Runtime, Depends(get_runtime)]


def _scope(p: ProjectRow) -> Scope:
    return Scope(district_id=p.district_id, street_id=p.street_id, community_id=p.community_id)


def _ensure_sees(principal: Principal, project: ProjectRow) -> None:
    if principal.role is Role.RESIDENT:  # residents follow the progress of their own community
        if principal.community_id is None or principal.community_id != project.community_id:
            raise Forbidden("this project is outside your scope", code="out_of_scope")
        return
    principal.ensure_covers(_scope(project), "project")


async def _project_for(runtime: Runtime, project_id: uuid.UUID, principal: Principal) -> ProjectRow:
    async with runtime.uow() as uow:
        project = await repo.project(uow.session, project_id)
    if project is None:
        raise NotFound("project not found", code="project_not_found")
    _ensure_sees(principal, project)
    return project


# catalog -----------------------------------------------------------------------------------------------------------


@router.get(
    "/v1/catalog/work-packages", operation_id="listWorkPackageTypes", tags=["catalog"], response_model=s.CatalogRead
)
async def catalog(_: Annotated[Principal, Depends(require_roles(*ANY))]) -> s.CatalogRead:
    items_for: dict[str, list[str]] = {}
    for item, codes in MENU_TO_PACKAGES.items():
        for c in codes:
            items_for.setdefault(c, []).append(item)
    return s.CatalogRead(
        packages=[
            s.PackageTypeRead(
                code=t.code,
                name_zh=t.name_zh,
                name_en=t.name_en,
                category=t.category.value,
                layer=t.layer.value,
                kind=t.kind.value,
                trade=t.trade,
                excavates=t.excavates,
                base_days=t.base_days,
                days_per_size=t.days_per_size,
                face_kinds=[k.value for k in t.face_kinds],
                menu_items=sorted(items_for.get(t.code, [])),
            )
            for t in PACKAGE_TYPES.values()
        ],
        menu_to_packages={k: list(v) for k, v in MENU_TO_PACKAGES.items()},
        trades=list(TRADES),
    )


# projects ----------------------------------------------------------------------------------------------------------


async def _project_read(runtime: Runtime, project_id: uuid.UUID) -> s.ProjectRead:
    async with runtime.uow() as uow:
        view = await progress.load_view(uow, project_id)
        community = await repo.community(uow.session, view.project.community_id)
    p = view.project
    return s.ProjectRead(
        id=p.id,
        community_id=p.community_id,
        district_id=p.district_id,
        street_id=p.street_id,
        name=p.name,
        status=p.status,
        source_consultation_id=p.source_consultation_id,
        current_plan_id=p.current_plan_id,
        start_date=p.start_date,
        finish_date=p.finish_date,
        priority_rank=community.priority_rank if community else None,
        faces=[s.FaceRead(id=f.id, code=f.code, name=f.name, kind=f.kind, size=f.size) for f in view.faces],
        packages=[_package_read(k) for k in view.packages],
    )


def _package_read(k: Any) -> s.PackageRead:
    t = package_type(k.type_code)
    return s.PackageRead(
        id=k.id,
        work_face_id=k.work_face_id,
        type_code=k.type_code,
        name_zh=t.name_zh,
        trade=t.trade,
        layer=t.layer.value,
        kind=t.kind.value,
        excavates=t.excavates,
        duration_days=k.duration_days,
        percent_complete=k.percent_complete,
        actual_start=k.actual_start,
        actual_finish=k.actual_finish,
    )


@router.post(
    "/v1/projects", operation_id="createProject", tags=["projects"], status_code=201, response_model=s.ProjectRead
)
async def create(
    body: s.ProjectCreate, runtime: Rt, principal: Annotated[Principal, Depends(require_roles(*PLANNERS))]
) -> s.ProjectRead:
    principal.ensure_covers(
        Scope(district_id=body.district_id, street_id=body.street_id, community_id=body.community_id), "community"
    )
    try:
        codes = list(dict.fromkeys([*packages_for_menu(body.menu_items), *body.package_codes]))
    except UnknownPackage as exc:
        raise BadRequest(str(exc), code="unknown_work_package") from None
    faces = [FaceSpec(f.code, f.name, FaceKind(f.kind), f.size) for f in body.faces] if body.faces else None
    async with runtime.uow() as uow:
        community = await repo.community(uow.session, body.community_id)
        if community is not None and community.district_id != body.district_id:
            raise BadRequest("the community belongs to another district", code="community_scope_mismatch")
        project_id, _ = await create_project(
            uow,
            CreateProject(
                community_id=body.community_id,
                district_id=body.district_id,
                street_id=body.street_id or (community.street_id if community else None),
                name=body.name,
                package_codes=codes,
                faces=faces,
                buildings=body.buildings,
                created_by=principal.sub,
            ),
            source=runtime.settings.event_source,
        )
        await uow.commit()
    return await _project_read(runtime, project_id)


@router.get("/v1/projects", operation_id="listProjects", tags=["projects"], response_model=Page[s.ProjectSummary])
async def list_projects(
    runtime: Rt,
    principal: Annotated[Principal, Depends(require_roles(*READERS))],
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> Page[s.ProjectSummary]:
    filters: list[Any] = []
    if principal.role is Role.RESIDENT:
        filters.append(ProjectRow.community_id == (principal.community_id or "-"))
    else:
        if not (principal.district_id or principal.street_id or principal.community_id):
            raise Forbidden("your token has no scope", code="out_of_scope")
        for attr in ("district_id", "street_id", "community_id"):
            value = getattr(principal, attr)
            if value is not None:
                filters.append(getattr(ProjectRow, attr) == value)
    if status:
        filters.append(ProjectRow.status == status)
    after = page.after
    async with runtime.uow() as uow:
        rows = await repo.list_projects(
            uow.session, filters=filters, after=str(after) if after else None, limit=page.limit
        )
    items = [
        s.ProjectSummary(
            id=r.id,
            community_id=r.community_id,
            district_id=r.district_id,
            street_id=r.street_id,
            name=r.name,
            status=r.status,
            start_date=r.start_date,
            finish_date=r.finish_date,
        )
        for r in rows[: page.limit]
    ]
    nxt = encode_cursor(str(items[-1].id)) if len(rows) > page.limit and items else None
    return Page[s.ProjectSummary](items=items, next_cursor=nxt)


@router.get("/v1/projects/{project_id}", operation_id="getProject", tags=["projects"], response_model=s.ProjectRead)
async def get_project(
    project_id: uuid.UUID, runtime: Rt, principal: Annotated[Principal, Depends(require_roles(*READERS))]
) -> s.ProjectRead:
    await _project_for(runtime, project_id, principal)
    return await _project_read(runtime, project_id)


# plans -------------------------------------------------------------------------------------------------------------


def _plan_read(plan: Any, ids: list[uuid.UUID]) -> s.PlanRead:
    return s.PlanRead(
        id=plan.id,
        kind=plan.kind,
        status=plan.status,
        project_ids=ids,
        solver_status=plan.solver_status,
        result=plan.result,
        error_code=plan.error_code,
        error=plan.error,
        created_at=plan.created_at,
        finished_at=plan.finished_at,
    )


async def _submit_and_maybe_run(runtime: Rt, cmd: planning.SubmitPlan, packages: int) -> JSONResponse:
    settings: Any = runtime.settings
    run_now = packages <= settings.plan_sync_max_packages
    plan_id = await planning.submit_plan(runtime.uow(), cmd, run_now=run_now)
    if run_now:
        await planning.run_plan(
            runtime.uow, plan_id, source=settings.event_source, max_concurrent=settings.max_concurrent_solves
        )
    plan, ids, _ = await planning.get_plan(runtime.uow(), plan_id)
    body = _plan_read(plan, ids).model_dump(mode="json")
    if plan.status in ("queued", "running"):
        return JSONResponse(body, status_code=202, headers={"Location": f"/v1/plans/{plan_id}"})
    return JSONResponse(body, status_code=201, headers={"Location": f"/v1/plans/{plan_id}"})


@router.post(
    "/v1/plans",
    operation_id="createPlan",
    tags=["plans"],
    status_code=201,
    response_model=s.PlanRead,
    responses={202: {"model": s.PlanRead, "description": "Large plan accepted as a job; poll the Location"}},
)
async def create_plan(
    body: s.PlanCreate, runtime: Rt, principal: Annotated[Principal, Depends(require_roles(*PLANNERS))]
) -> JSONResponse:
    settings: Any = runtime.settings
    if body.time_limit_s > settings.max_time_limit_s:
        raise BadRequest(f"time_limit_s is at most {settings.max_time_limit_s}", code="time_limit_too_long")
    async with runtime.uow() as uow:
        rows = await repo.projects(uow.session, body.project_ids)
    if len(rows) != len(body.project_ids):
        raise NotFound("some projects were not found", code="project_not_found")
    for p in rows:
        principal.ensure_covers(_scope(p), "project")
        if p.status == "completed":
            raise BadRequest("a completed project cannot be planned again", code="project_completed")
    request = body.model_dump(mode="json", exclude={"project_ids"})
    cmd = planning.SubmitPlan(
        kind="project" if len(rows) == 1 else "batch",
        project_ids=body.project_ids,
        request=request,
        district_id=rows[0].district_id,
        created_by=principal.sub,
    )
    packages = await planning.count_packages(runtime.uow(), body.project_ids)
    return await _submit_and_maybe_run(runtime, cmd, packages)


@router.get("/v1/plans/{plan_id}", operation_id="getPlan", tags=["plans"], response_model=s.PlanRead)
async def get_plan(
    plan_id: uuid.UUID, runtime: Rt, principal: Annotated[Principal, Depends(require_roles(*READERS))]
) -> s.PlanRead:
    plan, ids, rows = await planning.get_plan(runtime.uow(), plan_id)
    for p in rows:
        _ensure_sees(principal, p)
    return _plan_read(plan, ids)


@router.post(
    "/v1/projects/{project_id}/replan",
    operation_id="replanProject",
    tags=["plans"],
    status_code=201,
    response_model=s.PlanRead,
    responses={202: {"model": s.PlanRead, "description": "Accepted as a job; poll the Location"}},
)
async def replan(
    project_id: uuid.UUID,
    body: s.ReplanCreate,
    runtime: Rt,
    principal: Annotated[Principal, Depends(require_roles(*PLANNERS))],
) -> JSONResponse:
    settings: Any = runtime.settings
    if body.time_limit_s > settings.max_time_limit_s:
        raise BadRequest(f"time_limit_s is at most {settings.max_time_limit_s}", code="time_limit_too_long")
    project = await _project_for(runtime, project_id, principal)
    _, base_request = await planning.replan_request(runtime.uow(), project_id)
    if body.data_date < date.fromisoformat(base_request["start_date"]):
        raise BadRequest("the data date is before the plan's start", code="data_date_before_start")
    request = dict(base_request)
    request.update(
        data_date=body.data_date.isoformat(),
        base_plan_id=str(project.current_plan_id),
        time_limit_s=body.time_limit_s,
        seed=body.seed,
    )
    if body.crews is not None:
        request["crews"] = body.crews
    cmd = planning.SubmitPlan(
        kind="replan",
        project_ids=[project_id],
        request=request,
        district_id=project.district_id,
        created_by=principal.sub,
    )
    packages = await planning.count_packages(runtime.uow(), [project_id])
    return await _submit_and_maybe_run(runtime, cmd, packages)


@router.post("/v1/solve", operation_id="solveTaskNetwork", tags=["plans"], response_model=s.SolveResponse)
async def solve_network(
    body: s.SolveRequest,
    runtime: Rt,
    _: Annotated[Principal, Depends(require_roles(*PLANNERS, Role.CONTRACTOR, Role.OPERATOR, Role.GOV_SYSTEM))],
) -> s.SolveResponse:
    """Stateless RCPSP: tasks, durations, per-resource demands, predecessors (with lag), capacities."""
    links = []
    for t in body.tasks:
        for p in t.predecessors:
            pid, lag = (p, 0) if isinstance(p, str) else (p.id, p.lag)
            links.append(Link(pid, t.id, lag))
    problem = Problem(
        tasks=[Task(t.id, t.duration, dict(t.demands)) for t in body.tasks],
        links=links,
        capacities=dict(body.capacities),
    )
    settings: Any = runtime.settings
    try:
        lower = critical_path_length(problem)
        result = await planning.solve_off_loop(
            problem,
            SolveParams(time_limit_s=body.time_limit_s, seed=body.seed, workers=body.workers),
            max_concurrent=settings.max_concurrent_solves,
        )
    except SchedulingError as exc:
        raise DomainError(str(exc), code=exc.code, status=422) from None
    violations = check(problem, result.starts)
    if violations:
        raise DomainError(violations[0].detail, code="plan_failed_check", status=500)
    return s.SolveResponse(
        status=result.status,
        makespan=result.makespan,
        bound=result.bound,
        gap=result.gap,
        precedence_lower_bound=lower,
        wall_time_s=result.wall_time_s,
        schedule=[s.TaskTime(id=t.id, start=result.starts[t.id], end=result.ends[t.id]) for t in body.tasks],
    )


# views ------------------------------------------------------------------------------------------------------------


def _scheduled(p: Any) -> s.ScheduledPackage:
    return s.ScheduledPackage(
        package_id=p.package_id,
        code=p.code,
        name_zh=p.name_zh,
        work_face_id=p.face_id,
        face_name=p.face_name,
        trade=p.trade,
        start_idx=p.start,
        end_idx=p.end,
        start_date=p.start_date,
        finish_date=p.finish_date,
    )


@router.get(
    "/v1/projects/{project_id}/schedule", operation_id="getSchedule", tags=["views"], response_model=s.ScheduleRead
)
async def schedule(
    project_id: uuid.UUID, runtime: Rt, principal: Annotated[Principal, Depends(require_roles(*READERS))]
) -> s.ScheduleRead:
    await _project_for(runtime, project_id, principal)
    async with runtime.uow() as uow:
        view = await progress.load_view(uow, project_id)
        plan = await repo.plan(uow.session, view.project.current_plan_id) if view.project.current_plan_id else None
    return s.ScheduleRead(
        project_id=project_id,
        plan_id=plan.id if plan else None,
        solver_status=plan.solver_status if plan else None,
        packages=[_scheduled(p) for p in sorted(view.planned, key=lambda p: (p.start, p.face_name, p.code))],
    )


@router.get(
    "/v1/projects/{project_id}/handover-chart",
    operation_id="getHandoverChart",
    tags=["views"],
    response_model=s.HandoverChartRead,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def handover_chart(
    project_id: uuid.UUID,
    runtime: Rt,
    principal: Annotated[Principal, Depends(require_roles(*READERS))],
    format: Literal["json", "svg"] = "json",
) -> Any:
    await _project_for(runtime, project_id, principal)
    async with runtime.uow() as uow:
        view = await progress.load_view(uow, project_id)
        progress.require_plan(view)
        recorded = await progress.recorded_handovers(uow, view)
    rows = build_chart(view.planned, planned_handovers(view.planned, view.dates))
    title = f"{view.project.name} 交叉施工作业面移交时序图"
    if format == "svg":
        return Response(render_svg(title, rows, view.dates, recorded), media_type="image/svg+xml")
    return s.HandoverChartRead(
        project_id=project_id,
        title=title,
        faces=[
            s.FaceChartRow(
                work_face_id=r.face_id,
                face_name=r.face_name,
                bars=[
                    s.TradeBarRead(
                        trade=b.trade, start_date=b.start_date, finish_date=b.finish_date, packages=list(b.packages)
                    )
                    for b in r.bars
                ],
                handovers=[
                    s.HandoverPoint(
                        from_trade=h.from_trade,
                        to_trade=h.to_trade,
                        planned_on=h.planned_on,
                        recorded_at=recorded.get((h.face_id, h.from_trade, h.to_trade)),
                    )
                    for h in r.handovers
                ],
            )
            for r in rows
        ],
    )


def _row(r: Any) -> s.ProgressRowRead:
    return s.ProgressRowRead(**{k: getattr(r, k) for k in s.ProgressRowRead.model_fields})


@contextmanager
def _calendar_range(day: date) -> Iterator[None]:
    """A date the working calendar cannot reach (decades after the plan's start) is the caller's error, not a 500."""
    try:
        yield
    except ValueError as exc:
        raise DomainError(f"{day}: {exc}", code="date_out_of_range", status=422) from None


@router.get(
    "/v1/projects/{project_id}/progress-table",
    operation_id="getProgressTable",
    tags=["views"],
    response_model=s.ProgressTableRead,
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}},
)
async def progress_table_view(
    project_id: uuid.UUID,
    runtime: Rt,
    principal: Annotated[Principal, Depends(require_roles(*READERS))],
    day: Annotated[date, Query(alias="date")],
    format: Literal["json", "xlsx"] = "json",
) -> Any:
    await _project_for(runtime, project_id, principal)
    async with runtime.uow() as uow:
        view = await progress.load_view(uow, project_id)
        calendar = progress.require_plan(view)
        actual = await progress.actual_as_of(uow, view, day)
    with _calendar_range(day):
        rows = progress_table(view.planned, actual, calendar, day)
    planned_total, actual_total = overall(view.planned, rows)
    if format == "xlsx":
        content = progress_table_xlsx(f"{view.project.name} 工程日进度一栏表", day, rows, (planned_total, actual_total))
        return Response(
            content,
            media_type=XLSX_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="progress-{project_id}-{day}.xlsx"'},
        )
    return s.ProgressTableRead(
        project_id=project_id,
        date=day,
        planned_percent=planned_total,
        actual_percent=actual_total,
        rows=[_row(r) for r in rows],
    )


@router.get(
    "/v1/projects/{project_id}/daily-report",
    operation_id="getDailyReport",
    tags=["views"],
    response_model=s.DailyReportRead,
)
async def daily(
    project_id: uuid.UUID,
    runtime: Rt,
    principal: Annotated[Principal, Depends(require_roles(*READERS))],
    day: Annotated[date, Query(alias="date")],
) -> s.DailyReportRead:
    await _project_for(runtime, project_id, principal)
    async with runtime.uow() as uow:
        view = await progress.load_view(uow, project_id)
        calendar = progress.require_plan(view)
        actual = await progress.actual_as_of(uow, view, day)
        recorded = await progress.recorded_handovers(uow, view)
    with _calendar_range(day):
        report = daily_report(view.planned, actual, set(recorded), calendar, view.dates, day)
    return s.DailyReportRead(
        project_id=project_id,
        date=day,
        next_working_day=report.next_working_day,
        late_packages=[_row(r) for r in report.late],
        starting_next=[_scheduled(p) for p in report.starting_next],
        due_handovers=[
            s.HandoverPoint(from_trade=h.from_trade, to_trade=h.to_trade, planned_on=h.planned_on, recorded_at=None)
            for h in report.due_handovers
        ],
        delay_days=report.delay_days,
    )


# progress, handovers, inspections ---------------------------------------------------------------------------------


@router.post(
    "/v1/projects/{project_id}/progress",
    operation_id="reportProgress",
    tags=["progress"],
    status_code=201,
    response_model=s.ProgressRead,
    responses={200: {"model": s.ProgressRead, "description": "Same report already recorded (idempotent)"}},
)
async def report(
    project_id: uuid.UUID,
    body: s.ProgressCreate,
    runtime: Rt,
    principal: Annotated[Principal, Depends(require_roles(Role.CONTRACTOR))],
) -> JSONResponse:
    await _project_for(runtime, project_id, principal)
    result, created = await progress.report_progress(
        runtime.uow(),
        progress.ReportProgress(
            project_id, body.package_id, body.report_date, body.percent_complete, body.note, principal.sub
        ),
        source=runtime.settings.event_source,
    )
    return JSONResponse(s.ProgressRead(**result).model_dump(mode="json"), status_code=201 if created else 200)


@router.post(
    "/v1/projects/{project_id}/handovers",
    operation_id="recordHandover",
    tags=["progress"],
    status_code=201,
    response_model=s.HandoverRead,
)
async def handover(
    project_id: uuid.UUID,
    body: s.HandoverCreate,
    runtime: Rt,
    principal: Annotated[Principal, Depends(require_roles(Role.CONTRACTOR))],
) -> s.HandoverRead:
    await _project_for(runtime, project_id, principal)
    handover_id = await progress.record_handover(
        runtime.uow(),
        progress.RecordHandover(
            project_id, body.work_face_id, body.from_trade, body.to_trade, body.handed_over_at, body.note, principal.sub
        ),
        source=runtime.settings.event_source,
    )
    return s.HandoverRead(
        id=handover_id,
        work_face_id=body.work_face_id,
        from_trade=body.from_trade,
        to_trade=body.to_trade,
        handed_over_at=body.handed_over_at,
    )


@router.post(
    "/v1/projects/{project_id}/inspections",
    operation_id="fileInspection",
    tags=["progress"],
    status_code=201,
    response_model=s.InspectionRead,
)
async def inspect(
    project_id: uuid.UUID,
    body: s.InspectionCreate,
    runtime: Rt,
    principal: Annotated[Principal, Depends(require_roles(Role.QUALITY_SUPERVISOR))],
) -> s.InspectionRead:
    await _project_for(runtime, project_id, principal)
    row = await progress.file_inspection(
        runtime.uow(),
        progress.FileInspection(
            project_id,
            body.package_id,
            body.work_face_id,
            body.result,
            [d.model_dump() for d in body.defects],
            body.note,
            body.inspected_on,
            principal.sub,
        ),
    )
    return _inspection(row)


def _inspection(row: Any) -> s.InspectionRead:
    return s.InspectionRead(
        id=row.id,
        package_id=row.package_id,
        work_face_id=row.work_face_id,
        result=row.result,
        defects=[s.Defect(**d) for d in row.defects],
        note=row.note,
        inspected_on=row.inspected_on,
    )


@router.get(
    "/v1/projects/{project_id}/inspections",
    operation_id="listInspections",
    tags=["progress"],
    response_model=list[s.InspectionRead],
)
async def inspections(
    project_id: uuid.UUID, runtime: Rt, principal: Annotated[Principal, Depends(require_roles(*READERS))]
) -> list[s.InspectionRead]:
    await _project_for(runtime, project_id, principal)
    async with runtime.uow() as uow:
        return [_inspection(r) for r in await repo.inspections(uow.session, project_id)]
