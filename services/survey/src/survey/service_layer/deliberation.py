"""Design-scheme deliberation use cases (三上三下, 一院一策): open a scheme round for groups of a community's
buildings, take proposals, take residents' feedback, publish revised versions, start the final vote (one
``scheme_vote`` consultation per group, decided by the consultation machinery and ``domain.rules``), decide.

Scope comes from the round's community record (staff) or the household record (residents), never from a body.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from renovation_common.auth import Principal, Role, Scope
from renovation_common.contracts.survey import MENU_CATALOG, SchemeGroupDecision, SchemeRoundDecided
from renovation_common.db import ReadOnlyUnitOfWork, UnitOfWork
from renovation_common.errors import Conflict, DomainError, Forbidden, InvalidState, NotFound
from renovation_common.events import new_event
from survey.adapters.orm import CommunityRow, ConsultationRow
from survey.adapters.repositories import HouseholdRepository
from survey.adapters.repositories.schemes import SchemeRepository
from survey.adapters.scheme_tables import (
    SchemeFeedbackRow,
    SchemeGroupBuildingRow,
    SchemeGroupRow,
    SchemeProposalRow,
    SchemeRoundRow,
    SchemeVersionRow,
)
from survey.domain import deliberation as d
from survey.domain.consultation import ConsultationKind
from survey.domain.consultation import State as ConsultationState
from survey.domain.results import AgeGroups, HouseholdFact, ResponseFact, compute_result
from survey.domain.rules import Outcome
from survey.service_layer.consultations.mapping import NewConsultation, draft_row, setup_of
from survey.service_layer.consultations.results import result_document
from survey.service_layer.registry import ensure_reads_community, ensure_staff_covers

SCHEME_QUESTION = "scheme"
CLOSED_STATES = (ConsultationState.CLOSED.value, ConsultationState.PUBLISHED.value)
MAX_PROPOSALS = 20


INPUT_CODES = frozenset(
    {"building_not_in_community", "building_in_two_groups", "unknown_scheme_group", "invalid_groups"}
    | {"feedback_not_on_parent"}
)  # 422: what the request names is wrong; the other rule refusals are 409 (the round's state)


def _error(exc: d.DeliberationError) -> DomainError:
    if exc.code in INPUT_CODES:
        return DomainError(str(exc), code=exc.code)
    if exc.code == "broken_lineage":
        return Conflict(str(exc), code=exc.code)
    return InvalidState(str(exc), code=exc.code)


def _stage(row: SchemeRoundRow) -> d.Stage:
    return d.Stage(d.State(row.state), row.round_no, d.Phase(row.phase))


def _set_stage(row: SchemeRoundRow, stage: d.Stage, now: datetime) -> None:
    row.state, row.round_no, row.phase = stage.state.value, stage.round_no, stage.phase.value
    row.updated_at = now
    row.version += 1


def _ensure_staff(principal: Principal, row: SchemeRoundRow) -> None:
    if not (principal.is_staff and principal.covers(Scope(row.district_id, row.street_id, str(row.community_id)))):
        raise Forbidden("this scheme round is outside your scope", code="out_of_scope")


async def _load_round(repo: SchemeRepository, round_id: uuid.UUID, *, for_update: bool = False) -> SchemeRoundRow:
    row = await repo.scheme_round(round_id, for_update=for_update)
    if row is None:
        raise NotFound("scheme round not found", code="scheme_round_not_found")
    return row


async def _community(repo: SchemeRepository, community_id: uuid.UUID) -> CommunityRow:
    c = await repo.community(community_id)
    if c is None:
        raise NotFound("community not found", code="community_not_found")
    return c


# -- commands ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupSpec:
    code: str
    name: str
    building_codes: list[str]


@dataclass(frozen=True)
class NewRound:
    community_id: uuid.UUID
    title: str
    groups: list[GroupSpec]


@dataclass(frozen=True)
class NewProposal:
    source_kind: str
    proposer: str
    title: str
    summary: str
    document_ref: str | None
    group_codes: list[str]


@dataclass(frozen=True)
class Revision:
    parent_version_id: uuid.UUID
    title: str | None
    summary: str
    document_ref: str | None
    changes: str
    answers_feedback: list[uuid.UUID]


@dataclass(frozen=True)
class Feedback:
    household_id: uuid.UUID | None
    stance: str
    text: str | None
    channel: str | None


@dataclass(frozen=True)
class FinalVote:
    rule: str
    threshold: str | None
    opens_at: datetime | None
    closes_at: datetime | None


# -- use cases -----------------------------------------------------------------------------------------------------
async def create_round(uow: UnitOfWork, principal: Principal, cmd: NewRound, *, now: datetime) -> dict[str, Any]:
    """Open a scheme round (一上) for one or more courtyard/building groups of a community's own buildings."""
    async with uow:
        repo = SchemeRepository(uow.session)
        c = await _community(repo, cmd.community_id)
        ensure_staff_covers(principal, c)
        buildings = await repo.community_buildings(c.id)
        groups = [d.Group(g.code, g.name, tuple(g.building_codes)) for g in cmd.groups]
        try:
            d.check_groups(groups, buildings)
        except d.DeliberationError as exc:
            raise _error(exc) from None
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
        view = await _view(repo, row, now=now)
        await uow.commit()
    return view


