"""Funding plans: create, approve (accounts per source), receive money, disburse against milestones."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from finance.adapters.repositories import (
    AccountRepository,
    FundingPlanRepository,
    LedgerRepository,
    ProjectRepository,
)
from finance.domain.errors import RuleViolation
from finance.domain.funding import (
    SOURCE_GROUP,
    FundingSource,
    Milestone,
    PlanLine,
    PlanStatus,
    check_disbursement,
    validate_plan,
)
from finance.domain.ledger import TransferKind, TransferSpec
from finance.service_layer import well_known_accounts
from finance.service_layer.context import Context, derived_id
from finance.service_layer.scope import ensure_reads_district_record, list_filters, of_row
from renovation_common.auth import Principal
from renovation_common.contracts.finance import DisbursementPosted, FundingPlanApproved, SourceAmount
from renovation_common.errors import Conflict, NotFound


@dataclass(frozen=True)
class PlanView:
    plan: Any
    lines: list[Any]
    milestones: list[Any]
    disbursements: list[Any]


async def _view(session: Any, plan_id: uuid.UUID) -> PlanView:
    plans = FundingPlanRepository(session)
    plan = await plans.get(plan_id)
    if plan is None:
        raise NotFound("funding plan not found", code="funding_plan_not_found")
    lines, milestones = await plans.lines(plan_id), await plans.milestones(plan_id)
    return PlanView(plan, lines, milestones, await plans.disbursements(plan_id))


async def _plan_in_scope(plans: FundingPlanRepository, principal: Principal, plan_id: uuid.UUID) -> Any:
    """The plan, locked for the change (serialises the changes of one plan), after the caller's scope is checked."""
    plan = await plans.get(plan_id, for_update=True)
    if plan is None:
        raise NotFound("funding plan not found", code="funding_plan_not_found")
    principal.ensure_covers(of_row(plan), "funding plan")
    return plan


async def create_plan(
    ctx: Context,
    principal: Principal,
    *,
    project_id: str,
    lines: list[PlanLine],
    milestones: list[tuple[str, str, int]],
) -> PlanView:
    total = validate_plan(lines, [Milestone(code, amount) for code, _, amount in milestones])
    async with ctx.uow() as uow:
        project = await ProjectRepository(uow.session).get(project_id)
        if project is None:
            raise RuleViolation("project_unknown", "no project with this id has been announced to finance")
        principal.ensure_covers(of_row(project), "project")
        plan_id = ctx.new_id()
        created = await FundingPlanRepository(uow.session).add(
            {
                "id": plan_id,
                "project_id": project_id,
                "community_id": project.community_id,
                "district_id": project.district_id,
                "street_id": project.street_id,
                "status": PlanStatus.DRAFT.value,
                "total_fen": total,
                "created_by": principal.sub,
                "created_at": ctx.clock(),
            },
            [{"plan_id": plan_id, "source": line.source.value, "planned_fen": line.planned_fen} for line in lines],
            [{"plan_id": plan_id, "code": c, "name": n, "amount_fen": a} for c, n, a in milestones],
        )
        if not created:
            raise Conflict("this project already has a funding plan", code="funding_plan_exists")
        await uow.commit()
    return await _read_view(ctx, plan_id)


async def _read_view(ctx: Context, plan_id: uuid.UUID) -> PlanView:
    async with ctx.read() as reader:
        return await _view(reader.session, plan_id)


async def get_plan(ctx: Context, principal: Principal, plan_id: uuid.UUID) -> PlanView:
    """A plan in the caller's scope (operators and government systems: their district's plans)."""
    view = await _read_view(ctx, plan_id)
    ensure_reads_district_record(principal, view.plan, "funding plan")
    return view


