"""The final vote: one scheme_vote consultation per group, and the decision once every group has voted."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from renovation_common.auth import Principal
from renovation_common.contracts.survey import SchemeGroupDecision, SchemeRoundDecided
from renovation_common.db import UnitOfWork
from renovation_common.errors import InvalidState
from renovation_common.events import new_event
from survey.adapters.repositories.schemes import SchemeRepository
from survey.domain import deliberation as d
from survey.domain.consultation import ConsultationKind
from survey.service_layer.consultations.mapping import NewConsultation, draft_row
from survey.service_layer.deliberation.common import (
    CLOSED_STATES,
    SCHEME_QUESTION,
    FinalVote,
    community_of,
    ensure_staff,
    error_of,
    load_round,
    set_stage,
    stage_of,
)
from survey.service_layer.deliberation.views import round_view


async def start_final_vote(
    uow: UnitOfWork, principal: Principal, round_id: uuid.UUID, cmd: FinalVote, *, now: datetime
) -> dict[str, Any]:
    """After a down, the final vote: one draft ``scheme_vote`` consultation per group, whose single-choice
    question lists the group's schemes (their current versions) and "none"; choosing a scheme approves, and the
    consultation's rule (default Civil Code Art. 278 major: renovating buildings and facilities) decides. Staff
    open and close each through the consultation endpoints; residents answer there."""
    async with uow:
        repo = SchemeRepository(uow.session)
        row = await load_round(repo, round_id, for_update=True)
        ensure_staff(principal, row)
        c = await community_of(repo, row.community_id)
        proposals = await repo.proposals(row.id)
        try:
            stage = d.start_vote(stage_of(row))
            ballots = {
                g.id: d.ballot_options([p.code for p in proposals if g.code in p.group_codes])
                for g in await repo.groups(row.id)
            }
        except d.DeliberationError as exc:
            raise error_of(exc) from None
        buildings = await repo.group_buildings(row.id)
        for g in await repo.groups(row.id):
            options = ballots[g.id]
            cmd_c = NewConsultation(
                community_id=c.id,
                kind=ConsultationKind.SCHEME_VOTE.value,
                title=f"{row.title} · {g.name} 方案表决"[:200],
                batch=None,
                questions=[
                    {
                        "id": SCHEME_QUESTION,
                        "kind": "single_choice",
                        "text": f"{g.name}：请选择设计方案（{'、'.join(options[:-1])}；none 为均不同意）",
                        "options": options,
                        "required": True,
                    }
                ],
                rule=cmd.rule,
                threshold=cmd.threshold,
                decision_question_id=SCHEME_QUESTION,
                approve_options=options[:-1],
                menu_question_id=None,
                menu_threshold="1/2",
                age_middle_from=35,
                age_elderly_from=60,
                opens_at=cmd.opens_at,
                closes_at=cmd.closes_at,
            )
            consultation = draft_row(c, cmd_c, consultation_id=uuid.uuid4(), created_by=principal.sub, now=now)
            # the group's own vote: a household of another courtyard is refused (household_outside_consultation)
            consultation.building_codes = [code for _, code in buildings.get(g.id, [])]
            repo.add(consultation)
            await repo.flush()
            g.consultation_id = consultation.id
        set_stage(row, stage, now)
        await repo.flush()
        view = await round_view(repo, row, now=now)
        await uow.commit()
    return view


async def decide_round(
    uow: UnitOfWork, principal: Principal, round_id: uuid.UUID, *, now: datetime, source: str
) -> dict[str, Any]:
    """Once every group's vote is closed: freeze each group's result and winner (一院一策: groups may choose
    different schemes) and publish ``survey.scheme_round.decided.v1``."""
    async with uow:
        repo = SchemeRepository(uow.session)
        row = await load_round(repo, round_id, for_update=True)
        ensure_staff(principal, row)
        try:
            stage = d.decide(stage_of(row))
        except d.DeliberationError as exc:
            raise error_of(exc) from None
        view = await round_view(repo, row, now=now)
        if any(g["final_vote"]["state"] not in CLOSED_STATES for g in view["groups"]):
            raise InvalidState("close every group's final vote first", code="final_vote_not_closed")
        decisions = []
        for group, g in zip(await repo.groups(row.id), view["groups"], strict=True):
            result = g["final_vote"]["result"]
            group.result = result
            winner = result["winner"]
            group.winner_version_id = uuid.UUID(winner["version_id"]) if winner["version_id"] else None
            decisions.append(
                SchemeGroupDecision(
                    group_code=group.code,
                    building_codes=g["building_codes"],
                    consultation_id=g["final_vote"]["consultation_id"],
                    outcome=result["outcome"],
                    status=winner["status"],
                    winning_proposal_id=winner["proposal_id"],
                    winning_version_id=winner["version_id"],
                    winning_version=winner["version"],
                    votes=winner["votes"],
                )
            )
        set_stage(row, stage, now)
        row.decided_at, row.decided_by = now, principal.sub
        uow.publish(
            new_event(
                SchemeRoundDecided(
                    round_id=str(row.id),
                    community_id=str(row.community_id),
                    district_id=row.district_id,
                    street_id=row.street_id,
                    title=row.title,
                    rounds_held=row.round_no,
                    groups=decisions,
                    decided_at=now,
                ),
                source=source,
                subject=str(row.id),
            )
        )
        view = await round_view(repo, row, now=now)
        await uow.commit()
    return view
