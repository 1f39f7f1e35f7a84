"""Request and response schemas (bounded inputs: lengths, list sizes, numeric ranges)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from survey.domain.consultation import Channel, ConsultationKind
from survey.domain.consultation import State as ConsultationState
from survey.domain.questions import QuestionKind
from survey.domain.rules import Comparison, Outcome, RuleKind

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")]
Code = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[\w\-./# ]+$")]
Area = Annotated[Decimal, Field(gt=0, le=10000, max_digits=7, decimal_places=2, examples=["72.35"])]
Year = Annotated[int, Field(ge=1880, le=2100)]
QuestionId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")]
OptionValue = Annotated[str, Field(min_length=1, max_length=60)]
OptionLabel = Annotated[str, Field(min_length=1, max_length=60)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- registry ---------------------------------------------------------------------------------------------------
class CommunityCreate(Strict):
    name: str = Field(min_length=1, max_length=100, examples=["劲松北社区"])
    district_id: Id | None = Field(
        default=None,
        description="Optional: the district is the street's (from the registry); if given it must agree with it",
    )
    street_id: Id
    address: str | None = Field(default=None, max_length=200)
    built_year: Year | None = None
    delivered_year: Year | None = None
    maintenance_fund_established: bool = False


class CommunityRead(BaseModel):
    id: uuid.UUID
    name: str
    district_id: str
    street_id: str
    address: str | None
    built_year: int | None
    delivered_year: int | None
    maintenance_fund_established: bool
    household_count: int
    created_at: datetime


class BuildingRead(BaseModel):
    id: uuid.UUID = Field(description="The id other services know the building by (device placement, repairs)")
    community_id: uuid.UUID
    community_name: str = Field(examples=["劲松北社区"])
    code: str = Field(description="The building's code in the registry (as imported)", examples=["3"])
    name: str = Field(description="The name people use: `3号楼` for a numeric code, else the code", examples=["3号楼"])
    household_count: int = Field(ge=0, description="Households registered in the building")
    floor_area_m2: Decimal = Field(description="Their exclusive floor area, exact", examples=["1520.75"])


class ResidentIn(Strict):
    birth_year: Year
    lives_alone: bool = False
    needs_accompaniment: bool = False


class HouseholdIn(Strict):
    building: Code
    unit: str = Field(default="", max_length=20, pattern=r"^[\w\-./# ]*$")
    room: Code
    floor_area_m2: Area
    owner_name: str | None = Field(default=None, max_length=50)
    owner_phone: str | None = Field(default=None, max_length=20, pattern=r"^\+?[0-9\- ]{5,20}$")
    residents: list[ResidentIn] = Field(default_factory=list, max_length=30)


class HouseholdsCreate(Strict):
    households: list[HouseholdIn] = Field(min_length=1, max_length=1000)


class HouseholdUpdate(Strict):
    floor_area_m2: Area | None = None
    owner_name: str | None = Field(default=None, max_length=50)
    owner_phone: str | None = Field(default=None, max_length=20, pattern=r"^(\+?[0-9\- ]{5,20})?$")
    residents: list[ResidentIn] | None = Field(default=None, max_length=30, description="Replace the list")
    add_residents: list[ResidentIn] = Field(default_factory=list, max_length=30)


class ResidentRead(BaseModel):
    id: uuid.UUID
    birth_year: int
    lives_alone: bool
    needs_accompaniment: bool


class HouseholdRead(BaseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    building_id: uuid.UUID = Field(description="Id other services use for the building (devices, repairs)")
    building: str
    unit: str
    room: str
    floor_area_m2: Decimal
    owner_name: str | None = Field(description="Personal data: only for the household itself and staff in scope")
    owner_phone: str | None
    residents: list[ResidentRead]


class HouseholdCreated(BaseModel):
    id: uuid.UUID
    building: str
    unit: str
    room: str
    floor_area_m2: Decimal
    resident_count: int


class HouseholdsCreatedRead(BaseModel):
    created: int
    households: list[HouseholdCreated]


class HouseholdPage(BaseModel):
    items: list[HouseholdRead]
    next_cursor: str | None = None


# -- consultations ----------------------------------------------------------------------------------------------
class ShowIfIn(Strict):
    question_id: QuestionId
    any_of: list[OptionValue] = Field(min_length=1, max_length=60)


class QuestionIn(Strict):
    id: QuestionId
    kind: Literal["single_choice", "multiple_choice", "ranking", "rating", "number", "text"]
    text: str = Field(min_length=1, max_length=500)
    options: list[OptionValue] = Field(default_factory=list, max_length=60)
    option_labels: dict[OptionValue, OptionLabel] | None = Field(
        default=None,
        max_length=60,
        description="Choice questions: how an option reads in charts (option -> label, e.g. 'canteen': '社区食堂'); "
        "an option without one shows its menu item's Chinese name, or the option itself",
        examples=[{"canteen": "社区食堂", "gym": "健身房"}],
    )
    required: bool = True
    min_picks: int | None = Field(default=None, ge=0, le=60)
    max_picks: int | None = Field(default=None, ge=1, le=60)
    min_value: Decimal | None = Field(default=None, ge=-(10**12), le=10**12)
    max_value: Decimal | None = Field(default=None, ge=-(10**12), le=10**12)
    max_length: int = Field(default=500, ge=1, le=2000)
    show_if: ShowIfIn | None = None


class RuleIn(Strict):
    kind: Literal["household_share", "civil_code_278_major", "civil_code_278_ordinary", "none"] = "none"
    threshold: str | None = Field(
        default=None,
        max_length=20,
        pattern=r"^\d{1,6}(/\d{1,6}|\.\d{1,6})?$",
        description="household_share only: exact fraction '4/5' or decimal '0.8' (default 4/5)",
    )


class ConsultationCreate(Strict):
    community_id: uuid.UUID
    kind: Literal["willingness", "menu", "scheme_vote", "demand", "satisfaction"]
    title: str = Field(min_length=1, max_length=200)
    batch: str | None = Field(default=None, max_length=64, description="Programme batch, used by rankings")
    questions: list[QuestionIn] = Field(min_length=1, max_length=100)
    rule: RuleIn = Field(default_factory=RuleIn)
    decision_question_id: QuestionId | None = None
    approve_options: list[OptionValue] = Field(default_factory=list, max_length=60)
    menu_question_id: QuestionId | None = None
    menu_threshold: str = Field(default="1/2", max_length=20, pattern=r"^\d{1,6}(/\d{1,6}|\.\d{1,6})?$")
    age_middle_from: int = Field(default=35, ge=1, le=120)
    age_elderly_from: int = Field(default=60, ge=2, le=129)
    opens_at: datetime | None = None
    closes_at: datetime | None = None

    @field_validator("opens_at", "closes_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("timestamps need a UTC offset (RFC 3339)")
        return v


class ConsultationRead(BaseModel):
    id: uuid.UUID
    community_id: uuid.UUID
    district_id: str
    street_id: str
    kind: str
    title: str
    batch: str | None
    state: str
    questions: list[dict[str, Any]]
    rule: str
    threshold: str | None
    decision_question_id: str | None
    approve_options: list[str]
    menu_question_id: str | None
    menu_threshold: str
    opens_at: datetime | None
    closes_at: datetime | None
    opened_at: datetime | None
    closed_at: datetime | None
    auto_closed: bool = Field(default=False, description="Closed by the system at the end of its answer window")
    published_at: datetime | None
    outcome: str | None
    decided_by: str | None
    building_codes: list[str] | None = Field(
        default=None,
        description="A courtyard's or building group's own consultation (一院一策, a scheme round's final vote): the "
        "buildings whose households answer it; null: the whole community",
    )
    created_at: datetime


# -- responses --------------------------------------------------------------------------------------------------
class ResponseSubmit(Strict):
    submission_id: uuid.UUID = Field(description="Client-generated; the same id with the same body is replayed")
    household_id: uuid.UUID | None = Field(default=None, description="Required for workers; residents: their own")
    resident_id: uuid.UUID | None = Field(default=None, description="Required for per-resident demand surveys")
    answers: dict[QuestionId, Any] = Field(max_length=100)
    suggestion: str | None = Field(default=None, max_length=1000)
    channel: Literal["app", "door_to_door", "paper", "meeting"] | None = None
    answered_at: datetime | None = Field(default=None, description="When answered (offline sync); default: now")

    @field_validator("answers")
    @classmethod
    def _bounded(cls, v: dict[str, Any]) -> dict[str, Any]:
        for value in v.values():
            if isinstance(value, list) and len(value) > 60:
                raise ValueError("at most 60 values per answer")
            if isinstance(value, str) and len(value) > 2000:
                raise ValueError("answers are at most 2000 characters")
            if isinstance(value, dict):
                raise ValueError("an answer is a string, number or list")
        return v

    @field_validator("answered_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("answered_at needs a UTC offset (RFC 3339)")
        return v


class SubmissionRead(BaseModel):
    submission_id: uuid.UUID
    response_id: uuid.UUID
    consultation_id: uuid.UUID
    household_id: uuid.UUID
    resident_id: uuid.UUID | None
    status: Literal["created", "updated", "superseded"]
    version: int
    channel: str
    answered_at: datetime


class BatchSubmit(Strict):
    items: list[ResponseSubmit] = Field(min_length=1, max_length=500)


class BatchItemProblem(BaseModel):
    code: str
    title: str
    detail: str | None = None


class BatchItemRead(BaseModel):
    index: int
    submission_id: uuid.UUID
    status: int
    replayed: bool = False
    result: SubmissionRead | None = None
    problem: BatchItemProblem | None = None


class BatchRead(BaseModel):
    accepted: int
    rejected: int
    items: list[BatchItemRead]


class ResponseRead(BaseModel):
    id: uuid.UUID
    household_id: uuid.UUID
    resident_id: uuid.UUID | None
    answers: dict[str, Any]
    suggestion: str | None
    channel: str
    answered_at: datetime
    version: int


class AuditRead(BaseModel):
    version: int
    action: str
    channel: str
    interviewer: str | None
    actor_role: str
    answered_at: datetime
    recorded_at: datetime
    answers: dict[str, Any]


class HouseholdResponsesRead(BaseModel):
    consultation_id: uuid.UUID
    household_id: uuid.UUID
    responses: list[ResponseRead]
    audit: list[AuditRead] = Field(default_factory=list, description="Staff only")


# -- results and rankings ---------------------------------------------------------------------------------------
Fraction = Annotated[
    str, Field(pattern=r"^\d+/\d+$", description="Exact fraction 'n/d' (lowest terms)", examples=["3/4"])
]
Percent = Annotated[
    str, Field(pattern=r"^\d+\.\d{2}$", description="Percent, half-up to two places", examples=["75.00"])
]
AreaText = Annotated[str, Field(pattern=r"^\d+(\.\d+)?$", description="Square metres, exact", examples=["15750.00"])]
ConditionName = Literal[
    "consent_of_all_households", "participation_area", "participation_owners", "approval_area", "approval_owners"
]
MenuCategory = Literal["basic", "improvement", "upgrade", "unknown"]


class RatioRead(BaseModel):
    ratio: Fraction
    percent: Percent


class ConditionRead(BaseModel):
    name: ConditionName
    actual: Fraction
    actual_percent: Percent
    comparison: Comparison
    required: Fraction
    required_percent: Percent
    met: bool


class TotalsRead(BaseModel):
    households: int = Field(ge=0, description="Every household of the community (the registry)")
    area_m2: AreaText = Field(description="Their exclusive floor area")


class ParticipationRead(BaseModel):
    households: int = Field(ge=0, description="Households that answered")
    area_m2: AreaText
    households_of_all: RatioRead
    area_of_all: RatioRead


class ApprovalRead(BaseModel):
    households: int = Field(ge=0, description="Households whose answer approves (the decision question)")
    area_m2: AreaText
    households_of_participating: RatioRead
    area_of_participating: RatioRead
    households_of_all: RatioRead
    headline: RatioRead = Field(
        description="The ratio the closed event reports: over all households for `household_share` (and no rule), "
        "over participating owners for the Civil Code rules"
    )


class MenuItemResultRead(BaseModel):
    code: str = Field(description="A code of the menu catalogue", examples=["elevator_installation"])
    category: MenuCategory
    support_count: int = Field(ge=0)
    ratio: Fraction = Field(description="Supporting households / participating households")
    percent: Percent
    selected: bool = Field(description="The support reached `menu_threshold`")


class QuestionResultRead(BaseModel):
    """A key is absent where it does not apply to the question's kind."""

    question_id: str
    kind: QuestionKind
    answered: int = Field(ge=0)
    options: dict[str, int] | None = Field(
        default=None, description="Choice questions: picks per option; rating: answers per star (1–5) given"
    )
    rank_points: dict[str, int] | None = Field(default=None, description="Ranking: Borda points (first of n gets n)")
    mean: Fraction | None = Field(default=None, description="Rating: the exact mean")
    mean_decimal: str | None = Field(
        default=None,
        description="Rating: the mean as a decimal (its percent rounded half-up to two places, divided by 100)",
    )
    sum: str | None = Field(default=None, description="Number: the exact sum of the answers")


