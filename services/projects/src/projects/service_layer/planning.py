"""Use cases: plans (jobs persisted in Postgres so any replica can run or answer them) and re-plans."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import structlog

from projects.adapters import repository as repo
from projects.adapters.orm import PlanProjectRow, PlanRow
from projects.domain.calendar import WorkingCalendar
from projects.domain.planning import PlanLink, PlanPackage, build_problem, weights_from_ranks
from projects.domain.scheduling import (
    Problem,
    Schedule,
    SchedulingError,
    SolveParams,
    check,
    effective_limits,
    solve,
)
from renovation_common.contracts.projects import ProjectScheduled
from renovation_common.db import UnitOfWork
from renovation_common.errors import InvalidState, NotFound
from renovation_common.events import new_event

log = structlog.get_logger("projects.planning")

UowFactory = Callable[[], UnitOfWork]
_SOLVE_GATE: dict[int, asyncio.Semaphore] = {}


async def solve_off_loop(
    problem: Problem,
    params: SolveParams,
    *,
    hint: dict[str, int] | None = None,
    previous: dict[str, int] | None = None,
    max_concurrent: int = 1,
) -> Schedule:
    """CP-SAT runs in a worker thread (it releases the GIL); at most ``max_concurrent`` solves per process."""
    gate = _SOLVE_GATE.setdefault(max_concurrent, asyncio.Semaphore(max_concurrent))
    async with gate:
        return await asyncio.to_thread(solve, problem, params, hint=hint, previous=previous)


@dataclass(frozen=True)
class SubmitPlan:
    kind: str  # project | batch | replan
    project_ids: list[uuid.UUID]
    request: dict[str, Any]
    district_id: str | None
    created_by: str


async def submit_plan(uow: UnitOfWork, cmd: SubmitPlan, *, run_now: bool) -> uuid.UUID:
    plan_id = uuid.uuid4()
    async with uow:
        uow.session.add(
            PlanRow(
                id=plan_id,
                kind=cmd.kind,
                status="running" if run_now else "queued",
                district_id=cmd.district_id,
                request=cmd.request,
                created_by=cmd.created_by[:200],
                attempts=1 if run_now else 0,
            )
        )
        await uow.session.flush()
        uow.session.add_all([PlanProjectRow(plan_id=plan_id, project_id=pid) for pid in cmd.project_ids])
        await uow.commit()
    return plan_id


async def count_packages(uow: UnitOfWork, project_ids: list[uuid.UUID]) -> int:
    async with uow:
        return len(await repo.packages(uow.session, project_ids))


def calendar_of(request: dict[str, Any]) -> WorkingCalendar:
    return WorkingCalendar.of(
        date.fromisoformat(request["start_date"]),
        [date.fromisoformat(d) for d in request.get("non_working_dates", [])],
        request.get("rest_weekdays", []),
    )


@dataclass
class _Loaded:
    request: dict[str, Any]
    kind: str
    projects: list[Any]
    problem: Problem
    hint: dict[str, int] | None
    previous: dict[str, int] | None
    calendar: WorkingCalendar
    package_project: dict[str, uuid.UUID]


async def _load(uow: UnitOfWork, plan_id: uuid.UUID) -> _Loaded:
    async with uow:
        plan = await repo.plan(uow.session, plan_id)
        if plan is None:
            raise NotFound("plan not found", code="plan_not_found")
        project_ids = await repo.plan_project_ids(uow.session, plan_id)
        projects = await repo.projects(uow.session, project_ids)
        packages = await repo.packages(uow.session, project_ids)
        links = await repo.links(uow.session, project_ids)
        communities = await repo.communities(uow.session, sorted({p.community_id for p in projects}))
        request = dict(plan.request)
        calendar = calendar_of(request)
        project_by_id = {p.id: p for p in projects}
        hint: dict[str, int] | None = None
        previous: dict[str, int] | None = None
        fixed: dict[str, tuple[int, int]] = {}
        earliest = 0
        if plan.kind == "replan":
            base = await repo.schedule(uow.session, uuid.UUID(request["base_plan_id"]), project_ids[0])
            previous = {str(e.package_id): e.start_idx for e in base}
            hint = dict(previous)
            data_idx = calendar.index_on_or_after(date.fromisoformat(request["data_date"]))
            earliest = data_idx
            base_by_pkg = {str(e.package_id): e for e in base}
            for p in packages:
                entry = base_by_pkg.get(str(p.id))
                fixed_item = _frozen(p, entry, calendar, data_idx)
                if fixed_item is not None:
                    fixed[str(p.id)] = fixed_item
    ranks = {
        c: (communities[c].priority_rank if c in communities else None) for c in {p.community_id for p in projects}
    }
    plan_packages = []
    for p in packages:
        pid = str(p.id)
        start_dur = fixed.get(pid)
        plan_packages.append(
            PlanPackage(
                package_id=pid,
                face_id=str(p.work_face_id),
                community=project_by_id[p.project_id].community_id,
                type_code=p.type_code,
                duration=start_dur[1] if start_dur else p.duration_days,
                fixed_start=start_dur[0] if start_dur else None,
                earliest_start=0 if start_dur else earliest,
            )
        )
    problem = build_problem(
        plan_packages,
        [PlanLink(str(link.pred_id), str(link.succ_id), link.lag_days) for link in links],
        crews=request.get("crews", {}),
        default_crews=int(request.get("default_crews", 2)),
        weights=weights_from_ranks(ranks),
        max_faces_per_community=request.get("max_faces_per_community"),
    )
    if plan.kind == "replan":
        problem = effective_limits(problem, earliest)
    return _Loaded(
        request, plan.kind, projects, problem, hint, previous, calendar, {str(p.id): p.project_id for p in packages}
    )


def _frozen(pkg: Any, entry: Any, calendar: WorkingCalendar, data_idx: int) -> tuple[int, int] | None:
    """Finished and started work keeps its start; a started package's remaining work follows its percent."""
    pct = Decimal(pkg.percent_complete)
    if pct <= 0:
        return None
    planned_start = entry.start_idx if entry is not None else data_idx
    start = calendar.index_on_or_after(pkg.actual_start) if pkg.actual_start else min(planned_start, data_idx)
    start = min(start, data_idx)
    if pct >= 100:
        finish = calendar.worked_by(pkg.actual_finish) if pkg.actual_finish else start + pkg.duration_days
        return start, max(1, finish - start)
    remaining = int(
        ((Decimal(100) - pct) * pkg.duration_days / Decimal(100)).to_integral_value(rounding="ROUND_CEILING")
    )
    return start, max(1, data_idx - start + max(1, remaining))


