"""Request and response schemas: bounded inputs, enums for closed sets, typed results, an example per request."""

from __future__ import annotations

import datetime as dt
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from projects.domain.catalog import MENU_TO_PACKAGES, PACKAGE_TYPES, TRADES, Category, FaceKind, Kind, Layer
from projects.domain.model import (
    DefectSeverity,
    FaceSource,
    InspectionResult,
    LimitedBy,
    PlanKind,
    PlanStatus,
    ProjectStatus,
    SolverStatus,
    Weekday,
)
from projects.domain.progress import ProgressStatus

Ident = Annotated[str, Field(min_length=1, max_length=64)]
# The catalog's closed sets are documented as enums; a value outside them is answered with a stable problem code
# (``unknown_work_package``) by the use case rather than a generic validation error.
PackageCode = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$"),
    WithJsonSchema({"type": "string", "enum": sorted(PACKAGE_TYPES), "description": "Work-package type code"}),
]
MenuItem = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$"),
    WithJsonSchema({"type": "string", "enum": sorted(MENU_TO_PACKAGES), "description": "Menu item code (survey)"}),
]


def _known_trade(value: str) -> str:
    if value not in TRADES:
        raise ValueError(f"unknown trade {value!r}; one of {', '.join(TRADES)}")
    return value


Trade = Annotated[
    str,
    Field(min_length=1, max_length=32),
    AfterValidator(_known_trade),
    WithJsonSchema({"type": "string", "enum": list(TRADES), "description": "The crew that does a package"}),
]
FaceCode = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]


# catalog -----------------------------------------------------------------------------------------------------------


class PackageTypeRead(BaseModel):
    code: str
    name_zh: str
    name_en: str
    category: Category
    layer: Layer
    kind: Kind
    trade: Trade
    excavates: bool
    base_days: int
    days_per_size: int = Field(description="Extra working days per size unit of the face beyond the first")
    face_kinds: list[FaceKind] = Field(description="Where the package goes by default (first = preferred)")
    menu_items: list[str]


class CatalogRead(BaseModel):
    packages: list[PackageTypeRead]
    menu_to_packages: dict[str, list[str]]
    trades: list[str]


# projects ----------------------------------------------------------------------------------------------------------


class FaceIn(BaseModel):
    code: FaceCode
    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: FaceKind
    size: int = Field(default=1, ge=1, le=20, description="Relative extent; durations grow with it")


class Assignment(BaseModel):
    package_code: PackageCode
    face_codes: list[FaceCode] = Field(min_length=1, max_length=60, description="The faces this package goes on")


class ProjectCreate(BaseModel):
    """Where the project is comes from the survey registry of ``community_id``; ``district_id``/``street_id`` may
    say where the caller expects it, and are refused if the registry disagrees."""

    community_id: Ident
    name: Annotated[str, Field(min_length=1, max_length=200)]
    package_codes: list[PackageCode] = Field(default_factory=list, max_length=40)
    menu_items: list[MenuItem] = Field(default_factory=list, max_length=40)
    faces: list[FaceIn] | None = Field(
        default=None,
        max_length=60,
        description="Work faces; omitted: the survey's buildings, lanes and courtyards of the community",
    )
    assignments: list[Assignment] = Field(
        default_factory=list,
        max_length=40,
        description="Which packages go on which faces (face codes of `faces`, or of the survey's faces: `B<building"
        " code>` for a building, the site's code for a lane or courtyard, `G` for the open ground); other packages "
        "go on every face of their preferred kind",
    )
    district_id: Ident | None = Field(default=None, description="Optional check: refused if the registry differs")
    street_id: Ident | None = Field(default=None, description="Optional check: refused if the registry differs")

    @field_validator("assignments")
    @classmethod
    def _one_per_package(cls, v: list[Assignment]) -> list[Assignment]:
        if len({a.package_code for a in v}) != len(v):
            raise ValueError("one assignment per package code")
        return v

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "community_id": "c-jinsong-1",
                    "name": "劲松一区综合改造",
                    "menu_items": ["rain_sewage_separation", "elevator_installation", "greening"],
                },
                {
                    "community_id": "c-guidong",
                    "name": "桂东社区巷道改造",
                    "package_codes": ["rain_sewage_separation", "road_paving", "greening"],
                    "faces": [
                        {"code": "L1", "name": "主巷道", "kind": "lane", "size": 2},
                        {"code": "L2", "name": "东巷", "kind": "lane"},
                        {"code": "C1", "name": "中心院落", "kind": "courtyard", "size": 2},
                    ],
                    "assignments": [{"package_code": "greening", "face_codes": ["C1"]}],
                },
            ]
        }
    )


