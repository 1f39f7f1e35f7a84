"""Routes of plans: plan projects (inline or as a job), re-plan, read a plan, and the stateless solver."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Response, status

from projects.domain.model import Plan, PlanStatus
from projects.domain.solver import SolveParams
from projects.entrypoints.api import render
from projects.entrypoints.api.dependencies import PLANNERS, READERS, SOLVERS, ContextDep, RuntimeDep
from projects.entrypoints.api.schemas import (
    PlanCreate,
    PlanRead,
    ReplanCreate,
    SolveRequest,
    SolveResponse,
    TaskTime,
)
from projects.service_layer import planning as uc
from projects.service_layer.solving import NetworkTask, solve_network
from renovation_common.auth import Principal, authorize

router = APIRouter(tags=["plans"])

ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": PlanRead, "description": "Accepted as a job: poll the `Location` until it is done"}
}


def _answer(plan: Plan, response: Response) -> PlanRead:
    response.headers["Location"] = f"/v1/plans/{plan.id}"
    if plan.status in (PlanStatus.QUEUED, PlanStatus.RUNNING):
        response.status_code = status.HTTP_202_ACCEPTED
    return render.plan(plan)


@router.post(
    "/v1/plans",
    operation_id="createPlan",
    status_code=status.HTTP_201_CREATED,
    response_model=PlanRead,
    responses=ACCEPTED,
    summary="Plan one project, or a batch of one district's projects sharing crews",
)
async def create_plan(
    body: PlanCreate,
    principal: Annotated[Principal, authorize(*PLANNERS)],
    runtime: RuntimeDep,
    ctx: ContextDep,
    response: Response,
) -> PlanRead:
    """CP-SAT plan under every rule (underground first, special works first, one dig window per face, crews per
    trade, faces disturbed at once per community, links with lags, the working calendar), weighted by the
    communities' published priority. Up to ``PROJECTS_PLAN_SYNC_MAX_PACKAGES`` packages it is solved by the replica that
    takes the request, which answers with the plan if it is done within ``PROJECTS_PLAN_SYNC_WAIT_S`` (201) and with
    the running job otherwise (202 + ``Location``); larger plans are jobs (202 + ``Location``). Deterministic: the
    same request gives the same plan."""
    plan = await uc.submit_plan(
        runtime.uow,
        runtime.read,
        ctx,
        principal,
        uc.SubmitPlan(
            project_ids=body.project_ids,
            options=uc.PlanOptions(
                start_date=body.start_date,
                non_working_dates=body.non_working_dates,
                rest_weekdays=[d.number for d in body.rest_weekdays],
                crews=dict(body.crews),
                default_crews=body.default_crews,
                max_faces_per_community=body.max_faces_per_community,
                time_limit_s=body.time_limit_s,
                seed=body.seed,
            ),
        ),
    )
    return _answer(plan, response)


@router.get(
    "/v1/plans/{plan_id}",
    operation_id="getPlan",
    response_model=PlanRead,
    summary="A plan job: its status and, once done, the solver's result",
)
async def get_plan(
    plan_id: uuid.UUID, principal: Annotated[Principal, authorize(*READERS)], runtime: RuntimeDep
) -> PlanRead:
    """Any replica answers (jobs live in Postgres). Readers must see every project of the plan."""
    return render.plan(await uc.get_plan(runtime.read, principal, plan_id))


@router.post(
    "/v1/projects/{project_id}/replan",
    operation_id="replanProject",
    status_code=status.HTTP_201_CREATED,
    response_model=PlanRead,
    responses=ACCEPTED,
    summary="Plan a project again from a data date, keeping reported work in place",
)
async def replan_project(
    project_id: uuid.UUID,
    body: ReplanCreate,
    principal: Annotated[Principal, authorize(*PLANNERS)],
    runtime: RuntimeDep,
    ctx: ContextDep,
    response: Response,
) -> PlanRead:
    """Only progress reported up to ``data_date`` counts (a later report is not known as of it): finished and
    started packages keep their start, remaining work follows the reported percent, the previous plan is the hint
    and a second phase minimises the moves. A data date after today is 422 ``data_date_in_future``."""
    plan = await uc.replan(
        runtime.uow,
        runtime.read,
        ctx,
        principal,
        project_id,
        uc.Replan(
            data_date=body.data_date,
            crews=dict(body.crews) if body.crews is not None else None,
            time_limit_s=body.time_limit_s,
            seed=body.seed,
        ),
    )
    return _answer(plan, response)


@router.post(
    "/v1/solve",
    operation_id="solveTaskNetwork",
    response_model=SolveResponse,
    summary="Solve any task network with renewable resources (RCPSP), statelessly",
    openapi_extra={"x-idempotency-key": False},  # stores nothing: a retry computes the same plan again
)
async def solve_task_network(
    body: SolveRequest, principal: Annotated[Principal, authorize(*SOLVERS)], ctx: ContextDep
) -> SolveResponse:
    """Tasks with durations and per-resource demands, predecessors (finish-to-start, with a lag), capacities;
    minimises the makespan. Nothing is stored."""
    solved = await solve_network(
        ctx,
        [
            NetworkTask(
                t.id,
                t.duration,
                dict(t.demands),
                [(p, 0) if isinstance(p, str) else (p.id, p.lag) for p in t.predecessors],
            )
            for t in body.tasks
        ],
        dict(body.capacities),
        SolveParams(time_limit_s=body.time_limit_s, seed=body.seed, workers=body.workers),
    )
    result = solved.schedule
    return SolveResponse(
        status=result.status,
        makespan=result.makespan,
        bound=result.bound,
        gap=result.gap,
        precedence_lower_bound=solved.precedence_lower_bound,
        limited_by=result.limited_by,
        wall_time_s=result.wall_time_s,
        schedule=[TaskTime(id=t.id, start=result.starts[t.id], end=result.ends[t.id]) for t in body.tasks],
    )