async def add_proposal(
    uow: UnitOfWork, principal: Principal, round_id: uuid.UUID, cmd: NewProposal, *, now: datetime
) -> dict[str, Any]:
    """A firm's, a university's or a resident's proposal (its v1), recorded by staff in the first 上."""
    async with uow:
        repo = SchemeRepository(uow.session)
        row = await _load_round(repo, round_id, for_update=True)  # proposal codes P1, P2 … in order
        _ensure_staff(principal, row)
        try:
            d.ensure_accepts_proposals(_stage(row))
            groups = d.groups_of_proposal(cmd.group_codes, [g.code for g in await repo.groups(row.id)])
        except d.DeliberationError as exc:
            raise _error(exc) from None
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
        view = await _view(repo, row, now=now)
        await uow.commit()
    return view


async def advance_round(
    uow: UnitOfWork, principal: Principal, round_id: uuid.UUID, step: str, *, now: datetime
) -> dict[str, Any]:
    """``down`` (上 → 下: feedback closes, goes back to the proposers) or ``up`` (下 → the next 上, at most 3)."""
    async with uow:
        repo = SchemeRepository(uow.session)
        row = await _load_round(repo, round_id, for_update=True)
        _ensure_staff(principal, row)
        try:
            stage = d.send_down(_stage(row)) if step == "down" else d.send_up(_stage(row))
            if step == "down" and not await repo.proposals(row.id):
                raise d.DeliberationError("no proposal to deliberate yet", code="no_scheme_to_vote")
        except d.DeliberationError as exc:
            raise _error(exc) from None
        _set_stage(row, stage, now)
        view = await _view(repo, row, now=now)
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
        row = await _load_round(repo, proposal.round_id, for_update=True)
        _ensure_staff(principal, row)
        chain = await repo.proposal_versions(proposal.id)
        parent = next((v for v in chain if v.id == cmd.parent_version_id), None)
        if parent is None:
            raise NotFound("the parent version is not a version of this proposal", code="scheme_version_not_found")
        try:
            number = d.next_version_number(
                _stage(row), parent_number=parent.number, parent_is_current=parent.id == chain[-1].id
            )
            d.ensure_answers_feedback([str(f) for f in cmd.answers_feedback], await repo.feedback_ids(parent.id))
        except d.DeliberationError as exc:
            raise _error(exc) from None
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
        view = await _view(repo, row, now=now)
        await uow.commit()
    return view


@dataclass(frozen=True)
class FeedbackResult:
    feedback: dict[str, Any]
    replayed: bool