class FaceRead(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    kind: FaceKind
    size: int
    source: FaceSource
    source_id: str | None = Field(description="The survey's building or site id (the community for its ground)")


class PackageRead(BaseModel):
    id: uuid.UUID
    work_face_id: uuid.UUID
    type_code: str
    name_zh: str
    trade: Trade
    layer: Layer
    kind: Kind
    excavates: bool
    duration_days: int
    percent_complete: Decimal
    actual_start: date | None
    actual_finish: date | None


class ProjectSummary(BaseModel):
    id: uuid.UUID
    community_id: str
    district_id: str
    street_id: str | None
    name: str
    status: ProjectStatus
    source_consultation_id: str | None
    start_date: date | None
    finish_date: date | None
    created_at: datetime


class DesignBasisRead(BaseModel):
    """The scheme a courtyard or building group chose in a survey scheme round (三上三下, 一院一策)."""

    round_id: str
    round_title: str
    rounds_held: int = Field(ge=1, le=3, description="Rounds up and down before the vote (三上三下)")
    group_code: str = Field(examples=["A"])
    building_codes: list[str] = Field(description="The group's buildings ([] while pending)")
    status: Literal["won", "tied", "not_passed", "pending"] = Field(
        description="`won`: a scheme was chosen; `tied` / `not_passed`: decided without a scheme; `pending`: "
        "awaiting a run-off (决选)"
    )
    proposal_id: str | None
    proposal_code: str | None = Field(examples=["P1"])
    version_id: str | None
    version: int | None = Field(description="The chosen version (v1..v3)")
    title: str | None = Field(description="The chosen version's title")
    consultation_id: str | None = Field(description="The survey vote that decided (the final vote or a run-off)")
    decided_by: Literal["final_vote", "runoff"] | None
    runoff_number: int = Field(ge=0, le=2)
    decided_at: datetime | None


class ProjectRead(ProjectSummary):
    current_plan_id: uuid.UUID | None
    priority_rank: int | None = Field(default=None, description="From the newest ranking listing the community")
    design_basis: list[DesignBasisRead] = Field(
        default_factory=list,
        description="The community's design basis: per scheme round and courtyard/building group, the scheme it "
        "chose (survey.scheme_round.decided.v1), pending groups first",
    )
    faces: list[FaceRead] = Field(default_factory=list)
    packages: list[PackageRead] = Field(default_factory=list)


# plans -------------------------------------------------------------------------------------------------------------

Crews = Annotated[
    dict[Trade, Annotated[int, Field(ge=1, le=200)]],
    Field(max_length=40, description="Crews per trade shared by the plan's projects"),
]


class PlanOptions(BaseModel):
    start_date: date
    non_working_dates: list[date] = Field(default_factory=list, max_length=400, description="Holidays")
    rest_weekdays: list[Weekday] = Field(default_factory=list, max_length=6, description="Weekly rest days")
    crews: Crews = Field(default_factory=dict)
    default_crews: int = Field(default=2, ge=1, le=200, description="Crews of a trade `crews` does not name")
    max_faces_per_community: int = Field(default=2, ge=1, le=60, description="Faces disturbed at once (减少扰民)")
    time_limit_s: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="Deterministic-time budget of the solver (the plan does not depend on load)",
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class PlanCreate(PlanOptions):
    project_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)

    @field_validator("project_ids")
    @classmethod
    def _unique(cls, v: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(set(v)) != len(v):
            raise ValueError("project ids must be unique")
        return v

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "project_ids": ["6f1c2a9e-3b1d-4c1e-9a43-2f6d8e0b7c15"],
                    "start_date": "2027-03-01",
                    "non_working_dates": ["2027-04-05", "2027-05-01"],
                    "rest_weekdays": ["sunday"],
                    "crews": {"civil": 1, "plumbing": 2},
                    "default_crews": 2,
                    "max_faces_per_community": 2,
                    "time_limit_s": 5,
                }
            ]
        }
    )


