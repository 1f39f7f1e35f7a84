"""Events produced by the projects service."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from renovation_common.events import EventData, event_contract


@event_contract("projects.project.created.v1", "A renovation project was created with its work packages.")
class ProjectCreated(EventData):
    project_id: str
    community_id: str
    district_id: str
    street_id: str | None = None
    name: str
    package_codes: list[str]
    source_consultation_id: str | None = None


@event_contract("projects.project.scheduled.v1", "A plan was computed for the project.")
class ProjectScheduled(EventData):
    project_id: str
    community_id: str
    district_id: str
    plan_id: str
    start_date: date
    finish_date: date
    makespan_days: int
    solver_status: str  # optimal | feasible


@event_contract("projects.workface.handed_over.v1", "A trade handed a work face over to the next trade.")
class WorkFaceHandedOver(EventData):
    project_id: str
    community_id: str
    district_id: str
    work_face_id: str
    from_trade: str
    to_trade: str
    handed_over_at: datetime


@event_contract("projects.progress.reported.v1", "A contractor reported daily progress on a package.")
class ProgressReported(EventData):
    project_id: str
    community_id: str
    district_id: str
    package_id: str
    report_date: date
    percent_complete: Decimal


@event_contract("projects.project.delayed.v1", "The project is behind its plan.")
class ProjectDelayed(EventData):
    project_id: str
    community_id: str
    district_id: str
    as_of: date
    late_packages: int
    delay_days: int


@event_contract("projects.project.completed.v1", "Every package of the project is complete.")
class ProjectCompleted(EventData):
    project_id: str
    community_id: str
    district_id: str
    completed_on: date