async def list_plans(
    ctx: Context,
    principal: Principal,
    *,
    status: PlanStatus | None,
    community_id: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[Any]:
    """Plans in the caller's scope (operators and government systems: their district's), narrowed to a community."""
    filters = list_filters(principal, households=False)
    if community_id is not None:
        if filters.get("community_id", community_id) != community_id:
            return []
        filters["community_id"] = community_id
    async with ctx.read() as reader:
        return await FundingPlanRepository(reader.session).find(
            filters=filters, status=status.value if status else None, after=after, limit=limit
        )


async def approve_plan(ctx: Context, principal: Principal, plan_id: uuid.UUID) -> PlanView:
    now = ctx.clock()
    async with ctx.uow() as uow:
        plans = FundingPlanRepository(uow.session)
        plan = await _plan_in_scope(plans, principal, plan_id)
        if plan.status == PlanStatus.APPROVED.value:
            raise Conflict("the funding plan is already approved", code="funding_plan_already_approved")
        lines = await plans.lines(plan_id)
        for line in lines:
            account_id = await well_known_accounts.plan_source(AccountRepository(uow.session), plan, line.source, now)
            await plans.set_line_account(plan_id, line.source, account_id)
        await plans.approve(plan_id, principal.sub, now)
        uow.publish(
            ctx.event(
                FundingPlanApproved(
                    funding_plan_id=str(plan_id),
                    project_id=plan.project_id,
                    community_id=plan.community_id,
                    district_id=plan.district_id,
                    total_fen=plan.total_fen,
                    sources=[SourceAmount(source=line.source, amount_fen=line.planned_fen) for line in lines],
                ),
                subject=str(plan_id),
                now=now,
            )
        )
        await uow.commit()
    return await _read_view(ctx, plan_id)


async def receive(
    ctx: Context,
    principal: Principal,
    plan_id: uuid.UUID,
    *,
    receipt_id: uuid.UUID,
    source: FundingSource,
    amount_fen: int,
    memo: str | None,
) -> PlanView:
    """Money arrives on a source of an approved plan: from the treasury (government sources) or the outside."""
    now = ctx.clock()
    async with ctx.uow() as uow:
        plans = FundingPlanRepository(uow.session)
        plan = await _plan_in_scope(plans, principal, plan_id)
        if plan.status != PlanStatus.APPROVED.value:
            raise RuleViolation("plan_not_approved", "money is received only under an approved plan", status=409)
        line = next((ln for ln in await plans.lines(plan_id) if ln.source == source.value), None)
        if line is None:
            raise RuleViolation("source_not_in_plan", f"{source.value} is not a source of this plan")
        accounts = AccountRepository(uow.session)
        origin = (
            await well_known_accounts.treasury(accounts, plan.district_id, now)
            if SOURCE_GROUP[source] == "government"
            else await well_known_accounts.external(accounts, plan.district_id, now)
        )
        spec = TransferSpec(
            id=str(receipt_id),
            kind=TransferKind.POSTED,
            debit_account_id=str(origin),
            credit_account_id=str(line.account_id),
            amount_fen=amount_fen,
            code="funding_receipt",
            reference=f"funding_plan:{plan_id}",
            memo=memo,
        )
        ledger = LedgerRepository(uow.session)
        rows = await ledger.post([spec], group_id=None, now=now)
        if rows is None:
            existing = await ledger.existing([receipt_id])
            if existing[0].body_hash != spec.body_hash():
                raise RuleViolation("transfer_id_reused", "this receipt id was used for another receipt", status=409)
        await uow.commit()
    return await _read_view(ctx, plan_id)


async def disburse(
    ctx: Context,
    principal: Principal,
    plan_id: uuid.UUID,
    *,
    disbursement_id: uuid.UUID,
    milestone_code: str,
    source: FundingSource,
    amount_fen: int,
) -> PlanView:
    """Pay a milestone from one source of the plan into the project's account (one transaction, one event)."""
    now = ctx.clock()
    async with ctx.uow() as uow:
        plans = FundingPlanRepository(uow.session)
        plan = await _plan_in_scope(plans, principal, plan_id)  # the lock serialises disbursements of a plan
        previous = await plans.disbursement(disbursement_id)
        if previous is not None:
            same = (previous.plan_id, previous.milestone_code, previous.source, previous.amount_fen) == (
                plan_id,
                milestone_code,
                source.value,
                amount_fen,
            )
            if not same:
                raise RuleViolation("disbursement_id_reused", "this disbursement id was used otherwise", status=409)
            return await _view(uow.session, plan_id)  # a retry: the plan as it is
        milestones = {m.code: m for m in await plans.milestones(plan_id)}
        m = milestones.get(milestone_code)
        check_disbursement(
            PlanStatus(plan.status),
            Milestone(m.code, m.amount_fen) if m is not None else None,
            m.disbursed_fen if m is not None else 0,
            amount_fen,
        )
        line = next((ln for ln in await plans.lines(plan_id) if ln.source == source.value), None)
        if line is None:
            raise RuleViolation("source_not_in_plan", f"{source.value} is not a source of this plan")
        project_account = await well_known_accounts.project(AccountRepository(uow.session), plan, plan.project_id, now)
        transfer_id = derived_id("disbursement", disbursement_id)
        spec = TransferSpec(
            id=str(transfer_id),
            kind=TransferKind.POSTED,
            debit_account_id=str(line.account_id),
            credit_account_id=str(project_account),
            amount_fen=amount_fen,
            code="disbursement",
            reference=f"funding_plan:{plan_id}:milestone:{milestone_code}",
        )
        await LedgerRepository(uow.session).post([spec], group_id=None, now=now)
        await plans.add_disbursement(
            {
                "id": disbursement_id,
                "plan_id": plan_id,
                "milestone_code": milestone_code,
                "source": source.value,
                "amount_fen": amount_fen,
                "transfer_id": transfer_id,
                "created_by": principal.sub,
                "created_at": now,
            },
        )
        uow.publish(
            ctx.event(
                DisbursementPosted(
                    disbursement_id=str(disbursement_id),
                    funding_plan_id=str(plan_id),
                    project_id=plan.project_id,
                    community_id=plan.community_id,
                    district_id=plan.district_id,
                    amount_fen=amount_fen,
                    milestone=milestone_code,
                ),
                subject=str(plan_id),
                now=now,
            )
        )
        await uow.commit()
    return await _read_view(ctx, plan_id)