class AgeGroupResultRead(BaseModel):
    responses: int = Field(ge=0)
    questions: dict[str, dict[str, int]] = Field(description="Choice question id -> option -> picks in the group")


class AgeGroupsResultRead(BaseModel):
    youth: AgeGroupResultRead
    middle_aged: AgeGroupResultRead
    elderly: AgeGroupResultRead
    unknown: AgeGroupResultRead = Field(description="Respondents without a recorded birth year")


class AgeGroupBoundsRead(BaseModel):
    middle_from: int = Field(description="Age from which a respondent is middle-aged")
    elderly_from: int = Field(description="Age from which a respondent is elderly")


class BuildingResultRead(BaseModel):
    households: int = Field(ge=0)
    responses: int = Field(ge=0, description="Households of the building that answered")
    approving: int = Field(ge=0)


class ResultRead(BaseModel):
    consultation_id: uuid.UUID
    community_id: uuid.UUID
    kind: ConsultationKind
    state: ConsultationState
    rule: RuleKind
    outcome: Outcome
    provisional_outcome: Outcome = Field(description="The outcome if the consultation closed now")
    decided_by: ConditionName | Literal["no_decision_rule"] = Field(
        description="The first failing condition in legal order; if all pass, the binding one (least slack)"
    )
    conditions: list[ConditionRead]
    totals: TotalsRead
    participation: ParticipationRead
    approval: ApprovalRead
    responses: int = Field(ge=0)
    menu: list[MenuItemResultRead]
    menu_threshold: Fraction | None = Field(description="The menu's selection threshold; null without a menu question")
    questions: list[QuestionResultRead]
    by_age_group: AgeGroupsResultRead
    age_groups: AgeGroupBoundsRead
    by_building: dict[str, BuildingResultRead] = Field(description="Building code -> its counts")
    by_channel: dict[Channel, int] = Field(description="Answers per channel (channels without answers absent)")
    suggestions: list[str] = Field(description="The first 200 suggestions, oldest first")
    computed_at: datetime


class RankingCreate(Strict):
    district_id: Id
    batch: str | None = Field(default=None, max_length=64)


class RankingEntryRead(BaseModel):
    rank: int
    community_id: str
    consultation_id: str
    approval_ratio: str
    approval_percent: Decimal


class RankingRead(BaseModel):
    id: uuid.UUID
    district_id: str
    batch: str | None
    entries: list[RankingEntryRead]
    published_at: datetime
    tie_break: str = (
        "approval ratio (approving households / all households) desc, then approving share of the total "
        "exclusive area desc, then earlier close time, then community id asc"
    )


class RowErrorRead(BaseModel):
    row: int
    code: str
    field: str | None
    message: str
