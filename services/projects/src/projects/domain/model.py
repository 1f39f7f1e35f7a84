"""What the projects service records, as plain values (repositories map table rows to and from these).

Scope (district → street → community) is a property of the server's records: a community's place comes from the
survey's registry (``Community``, fed by ``survey.community.registered.v1``) and a project copies it at creation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from projects.domain.catalog import FaceKind


class ProjectStatus(StrEnum):
    DRAFT = "draft"  # created, not planned yet
    PLANNED = "planned"  # a plan is stored
    IN_PROGRESS = "in_progress"  # progress was reported
    COMPLETED = "completed"  # every package reported 100 %


class PlanKind(StrEnum):
    PROJECT = "project"  # one project
    BATCH = "batch"  # several projects sharing crews (a district, an area 片区)
    REPLAN = "replan"  # a project again from a data date


class PlanStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class SolverStatus(StrEnum):
    OPTIMAL = "optimal"  # proven optimal
    FEASIBLE = "feasible"  # every rule holds, optimality not proven (see the bound and the gap)


# what stopped a search that is not proven optimal: the deterministic-time budget (reproducible) or the wall clock
LimitedBy = Literal["deterministic_time", "wall_clock"]


class FaceSource(StrEnum):
    SURVEY_BUILDING = "survey_building"  # a building of the survey registry (households name it)
    SURVEY_SITE = "survey_site"  # a lane or courtyard of the survey registry (survey.site.registered.v1)
    COMMUNITY_GROUNDS = "community_grounds"  # the community's open ground, when the survey lists no lane or courtyard
    REQUEST = "request"  # named in the request that created the project


class InspectionResult(StrEnum):
    PASSED = "passed"
    FAILED = "failed"


class DefectSeverity(StrEnum):
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class Weekday(StrEnum):
    """Days of the week, as rest days of a working calendar."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @property
    def number(self) -> int:
        """0 = Monday … 6 = Sunday (``date.weekday()``)."""
        return list(Weekday).index(self)


@dataclass(frozen=True)
class Community:
    """Where a community lies, as the survey registry says (the read model projects decide scope from)."""

    community_id: str
    district_id: str
    street_id: str | None
    name: str
    household_count: int = 0


@dataclass(frozen=True)
class SiteFace:
    """A work face the survey knows: a building (from its households) or a lane/courtyard (a registered site)."""

    source: FaceSource
    source_id: str
    code: str
    name: str
    kind: FaceKind
    size: int


@dataclass(frozen=True)
class Project:
    id: uuid.UUID
    community_id: str
    district_id: str
    street_id: str | None
    name: str
    status: ProjectStatus
    source_consultation_id: str | None
    current_plan_id: uuid.UUID | None
    start_date: date | None
    finish_date: date | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class WorkFace:
    id: uuid.UUID
    project_id: uuid.UUID
    code: str
    name: str
    kind: FaceKind
    size: int
    source: FaceSource
    source_id: str | None


@dataclass(frozen=True)
class WorkPackage:
    id: uuid.UUID
    project_id: uuid.UUID
    work_face_id: uuid.UUID
    type_code: str
    duration_days: int
    percent_complete: Decimal = Decimal(0)
    last_report_date: date | None = None
    actual_start: date | None = None
    actual_finish: date | None = None


@dataclass(frozen=True)
class PackageLink:
    pred_id: uuid.UUID
    succ_id: uuid.UUID
    lag_days: int


@dataclass(frozen=True)
class DesignBasis:
    """What a courtyard or building group of the community chose in a survey scheme round (三上三下, 一院一策; fed by
    ``survey.scheme_round.decided.v1``): the chosen scheme's ids, version and title — the design basis of the
    community's renovation. No personal data (not even the proposer). ``status``: ``won`` (a scheme), ``tied`` /
    ``not_passed`` (decided without a scheme), ``pending`` (awaiting a run-off, 决选)."""

    round_id: str
    round_title: str
    rounds_held: int
    group_code: str
    building_codes: tuple[str, ...]
    status: str
    proposal_id: str | None = None
    proposal_code: str | None = None
    version_id: str | None = None
    version: int | None = None
    title: str | None = None
    consultation_id: str | None = None
    decided_by: str | None = None  # final_vote | runoff
    runoff_number: int = 0
    decided_at: datetime | None = None

    @property
    def decided(self) -> bool:
        return self.status != "pending"


@dataclass(frozen=True)
class ProjectDetails:
    """A project with its faces and packages, the community's published priority and its design basis."""

    project: Project
    faces: list[WorkFace]
    packages: list[WorkPackage]
    priority_rank: int | None = None
    design_basis: list[DesignBasis] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    id: uuid.UUID
    kind: PlanKind
    status: PlanStatus
    district_id: str | None
    request: dict[str, Any]
    result: dict[str, Any] | None
    solver_status: SolverStatus | None
    error_code: str | None
    error: str | None
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    project_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True)
class ScheduleEntry:
    package_id: uuid.UUID
    project_id: uuid.UUID
    start_idx: int
    end_idx: int
    start_date: date
    finish_date: date


@dataclass(frozen=True)
class ProgressReport:
    id: int
    package_id: uuid.UUID
    report_date: date
    percent_complete: Decimal
    note: str
    created_at: datetime


@dataclass(frozen=True)
class Handover:
    id: uuid.UUID
    work_face_id: uuid.UUID
    from_trade: str
    to_trade: str
    handed_over_at: datetime
    note: str


@dataclass(frozen=True)
class Defect:
    description: str
    severity: DefectSeverity = DefectSeverity.MINOR


@dataclass(frozen=True)
class Inspection:
    id: uuid.UUID
    project_id: uuid.UUID
    package_id: uuid.UUID | None
    work_face_id: uuid.UUID | None
    result: InspectionResult
    defects: list[Defect]
    note: str
    inspected_on: date
    supervisor: str
    created_at: datetime