class ReplanCreate(BaseModel):
    data_date: date = Field(description="Reports up to this day count; at the latest today")
    crews: Crews | None = None
    time_limit_s: float = Field(default=5.0, gt=0, le=600)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"data_date": "2027-04-12", "crews": {"civil": 2}, "time_limit_s": 5}]}
    )


class PlanProjectRead(BaseModel):
    project_id: uuid.UUID
    start_date: date
    finish_date: date


class PlanResultRead(BaseModel):
    solver_status: SolverStatus
    objective: int
    bound: float = Field(description="The solver's proven bound on the objective")
    gap: float = Field(description="(objective − bound) / objective; 0 when optimal")
    lower_bound: float | None = Field(
        default=None, description="Proven lower bound on the priority-weighted completion (None without weights)"
    )
    limited_by: LimitedBy | None = Field(
        default=None,
        description="What stopped the search: `deterministic_time` (the budget, reproducible) or `wall_clock` "
        "(the machine was too slow: a different plan than an idle machine would give, so never `optimal`)",
    )
    makespan_days: int
    weighted_completion: int
    wall_time_s: float
    deterministic_time: float | None = None
    moved_tasks: int = 0
    total_shift_days: int = 0
    tasks: int
    rules_checked: bool
    start_date: date
    finish_date: date
    projects: list[PlanProjectRead]


class PlanRead(BaseModel):
    id: uuid.UUID
    kind: PlanKind
    status: PlanStatus
    project_ids: list[uuid.UUID]
    solver_status: SolverStatus | None
    result: PlanResultRead | None
    error_code: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class Predecessor(BaseModel):
    id: Ident
    lag: int = Field(default=0, ge=0, le=3650)


class NetworkTask(BaseModel):
    id: Ident
    duration: int = Field(ge=0, le=3650)
    demands: dict[Ident, Annotated[int, Field(ge=0, le=10**6)]] = Field(default_factory=dict, max_length=50)
    predecessors: list[Ident | Predecessor] = Field(default_factory=list, max_length=200)


class SolveRequest(BaseModel):
    tasks: list[NetworkTask] = Field(min_length=1, max_length=3000)
    capacities: dict[Ident, Annotated[int, Field(ge=0, le=10**6)]] = Field(default_factory=dict, max_length=50)
    time_limit_s: float = Field(default=2.0, gt=0, le=60, description="Deterministic-time budget")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    workers: int = Field(default=1, ge=1, le=8, description="Subsolvers interleaved deterministically")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tasks": [
                        {"id": "a", "duration": 3, "demands": {"crew": 1}},
                        {"id": "b", "duration": 2, "demands": {"crew": 1}, "predecessors": ["a"]},
                        {"id": "c", "duration": 4, "demands": {"crew": 1}, "predecessors": [{"id": "a", "lag": 2}]},
                    ],
                    "capacities": {"crew": 2},
                    "time_limit_s": 1,
                }
            ]
        }
    )


class TaskTime(BaseModel):
    id: str
    start: int
    end: int


class SolveResponse(BaseModel):
    status: SolverStatus
    makespan: int
    bound: float
    gap: float
    precedence_lower_bound: int
    limited_by: LimitedBy | None = None
    wall_time_s: float
    schedule: list[TaskTime]


# views -------------------------------------------------------------------------------------------------------------


class ScheduledPackage(BaseModel):
    package_id: str
    code: str
    name_zh: str
    work_face_id: str
    face_name: str
    trade: Trade
    start_idx: int = Field(description="Working-day index of the first day (0 = the plan's first working day)")
    end_idx: int = Field(description="Working-day index after the last day")
    start_date: date
    finish_date: date


