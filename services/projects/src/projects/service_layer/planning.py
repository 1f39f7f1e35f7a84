"""Use cases of plans: submit one (a project, a batch sharing crews, a re-plan), run it, read it.

Plans are jobs kept in Postgres, so any replica can run or answer them: a small plan is claimed and solved by the
replica that took the request, which answers with the plan if it is done within ``plan_sync_wait_s`` (201) and with
the running job otherwise (202 + ``Location``; the solve goes on); a large one is queued for the plan workers of
every replica (202 + ``Location``). A replica that dies mid-solve leaves a claim that another replica retries once it
is ``plan_stale_after_s`` old; the solve's wall-clock safety cap is kept under half of that, so a live solve is
never taken for a dead one.
A plan is stored only when every rule holds (``domain.scheduling.check``); otherwise the job fails with
``plan_failed``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_CEILING, Decimal
from typing import Any

import structlog

from projects.adapters.repositories import (
    CommunityRepository,
    PackageHistory,
    PlanRepository,
    ProgressRepository,
    ProjectRepository,
)
from projects.domain.calendar import WorkingCalendar
from projects.domain.model import Plan, PlanKind, PlanStatus, Project, ProjectStatus, ScheduleEntry, SolverStatus
from projects.domain.planning import PlanLink, PlanPackage, build_problem, weights_from_ranks
from projects.domain.scheduling import Problem, SchedulingError, check, effective_limits
from projects.domain.solver import Schedule, SolveParams, solve
from projects.service_layer import access, lifecycle
from projects.service_layer.context import Context
from renovation_common.auth import Principal
from renovation_common.contracts.projects import ProjectScheduled
from renovation_common.db import ReaderFactory, UowFactory
from renovation_common.errors import BadRequest, DomainError, Forbidden, InvalidState, NotFound
from renovation_common.events import new_event

log = structlog.get_logger("projects.planning")


async def solve_off_loop(
    ctx: Context,
    problem: Problem,
    params: SolveParams,
    *,
    hint: dict[str, int] | None = None,
    previous: dict[str, int] | None = None,
) -> Schedule:
    """CP-SAT runs in a worker thread (it releases the GIL); at most ``max_concurrent_solves`` per process."""
    async with ctx.solve_gate:
        return await asyncio.to_thread(solve, problem, params, hint=hint, previous=previous)


def calendar_of(request: dict[str, Any]) -> WorkingCalendar:
    return WorkingCalendar.of(
        date.fromisoformat(request["start_date"]),
        [date.fromisoformat(d) for d in request.get("non_working_dates", [])],
        request.get("rest_weekdays", []),
    )


@dataclass(frozen=True)
class PlanOptions:
    """What a plan request says besides its projects (stored with the plan as its ``request``)."""

    start_date: date
    non_working_dates: Sequence[date] = ()
    rest_weekdays: Sequence[int] = ()  # 0 = Monday … 6 = Sunday
    crews: dict[str, int] | None = None
    default_crews: int = 2
    max_faces_per_community: int = 2
    time_limit_s: float = 5.0
    seed: int = 0

    def request(self) -> dict[str, Any]:
        return {
            "start_date": self.start_date.isoformat(),
            "non_working_dates": sorted({d.isoformat() for d in self.non_working_dates}),
            "rest_weekdays": sorted(set(self.rest_weekdays)),
            "crews": dict(self.crews or {}),
            "default_crews": self.default_crews,
            "max_faces_per_community": self.max_faces_per_community,
            "time_limit_s": self.time_limit_s,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class SubmitPlan:
    project_ids: Sequence[uuid.UUID]
    options: PlanOptions


@dataclass(frozen=True)
class Replan:
    data_date: date
    crews: dict[str, int] | None = None
    time_limit_s: float = 5.0
    seed: int = 0


def _check_limit(ctx: Context, seconds: float) -> None:
    if seconds > ctx.max_time_limit_s:
        raise BadRequest(f"time_limit_s is at most {ctx.max_time_limit_s}", code="time_limit_too_long")


async def submit_plan(
    uow_factory: UowFactory, read: ReaderFactory, ctx: Context, principal: Principal, cmd: SubmitPlan
) -> Plan:
    """Plan projects of one district together (shared crews); every project must be in the caller's scope."""
    _check_limit(ctx, cmd.options.time_limit_s)
    try:
        calendar_of(cmd.options.request())
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_calendar") from None
    uow = uow_factory()
    async with uow:
        projects = await ProjectRepository(uow.session).many(cmd.project_ids)
        if len(projects) != len(set(cmd.project_ids)):
            raise NotFound("some projects were not found", code="project_not_found")
        communities = await CommunityRepository(uow.session).many(sorted({p.community_id for p in projects}))
        for p in projects:
            _ensure_plans(principal, p, communities.get(p.community_id))
            if p.status is ProjectStatus.COMPLETED:
                raise InvalidState("a completed project cannot be planned again", code="project_completed")
        if len({p.district_id for p in projects}) > 1:
            raise BadRequest("a plan's projects lie in one district", code="projects_in_several_districts")
        kind = PlanKind.PROJECT if len(projects) == 1 else PlanKind.BATCH
        plan_id, run_now = await _add_plan(
            uow, ctx, principal, kind, projects, cmd.options.request(), [p.id for p in projects]
        )
        await uow.commit()
    return await _run_or_queue(uow_factory, read, ctx, plan_id, run_now)


