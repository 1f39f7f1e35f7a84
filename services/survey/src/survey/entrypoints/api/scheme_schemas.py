"""Request and response schemas of design-scheme deliberation (bounded inputs)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from survey.domain.consultation import Channel
from survey.domain.consultation import State as ConsultationState
from survey.domain.deliberation import RUNOFF_LIMIT, GroupDecision, SourceKind, Stance, WinnerStatus
from survey.domain.rules import Outcome, RuleKind
from survey.entrypoints.api.schemas import (
    ApprovalRead,
    Code,
    ConditionRead,
    DecidedBy,
    ParticipationRead,
    Strict,
    TotalsRead,
)

GroupCode = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_\-]+$", examples=["A"])]


class SchemeGroupIn(Strict):
    code: GroupCode
    name: str = Field(min_length=1, max_length=100, examples=["一号院"])
    building_codes: list[Code] = Field(min_length=1, max_length=200, examples=[["1", "2"]])


class SchemeRoundCreate(Strict):
    community_id: uuid.UUID
    title: str = Field(min_length=1, max_length=200, examples=["自行车棚改造方案评选"])
    groups: list[SchemeGroupIn] = Field(
        min_length=1, max_length=50, description="Courtyards or building groups (一院一策): each votes on its own"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "community_id": "0b6f3c9e-2d7a-4c1b-9f3e-5a8d2c1e7b40",
                    "title": "自行车棚改造方案评选",
                    "groups": [
                        {"code": "A", "name": "一号院", "building_codes": ["1", "2"]},
                        {"code": "B", "name": "二号院", "building_codes": ["3"]},
                    ],
                }
            ]
        },
    )


class ProposalCreate(Strict):
    source_kind: SourceKind = Field(examples=["university"])
    proposer: str = Field(min_length=1, max_length=100, examples=["清华大学建筑学院"])
    title: str = Field(min_length=1, max_length=200, examples=["车棚+便民服务综合体"])
    summary: str = Field(min_length=1, max_length=4000, examples=["立体停车提高效率，腾出空间设裁缝铺、修鞋、配钥匙"])
    document_ref: str | None = Field(default=None, max_length=500, examples=["docs/bike-shed-v1.pdf"])
    group_codes: list[GroupCode] = Field(
        default_factory=list, max_length=50, description="The groups it is for; empty = every group of the round"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "source_kind": "university",
                    "proposer": "清华大学建筑学院",
                    "title": "车棚+便民服务综合体",
                    "summary": "立体停车提高效率，腾出空间设裁缝铺、修鞋、配钥匙",
                    "document_ref": "docs/bike-shed-v1.pdf",
                    "group_codes": ["A"],
                }
            ]
        },
    )


class RevisionCreate(Strict):
    parent_version_id: uuid.UUID = Field(description="The current version this one revises")
    title: str | None = Field(default=None, min_length=1, max_length=200, description="Default: the parent's")
    summary: str = Field(min_length=1, max_length=4000)
    document_ref: str | None = Field(default=None, max_length=500)
    changes: str = Field(min_length=1, max_length=2000, examples=["增加无障碍坡道，保留原有绿化"])
    answers_feedback: list[uuid.UUID] = Field(
        default_factory=list, max_length=2000, description="Feedback on the parent version this revision answers"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "parent_version_id": "3c1a2b4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                    "summary": "立体停车提高效率，腾出空间设裁缝铺、修鞋、配钥匙；增加无障碍坡道",
                    "document_ref": "docs/bike-shed-v2.pdf",
                    "changes": "增加无障碍坡道，保留原有绿化",
                    "answers_feedback": ["4d2b3c5e-6f7a-4b8c-9dae-1f2a3b4c5d6e"],
                }
            ]
        },
    )


class FeedbackCreate(Strict):
    household_id: uuid.UUID | None = Field(
        default=None, description="A community worker names the household; a resident's is their own"
    )
    stance: Stance
    text: str | None = Field(default=None, max_length=1000, examples=["希望保留晾晒区"])
    channel: Channel | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"stance": "concerns", "text": "希望保留晾晒区"},
                {
                    "household_id": "7b2e4d3c-af50-4b8c-9d9e-3a4f5b6c7d8e",
                    "stance": "support",
                    "text": "同意，尽快施工",
                    "channel": "meeting",
                },
            ]
        },
    )


class FeedbackRead(BaseModel):
    id: uuid.UUID
    version_id: uuid.UUID
    household_id: uuid.UUID
    stance: Stance
    text: str | None
    channel: Channel
    created_at: datetime


class FinalVoteCreate(Strict):
    rule: Literal["household_share", "civil_code_278_major", "civil_code_278_ordinary"] = Field(
        default="civil_code_278_major",
        description="The vote rule of each group's consultation (survey.domain.rules); choosing a scheme approves",
    )
    threshold: str | None = Field(default=None, max_length=20, pattern=r"^\d{1,6}(/\d{1,6}|\.\d{1,6})?$")
    opens_at: datetime | None = None
    closes_at: datetime | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "rule": "civil_code_278_major",
                    "opens_at": "2026-06-01T08:00:00+08:00",
                    "closes_at": "2026-06-10T20:00:00+08:00",
                }
            ]
        },
    )


class FeedbackCountsRead(BaseModel):
    support: int = Field(ge=0)
    concerns: int = Field(ge=0)
    total: int = Field(ge=0, description="support + concerns")


class VersionRead(BaseModel):
    id: uuid.UUID
    number: int
    label: str
    parent_id: uuid.UUID | None
    title: str
    summary: str
    document_ref: str | None
    changes: str | None
    answers_feedback: list[uuid.UUID]
    published_in_round: int
    feedback: FeedbackCountsRead = Field(description="Residents' feedback on this version")
    created_at: datetime


class ProposalRead(BaseModel):
    id: uuid.UUID
    code: str
    source_kind: SourceKind
    proposer: str
    group_codes: list[str]
    current_version: int
    versions: list[VersionRead] = Field(description="The lineage v1 → v2 → v3, each with its parent")


class WinnerRead(BaseModel):
    status: WinnerStatus = Field(
        description="`won`: passed and one scheme has the most votes; `tied`: passed, but schemes share the most "
        "votes (a run-off is needed); `not_passed`: the vote failed its rule; `pending`: not closed yet"
    )
    proposal_code: str | None = Field(description="The winning proposal's code", examples=["P1"])
    proposal_id: uuid.UUID | None
    version_id: uuid.UUID | None = Field(description="The winning proposal's current version")
    version: int | None = Field(description="Its number (v1, v2, …)")
    votes: int = Field(ge=0, description="The most votes a scheme got")
    tied: list[str] = Field(description="`tied`: the proposal codes sharing the most votes")
    title: str | None = Field(default=None, description="The winning version's title")


class FinalVoteResultRead(BaseModel):
    outcome: Outcome
    provisional_outcome: Outcome = Field(description="The outcome if the vote closed now")
    rule: RuleKind
    decided_by: DecidedBy
    conditions: list[ConditionRead]
    totals: TotalsRead = Field(description="The group's households (its buildings) and their exclusive floor area")
    participation: ParticipationRead
    approval: ApprovalRead = Field(description="Approving: chose any scheme rather than `none`")
    votes: dict[str, int] = Field(description="Votes per option (proposal code, or `none`)", examples=[{"P1": 42}])
    winner: WinnerRead
    runoff_candidates: list[str] = Field(
        default_factory=list,
        description="The schemes a run-off (决选) would be held among: the tied ones, or the leading ones of a vote "
        "that did not pass; empty when a scheme won or no scheme was chosen",
        examples=[["P1", "P2"]],
    )


class FinalVoteRead(BaseModel):
    consultation_id: uuid.UUID | None
    state: ConsultationState | None
    result: FinalVoteResultRead | None = Field(
        description="The group's vote under its rule (conditions as exact fractions), votes per scheme and the "
        "winner; null before the vote starts (and, for residents, until it is published)"
    )


class RunoffRead(FinalVoteRead):
    number: int = Field(ge=1, le=RUNOFF_LIMIT, description="1 or 2: run-offs of this group, in order")
    candidates: list[str] = Field(description="The schemes on this run-off's ballot (beside `none`)")


class GroupDecisionRead(BaseModel):
    status: GroupDecision = Field(
        description="`pending`: the final vote is not counted; `awaiting_runoff`: counted, no single winner (tied, "
        "or no scheme reached the rule's threshold) — staff may open a run-off; `runoff_open`: a run-off is not "
        "counted yet; `decided`: a scheme won, or no run-off can be held (no candidate, or the limit reached)"
    )
    decided_at: datetime | None
    decided_by: Literal["final_vote", "runoff"] | None
    runoff_number: int | None = Field(description="The run-off that decided the group")
    winner: WinnerRead | None = Field(description="The deciding vote's winner (status `won`, or without a scheme)")
    runoffs_held: int = Field(ge=0, le=RUNOFF_LIMIT)
    runoff_limit: int = Field(description="Run-offs a group may hold (2)")
    next_runoff_candidates: list[str] = Field(description="`awaiting_runoff`: the next run-off's schemes")


class GroupRead(BaseModel):
    code: str
    name: str
    building_codes: list[str]
    final_vote: FinalVoteRead
    runoffs: list[RunoffRead] = Field(description="The group's run-offs (决选), each its own scheme_vote consultation")
    decision: GroupDecisionRead
    winner_version_id: uuid.UUID | None


class RunoffCreate(Strict):
    opens_at: datetime | None = None
    closes_at: datetime | None = None

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"opens_at": "2026-06-15T08:00:00+08:00", "closes_at": "2026-06-20T20:00:00+08:00"}]
        },
    )


class SchemeRoundSummary(BaseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    title: str
    state: Literal["deliberating", "voting", "decided"]
    round_no: int
    phase: Literal["up", "down"]
    stage_label: str = Field(examples=["一下"])
    created_at: datetime
    decided_at: datetime | None


class SchemeRoundRead(BaseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    title: str
    state: Literal["deliberating", "voting", "decided"]
    round_no: int
    phase: Literal["up", "down"]
    stage_label: str = Field(examples=["二上"])
    round_limit: int
    groups: list[GroupRead]
    proposals: list[ProposalRead]
    created_at: datetime
    decided_at: datetime | None
    version: int