class ScheduleRead(BaseModel):
    project_id: uuid.UUID
    plan_id: uuid.UUID | None
    solver_status: SolverStatus | None
    packages: list[ScheduledPackage]


class HandoverPoint(BaseModel):
    from_trade: Trade
    to_trade: Trade
    planned_on: date
    recorded_at: datetime | None


class TradeBarRead(BaseModel):
    trade: Trade
    start_date: date
    finish_date: date
    packages: list[str]


class FaceChartRow(BaseModel):
    work_face_id: str
    face_name: str
    bars: list[TradeBarRead]
    handovers: list[HandoverPoint]


class HandoverChartRead(BaseModel):
    project_id: uuid.UUID
    title: str
    faces: list[FaceChartRow]


class ProgressRowRead(BaseModel):
    package_id: str
    code: str
    name_zh: str
    face_name: str
    trade: Trade
    start_date: date
    finish_date: date
    planned_percent: Decimal
    actual_percent: Decimal
    variance: Decimal
    status: ProgressStatus


class ProgressTableRead(BaseModel):
    project_id: uuid.UUID
    date: dt.date
    planned_percent: Decimal
    actual_percent: Decimal
    rows: list[ProgressRowRead]


class DailyReportRead(BaseModel):
    project_id: uuid.UUID
    date: dt.date
    next_working_day: dt.date
    late_packages: list[ProgressRowRead]
    starting_next: list[ScheduledPackage]
    due_handovers: list[HandoverPoint]
    delay_days: int


# progress ----------------------------------------------------------------------------------------------------------


class ProgressCreate(BaseModel):
    package_id: uuid.UUID
    report_date: date = Field(description="The day the progress was seen on site; at the latest today (Beijing time)")
    percent_complete: Decimal = Field(ge=0, le=100, max_digits=5, decimal_places=2)
    note: str = Field(default="", max_length=500)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "package_id": "0b8e4c52-9d7f-4f0e-8a1b-3c2d1e0f9a87",
                    "report_date": "2027-03-15",
                    "percent_complete": "45.50",
                    "note": "开挖完成一半",
                }
            ]
        }
    )


class ProgressRead(BaseModel):
    id: int
    package_id: uuid.UUID
    report_date: date
    percent_complete: Decimal
    note: str
    created_at: datetime


class HandoverCreate(BaseModel):
    work_face_id: uuid.UUID
    from_trade: Trade
    to_trade: Trade
    handed_over_at: datetime
    note: str = Field(default="", max_length=500)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "work_face_id": "5d1f0e2c-7a3b-4c9d-8e6f-1a2b3c4d5e6f",
                    "from_trade": "drainage",
                    "to_trade": "roadworks",
                    "handed_over_at": "2027-04-02T08:00:00+08:00",
                    "note": "回填验收合格",
                }
            ]
        }
    )


class HandoverRead(BaseModel):
    id: uuid.UUID
    work_face_id: uuid.UUID
    from_trade: Trade
    to_trade: Trade
    handed_over_at: datetime
    created_at: datetime


class DefectIn(BaseModel):
    description: str = Field(min_length=1, max_length=500)
    severity: DefectSeverity = DefectSeverity.MINOR


class InspectionCreate(BaseModel):
    package_id: uuid.UUID | None = None
    work_face_id: uuid.UUID | None = None
    result: InspectionResult
    defects: list[DefectIn] = Field(default_factory=list, max_length=50)
    note: str = Field(default="", max_length=1000)
    inspected_on: date

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "package_id": "0b8e4c52-9d7f-4f0e-8a1b-3c2d1e0f9a87",
                    "result": "failed",
                    "defects": [{"description": "回填不密实", "severity": "major"}],
                    "inspected_on": "2027-03-20",
                }
            ]
        }
    )


class InspectionRead(BaseModel):
    id: uuid.UUID
    package_id: uuid.UUID | None
    work_face_id: uuid.UUID | None
    result: InspectionResult
    defects: list[DefectIn]
    note: str
    inspected_on: date
    created_at: datetime


def as_json(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