def _ensure_plans(principal: Principal, project: Project, community: Any) -> None:
    """The caller's scope must cover the project as recorded (and its community, as the registry places it)."""
    if not principal.covers(access.scope_of(project)):
        raise Forbidden("this project is outside your scope", code="out_of_scope")
    if community is not None:
        access.ensure_manages(principal, community)


async def _add_plan(
    uow: Any,
    ctx: Context,
    principal: Principal,
    kind: PlanKind,
    projects: Sequence[Project],
    request: dict[str, Any],
    project_ids: Sequence[uuid.UUID],
) -> tuple[uuid.UUID, bool]:
    packages = await ProjectRepository(uow.session).count_packages(project_ids)
    seconds = float(request.get("time_limit_s", 5.0))
    run_now = packages <= ctx.plan_sync_max_packages and seconds <= ctx.plan_sync_max_time_limit_s
    plan_id = uuid.uuid4()
    now = ctx.now()
    await PlanRepository(uow.session).add(
        plan_id=plan_id,
        kind=kind,
        district_id=projects[0].district_id,
        request=request,
        project_ids=project_ids,
        created_by=principal.sub,
        created_at=now,
        claimed_at=now if run_now else None,
    )
    return plan_id, run_now


async def _run_or_queue(
    uow_factory: UowFactory, read: ReaderFactory, ctx: Context, plan_id: uuid.UUID, run_now: bool
) -> Plan:
    if run_now:
        task = asyncio.ensure_future(run_plan(uow_factory, read, ctx, plan_id))
        ctx.keep(task)
        # a deterministic budget can take far longer in wall time on a busy machine: the request waits a bounded
        # time, and the job is what the caller polls after that (the task is not cancelled with the request)
        done, _ = await asyncio.wait({task}, timeout=ctx.plan_sync_wait_s)
        if task in done:
            task.result()
    async with read() as uow:
        plan = await PlanRepository(uow.session).get(plan_id)
    assert plan is not None
    return plan


async def replan(
    uow_factory: UowFactory,
    read: ReaderFactory,
    ctx: Context,
    principal: Principal,
    project_id: uuid.UUID,
    cmd: Replan,
) -> Plan:
    """Plan a project again from ``data_date``: work reported by then keeps its place, the rest moves little."""
    _check_limit(ctx, cmd.time_limit_s)
    if cmd.data_date > ctx.today():
        raise DomainError(
            f"the data date {cmd.data_date} is after today ({ctx.today()}): nothing can be known about it yet",
            code="data_date_in_future",
            status=422,
        )
    uow = uow_factory()
    async with uow:
        project = await ProjectRepository(uow.session).get(project_id)
        if project is None:
            raise NotFound("project not found", code="project_not_found")
        community = await CommunityRepository(uow.session).get(project.community_id)
        _ensure_plans(principal, project, community)
        if project.status is ProjectStatus.COMPLETED:
            raise InvalidState("a completed project cannot be planned again", code="project_completed")
        if project.current_plan_id is None:
            raise InvalidState("the project has no plan to start from", code="no_current_plan")
        base = await PlanRepository(uow.session).get(project.current_plan_id)
        assert base is not None
        if cmd.data_date < date.fromisoformat(base.request["start_date"]):
            raise BadRequest("the data date is before the plan's start", code="data_date_before_start")
        request = dict(base.request)
        request.update(
            data_date=cmd.data_date.isoformat(),
            base_plan_id=str(project.current_plan_id),
            time_limit_s=cmd.time_limit_s,
            seed=cmd.seed,
        )
        if cmd.crews is not None:
            request["crews"] = dict(cmd.crews)
        plan_id, run_now = await _add_plan(uow, ctx, principal, PlanKind.REPLAN, [project], request, [project_id])
        await uow.commit()
    return await _run_or_queue(uow_factory, read, ctx, plan_id, run_now)


