"""Request and response schemas (bounded inputs: lengths, list sizes, numeric ranges)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi.openapi.models import Example
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_serializer,
)

from renovation_common.auth import Role
from survey.domain.consultation import Channel, ConsultationKind
from survey.domain.consultation import State as ConsultationState
from survey.domain.questions import QuestionKind
from survey.domain.rules import Comparison, Outcome, RuleKind

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.:]+$")]
Code = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[\w\-./# ]+$")]
Area = Annotated[Decimal, Field(gt=0, le=10000, max_digits=7, decimal_places=2, examples=["72.35"])]
Year = Annotated[int, Field(ge=1880, le=2100)]
QUESTION_ID_PATTERN = r"^[A-Za-z0-9_\-]+$"
QuestionId = Annotated[str, Field(min_length=1, max_length=40, pattern=QUESTION_ID_PATTERN)]
_QUESTION_ID_NAMES = {"propertyNames": {"minLength": 1, "maxLength": 40, "pattern": QUESTION_ID_PATTERN}}
OptionValue = Annotated[str, Field(min_length=1, max_length=60)]
OptionLabel = Annotated[str, Field(min_length=1, max_length=60)]
AnswerValue = Annotated[
    StrictStr | list[StrictStr] | StrictInt | StrictFloat,
    Field(
        description="One question's answer, by its kind: single_choice and text — a string; multiple_choice — a "
        "list of option values (stored in the questionnaire's order); ranking — a list of option values, first = "
        "most preferred; rating — an integer 1–5; number — a number (or its decimal text; stored as exact decimal "
        "text)",
        examples=["agree", ["canteen", "gym"], 4, "72.5"],
    ),
]
Answers = Annotated[
    dict[str, AnswerValue],
    Field(
        description="An answer per question id (see `AnswerValue` for each question kind's shape)",
        json_schema_extra=_QUESTION_ID_NAMES,
    ),
]
SubmissionStatus = Literal["created", "updated", "superseded"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


ConditionName = Literal[
    "consent_of_all_households", "participation_area", "participation_owners", "approval_area", "approval_owners"
]
DecidedBy = Annotated[
    ConditionName | Literal["no_decision_rule"],
    Field(description="The first failing condition in legal order; if all pass, the binding one (least slack)"),
]


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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "劲松北社区",
                    "street_id": "jinsong",
                    "address": "北京市朝阳区劲松街道劲松北路",
                    "built_year": 1985,
                    "delivered_year": 1987,
                    "maintenance_fund_established": False,
                }
            ]
        },
    )


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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "households": [
                        {
                            "building": "3",
                            "unit": "2",
                            "room": "301",
                            "floor_area_m2": "56.30",
                            "owner_name": "王秀兰",
                            "owner_phone": "13800138000",
                            "residents": [
                                {"birth_year": 1948, "lives_alone": True, "needs_accompaniment": True},
                            ],
                        },
                        {
                            "building": "3",
                            "unit": "2",
                            "room": "302",
                            "floor_area_m2": "72.35",
                            "residents": [{"birth_year": 1979}, {"birth_year": 1981}, {"birth_year": 2012}],
                        },
                    ]
                }
            ]
        },
    )


class HouseholdUpdate(Strict):
    floor_area_m2: Area | None = None
    owner_name: str | None = Field(default=None, max_length=50)
    owner_phone: str | None = Field(default=None, max_length=20, pattern=r"^(\+?[0-9\- ]{5,20})?$")
    residents: list[ResidentIn] | None = Field(default=None, max_length=30, description="Replace the list")
    add_residents: list[ResidentIn] = Field(default_factory=list, max_length=30)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "floor_area_m2": "58.10",
                    "owner_phone": "13900139000",
                    "add_residents": [{"birth_year": 2024}],
                }
            ]
        },
    )


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
    kind: QuestionKind
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


class QuestionOut(QuestionIn):
    """A question as it was defined (the shape of :class:`QuestionIn`); keys it was defined without stay absent."""

    model_config = ConfigDict(extra="ignore")

    @model_serializer(mode="wrap")
    def _as_defined(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        return {k: v for k, v in data.items() if k in self.model_fields_set} if isinstance(data, dict) else data


class RuleIn(Strict):
    kind: RuleKind = RuleKind.NONE
    threshold: str | None = Field(
        default=None,
        max_length=20,
        pattern=r"^\d{1,6}(/\d{1,6}|\.\d{1,6})?$",
        description="household_share only: exact fraction '4/5' or decimal '0.8' (default 4/5)",
    )


class ConsultationCreate(Strict):
    community_id: uuid.UUID
    kind: ConsultationKind
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

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=lambda s: s.update(examples=[CONSULTATION_EXAMPLES["willingness"]["value"]])
    )

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
    kind: ConsultationKind
    title: str
    batch: str | None
    state: ConsultationState
    questions: list[QuestionOut] = Field(description="The questionnaire, each question as it was defined")
    rule: RuleKind
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
    outcome: Outcome | None
    decided_by: DecidedBy | None
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
    answers: dict[str, AnswerValue | None] = Field(
        max_length=100,
        json_schema_extra=_QUESTION_ID_NAMES,
        description="An answer per question id (see `AnswerValue` for each question kind's shape); null or absent: "
        "not answered (an optional question)",
    )
    suggestion: str | None = Field(default=None, max_length=1000)
    channel: Channel | None = None
    answered_at: datetime | None = Field(default=None, description="When answered (offline sync); default: now")

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=lambda s: s.update(examples=[RESPONSE_EXAMPLES["multiple_choice"]["value"]])
    )

    @field_validator("answers")
    @classmethod
    def _bounded(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key in v:
            if not (1 <= len(key) <= 40) or not re.fullmatch(QUESTION_ID_PATTERN, key):
                raise ValueError("a question id is 1 to 40 letters, digits, '_' or '-'")
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
    status: SubmissionStatus
    version: int
    channel: Channel
    answered_at: datetime


class BatchSubmit(Strict):
    items: list[ResponseSubmit] = Field(min_length=1, max_length=500)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=lambda s: s.update(
            examples=[{"items": [RESPONSE_EXAMPLES["multiple_choice"]["value"], RESPONSE_EXAMPLES["text"]["value"]]}]
        ),
    )


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
    answers: Answers
    suggestion: str | None
    channel: Channel
    answered_at: datetime
    version: int


class AuditRead(BaseModel):
    version: int
    action: SubmissionStatus
    channel: Channel
    interviewer: str | None
    actor_role: Role = Field(description="The role of the token that recorded it")
    answered_at: datetime
    recorded_at: datetime
    answers: Answers


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
    decided_by: DecidedBy
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

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"district_id": "chaoyang", "batch": "2026-朝阳-第一批"}]}
    )


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


# -- request examples (OpenAPI named examples; each one valid against its schema and the domain's rules) -----------
_COMMUNITY = "0b6f3c9e-2d7a-4c1b-9f3e-5a8d2c1e7b40"
_YES_NO = {
    "id": "agree",
    "kind": "single_choice",
    "text": "您是否同意本小区实施老旧小区综合整治？",
    "options": ["yes", "no"],
    "option_labels": {"yes": "同意", "no": "不同意"},
}
CONSULTATION_EXAMPLES: dict[str, Example] = {
    "willingness": {
        "summary": "Willingness (意愿征询): 4/5 of the households must agree",
        "value": {
            "community_id": _COMMUNITY,
            "kind": "willingness",
            "title": "劲松北社区老旧小区综合整治意愿征询",
            "batch": "2026-朝阳-第一批",
            "questions": [
                _YES_NO,
                {
                    "id": "why_not",
                    "kind": "text",
                    "text": "不同意的原因",
                    "required": False,
                    "max_length": 500,
                    "show_if": {"question_id": "agree", "any_of": ["no"]},
                },
            ],
            "rule": {"kind": "household_share", "threshold": "4/5"},
            "decision_question_id": "agree",
            "approve_options": ["yes"],
            "opens_at": "2026-04-01T08:00:00+08:00",
            "closes_at": "2026-04-15T20:00:00+08:00",
        },
    },
    "scheme_vote": {
        "summary": "Scheme vote (方案表决) under Civil Code Art. 278, major matters (double majorities)",
        "value": {
            "community_id": _COMMUNITY,
            "kind": "scheme_vote",
            "title": "劲松北社区改造设计方案表决",
            "questions": [
                {
                    "id": "scheme",
                    "kind": "single_choice",
                    "text": "请选择设计方案（none 为均不同意）",
                    "options": ["P1", "P2", "none"],
                    "option_labels": {"P1": "车棚+便民服务综合体", "P2": "立体停车楼", "none": "均不同意"},
                }
            ],
            "rule": {"kind": "civil_code_278_major"},
            "decision_question_id": "scheme",
            "approve_options": ["P1", "P2"],
        },
    },
    "menu": {
        "summary": "Menu (菜单式选择): items supported by half the participating households are selected",
        "value": {
            "community_id": _COMMUNITY,
            "kind": "menu",
            "title": "劲松北社区改造内容菜单选择",
            "questions": [
                {
                    "id": "items",
                    "kind": "multiple_choice",
                    "text": "您希望本次改造包含哪些内容？（可多选）",
                    "options": ["rain_sewage_separation", "elevator_installation", "greening", "parking"],
                    "min_picks": 1,
                    "max_picks": 4,
                }
            ],
            "menu_question_id": "items",
            "menu_threshold": "1/2",
        },
    },
    "demand": {
        "summary": "Demand survey (需求调查) per resident, with demand by age group",
        "value": {
            "community_id": _COMMUNITY,
            "kind": "demand",
            "title": "劲松北社区居民需求调查",
            "questions": [
                {
                    "id": "services",
                    "kind": "multiple_choice",
                    "text": "您最需要的社区服务（最多选3项）",
                    "options": ["canteen", "gym", "day_care", "tailor"],
                    "option_labels": {
                        "canteen": "社区食堂",
                        "gym": "健身房",
                        "day_care": "日间照料",
                        "tailor": "裁缝铺",
                    },
                    "max_picks": 3,
                },
                {
                    "id": "priority",
                    "kind": "ranking",
                    "text": "请按优先顺序排列以下改造项目",
                    "options": ["elevator_installation", "parking", "greening"],
                },
                {
                    "id": "budget",
                    "kind": "number",
                    "text": "您愿意为加装电梯每年分摊的费用（元）",
                    "required": False,
                    "min_value": "0",
                    "max_value": "20000",
                },
            ],
            "age_middle_from": 35,
            "age_elderly_from": 60,
        },
    },
    "satisfaction": {
        "summary": "Satisfaction review (满意度评议) after completion",
        "value": {
            "community_id": _COMMUNITY,
            "kind": "satisfaction",
            "title": "劲松北社区改造满意度评议",
            "questions": [
                {"id": "overall", "kind": "rating", "text": "请为本次改造打分（1-5星）"},
                {
                    "id": "satisfied",
                    "kind": "single_choice",
                    "text": "您对本次老旧小区改造是否满意？",
                    "options": ["satisfied", "neutral", "dissatisfied"],
                },
                {"id": "feedback", "kind": "text", "text": "意见和建议", "required": False},
            ],
            "decision_question_id": "satisfied",
            "approve_options": ["satisfied"],
        },
    },
}

RESPONSE_EXAMPLES: dict[str, Example] = {
    "single_choice": {
        "summary": "single_choice: one option value (a resident in the app)",
        "value": {"submission_id": "5f0c2b1a-8d3e-4f6a-9b7c-1e2d3f4a5b6c", "answers": {"agree": "yes"}},
    },
    "multiple_choice": {
        "summary": "multiple_choice: a list of option values (door to door, recorded by a community worker)",
        "value": {
            "submission_id": "6a1d3c2b-9e4f-4a7b-8c8d-2f3e4a5b6c7d",
            "household_id": "7b2e4d3c-af50-4b8c-9d9e-3a4f5b6c7d8e",
            "answers": {"items": ["rain_sewage_separation", "elevator_installation"]},
            "suggestion": "希望加装电梯时保留楼前绿地",
            "channel": "door_to_door",
            "answered_at": "2026-04-03T10:15:00+08:00",
        },
    },
    "ranking": {
        "summary": "ranking: a list of option values, most preferred first",
        "value": {
            "submission_id": "7c2e4d3c-af50-4b8c-9d9e-3a4f5b6c7d8f",
            "answers": {"priority": ["elevator_installation", "parking", "greening"]},
        },
    },
    "rating": {
        "summary": "rating: an integer from 1 to 5",
        "value": {"submission_id": "8d3f5e4d-b061-4c9d-8eaf-4b5a6c7d8e9f", "answers": {"overall": 4}},
    },
    "number": {
        "summary": "number: a number, or its decimal text",
        "value": {"submission_id": "9e4a6f5e-c172-4dae-9fb0-5c6b7d8e9fa0", "answers": {"budget": 1200.5}},
    },
    "text": {
        "summary": "text: free text (paper questionnaire, entered later)",
        "value": {
            "submission_id": "af5b7a6f-d283-4ebf-a0c1-6d7c8e9fa0b1",
            "household_id": "7b2e4d3c-af50-4b8c-9d9e-3a4f5b6c7d8e",
            "answers": {"satisfied": "satisfied", "feedback": "楼道照明改善明显，希望增加休息座椅"},
            "channel": "paper",
            "answered_at": "2026-09-20T16:40:00+08:00",
        },
    },
}