async def give_feedback(
    uow: UnitOfWork, principal: Principal, version_id: uuid.UUID, cmd: Feedback, *, now: datetime
) -> FeedbackResult:
    """One feedback per household per version, while the round is up: a resident for their own household (app),
    a community worker for a household of their community (door to door, paper, meeting). The same feedback sent
    again is a replay; different feedback on the same version is 409 ``feedback_already_given``."""
    async with uow:
        repo = SchemeRepository(uow.session)
        version = await repo.version(version_id)
        if version is None:
            raise NotFound("scheme version not found", code="scheme_version_not_found")
        row = await _load_round(repo, version.round_id)
        household_id, channel = _respondent(principal, row, cmd)
        household = await repo.household(household_id)
        if household is None or household.community_id != row.community_id:
            raise Forbidden("this household is outside the scheme round's community", code="out_of_scope")
        proposal = await repo.proposal(version.proposal_id)
        group = await repo.group_of_building(row.id, household.building_id)
        if proposal is None or group is None or group.code not in proposal.group_codes:
            raise DomainError(
                "this household's building is not in a group of this scheme", code="household_not_in_group"
            )
        chain = await repo.proposal_versions(version.proposal_id)
        try:
            d.ensure_accepts_feedback(_stage(row), version_is_current=chain[-1].id == version.id)
        except d.DeliberationError as exc:
            raise _error(exc) from None
        stance = d.Stance(cmd.stance).value
        inserted = await repo.insert_feedback(
            {
                "id": uuid.uuid4(),
                "version_id": version.id,
                "round_id": row.id,
                "household_id": household_id,
                "stance": stance,
                "text": cmd.text,
                "channel": channel,
                "recorded_by": principal.sub,
                "created_at": now,
            }
        )
        stored = await repo.feedback_of(version.id, household_id)
        assert stored is not None
        if not inserted and (stored.stance, stored.text) != (stance, cmd.text):
            raise Conflict("this household already gave other feedback on this version", code="feedback_already_given")
        snapshot = _feedback_doc(stored)
        await uow.commit()
    return FeedbackResult(snapshot, replayed=not inserted)


def _feedback_doc(f: SchemeFeedbackRow) -> dict[str, Any]:
    return {
        "id": str(f.id),
        "version_id": str(f.version_id),
        "household_id": str(f.household_id),
        "stance": f.stance,
        "text": f.text,
        "channel": f.channel,
        "created_at": f.created_at.isoformat(),
    }


def _respondent(principal: Principal, row: SchemeRoundRow, cmd: Feedback) -> tuple[uuid.UUID, str]:
    if principal.role is Role.RESIDENT:
        own = principal.household_id
        if own is None or (cmd.household_id is not None and str(cmd.household_id) != own):
            raise Forbidden("residents give feedback for their own household", code="out_of_scope")
        if cmd.channel not in (None, "app"):
            raise DomainError("residents answer through the app", code="invalid_channel")
        try:
            return uuid.UUID(own), "app"
        except ValueError:
            raise Forbidden("this household is outside the scheme round's community", code="out_of_scope") from None
    _ensure_staff(principal, row)
    if cmd.household_id is None:
        raise DomainError("name the household the feedback is recorded for", code="household_required")
    if cmd.channel in (None, "app"):
        raise DomainError("a worker records door_to_door, paper or meeting feedback", code="invalid_channel")
    return cmd.household_id, cmd.channel


async def list_feedback(
    uow: ReadOnlyUnitOfWork, principal: Principal, version_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
) -> list[dict[str, Any]]:
    """The feedback on a version (staff in scope): what the proposers answer in the next version."""
    async with uow:
        repo = SchemeRepository(uow.session)
        version = await repo.version(version_id)
        if version is None:
            raise NotFound("scheme version not found", code="scheme_version_not_found")
        _ensure_staff(principal, await _load_round(repo, version.round_id))
        return [_feedback_doc(f) for f in await repo.feedback_page(version.id, after, limit)]