async def get_plan(read: ReaderFactory, principal: Principal, plan_id: uuid.UUID) -> Plan:
    async with read() as uow:
        plan = await PlanRepository(uow.session).get(plan_id)
        if plan is None:
            raise NotFound("plan not found", code="plan_not_found")
        for p in await ProjectRepository(uow.session).many(plan.project_ids):
            access.ensure_sees(principal, p)
    return plan


# running ---------------------------------------------------------------------------------------------------------


@dataclass
class _Loaded:
    request: dict[str, Any]
    kind: PlanKind
    projects: list[Project]
    problem: Problem
    hint: dict[str, int] | None
    previous: dict[str, int] | None
    calendar: WorkingCalendar
    package_project: dict[str, uuid.UUID]


async def _load(read: ReaderFactory, plan_id: uuid.UUID) -> _Loaded:
    async with read() as uow:
        plans = PlanRepository(uow.session)
        plan = await plans.get(plan_id)
        if plan is None:
            raise NotFound("plan not found", code="plan_not_found")
        repo = ProjectRepository(uow.session)
        projects = await repo.many(plan.project_ids)
        packages = await repo.packages(plan.project_ids)
        links = await repo.links(plan.project_ids)
        ranks = await CommunityRepository(uow.session).ranks(sorted({p.community_id for p in projects}))
        request = dict(plan.request)
        calendar = calendar_of(request)
        hint: dict[str, int] | None = None
        previous: dict[str, int] | None = None
        fixed: dict[str, tuple[int, int]] = {}
        earliest = 0
        if plan.kind is PlanKind.REPLAN:
            base = await plans.schedule(uuid.UUID(request["base_plan_id"]), plan.project_ids[0])
            previous = {str(e.package_id): e.start_idx for e in base}
            hint = dict(previous)
            data_date = date.fromisoformat(request["data_date"])
            data_idx = calendar.index_on_or_after(data_date)
            earliest = data_idx
            # only what was reported up to the data date counts (a later report is not known "as of" it)
            history = await ProgressRepository(uow.session).history_as_of(plan.project_ids[0], data_date)
            base_by_pkg = {e.package_id: e for e in base}
            for p in packages:
                entry = base_by_pkg.get(p.id)
                item = _frozen(history.get(p.id), p.duration_days, entry, calendar, data_idx)
                if item is not None:
                    fixed[str(p.id)] = item
    community_of = {p.id: p.community_id for p in projects}
    plan_packages = []
    for p in packages:
        pid = str(p.id)
        start_dur = fixed.get(pid)
        plan_packages.append(
            PlanPackage(
                package_id=pid,
                face_id=str(p.work_face_id),
                community=community_of[p.project_id],
                type_code=p.type_code,
                duration=start_dur[1] if start_dur else p.duration_days,
                fixed_start=start_dur[0] if start_dur else None,
                earliest_start=0 if start_dur else earliest,
            )
        )
    problem = build_problem(
        plan_packages,
        [PlanLink(str(k.pred_id), str(k.succ_id), k.lag_days) for k in links],
        crews=request.get("crews", {}),
        default_crews=int(request.get("default_crews", 2)),
        weights=weights_from_ranks({c: ranks.get(c) for c in set(community_of.values())}),
        max_faces_per_community=request.get("max_faces_per_community"),
    )
    if plan.kind is PlanKind.REPLAN:
        problem = effective_limits(problem, earliest)
    return _Loaded(
        request, plan.kind, projects, problem, hint, previous, calendar, {str(p.id): p.project_id for p in packages}
    )


def _frozen(
    history: PackageHistory | None, duration: int, entry: ScheduleEntry | None, calendar: WorkingCalendar, data_idx: int
) -> tuple[int, int] | None:
    """Finished and started work keeps its start; a started package's remaining work follows its percent."""
    if history is None or history.percent <= 0:
        return None
    pct = history.percent
    planned_start = entry.start_idx if entry is not None else data_idx
    start = calendar.index_on_or_after(history.first_started) if history.first_started else planned_start
    start = min(start, data_idx)
    if pct >= 100:
        finish = calendar.worked_by(history.first_finished) if history.first_finished else start + duration
        return start, max(1, finish - start)
    remaining = int(((Decimal(100) - pct) * duration / Decimal(100)).to_integral_value(rounding=ROUND_CEILING))
    return start, max(1, data_idx - start + max(1, remaining))


