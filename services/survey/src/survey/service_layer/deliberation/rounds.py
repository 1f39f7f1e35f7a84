"""A scheme round from 一上 to the last 下: opening it with its courtyard groups, proposals, rounds up and
down, revisions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from renovation_common.auth import Principal
from renovation_common.db import UnitOfWork
from renovation_common.errors import DomainError, NotFound
from survey.adapters.repositories.schemes import SchemeRepository
from survey.adapters.scheme_tables import (
    SchemeGroupBuildingRow,
    SchemeGroupRow,
    SchemeProposalRow,
    SchemeRoundRow,
    SchemeVersionRow,
)
from survey.domain import deliberation as d
from survey.service_layer.deliberation.common import (
    MAX_PROPOSALS,
    NewProposal,
    NewRound,
    Revision,
    community_of,
    ensure_staff,
    error_of,
    load_round,
    set_stage,
    stage_of,
)
from survey.service_layer.deliberation.views import round_view
from survey.service_layer.registry import ensure_staff_covers


# -- use cases -----------------------------------------------------------------------------------------------------
async def create_round(uow: UnitOfWork, principal: Principal, cmd: NewRound, *, now: datetime) -> dict[str, Any]:
    """Open a scheme round (一上) for one or more courtyard/building groups of a community's own buildings."""
    async with uow:
        repo = SchemeRepository(uow.session)
        c = await community_of(repo, cmd.community_id)
        ensure_staff_covers(principal, c)
        buildings = await repo.community_buildings(c.id)
        groups = [d.Group(g.code, g.name, tuple(g.building_codes)) for g in cmd.groups]
        try:
            d.check_groups(groups, buildings)
        except d.DeliberationError as exc:
            raise error_of(exc) from None
        round_id = uuid.uuid4()
        row = SchemeRoundRow(
            id=round_id,
            community_id=c.id,
            district_id=c.district_id,
            street_id=c.street_id,
            title=cmd.title,
            state=d.FIRST_STAGE.state.value,
            round_no=d.FIRST_STAGE.round_no,
            phase=d.FIRST_STAGE.phase.value,
            created_by=principal.sub,
            created_at=now,
            updated_at=now,
            version=1,
        )
        repo.add(row)
        await repo.flush()
        for position, g in enumerate(groups):
            group_id = uuid.uuid4()
            repo.add(SchemeGroupRow(id=group_id, round_id=round_id, code=g.code, name=g.name, position=position))
            await repo.flush()
            for code in sorted(set(g.building_codes)):
                repo.add(SchemeGroupBuildingRow(group_id=group_id, building_id=buildings[code], round_id=round_id))
        await repo.flush()
        view = await round_view(repo, row, now=now)
        await uow.commit()
    return view


async def add_proposal(
    uow: UnitOfWork, principal: Principal, round_id: uuid.UUID, cmd: NewProposal, *, now: datetime
) -> dict[str, Any]:
    """A firm's, a university's or a resident's proposal (its v1), recorded by staff in the first 上."""
    async with uow:
        repo = SchemeRepository(uow.session)
        row = await load_round(repo, round_id, for_update=True)  # proposal codes P1, P2 … in order
        ensure_staff(principal, row)
        try:
            d.ensure_accepts_proposals(stage_of(row))
            groups = d.groups_of_proposal(cmd.group_codes, [g.code for g in await repo.groups(row.id)])
        except d.DeliberationError as exc:
            raise error_of(exc) from None
        count = await repo.proposal_count(row.id)
        if count >= MAX_PROPOSALS:
            raise DomainError(f"a scheme round takes at most {MAX_PROPOSALS} proposals", code="too_many_proposals")
        proposal_id = uuid.uuid4()
        repo.add(
            SchemeProposalRow(
                id=proposal_id,
                round_id=row.id,
                code=f"P{count + 1}",
                source_kind=d.SourceKind(cmd.source_kind).value,
                proposer=cmd.proposer,
                group_codes=groups,
                created_by=principal.sub,
                created_at=now,
            )
        )
        await repo.flush()
        repo.add(
            SchemeVersionRow(
                id=uuid.uuid4(),
                proposal_id=proposal_id,
                round_id=row.id,
                number=1,
                parent_id=None,
                title=cmd.title,
                summary=cmd.summary,
                document_ref=cmd.document_ref,
                changes=None,
                answers_feedback=[],
                published_in_round=row.round_no,
                created_by=principal.sub,
                created_at=now,
            )
        )
        row.updated_at, row.version = now, row.version + 1
        await repo.flush()
        view = await round_view(repo, row, now=now)
        await uow.commit()
    return view


async def advance_round(
    uow: UnitOfWork, principal: Principal, round_id: uuid.UUID, step: str, *, now: datetime
) -> dict[str, Any]:
    """``down`` (上 → 下: feedback closes, goes back to the proposers) or ``up`` (下 → the next 上, at most 3)."""
    async with uow:
        repo = SchemeRepository(uow.session)
        row = await load_round(repo, round_id, for_update=True)
        ensure_staff(principal, row)
        try:
            stage = d.send_down(stage_of(row)) if step == "down" else d.send_up(stage_of(row))
            if step == "down" and not await repo.proposals(row.id):
                raise d.DeliberationError("no proposal to deliberate yet", code="no_scheme_to_vote")
        except d.DeliberationError as exc:
            raise error_of(exc) from None
        set_stage(row, stage, now)
        view = await round_view(repo, row, now=now)
        await uow.commit()
    return view


async def revise(
    uow: UnitOfWork, principal: Principal, proposal_id: uuid.UUID, cmd: Revision, *, now: datetime
) -> dict[str, Any]:
    """A revised version (v2 after 一下, v3 after 二下) of a proposal: its parent, what changed, and the feedback
    on the parent it answers. Two revisions racing on one parent: the unique (proposal, number) keeps one."""
    async with uow:
        repo = SchemeRepository(uow.session)
        proposal = await repo.proposal(proposal_id)
        if proposal is None:
            raise NotFound("scheme proposal not found", code="scheme_proposal_not_found")
        row = await load_round(repo, proposal.round_id, for_update=True)
        ensure_staff(principal, row)
        chain = await repo.proposal_versions(proposal.id)
        parent = next((v for v in chain if v.id == cmd.parent_version_id), None)
        if parent is None:
            raise NotFound("the parent version is not a version of this proposal", code="scheme_version_not_found")
        try:
            number = d.next_version_number(
                stage_of(row), parent_number=parent.number, parent_is_current=parent.id == chain[-1].id
            )
            d.ensure_answers_feedback([str(f) for f in cmd.answers_feedback], await repo.feedback_ids(parent.id))
        except d.DeliberationError as exc:
            raise error_of(exc) from None
        version_id = uuid.uuid4()
        repo.add(
            SchemeVersionRow(
                id=version_id,
                proposal_id=proposal.id,
                round_id=row.id,
                number=number,
                parent_id=parent.id,
                title=cmd.title or parent.title,
                summary=cmd.summary,
                document_ref=cmd.document_ref,
                changes=cmd.changes,
                answers_feedback=sorted({str(f) for f in cmd.answers_feedback}),
                published_in_round=row.round_no + 1,  # it goes up in the next round
                created_by=principal.sub,
                created_at=now,
            )
        )
        row.updated_at, row.version = now, row.version + 1
        await repo.flush()
        view = await round_view(repo, row, now=now)
        await uow.commit()
    return view