async def start_final_vote(
    uow: UnitOfWork, principal: Principal, round_id: uuid.UUID, cmd: FinalVote, *, now: datetime
) -> dict[str, Any]:
    """After a down, the final vote: one draft ``scheme_vote`` consultation per group, whose single-choice
    question lists the group's schemes (their current versions) and "none"; choosing a scheme approves, and the
    consultation's rule (default Civil Code Art. 278 major: renovating buildings and facilities) decides. Staff
    open and close each through the consultation endpoints; residents answer there."""
    async with uow:
        repo = SchemeRepository(uow.session)
        row = await _load_round(repo, round_id, for_update=True)
        _ensure_staff(principal, row)
        c = await _community(repo, row.community_id)
        proposals = await repo.proposals(row.id)
        try:
            stage = d.start_vote(_stage(row))
            ballots = {
                g.id: d.ballot_options([p.code for p in proposals if g.code in p.group_codes])
                for g in await repo.groups(row.id)
            }
        except d.DeliberationError as exc:
            raise _error(exc) from None
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
            repo.add(consultation)
            await repo.flush()
            g.consultation_id = consultation.id
        _set_stage(row, stage, now)
        await repo.flush()
        view = await _view(repo, row, now=now)
        await uow.commit()
    return view


async def decide_round(
    uow: UnitOfWork, principal: Principal, round_id: uuid.UUID, *, now: datetime, source: str
) -> dict[str, Any]:
    """Once every group's vote is closed: freeze each group's result and winner (一院一策: groups may choose
    different schemes) and publish ``survey.scheme_round.decided.v1``."""
    async with uow:
        repo = SchemeRepository(uow.session)
        row = await _load_round(repo, round_id, for_update=True)
        _ensure_staff(principal, row)
        try:
            stage = d.decide(_stage(row))
        except d.DeliberationError as exc:
            raise _error(exc) from None
        view = await _view(repo, row, now=now)
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
        _set_stage(row, stage, now)
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
        view = await _view(repo, row, now=now)
        await uow.commit()
    return view


# -- reads ---------------------------------------------------------------------------------------------------------
async def get_round(
    uow: ReadOnlyUnitOfWork, principal: Principal, round_id: uuid.UUID, *, now: datetime
) -> dict[str, Any]:
    """The round, its groups (buildings, final vote and its result per group) and every proposal's lineage."""
    async with uow:
        repo = SchemeRepository(uow.session)
        row = await _load_round(repo, round_id)
        if principal.is_staff:
            _ensure_staff(principal, row)
        else:
            await ensure_reads_community(
                HouseholdRepository(uow.session), principal, await _community(repo, row.community_id)
            )
        view = await _view(repo, row, now=now)
        if not principal.is_staff:  # residents read a vote's result once it is published, as every consultation's
            for g in view["groups"]:
                if g["final_vote"]["state"] != ConsultationState.PUBLISHED.value:
                    g["final_vote"]["result"] = None
        return view


async def list_rounds(
    uow: ReadOnlyUnitOfWork,
    principal: Principal,
    community_id: uuid.UUID,
    *,
    after: uuid.UUID | None,
    limit: int,
) -> list[dict[str, Any]]:
    """A community's scheme rounds by id (staff covering it; its residents, placed by the registry)."""
    async with uow:
        repo = SchemeRepository(uow.session)
        c = await _community(repo, community_id)
        await ensure_reads_community(HouseholdRepository(uow.session), principal, c)
        return [
            {
                "id": str(r.id),
                "community_id": str(r.community_id),
                "title": r.title,
                "state": r.state,
                "round_no": r.round_no,
                "phase": r.phase,
                "stage_label": _stage(r).label,
                "created_at": r.created_at.isoformat(),
                "decided_at": r.decided_at.isoformat() if r.decided_at else None,
            }
            for r in await repo.rounds_page(c.id, after, limit)
        ]


