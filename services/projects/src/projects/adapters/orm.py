"""Tables of the projects database."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from projects.domain.model import PlanKind, PlanStatus, ProjectStatus
from renovation_common.db import define_infrastructure_tables, new_metadata

metadata = new_metadata()
infra = define_infrastructure_tables(metadata)

PROJECT_STATUSES = tuple(s.value for s in ProjectStatus)
PLAN_STATUSES = tuple(s.value for s in PlanStatus)
PLAN_KINDS = tuple(k.value for k in PlanKind)


class Base(DeclarativeBase):
    metadata = metadata


def _now() -> Any:
    return sa.func.now()


class CommunityRow(Base):
    """Read model of survey communities: where each lies (``survey.community.registered.v1``, newest version)."""

    __tablename__ = "communities"
    community_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    district_id: Mapped[str] = mapped_column(sa.String(64))
    street_id: Mapped[str | None] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200), server_default="")
    household_count: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    source_version: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class CommunityRankRow(Base):
    """A community's place in the newest published ranking that lists it (``survey.ranking.published.v1``)."""

    __tablename__ = "community_ranks"
    community_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    district_id: Mapped[str] = mapped_column(sa.String(64))
    priority_rank: Mapped[int] = mapped_column(sa.Integer)
    ranking_id: Mapped[str] = mapped_column(sa.String(64))
    published_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))


class HouseholdRow(Base):
    """Read model of survey households: only which building each home is in (buildings are work faces)."""

    __tablename__ = "households"
    household_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    community_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    building_id: Mapped[str] = mapped_column(sa.String(64))
    building_code: Mapped[str] = mapped_column(sa.String(20))
    source_version: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")


class SiteRow(Base):
    """Read model of survey lanes and courtyards (``survey.site.registered.v1``, newest version)."""

    __tablename__ = "sites"
    __table_args__ = (sa.CheckConstraint("kind in ('lane', 'courtyard')", name="kind"),)
    site_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    community_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    code: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(16))
    length_m: Mapped[int | None] = mapped_column(sa.Integer)
    area_m2: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 2))
    retired: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    source_version: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")


class ProjectRow(Base):
    __tablename__ = "projects"
    __table_args__ = (
        sa.CheckConstraint(f"status in {PROJECT_STATUSES}", name="status"),
        sa.Index("ix_projects_district_street", "district_id", "street_id"),
        sa.Index("ix_projects_created_at_id", "created_at", "id"),
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    community_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    district_id: Mapped[str] = mapped_column(sa.String(64))
    street_id: Mapped[str | None] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16), server_default="draft")
    source_consultation_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    current_plan_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    start_date: Mapped[date | None] = mapped_column(sa.Date)
    finish_date: Mapped[date | None] = mapped_column(sa.Date)
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class WorkFaceRow(Base):
    __tablename__ = "work_faces"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "code"),
        sa.CheckConstraint("size between 1 and 20", name="size"),
        sa.CheckConstraint("kind in ('lane', 'courtyard', 'building')", name="kind"),
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(16))
    size: Mapped[int] = mapped_column(sa.Integer, server_default="1")
    source: Mapped[str] = mapped_column(sa.String(20), server_default="request")
    source_id: Mapped[str | None] = mapped_column(sa.String(64))


class WorkPackageRow(Base):
    __tablename__ = "work_packages"
    __table_args__ = (
        sa.UniqueConstraint("work_face_id", "type_code"),
        sa.CheckConstraint("duration_days between 1 and 3650", name="duration"),
        sa.CheckConstraint("percent_complete between 0 and 100", name="percent"),
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    work_face_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_faces.id", ondelete="CASCADE"))
    type_code: Mapped[str] = mapped_column(sa.String(64))
    duration_days: Mapped[int] = mapped_column(sa.Integer)
    percent_complete: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2), server_default="0")
    last_report_date: Mapped[date | None] = mapped_column(sa.Date)
    actual_start: Mapped[date | None] = mapped_column(sa.Date)
    actual_finish: Mapped[date | None] = mapped_column(sa.Date)


class PackageLinkRow(Base):
    __tablename__ = "package_links"
    __table_args__ = (
        sa.CheckConstraint("lag_days between 0 and 3650", name="lag"),
        sa.CheckConstraint("pred_id <> succ_id", name="not_self"),
    )
    pred_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_packages.id", ondelete="CASCADE"), primary_key=True)
    succ_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_packages.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    lag_days: Mapped[int] = mapped_column(sa.Integer, server_default="0")


