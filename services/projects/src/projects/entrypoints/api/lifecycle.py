"""Routes of the seven-step lifecycle (民主议事决策七步工作法): one community's timeline, the communities of a
scope with their current step and a summary of support before vs satisfaction after."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from projects.domain.lifecycle import (
    STEP_NAMES_ZH,
    Approval,
    EvidenceKind,
    Lifecycle,
    Step,
    StepStatus,
    approval_of,
)
from projects.entrypoints.api.dependencies import READERS, ContextDep, RuntimeDep
from projects.service_layer import lifecycle as uc
from renovation_common.auth import Principal, authorize
from renovation_common.pagination import Page, PageParams, encode_cursor, page_params

router = APIRouter(tags=["lifecycle"])


class EvidenceRead(BaseModel):
    kind: EvidenceKind
    id: str = Field(
        description="Id of the record (consultation, ranking, funding plan, project, plan, inspection; a scheme "
        "round, or `<round id>/<group code>` for a group's scheme decision)"
    )
    at: str | None = Field(description="ISO date or date-time of the record (null when it has none, e.g. a plan)")
    detail: str = ""


class StepRead(BaseModel):
    number: int = Field(ge=1, le=7)
    step: Step
    name_zh: str
    status: StepStatus
    evidence: list[EvidenceRead]
    missing: list[str] = Field(description="What has to happen for the step to be done ([] when done)")


class ApprovalRead(BaseModel):
    consultation_id: str
    approving_households: int
    total_households: int
    approval_ratio: str = Field(description="Exact fraction 'n/d' of all households, lowest terms")
    approval_percent: Decimal


class SupportRead(BaseModel):
    """Support before renovation (the newest willingness round) and satisfaction after it (the newest
    satisfaction round), side by side."""

    before: ApprovalRead | None
    after: ApprovalRead | None


class LifecycleRead(BaseModel):
    community_id: str
    community_name: str
    current_step: Step = Field(description="The first step not done (the last step when all are done)")
    current_status: StepStatus
    steps: list[StepRead]
    support: SupportRead


class CommunityStepRead(BaseModel):
    community_id: str
    community_name: str
    district_id: str
    street_id: str | None
    current_step: Step
    current_status: StepStatus


class SideRead(BaseModel):
    communities: int = Field(description="Communities with such a round")
    approving_households: int
    total_households: int
    approval_ratio: str = Field(description="Exact fraction of the sums, lowest terms ('0/1' when none)")
    approval_percent: Decimal


class LifecycleSummary(BaseModel):
    communities: int
    per_step: dict[Step, int] = Field(description="Communities standing at each step")
    support_before: SideRead
    satisfaction_after: SideRead


class LifecyclePage(Page[CommunityStepRead]):
    summary: LifecycleSummary


def _approval(a: Approval | None) -> ApprovalRead | None:
    if a is None:
        return None
    return ApprovalRead(
        consultation_id=a.consultation_id,
        approving_households=a.approving_households,
        total_households=a.total_households,
        approval_ratio=a.ratio,
        approval_percent=a.percent,
    )


def _lifecycle(name: str, life: Lifecycle) -> LifecycleRead:
    return LifecycleRead(
        community_id=life.community_id,
        community_name=name,
        current_step=life.current_step,
        current_status=life.current_status,
        steps=[
            StepRead(
                number=s.step.number,
                step=s.step,
                name_zh=STEP_NAMES_ZH[s.step],
                status=s.status,
                evidence=[EvidenceRead(kind=e.kind, id=e.id, at=e.at, detail=e.detail) for e in s.evidence],
                missing=s.missing,
            )
            for s in life.steps
        ],
        support=SupportRead(before=_approval(life.support_before), after=_approval(life.satisfaction_after)),
    )


def _side(communities: int, approving: int, total: int) -> SideRead:
    share = approval_of("", approving, total)
    return SideRead(
        communities=communities,
        approving_households=approving,
        total_households=total,
        approval_ratio=share.ratio,
        approval_percent=share.percent,
    )


@router.get(
    "/v1/communities/{community_id}/lifecycle",
    operation_id="getCommunityLifecycle",
    response_model=LifecycleRead,
    summary="Where a community stands in the seven-step democratic decision method (民主议事决策七步工作法)",
)
async def get_community_lifecycle(
    community_id: Annotated[str, Path(min_length=1, max_length=64)],
    principal: Annotated[Principal, authorize(*READERS)],
    runtime: RuntimeDep,
    ctx: ContextDep,
) -> LifecycleRead:
    """The seven steps in order — collect opinions, deliberate, decide by vote, hearing and review, implement,
    supervise throughout, evaluate and feed back — each with its status (`done`, `in_progress`, `not_started`,
    `blocked`), the records behind it (closed consultations, the ranking, the project, its funding plan, plan,
    progress and inspections) and what is missing to move on; the current step is the first one not done. Support
    before (the willingness round) and satisfaction after (the satisfaction round) are shown side by side as exact
    fractions of all households. Residents read their own community; staff the communities their scope covers
    (the survey registry places the community: 404 `community_not_found` when it is unknown)."""
    name, life = await uc.community_lifecycle(runtime.read(), ctx, principal, community_id)
    return _lifecycle(name, life)


@router.get(
    "/v1/lifecycle",
    operation_id="listCommunityLifecycles",
    response_model=LifecyclePage,
    summary="The communities of the caller's scope with their current step, and support before vs satisfaction after",
)
async def list_community_lifecycles(
    principal: Annotated[Principal, authorize(*READERS)],
    runtime: RuntimeDep,
    page: Annotated[PageParams, Depends(page_params)],
    district_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    street_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    step: Annotated[Step | None, Query(description="Only communities whose current step is this")] = None,
) -> LifecyclePage:
    """Communities registered in the caller's scope (residents: their own), by id, each with its current step;
    `district_id`, `street_id` and `step` narrow the list (a place outside the scope finds nothing). The summary
    covers the scope narrowed by the place (not by `step`): how many communities stand at each step, and the sums
    of approving and of all households in the willingness rounds (before) and the satisfaction rounds (after),
    with the exact fraction of the sums. Cursor pagination: pass `next_cursor` as `cursor`."""
    found, tallies = await uc.list_lifecycle(
        runtime.read(),
        principal,
        uc.LifecycleQuery(district_id=district_id, street_id=street_id, step=step),
        after=page.after_str(64),
        limit=page.limit,
    )
    items = [
        CommunityStepRead(
            community_id=c.community.community_id,
            community_name=c.community.name,
            district_id=c.community.district_id,
            street_id=c.community.street_id,
            current_step=c.current_step,
            current_status=c.current_status,
        )
        for c in found[: page.limit]
    ]
    cursor = encode_cursor(items[-1].community_id) if len(found) > page.limit else None
    if tallies is None:
        summary = LifecycleSummary(
            communities=0, per_step=dict.fromkeys(Step, 0), support_before=_side(0, 0, 0),
            satisfaction_after=_side(0, 0, 0),
        )  # fmt: skip
    else:
        summary = LifecycleSummary(
            communities=tallies.communities,
            per_step=tallies.per_step,
            support_before=_side(tallies.before_communities, tallies.before_approving, tallies.before_total),
            satisfaction_after=_side(tallies.after_communities, tallies.after_approving, tallies.after_total),
        )
    return LifecyclePage(items=items, next_cursor=cursor, summary=summary)