async def run_plan(uow_factory: UowFactory, read: ReaderFactory, ctx: Context, plan_id: uuid.UUID) -> None:
    """Solve a claimed plan, check every rule, store the schedule and tell the world (or record the failure)."""
    try:
        loaded = await _load(read, plan_id)
        req = loaded.request
        budget = float(req.get("time_limit_s", 5.0))
        params = SolveParams(time_limit_s=budget, seed=int(req.get("seed", 0)))
        # the wall-clock cap ends the solve well before its claim counts as abandoned
        cap = min(params.wall_cap_factor, max(1.0, (ctx.plan_stale_after_s / 2 - 1) / max(budget, 0.05)))
        params = replace(params, wall_cap_factor=cap)
        result = await solve_off_loop(ctx, loaded.problem, params, hint=loaded.hint, previous=loaded.previous)
        violations = check(loaded.problem, result.starts)
        if violations:  # never store a plan that breaks a rule
            raise SchedulingError(f"plan failed the rule check: {violations[0].rule}: {violations[0].detail}")
    except (SchedulingError, ValueError, KeyError) as exc:
        code = getattr(exc, "code", "plan_failed")
        log.warning("plan_failed", plan_id=str(plan_id), code=code)
        uow = uow_factory()
        async with uow:
            await PlanRepository(uow.session).fail(plan_id, code, str(exc), at=ctx.now())
            await uow.commit()
        return
    await _store(uow_factory, ctx, plan_id, loaded, result)


async def _store(uow_factory: UowFactory, ctx: Context, plan_id: uuid.UUID, loaded: _Loaded, result: Schedule) -> None:
    dates = loaded.calendar.dates(result.makespan + 1)
    entries = [
        ScheduleEntry(
            package_id=uuid.UUID(tid),
            project_id=loaded.package_project[tid],
            start_idx=s,
            end_idx=result.ends[tid],
            start_date=dates[s],
            finish_date=dates[max(s, result.ends[tid] - 1)],
        )
        for tid, s in sorted(result.starts.items())
    ]
    per_project: dict[uuid.UUID, list[ScheduleEntry]] = {}
    for e in entries:
        per_project.setdefault(e.project_id, []).append(e)
    status = SolverStatus(result.status)
    summary_projects = []
    uow = uow_factory()
    async with uow:
        plans = PlanRepository(uow.session)
        plan = await plans.get(plan_id, for_update=True)
        if plan is None or plan.status is PlanStatus.DONE:
            return
        await plans.add_schedule(plan_id, entries)
        projects = ProjectRepository(uow.session)
        for project in loaded.projects:
            mine = per_project.get(project.id, [])
            if not mine:
                continue
            p = await projects.get(project.id, for_update=True)
            assert p is not None
            start = min(e.start_date for e in mine)
            finish = max(e.finish_date for e in mine)
            span = max(e.end_idx for e in mine) - min(e.start_idx for e in mine)
            await projects.set_current_plan(
                p.id, plan_id, start, finish, status=ProjectStatus.PLANNED if p.status is ProjectStatus.DRAFT else None
            )
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
                        solver_status=status.value,
                    ),
                    source=ctx.source,
                    subject=str(p.id),
                )
            )
        for community_id in sorted({p.community_id for p in loaded.projects if per_project.get(p.id)}):
            await lifecycle.refresh(uow, ctx, community_id)  # step 5 is under way once the project is planned
        await plans.finish(
            plan_id,
            status,
            {
                "solver_status": status.value,
                "objective": result.objective,
                "bound": result.bound,
                "gap": result.gap,
                "lower_bound": result.lower_bound,
                "limited_by": result.limited_by,
                "makespan_days": result.makespan,
                "weighted_completion": result.weighted_completion,
                "wall_time_s": result.wall_time_s,
                "deterministic_time": result.deterministic_time,
                "moved_tasks": result.moved_tasks,
                "total_shift_days": result.total_shift_days,
                "tasks": len(entries),
                "rules_checked": True,
                "start_date": dates[0].isoformat(),
                "finish_date": dates[max(0, result.makespan - 1)].isoformat(),
                "projects": summary_projects,
            },
            at=ctx.now(),
        )
        await uow.commit()


async def run_next_plan(uow_factory: UowFactory, read: ReaderFactory, ctx: Context) -> bool:
    """One step of the plan workers: claim the oldest queued plan and run it; whether there was one."""
    uow = uow_factory()
    async with uow:
        plan_id = await PlanRepository(uow.session).claim_next(now=ctx.now(), stale_after_s=ctx.plan_stale_after_s)
        await uow.commit()
    if plan_id is None:
        return False
    await run_plan(uow_factory, read, ctx, plan_id)
    return True