class PlanRow(Base):
    """A planning job (one project, a district batch, or a re-plan); any replica can run or answer it."""

    __tablename__ = "plans"
    __table_args__ = (
        sa.CheckConstraint(f"status in {PLAN_STATUSES}", name="status"),
        sa.CheckConstraint(f"kind in {PLAN_KINDS}", name="kind"),
        sa.Index("ix_plans_queued", "created_at", postgresql_where=sa.text("status in ('queued', 'running')")),
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16), server_default="queued")
    district_id: Mapped[str | None] = mapped_column(sa.String(64))
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    solver_status: Mapped[str | None] = mapped_column(sa.String(16))
    error_code: Mapped[str | None] = mapped_column(sa.String(64))
    error: Mapped[str | None] = mapped_column(sa.String(500))
    attempts: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class PlanProjectRow(Base):
    __tablename__ = "plan_projects"
    plan_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ScheduleEntryRow(Base):
    __tablename__ = "schedule_entries"
    __table_args__ = (sa.CheckConstraint("end_idx > start_idx and start_idx >= 0", name="span"),)
    plan_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True)
    package_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("work_packages.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    start_idx: Mapped[int] = mapped_column(sa.Integer)
    end_idx: Mapped[int] = mapped_column(sa.Integer)
    start_date: Mapped[date] = mapped_column(sa.Date)
    finish_date: Mapped[date] = mapped_column(sa.Date)


class ProgressReportRow(Base):
    __tablename__ = "progress_reports"
    __table_args__ = (
        sa.UniqueConstraint("package_id", "report_date"),
        sa.CheckConstraint("percent_complete between 0 and 100", name="percent"),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    package_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_packages.id", ondelete="CASCADE"))
    report_date: Mapped[date] = mapped_column(sa.Date)
    percent_complete: Mapped[Decimal] = mapped_column(sa.Numeric(5, 2))
    note: Mapped[str] = mapped_column(sa.String(500), server_default="")
    reported_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class HandoverRow(Base):
    __tablename__ = "handovers"
    __table_args__ = (
        sa.UniqueConstraint("work_face_id", "from_trade", "to_trade"),
        sa.CheckConstraint("from_trade <> to_trade", name="distinct_trades"),
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    work_face_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_faces.id", ondelete="CASCADE"))
    from_trade: Mapped[str] = mapped_column(sa.String(32))
    to_trade: Mapped[str] = mapped_column(sa.String(32))
    handed_over_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    note: Mapped[str] = mapped_column(sa.String(500), server_default="")
    recorded_by: Mapped[str] = mapped_column(sa.String(200))


class InspectionRow(Base):
    __tablename__ = "inspections"
    __table_args__ = (sa.CheckConstraint("result in ('passed', 'failed')", name="result"),)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    package_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("work_packages.id", ondelete="CASCADE"))
    work_face_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("work_faces.id", ondelete="CASCADE"))
    result: Mapped[str] = mapped_column(sa.String(16))
    defects: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=sa.text("'[]'::jsonb"))
    note: Mapped[str] = mapped_column(sa.String(1000), server_default="")
    inspected_on: Mapped[date] = mapped_column(sa.Date)
    supervisor: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class DelayNoticeRow(Base):
    """One ``projects.project.delayed.v1`` per project and day."""

    __tablename__ = "delay_notices"
    project_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    as_of: Mapped[date] = mapped_column(sa.Date, primary_key=True)


class LifecycleRecordRow(Base):
    """The newest record of each kind behind the seven steps of a community (closed willingness, deliberation,
    Art. 278 vote and satisfaction rounds, its ranking, its approved funding plan): fed by events, newest
    ``occurred_at`` wins whatever the arrival order. Counts only, no answers."""

    __tablename__ = "lifecycle_records"
    community_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    record_id: Mapped[str] = mapped_column(sa.String(64))
    occurred_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(sa.String(16), server_default="")
    rule: Mapped[str] = mapped_column(sa.String(32), server_default="")
    outcome: Mapped[str] = mapped_column(sa.String(16), server_default="")
    approving_households: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    total_households: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    approval_ratio: Mapped[str] = mapped_column(sa.String(40), server_default="")
    approval_percent: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 2))
    detail: Mapped[str] = mapped_column(sa.String(200), server_default="")


class DesignBasisRow(Base):
    """Per community, round and courtyard/building group: the scheme the group chose (survey's
    ``survey.scheme_round.decided.v1``), or ``pending`` while it awaits a run-off. A decided group is final: a
    redelivery or a late pending mark never changes it (migration 0006)."""

    __tablename__ = "design_bases"
    round_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    group_code: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    community_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    round_title: Mapped[str] = mapped_column(sa.String(200))
    rounds_held: Mapped[int] = mapped_column(sa.SmallInteger)
    building_codes: Mapped[list[str]] = mapped_column(JSONB, server_default=sa.text("'[]'::jsonb"))
    status: Mapped[str] = mapped_column(sa.String(16))
    proposal_id: Mapped[str | None] = mapped_column(sa.String(64))
    proposal_code: Mapped[str | None] = mapped_column(sa.String(20))
    version_id: Mapped[str | None] = mapped_column(sa.String(64))
    version: Mapped[int | None] = mapped_column(sa.SmallInteger)
    title: Mapped[str | None] = mapped_column(sa.String(200))
    consultation_id: Mapped[str | None] = mapped_column(sa.String(64))
    decided_by: Mapped[str | None] = mapped_column(sa.String(16))
    runoff_number: Mapped[int] = mapped_column(sa.SmallInteger, server_default="0")
    decided_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    __table_args__ = (
        sa.CheckConstraint("status IN ('pending','won','tied','not_passed')", name="status_known"),
        sa.CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name="decided_when"),
    )


class CommunityLifecycleRow(Base):
    """Where each community stands in the seven steps (its current step), rewritten by every use case that
    changes a record behind a step, under a row lock (so concurrent writers cannot leave a stale step)."""

    __tablename__ = "community_lifecycle"
    community_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    current_step: Mapped[str] = mapped_column(sa.String(24), index=True)
    current_status: Mapped[str] = mapped_column(sa.String(16))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
