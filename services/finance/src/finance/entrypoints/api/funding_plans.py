"""Funding plan routes: the "four a little" sources, approval, receipts, disbursements against milestones."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from finance.domain.funding import PlanLine, PlanStatus
from finance.entrypoints.api.dependencies import ContextDep
from finance.entrypoints.api.schemas.funding_plans import (
    DisbursementCreate,
    FundingPlanCreate,
    FundingPlanRead,
    FundingPlanSummary,
    FundingReceiptCreate,
)
from finance.service_layer import funding as uc
from renovation_common.auth import Principal, Role, authorize
from renovation_common.pagination import Page, PageParams, make_page, page_params

router = APIRouter(tags=["funding plans"])

STAFF = (Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
READERS = (Role.COMMUNITY_WORKER, Role.STREET_OFFICER, Role.DISTRICT_ADMIN, Role.GOV_SYSTEM, Role.OPERATOR)


@router.post(
    "/v1/funding-plans",
    operation_id="createFundingPlan",
    response_model=FundingPlanRead,
    status_code=201,
    summary="Draft a project's funding plan from the 'four a little' sources",
)
async def create_plan(
    body: FundingPlanCreate, principal: Annotated[Principal, authorize(*STAFF)], ctx: ContextDep
) -> FundingPlanRead:
    """One plan per project; the project (and so the plan's scope) comes from ``projects.project.created.v1``
    (422 ``project_unknown`` before it arrived). Milestones may not add up to more than the plan's total."""
    view = await uc.create_plan(
        ctx,
        principal,
        project_id=body.project_id,
        lines=[PlanLine(s.source, s.planned_fen) for s in body.sources],
        milestones=[(m.code, m.name, m.amount_fen) for m in body.milestones],
    )
    return FundingPlanRead.of(view)


@router.get(
    "/v1/funding-plans",
    operation_id="listFundingPlans",
    response_model=Page[FundingPlanSummary],
    summary="The funding plans of your scope (cursor pagination)",
)
async def list_plans(
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, authorize(*READERS)],
    ctx: ContextDep,
    status: Annotated[PlanStatus | None, Query(description="Only plans in this state")] = None,
    community_id: Annotated[str | None, Query(max_length=64, description="Only this community's plans")] = None,
) -> Page[FundingPlanSummary]:
    """Staff list the plans inside their scope; operators and government systems their district's."""
    rows = await uc.list_plans(
        ctx, principal, status=status, community_id=community_id, after=page.after_uuid(), limit=page.limit + 1
    )
    return make_page([FundingPlanSummary.model_validate(r) for r in rows], page.limit, lambda p: str(p.id))


@router.get(
    "/v1/funding-plans/{plan_id}",
    operation_id="getFundingPlan",
    response_model=FundingPlanRead,
    summary="A funding plan with what each source planned, received and disbursed",
)
async def get_plan(
    plan_id: uuid.UUID, principal: Annotated[Principal, authorize(*READERS)], ctx: ContextDep
) -> FundingPlanRead:
    """Staff read plans in their scope; operators and government systems the plans of their district."""
    return FundingPlanRead.of(await uc.get_plan(ctx, principal, plan_id))


@router.post(
    "/v1/funding-plans/{plan_id}/approve",
    operation_id="approveFundingPlan",
    response_model=FundingPlanRead,
    summary="Approve a plan: a fund account per source, finance.funding_plan.approved.v1",
)
async def approve_plan(
    plan_id: uuid.UUID, principal: Annotated[Principal, authorize(Role.DISTRICT_ADMIN)], ctx: ContextDep
) -> FundingPlanRead:
    """A district admin of the plan's district approves it once (409 ``funding_plan_already_approved``)."""
    return FundingPlanRead.of(await uc.approve_plan(ctx, principal, plan_id))


@router.post(
    "/v1/funding-plans/{plan_id}/receipts",
    operation_id="receiveFunds",
    response_model=FundingPlanRead,
    status_code=201,
    summary="Money arrives on a source of an approved plan",
)
async def receive(
    plan_id: uuid.UUID,
    body: FundingReceiptCreate,
    principal: Annotated[Principal, authorize(Role.DISTRICT_ADMIN)],
    ctx: ContextDep,
) -> FundingPlanRead:
    """Government sources receive from the district's treasury, the others from the outside world. The receipt id
    becomes the transfer id: the same receipt again changes nothing, another body under it is 409."""
    view = await uc.receive(
        ctx,
        principal,
        plan_id,
        receipt_id=body.receipt_id,
        source=body.source,
        amount_fen=body.amount_fen,
        memo=body.memo,
    )
    return FundingPlanRead.of(view)


@router.post(
    "/v1/funding-plans/{plan_id}/disbursements",
    operation_id="disburseFunds",
    response_model=FundingPlanRead,
    status_code=201,
    summary="Pay a milestone from one source into the project's account",
)
async def disburse(
    plan_id: uuid.UUID,
    body: DisbursementCreate,
    principal: Annotated[Principal, authorize(Role.DISTRICT_ADMIN)],
    ctx: ContextDep,
) -> FundingPlanRead:
    """At most the milestone's amount in total (422 ``milestone_overdrawn``), never below zero on the source
    (422 ``insufficient_funds``); announced as ``finance.disbursement.posted.v1``. Idempotent by
    ``disbursement_id``."""
    view = await uc.disburse(
        ctx,
        principal,
        plan_id,
        disbursement_id=body.disbursement_id,
        milestone_code=body.milestone,
        source=body.source,
        amount_fen=body.amount_fen,
    )
    return FundingPlanRead.of(view)