async def _chains(repo: SchemeRepository, row: SchemeRoundRow) -> dict[str, list[d.VersionNode]]:
    counts = await repo.feedback_counts(row.id)
    nodes = [
        d.VersionNode(
            id=str(v.id),
            proposal_id=str(v.proposal_id),
            number=v.number,
            parent_id=str(v.parent_id) if v.parent_id else None,
            changes=v.changes,
            answers_feedback=tuple(v.answers_feedback or ()),
            support=counts.get(v.id, {}).get(d.Stance.SUPPORT.value, 0),
            concerns=counts.get(v.id, {}).get(d.Stance.CONCERNS.value, 0),
        )
        for v in await repo.versions(row.id)
    ]
    try:
        return d.lineage(nodes)
    except d.DeliberationError as exc:
        raise _error(exc) from None


async def _view(repo: SchemeRepository, row: SchemeRoundRow, *, now: datetime) -> dict[str, Any]:
    versions = {v.id: v for v in await repo.versions(row.id)}
    chains = await _chains(repo, row)
    proposals = await repo.proposals(row.id)
    by_code = {p.code: p for p in proposals}
    current = {p.code: chains[str(p.id)][-1] for p in proposals}
    stage = _stage(row)
    proposal_docs = [
        {
            "id": str(p.id),
            "code": p.code,
            "source_kind": p.source_kind,
            "proposer": p.proposer,
            "group_codes": p.group_codes,
            "current_version": current[p.code].number,
            "versions": [
                {
                    "id": n.id,
                    "number": n.number,
                    "label": f"v{n.number}",
                    "parent_id": n.parent_id,
                    "title": versions[uuid.UUID(n.id)].title,
                    "summary": versions[uuid.UUID(n.id)].summary,
                    "document_ref": versions[uuid.UUID(n.id)].document_ref,
                    "changes": n.changes,
                    "answers_feedback": list(n.answers_feedback),
                    "published_in_round": versions[uuid.UUID(n.id)].published_in_round,
                    "feedback": {"support": n.support, "concerns": n.concerns, "total": n.support + n.concerns},
                    "created_at": versions[uuid.UUID(n.id)].created_at.isoformat(),
                }
                for n in chains[str(p.id)]
            ],
        }
        for p in proposals
    ]
    buildings = await repo.group_buildings(row.id)
    groups = []
    for g in await repo.groups(row.id):
        codes = [code for _, code in buildings.get(g.id, [])]
        vote: dict[str, Any] = {"consultation_id": None, "state": None, "result": None}
        if g.consultation_id is not None:
            consultation = await repo.consultation(g.consultation_id)
            assert consultation is not None
            vote = {
                "consultation_id": str(consultation.id),
                "state": consultation.state,
                "result": g.result
                or await _group_result(repo, consultation, [b for b, _ in buildings.get(g.id, [])], by_code, now),
            }
        groups.append(
            {
                "code": g.code,
                "name": g.name,
                "building_codes": codes,
                "final_vote": vote,
                "winner_version_id": str(g.winner_version_id) if g.winner_version_id else None,
            }
        )
    return {
        "id": str(row.id),
        "community_id": str(row.community_id),
        "title": row.title,
        "state": row.state,
        "round_no": row.round_no,
        "phase": row.phase,
        "stage_label": stage.label,
        "round_limit": d.ROUND_LIMIT,
        "groups": groups,
        "proposals": proposal_docs,
        "created_at": row.created_at.isoformat(),
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "version": row.version,
    }


