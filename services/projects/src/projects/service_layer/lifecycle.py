"""Use cases of the seven-step lifecycle (民主议事决策七步工作法): events record what backs the steps, the
community's current step is recomputed in the same transaction, and two reads (one community's timeline, the
communities of a scope with a district summary).

Recomputing takes the community's lifecycle row lock first, so two transactions recording different records of
one community cannot leave a current step that misses one of them (the second waits, then sees the first's
records). Steps 5 and 6 are read from projects' own tables (project, plan, progress, inspections); the use cases
that change those call :func:`refresh` in their own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from projects.adapters.repositories import (
    CommunityRepository,
    DesignBasisRepository,
    LifecycleFilter,
    LifecycleRepository,
)
from projects.adapters.repositories.lifecycle import CommunityStep, Tallies
from projects.domain.lifecycle import Lifecycle, Record, Source, Step, evaluate, sources_of_close
from projects.domain.model import DesignBasis
from projects.service_layer import access
from projects.service_layer.context import Context
from renovation_common.auth import Principal
from renovation_common.contracts.finance import FundingPlanApproved
from renovation_common.contracts.survey import ConsultationClosed, RankingPublished, SchemeRoundDecided
from renovation_common.db import ReadOnlyUnitOfWork, UnitOfWork
from renovation_common.errors import NotFound


async def _compute(repo: LifecycleRepository, ctx: Context, community_id: str) -> Lifecycle:
    records = await repo.records(community_id)
    satisfaction = records.get(Source.SATISFACTION)
    closed_on = satisfaction.occurred_at.astimezone(ctx.timezone).date() if satisfaction else None
    return evaluate(
        community_id,
        records,
        await repo.project_facts(community_id),
        satisfaction_closed_on=closed_on,
        schemes=await DesignBasisRepository(repo.session).of_community(community_id),
    )


async def refresh(uow: UnitOfWork, ctx: Context, community_id: str) -> Lifecycle:
    """Inside an open unit of work: recompute and store the community's current step (under its row lock)."""
    repo = LifecycleRepository(uow.session)
    await repo.lock(community_id)
    lifecycle = await _compute(repo, ctx, community_id)
    await repo.save_current(community_id, lifecycle.current_step, lifecycle.current_status, ctx.now())
    return lifecycle


async def record_consultation(uow: UnitOfWork, ctx: Context, data: ConsultationClosed) -> None:
    """A closed round backs step 1 (willingness), 2 (a selection), 3 (an Art. 278 vote) or 7 (satisfaction)."""
    sources = sources_of_close(data.kind, data.rule, data.outcome, bool(data.selected_items))
    if not sources:
        return
    async with uow:
        repo = LifecycleRepository(uow.session)
        for source in sources:
            await repo.record(
                data.community_id,
                Record(
                    source=source,
                    record_id=data.consultation_id,
                    occurred_at=data.closed_at,
                    kind=data.kind,
                    rule=data.rule,
                    outcome=data.outcome,
                    approving_households=data.approving_households,
                    total_households=data.total_households,
                    approval_ratio=data.approval_ratio,
                    approval_percent=data.approval_percent,
                    detail=f"{len(data.selected_items)} items selected" if data.selected_items else "",
                ),
            )
        await refresh(uow, ctx, data.community_id)
        await uow.commit()


async def record_ranking(uow: UnitOfWork, ctx: Context, data: RankingPublished) -> None:
    """Step 4: each ranked community appears in a published ranking (the newest publication is kept)."""
    async with uow:
        repo = LifecycleRepository(uow.session)
        for entry in sorted(data.entries, key=lambda e: e.community_id):  # one lock order for every writer
            await repo.record(
                entry.community_id,
                Record(
                    source=Source.RANKING,
                    record_id=data.ranking_id,
                    occurred_at=data.published_at,
                    detail=f"rank {entry.rank} in {data.district_id}" + (f" batch {data.batch}" if data.batch else ""),
                ),
            )
            await refresh(uow, ctx, entry.community_id)
        await uow.commit()


async def record_funding_plan(uow: UnitOfWork, ctx: Context, data: FundingPlanApproved, occurred_at: datetime) -> None:
    """Step 4: finance approved the project's funding plan (``occurred_at``: the event's time)."""
    async with uow:
        await LifecycleRepository(uow.session).record(
            data.community_id,
            Record(
                source=Source.FUNDING_PLAN,
                record_id=data.funding_plan_id,
                occurred_at=occurred_at,
                detail=f"project {data.project_id}, {data.total_fen} fen",
            ),
        )
        await refresh(uow, ctx, data.community_id)
        await uow.commit()


async def record_scheme_decision(uow: UnitOfWork, ctx: Context, data: SchemeRoundDecided) -> None:
    """Steps 2 and 3: the scheme each courtyard/building group chose (the community's design basis), and the
    groups still awaiting a run-off. A decided group is written once (redeliveries and replicas change nothing; a
    pending mark arriving after the group's decision changes nothing either)."""
    async with uow:
        repo = DesignBasisRepository(uow.session)
        for g in sorted(data.groups, key=lambda g: g.group_code):
            await repo.record(
                data.community_id,
                DesignBasis(
                    round_id=data.round_id,
                    round_title=data.title,
                    rounds_held=data.rounds_held,
                    group_code=g.group_code,
                    building_codes=tuple(g.building_codes),
                    status=g.status,
                    proposal_id=g.winning_proposal_id,
                    proposal_code=g.winning_proposal_code,
                    version_id=g.winning_version_id,
                    version=g.winning_version,
                    title=g.winning_title,
                    consultation_id=g.consultation_id,
                    decided_by=g.decided_by,
                    runoff_number=g.runoff_number,
                    decided_at=data.decided_at,
                ),
            )
        for code in sorted(data.pending_group_codes):
            pending = DesignBasis(data.round_id, data.title, data.rounds_held, code, (), status="pending")
            await repo.record(data.community_id, pending)
        await refresh(uow, ctx, data.community_id)
        await uow.commit()


async def community_lifecycle(
    read: ReadOnlyUnitOfWork, ctx: Context, principal: Principal, community_id: str
) -> tuple[str, Lifecycle]:
    """The seven steps of a community the caller may read (residents: their own community); with its name."""
    async with read:
        community = await CommunityRepository(read.session).get(community_id)
        if community is None:
            raise NotFound(
                "the survey registry has no such community (or its registration has not arrived yet)",
                code="community_not_found",
            )
        principal.ensure_covers_community(access.community_scope(community))
        return community.name, await _compute(LifecycleRepository(read.session), ctx, community_id)


@dataclass(frozen=True)
class LifecycleQuery:
    district_id: str | None = None
    street_id: str | None = None
    step: Step | None = None


async def list_lifecycle(
    read: ReadOnlyUnitOfWork, principal: Principal, query: LifecycleQuery, *, after: str | None, limit: int
) -> tuple[list[CommunityStep], Tallies | None]:
    """Up to ``limit + 1`` communities of the caller's scope (by id) with their current step, and the summary of
    that scope narrowed by the query's place (``None`` when the place is outside the scope: nothing is there)."""
    scope = access.visible(principal)
    where = LifecycleFilter(scope.district_id, scope.street_id, scope.community_id)
    for name, wanted in (("district_id", query.district_id), ("street_id", query.street_id)):
        if wanted is None:
            continue
        mine = getattr(where, name)
        if mine is not None and mine != wanted:
            return [], None
        where = replace(where, **{name: wanted})
    async with read:
        repo = LifecycleRepository(read.session)
        return await repo.page(where, step=query.step, after=after, limit=limit + 1), await repo.tallies(where)