async def run_plan(uow_factory: UowFactory, plan_id: uuid.UUID, *, source: str, max_concurrent: int = 1) -> None:
    """Solve a claimed plan, check every rule, store the schedule and tell the world (or record the failure)."""
    try:
        loaded = await _load(uow_factory(), plan_id)
        req = loaded.request
        params = SolveParams(time_limit_s=float(req.get("time_limit_s", 5.0)), seed=int(req.get("seed", 0)))
        result = await solve_off_loop(
            loaded.problem, params, hint=loaded.hint, previous=loaded.previous, max_concurrent=max_concurrent
        )
        violations = check(loaded.problem, result.starts)
        if violations:  # never store a plan that breaks a rule
            raise SchedulingError(f"plan failed the rule check: {violations[0].rule}: {violations[0].detail}")
    except (SchedulingError, ValueError, KeyError) as exc:
        code = getattr(exc, "code", "plan_failed")
        log.warning("plan_failed", plan_id=str(plan_id), code=code)
        await _fail(uow_factory(), plan_id, code, str(exc))
        return
    await _store(uow_factory(), plan_id, loaded, result, source=source)


async def _fail(uow: UnitOfWork, plan_id: uuid.UUID, code: str, message: str) -> None:
    async with uow:
        plan = await repo.plan(uow.session, plan_id, for_update=True)
        if plan is None:
            return
        plan.status, plan.error_code, plan.error = "failed", code[:64], message[:500]
        plan.finished_at = _sql_now()
        await uow.commit()


