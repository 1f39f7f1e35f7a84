"""The vocabulary every deliberation use case shares: commands, limits, the stage of a round row, scope and loading."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from renovation_common.auth import Principal, Scope
from renovation_common.errors import Conflict, DomainError, Forbidden, InvalidState, NotFound
from survey.adapters.orm import CommunityRow
from survey.adapters.repositories.schemes import SchemeRepository
from survey.adapters.scheme_tables import (
    SchemeRoundRow,
)
from survey.domain import deliberation as d
from survey.domain.consultation import State as ConsultationState

SCHEME_QUESTION = "scheme"


CLOSED_STATES = (ConsultationState.CLOSED.value, ConsultationState.PUBLISHED.value)


MAX_PROPOSALS = 20


INPUT_CODES = frozenset(
    {"building_not_in_community", "building_in_two_groups", "unknown_scheme_group", "invalid_groups"}
    | {"feedback_not_on_parent"}
)  # 422: what the request names is wrong; the other rule refusals are 409 (the round's state)


def error_of(exc: d.DeliberationError) -> DomainError:
    if exc.code in INPUT_CODES:
        return DomainError(str(exc), code=exc.code)
    if exc.code == "broken_lineage":
        return Conflict(str(exc), code=exc.code)
    return InvalidState(str(exc), code=exc.code)


def stage_of(row: SchemeRoundRow) -> d.Stage:
    return d.Stage(d.State(row.state), row.round_no, d.Phase(row.phase))


def set_stage(row: SchemeRoundRow, stage: d.Stage, now: datetime) -> None:
    row.state, row.round_no, row.phase = stage.state.value, stage.round_no, stage.phase.value
    row.updated_at = now
    row.version += 1


def ensure_staff(principal: Principal, row: SchemeRoundRow) -> None:
    if not (principal.is_staff and principal.covers(Scope(row.district_id, row.street_id, str(row.community_id)))):
        raise Forbidden("this scheme round is outside your scope", code="out_of_scope")


async def load_round(repo: SchemeRepository, round_id: uuid.UUID, *, for_update: bool = False) -> SchemeRoundRow:
    row = await repo.scheme_round(round_id, for_update=for_update)
    if row is None:
        raise NotFound("scheme round not found", code="scheme_round_not_found")
    return row


async def community_of(repo: SchemeRepository, community_id: uuid.UUID) -> CommunityRow:
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


@dataclass(frozen=True)
class RunoffVote:
    opens_at: datetime | None
    closes_at: datetime | None
