"""The final vote: one scheme_vote consultation per group, and the decision once every group has voted."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from renovation_common.auth import Principal
from renovation_common.contracts.survey import SchemeGroupDecision, SchemeRoundDecided
from renovation_common.db import UnitOfWork
from renovation_common.errors import InvalidState, NotFound
from renovation_common.events import CloudEvent, new_event
from survey.adapters.orm import CommunityRow, ConsultationRow
from survey.adapters.repositories.schemes import SchemeRepository
from survey.adapters.scheme_tables import SchemeGroupRow, SchemeRoundRow, SchemeRunoffRow
from survey.domain import deliberation as d
from survey.domain.consultation import ConsultationKind
from survey.service_layer.consultations.mapping import NewConsultation, draft_row
from survey.service_layer.deliberation.common import (
    CLOSED_STATES,
    SCHEME_QUESTION,
    FinalVote,
    RunoffVote,
    community_of,
    ensure_staff,
    error_of,
    load_round,
    set_stage,
    stage_of,
)
from survey.service_layer.deliberation.views import group_result, round_view


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
            consultation = group_vote(
                c,
                f"{row.title} · {g.name} 方案表决",
                g.name,
                ballots[g.id],
                [code for _, code in buildings.get(g.id, [])],
                rule=cmd.rule,
                threshold=cmd.threshold,
                opens_at=cmd.opens_at,
                closes_at=cmd.closes_at,
                principal=principal,
                now=now,
            )
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
        decisions: list[SchemeGroupDecision] = []
        pending: list[str] = []
        for group, g in zip(await repo.groups(row.id), view["groups"], strict=True):
            result = g["final_vote"]["result"]
            group.result = result
            decision = _count(group, result, runoffs_held=0, now=now)
            if decision is d.GroupDecision.DECIDED:
                decisions.append(_group_decision(group, g, g["final_vote"]["consultation_id"], result, runoff=0))
            else:
                pending.append(group.code)
        set_stage(row, stage, now)
        row.decided_at, row.decided_by = now, principal.sub
        if decisions:  # a group's decision is published once it is decided: a group awaiting a run-off waits
            uow.publish(_decided_event(row, decisions, pending, now=now, source=source, key="final-vote"))
        view = await round_view(repo, row, now=now)
        await uow.commit()
    return view


async def open_runoff(
    uow: UnitOfWork, principal: Principal, round_id: uuid.UUID, group_code: str, cmd: RunoffVote, *, now: datetime
) -> dict[str, Any]:
    """A run-off (决选) for one group awaiting it: a draft ``scheme_vote`` consultation of the group's own buildings
    (its own ballots) among the schemes its last vote left tied or leading, and "none", under the same rule and
    threshold as the group's final vote. Staff open, answer and close it through the consultation endpoints, then
    count it (:func:`count_runoff`). At most ``RUNOFF_LIMIT`` per group."""
    async with uow:
        repo = SchemeRepository(uow.session)
        row = await load_round(repo, round_id, for_update=True)
        ensure_staff(principal, row)
        group = await _group(repo, row, group_code)
        held = (await repo.runoffs(row.id)).get(group.id, [])
        try:
            number = d.ensure_runoff_may_open(
                d.GroupDecision(group.decision), runoffs_held=len(held), has_winner=group.winner_version_id is not None
            )
        except d.DeliberationError as exc:
            raise error_of(exc) from None
        last = held[-1].result if held else group.result
        assert last is not None and group.consultation_id is not None  # counted: awaiting a run-off
        candidates = list(last["runoff_candidates"])
        final_vote = await repo.consultation(group.consultation_id)
        assert final_vote is not None
        buildings = (await repo.group_buildings(row.id)).get(group.id, [])
        consultation = group_vote(
            await community_of(repo, row.community_id),
            f"{row.title} · {group.name} 第{number}轮决选",
            group.name,
            d.ballot_options(candidates),
            [code for _, code in buildings],
            rule=final_vote.rule,
            threshold=final_vote.threshold,
            opens_at=cmd.opens_at,
            closes_at=cmd.closes_at,
            principal=principal,
            now=now,
        )
        repo.add(consultation)
        await repo.flush()
        repo.add(
            SchemeRunoffRow(
                id=uuid.uuid4(),
                round_id=row.id,
                group_id=group.id,
                number=number,
                consultation_id=consultation.id,
                candidates=candidates,
                created_by=principal.sub,
                created_at=now,
            )
        )
        group.decision = d.GroupDecision.RUNOFF_OPEN.value
        row.updated_at, row.version = now, row.version + 1
        await repo.flush()
        view = await round_view(repo, row, now=now)
        await uow.commit()
    return view


async def count_runoff(
    uow: UnitOfWork, principal: Principal, round_id: uuid.UUID, group_code: str, *, now: datetime, source: str
) -> dict[str, Any]:
    """Count a group's closed run-off: its result under the rule over the group's households is frozen; a winner
    decides the group, and so does the last run-off (``RUNOFF_LIMIT``) or one that leaves no candidate (no
    scheme); otherwise the group awaits the next run-off. A decided group's ``survey.scheme_round.decided.v1`` is
    published (that group only, once: the round's row lock and the group's state serialise callers)."""
    async with uow:
        repo = SchemeRepository(uow.session)
        row = await load_round(repo, round_id, for_update=True)
        ensure_staff(principal, row)
        group = await _group(repo, row, group_code)
        if group.decision != d.GroupDecision.RUNOFF_OPEN.value:
            raise InvalidState(f"group {group.code} has no run-off to count", code="no_runoff_open")
        runoff = (await repo.runoffs(row.id))[group.id][-1]
        consultation = await repo.consultation(runoff.consultation_id)
        assert consultation is not None
        if consultation.state not in CLOSED_STATES:
            raise InvalidState("close the run-off vote first", code="runoff_not_closed")
        proposals = {p.code: p for p in await repo.proposals(row.id)}
        result = await group_result(repo, consultation, proposals, now)
        runoff.result, runoff.counted_at = result, now
        decision = _count(group, result, runoffs_held=runoff.number, now=now)
        row.updated_at, row.version = now, row.version + 1
        await repo.flush()
        view = await round_view(repo, row, now=now)
        if decision is d.GroupDecision.DECIDED:
            g = next(g for g in view["groups"] if g["code"] == group.code)
            pending = [x["code"] for x in view["groups"] if x["decision"]["status"] != d.GroupDecision.DECIDED]
            uow.publish(
                _decided_event(
                    row,
                    [_group_decision(group, g, str(consultation.id), result, runoff=runoff.number)],
                    pending,
                    now=now,
                    source=source,
                    key=f"group:{group.code}",
                )
            )
        await uow.commit()
    return view


# -- helpers -------------------------------------------------------------------------------------------------------
def group_vote(
    c: CommunityRow,
    title: str,
    group_name: str,
    options: list[str],
    building_codes: list[str],
    *,
    rule: str,
    threshold: str | None,
    opens_at: datetime | None,
    closes_at: datetime | None,
    principal: Principal,
    now: datetime,
) -> ConsultationRow:
    """A group's own draft ``scheme_vote`` consultation (the final vote or a run-off): one single-choice question
    of its schemes and "none"; choosing a scheme approves; a household of another courtyard is refused."""
    cmd = NewConsultation(
        community_id=c.id,
        kind=ConsultationKind.SCHEME_VOTE.value,
        title=title[:200],
        batch=None,
        questions=[
            {
                "id": SCHEME_QUESTION,
                "kind": "single_choice",
                "text": f"{group_name}：请选择设计方案（{'、'.join(options[:-1])}；none 为均不同意）",
                "options": options,
                "required": True,
            }
        ],
        rule=rule,
        threshold=threshold,
        decision_question_id=SCHEME_QUESTION,
        approve_options=options[:-1],
        menu_question_id=None,
        menu_threshold="1/2",
        age_middle_from=35,
        age_elderly_from=60,
        opens_at=opens_at,
        closes_at=closes_at,
    )
    consultation = draft_row(c, cmd, consultation_id=uuid.uuid4(), created_by=principal.sub, now=now)
    consultation.building_codes = building_codes
    return consultation


async def _group(repo: SchemeRepository, row: SchemeRoundRow, code: str) -> SchemeGroupRow:
    group = await repo.group_by_code(row.id, code)
    if group is None:
        raise NotFound(f"scheme round {row.id} has no group {code}", code="scheme_group_not_found")
    return group


def _count(group: SchemeGroupRow, result: dict[str, Any], *, runoffs_held: int, now: datetime) -> d.GroupDecision:
    """Apply a counted vote's result to its group: decided (with its winner, if any) or awaiting a run-off."""
    winner = result["winner"]
    decision = d.decision_after(d.WinnerStatus(winner["status"]), result["runoff_candidates"], runoffs_held)
    group.decision = decision.value
    if decision is d.GroupDecision.DECIDED:
        group.decided_at = now
        group.winner_version_id = uuid.UUID(winner["version_id"]) if winner["version_id"] else None
    return decision