def _sql_now() -> Any:
    import sqlalchemy as sa

    return sa.func.now()


async def _store(uow: UnitOfWork, plan_id: uuid.UUID, loaded: _Loaded, result: Schedule, *, source: str) -> None:
    dates = loaded.calendar.dates(result.makespan + 1)
    rows = [
        {
            "plan_id": plan_id,
            "package_id": uuid.UUID(tid),
            "project_id": loaded.package_project[tid],
            "start_idx": s,
            "end_idx": result.ends[tid],
            "start_date": dates[s],
            "finish_date": dates[result.ends[tid] - 1],
        }
        for tid, s in sorted(result.starts.items())
    ]
    per_project: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for row in rows:
        per_project.setdefault(row["project_id"], []).append(row)
    summary_projects = []
    async with uow:
        plan = await repo.plan(uow.session, plan_id, for_update=True)
        if plan is None or plan.status == "done":
            return
        await repo.insert_schedule(uow.session, rows)
        for project in loaded.projects:
            mine = per_project.get(project.id, [])
            if not mine:
                continue
            p = await repo.project(uow.session, project.id, for_update=True)
            assert p is not None
            start = min(r["start_date"] for r in mine)
            finish = max(r["finish_date"] for r in mine)
            span = max(r["end_idx"] for r in mine) - min(r["start_idx"] for r in mine)
            p.current_plan_id, p.start_date, p.finish_date = plan_id, start, finish
            if p.status == "draft":
                p.status = "planned"
            summary_projects.append(
                {"project_id": str(p.id), "start_date": start.isoformat(), "finish_date": finish.isoformat()}
            )
            uow.publish(
                new_event(
                    ProjectScheduled(
                        project_id=str(p.id),
                        community_id=p.community_id,
                        district_id=p.district_id,
                        plan_id=str(plan_id),
                        start_date=start,
                        finish_date=finish,
                        makespan_days=span,
                        solver_status=result.status,
                    ),
                    source=source,
                    subject=str(p.id),
                )
            )
        plan.status = "done"
        plan.solver_status = result.status
        plan.finished_at = _sql_now()
        plan.result = {
            "solver_status": result.status,
            "objective": result.objective,
            "bound": result.bound,
            "gap": result.gap,
            "makespan_days": result.makespan,
            "weighted_completion": result.weighted_completion,
            "wall_time_s": result.wall_time_s,
            "moved_tasks": result.moved_tasks,
            "total_shift_days": result.total_shift_days,
            "tasks": len(rows),
            "rules_checked": True,
            "start_date": dates[0].isoformat(),
            "finish_date": dates[max(0, result.makespan - 1)].isoformat(),
            "projects": summary_projects,
        }
        await uow.commit()


async def claim_and_run_next(
    uow_factory: UowFactory, *, source: str, stale_after_s: float, max_concurrent: int
) -> bool:
    uow = uow_factory()
    async with uow:
        plan_id = await repo.claim_next_plan(uow.session, stale_after_s=stale_after_s)
        await uow.commit()
    if plan_id is None:
        return False
    await run_plan(uow_factory, plan_id, source=source, max_concurrent=max_concurrent)
    return True


async def get_plan(uow: UnitOfWork, plan_id: uuid.UUID) -> tuple[PlanRow, list[uuid.UUID], list[Any]]:
    async with uow:
        plan = await repo.plan(uow.session, plan_id)
        if plan is None:
            raise NotFound("plan not found", code="plan_not_found")
        ids = await repo.plan_project_ids(uow.session, plan_id)
        return plan, ids, await repo.projects(uow.session, ids)


async def replan_request(uow: UnitOfWork, project_id: uuid.UUID) -> tuple[Any, dict[str, Any]]:
    """The project and the request of its current plan (the base of a re-plan)."""
    async with uow:
        project = await repo.project(uow.session, project_id)
        if project is None:
            raise NotFound("project not found", code="project_not_found")
        if project.current_plan_id is None:
            raise InvalidState("the project has no plan to start from", code="no_current_plan")
        base = await repo.plan(uow.session, project.current_plan_id)
        assert base is not None
        return project, dict(base.request)