async def _group_result(
    repo: SchemeRepository,
    consultation: ConsultationRow,
    building_ids: list[uuid.UUID],
    proposals: dict[str, SchemeProposalRow],
    now: datetime,
) -> dict[str, Any]:
    """The group's vote: the consultation's rule applied to the group's own households (its buildings) and their
    answers (``results.compute_result``: the same tally and ``rules.decide`` as every consultation), and the
    scheme most of them chose."""
    households = await repo.group_households(building_ids)
    answers = await repo.answers_of(consultation.id, building_ids)
    final = consultation.state in CLOSED_STATES
    setup = setup_of(consultation)
    result = compute_result(
        setup,
        [HouseholdFact(str(h), code, area) for h, code, area in households],
        [ResponseFact(str(h), a, None, None, ch) for h, a, ch in answers],
        catalog=MENU_CATALOG,
        age_groups=AgeGroups(consultation.age_middle_from, consultation.age_elderly_from),
        reference_year=(consultation.closed_at or now).year,
        final=final,
        max_suggestions=0,
    )
    doc = result_document(consultation, result, consultation.closed_at or now)
    votes = dict(result.questions[SCHEME_QUESTION].options)
    schemes = list(setup.approve_options)
    outcome = result.decision.outcome if final else Outcome.PENDING
    w = d.group_winner(outcome, votes, schemes)
    winning = proposals.get(w.scheme) if w.scheme else None
    versions = await repo.proposal_versions(winning.id) if winning else []
    return {
        "outcome": doc["outcome"],
        "provisional_outcome": doc["provisional_outcome"],
        "rule": doc["rule"],
        "decided_by": doc["decided_by"],
        "conditions": doc["conditions"],
        "totals": doc["totals"],
        "participation": doc["participation"],
        "approval": doc["approval"],
        "votes": votes,
        "winner": {
            "status": w.status.value,
            "proposal_code": w.scheme,
            "proposal_id": str(winning.id) if winning else None,
            "version_id": str(versions[-1].id) if versions else None,
            "version": versions[-1].number if versions else None,
            "votes": w.votes,
            "tied": list(w.tied),
        },
    }


LINEAGE_COLUMNS = (
    "方案编号",
    "方案来源",
    "提交单位",
    "适用院落",
    "版本",
    "上一版本",
    "方案名称",
    "方案摘要",
    "文档",
    "修改内容",
    "回应意见数",
    "发布轮次",
    "支持",
    "有顾虑",
    "意见合计",
    "是否当前版本",
    "中选院落",
)
SOURCE_LABELS = {"firm": "企业", "university": "高校", "resident": "居民"}


async def export_lineage(
    uow: ReadOnlyUnitOfWork, principal: Principal, round_id: uuid.UUID, *, now: datetime
) -> tuple[SchemeRoundRow, list[str], list[list[Any]]]:
    """One row per version (v1 → v2 → v3 of each proposal): what changed, the feedback it answered, the feedback
    it received, and the groups whose vote it won."""
    async with uow:
        repo = SchemeRepository(uow.session)
        row = await _load_round(repo, round_id)
        _ensure_staff(principal, row)
        view = await _view(repo, row, now=now)
        won: dict[str, list[str]] = {}
        for g in view["groups"]:
            result = g["final_vote"]["result"]
            if result and result["winner"]["status"] == d.WinnerStatus.WON and result["outcome"] != "pending":
                won.setdefault(result["winner"]["version_id"], []).append(g["code"])
        rows: list[list[Any]] = []
        for p in view["proposals"]:
            for v in p["versions"]:
                rows.append(
                    [
                        p["code"],
                        SOURCE_LABELS.get(p["source_kind"], p["source_kind"]),
                        p["proposer"],
                        "、".join(p["group_codes"]),
                        v["label"],
                        f"v{v['number'] - 1}" if v["parent_id"] else "",
                        v["title"],
                        v["summary"],
                        v["document_ref"],
                        v["changes"],
                        len(v["answers_feedback"]),
                        d.ROUND_LABELS[(v["published_in_round"], "up")],
                        v["feedback"]["support"],
                        v["feedback"]["concerns"],
                        v["feedback"]["total"],
                        "是" if v["number"] == p["current_version"] else "否",
                        "、".join(won.get(v["id"], [])),
                    ]
                )
        return row, list(LINEAGE_COLUMNS), rows