def _group_decision(
    group: SchemeGroupRow, view: dict[str, Any], consultation_id: str, result: dict[str, Any], *, runoff: int
) -> SchemeGroupDecision:
    winner = result["winner"]
    return SchemeGroupDecision(
        group_code=group.code,
        building_codes=view["building_codes"],
        consultation_id=consultation_id,
        outcome=result["outcome"],
        status=winner["status"],
        winning_proposal_id=winner["proposal_id"],
        winning_proposal_code=winner["proposal_code"],
        winning_version_id=winner["version_id"],
        winning_version=winner["version"],
        winning_title=winner.get("title"),
        votes=winner["votes"],
        decided_by="runoff" if runoff else "final_vote",
        runoff_number=runoff,
    )


def _decided_event(
    row: SchemeRoundRow,
    decisions: list[SchemeGroupDecision],
    pending: list[str],
    *,
    now: datetime,
    source: str,
    key: str,
) -> CloudEvent:
    """The decision of the groups decided now; its id derives from the round and what decided (the final vote, or
    one group's run-off), so a retried use case can never publish a second, different id for the same decision."""
    return new_event(
        SchemeRoundDecided(
            round_id=str(row.id),
            community_id=str(row.community_id),
            district_id=row.district_id,
            street_id=row.street_id,
            title=row.title,
            rounds_held=row.round_no,
            groups=decisions,
            pending_group_codes=pending,
            decided_at=now,
        ),
        source=source,
        subject=str(row.id),
        event_id=uuid5(NAMESPACE_URL, f"survey:scheme-round:{row.id}:decided:{key}"),
        time=now,
    )
