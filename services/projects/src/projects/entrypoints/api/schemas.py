"""Request and response schemas (bounded inputs)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
Ident = Annotated[str, Field(min_length=1, max_length=64)]
Trade = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]


class PackageTypeRead(BaseModel):
    code: str
    name_zh: str
    name_en: str
    category: str
    layer: str
    kind: str
    trade: str
    excavates: bool
    base_days: int
    days_per_size: int
    face_kinds: list[str]
    menu_items: list[str]


class CatalogRead(BaseModel):
    packages: list[PackageTypeRead]
    menu_to_packages: dict[str, list[str]]
    trades: list[str]


class FaceIn(BaseModel):
    code: Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_-]+$")]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["lane", "courtyard", "building"]
    size: int = Field(default=1, ge=1, le=20)


class ProjectCreate(BaseModel):
    community_id: Ident
    district_id: Ident
    street_id: Ident | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)]
    package_codes: list[Code] = Field(default_factory=list, max_length=40, description="Work-package type codes")
    menu_items: list[Code] = Field(default_factory=list, max_length=40, description="Menu item codes (survey)")
    faces: list[FaceIn] | None = Field(default=None, max_length=60)
    buildings: int = Field(default=2, ge=1, le=40, description="Building faces of the default layout")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "community_id": "c-jinsong-1",
                    "district_id": "d-chaoyang",
                    "street_id": "s-jinsong",
                    "name": "劲松一区综合改造",
                    "menu_items": ["rain_sewage_separation", "elevator_installation", "greening"],
                }
            ]
        }
    }


class FaceRead(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    kind: str
    size: int


class PackageRead(BaseModel):
    id: uuid.UUID
    work_face_id: uuid.UUID
    type_code: str
    name_zh: str
    trade: str
    layer: str
    kind: str
    excavates: bool
    duration_days: int
    percent_complete: Decimal
    actual_start: date | None
    actual_finish: date | None


class ProjectRead(BaseModel):
    id: uuid.UUID
    community_id: str
    district_id: str
    street_id: str | None
    name: str
    status: str
    source_consultation_id: str | None
    current_plan_id: uuid.UUID | None
    start_date: date | None
    finish_date: date | None
    priority_rank: int | None = None
    faces: list[FaceRead] = Field(default_factory=list)
    packages: list[PackageRead] = Field(default_factory=list)


class ProjectSummary(BaseModel):
    id: uuid.UUID
    community_id: str
    district_id: str
    street_id: str | None
    name: str
    status: str
    start_date: date | None
    finish_date: date | None


class PlanOptions(BaseModel):
    start_date: date
    non_working_dates: list[date] = Field(default_factory=list, max_length=400)
    rest_weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(default_factory=list, max_length=6)
    crews: dict[Trade, Annotated[int, Field(ge=1, le=200)]] = Field(default_factory=dict, max_length=40)
    default_crews: int = Field(default=2, ge=1, le=200)
    max_faces_per_community: int = Field(default=2, ge=1, le=60)
    time_limit_s: float = Field(default=5.0, gt=0, le=600)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class PlanCreate(PlanOptions):
    project_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)

    @field_validator("project_ids")
    @classmethod
    def _unique(cls, v: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(set(v)) != len(v):
            raise ValueError("project ids must be unique")
        return v


class ReplanCreate(BaseModel):
    data_date: date
    crews: dict[Trade, Annotated[int, Field(ge=1, le=200)]] | None = Field(default=None, max_length=40)
    time_limit_s: float = Field(default=5.0, gt=0, le=600)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class PlanRead(BaseModel):
    id: uuid.UUID
    kind: str
    status: str
    project_ids: list[uuid.UUID]
    solver_status: str | None
    result: dict[str, Any] | None
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
    time_limit_s: float = Field(default=2.0, gt=0, le=60)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    workers: int = Field(default=1, ge=1, le=8)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "tasks": [
                        {"id": "a", "duration": 3, "demands": {"crew": 1}},
                        {"id": "b", "duration": 2, "demands": {"crew": 1}, "predecessors": ["a"]},
                    ],
                    "capacities": {"crew": 1},
                }
            ]
        }
    }


class TaskTime(BaseModel):
    id: str
    start: int
    end: int


class SolveResponse(BaseModel):
    status: str
    makespan: int
    bound: float
    gap: float
    precedence_lower_bound: int
    wall_time_s: float
    schedule: list[TaskTime]


class ScheduledPackage(BaseModel):
    package_id: str
    code: str
    name_zh: str
    work_face_id: str
    face_name: str
    trade: str
    start_idx: int
    end_idx: int
    start_date: date
    finish_date: date


class ScheduleRead(BaseModel):
    project_id: uuid.UUID
    plan_id: uuid.UUID | None
    solver_status: str | None
    packages: list[ScheduledPackage]


class HandoverPoint(BaseModel):
    from_trade: str
    to_trade: str
    planned_on: date
    recorded_at: datetime | None


class TradeBarRead(BaseModel):
    trade: str
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
    trade: str
    start_date: date
    finish_date: date
    planned_percent: Decimal
    actual_percent: Decimal
    variance: Decimal
    status: str


class ProgressTableRead(BaseModel):
    project_id: uuid.UUID
    date: date
    planned_percent: Decimal
    actual_percent: Decimal
    rows: list[ProgressRowRead]


class ProgressCreate(BaseModel):
    package_id: uuid.UUID
    report_date: date
    percent_complete: Decimal = Field(ge=0, le=100, max_digits=5, decimal_places=2)
    note: str = Field(default="", max_length=500)


class ProgressRead(BaseModel):
    id: int
    package_id: uuid.UUID
    report_date: date
    percent_complete: Decimal
    note: str


class HandoverCreate(BaseModel):
    work_face_id: uuid.UUID
    from_trade: Trade
    to_trade: Trade
    handed_over_at: datetime
    note: str = Field(default="", max_length=500)


class HandoverRead(BaseModel):
    id: uuid.UUID
    work_face_id: uuid.UUID
    from_trade: str
    to_trade: str
    handed_over_at: datetime


class Defect(BaseModel):
    description: str = Field(min_length=1, max_length=500)
    severity: Literal["minor", "major", "critical"] = "minor"


class InspectionCreate(BaseModel):
    package_id: uuid.UUID | None = None
    work_face_id: uuid.UUID | None = None
    result: Literal["passed", "failed"]
    defects: list[Defect] = Field(default_factory=list, max_length=50)
    note: str = Field(default="", max_length=1000)
    inspected_on: date


class InspectionRead(BaseModel):
    id: uuid.UUID
    package_id: uuid.UUID | None
    work_face_id: uuid.UUID | None
    result: str
    defects: list[Defect]
    note: str
    inspected_on: date


class DailyReportRead(BaseModel):
    project_id: uuid.UUID
    date: date
    next_working_day: date
    late_packages: list[ProgressRowRead]
    starting_next: list[ScheduledPackage]
    due_handovers: list[HandoverPoint]
    delay_days: int
