"""Tables of the survey database.

Integrity lives here: one building code per community, one household per (building, unit, room), one response
per (consultation, respondent) — the respondent is the household, or the resident for per-resident demand
surveys — and one row per client ``submission_id``. Floor areas are NUMERIC(10,2).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from renovation_common.db import define_infrastructure_tables, new_metadata

metadata = new_metadata()
infra = define_infrastructure_tables(metadata)

TS = sa.DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = metadata


class StreetRow(Base):
    """Which district a street (街道) belongs to: recorded with the street's first community, by a caller whose
    token places them in that district; from then on every community of the street is in that district."""

    __tablename__ = "streets"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    district_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    recorded_by: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sa.func.now())


class CommunityRow(Base):
    __tablename__ = "communities"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    district_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    street_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    address: Mapped[str | None] = mapped_column(sa.String(200))
    built_year: Mapped[int | None] = mapped_column(sa.SmallInteger)
    delivered_year: Mapped[int | None] = mapped_column(sa.SmallInteger)
    maintenance_fund_established: Mapped[bool] = mapped_column(sa.Boolean)
    # registry counters, kept in the transactions that add households or change their area (results and events
    # read them instead of counting the households)
    household_count: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    floor_area_m2: Mapped[Decimal] = mapped_column(sa.Numeric(16, 2), server_default="0")
    version: Mapped[int] = mapped_column(sa.Integer, server_default="1")  # + 1 on each change; sent in events
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sa.func.now())
    __table_args__ = (
        sa.CheckConstraint("built_year IS NULL OR built_year BETWEEN 1800 AND 2100", name="built_year_range"),
        sa.CheckConstraint(
            "delivered_year IS NULL OR delivered_year BETWEEN 1800 AND 2100", name="delivered_year_range"
        ),
    )


class BuildingRow(Base):
    __tablename__ = "buildings"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    community_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("communities.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(sa.String(20))
    household_count: Mapped[int] = mapped_column(sa.Integer, server_default="0")  # counter, as the community's
    __table_args__ = (sa.UniqueConstraint("community_id", "code"),)


class HouseholdRow(Base):
    __tablename__ = "households"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    community_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("communities.id", ondelete="RESTRICT"), index=True)
    building_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("buildings.id", ondelete="RESTRICT"))
    unit: Mapped[str] = mapped_column(sa.String(20), server_default="")
    room: Mapped[str] = mapped_column(sa.String(20))
    floor_area_m2: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2))
    owner_name: Mapped[str | None] = mapped_column(sa.String(50))
    owner_phone: Mapped[str | None] = mapped_column(sa.String(20))
    version: Mapped[int] = mapped_column(sa.Integer, server_default="1")  # + 1 on each change; sent in events
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sa.func.now())
    __table_args__ = (
        sa.UniqueConstraint("building_id", "unit", "room"),
        sa.CheckConstraint("floor_area_m2 > 0 AND floor_area_m2 <= 10000", name="floor_area_positive"),
    )


class ResidentRow(Base):
    __tablename__ = "residents"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    household_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("households.id", ondelete="CASCADE"), index=True)
    birth_year: Mapped[int] = mapped_column(sa.SmallInteger)
    lives_alone: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    needs_accompaniment: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    __table_args__ = (sa.CheckConstraint("birth_year BETWEEN 1880 AND 2100", name="birth_year_range"),)


class ConsultationRow(Base):
    __tablename__ = "consultations"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    community_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("communities.id", ondelete="RESTRICT"), index=True)
    district_id: Mapped[str] = mapped_column(sa.String(64))
    street_id: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(20))
    title: Mapped[str] = mapped_column(sa.String(200))
    batch: Mapped[str | None] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(20), server_default="draft")
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    rule: Mapped[str] = mapped_column(sa.String(40))
    threshold: Mapped[str | None] = mapped_column(sa.String(40))  # exact 'n/d' (household_share)
    decision_question_id: Mapped[str | None] = mapped_column(sa.String(40))
    approve_options: Mapped[list[str]] = mapped_column(JSONB, server_default=sa.text("'[]'::jsonb"))
    menu_question_id: Mapped[str | None] = mapped_column(sa.String(40))
    menu_threshold: Mapped[str] = mapped_column(sa.String(40), server_default="1/2")
    age_middle_from: Mapped[int] = mapped_column(sa.SmallInteger, server_default="35")
    age_elderly_from: Mapped[int] = mapped_column(sa.SmallInteger, server_default="60")
    opens_at: Mapped[datetime | None] = mapped_column(TS)
    closes_at: Mapped[datetime | None] = mapped_column(TS)
    created_by: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sa.func.now())
    opened_at: Mapped[datetime | None] = mapped_column(TS)
    closed_at: Mapped[datetime | None] = mapped_column(TS)
    closed_by: Mapped[str | None] = mapped_column(sa.String(128))  # token `sub`, or 'system:auto-close'
    published_at: Mapped[datetime | None] = mapped_column(TS)
    outcome: Mapped[str | None] = mapped_column(sa.String(20))
    decided_by: Mapped[str | None] = mapped_column(sa.String(60))
    approval_num: Mapped[int | None] = mapped_column(sa.BigInteger)  # approving / all households, for ranking
    approval_den: Mapped[int | None] = mapped_column(sa.BigInteger)
    approval_area_num: Mapped[int | None] = mapped_column(sa.BigInteger)  # in 0.01 m²
    approval_area_den: Mapped[int | None] = mapped_column(sa.BigInteger)
    final_result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # a courtyard's or building group's own consultation (一院一策): its buildings; null = the whole community
    building_codes: Mapped[list[str] | None] = mapped_column(JSONB)
    __table_args__ = (
        sa.CheckConstraint("kind IN ('willingness','menu','scheme_vote','demand','satisfaction')", name="kind_known"),
        sa.CheckConstraint("state IN ('draft','open','closed','published')", name="state_known"),
        sa.Index("ix_consultations_ranking", "district_id", "kind", "outcome"),
        # the auto-closer's scan: open consultations by end of window
        sa.Index("ix_consultations_open_closes_at", "closes_at", postgresql_where=sa.text("state = 'open'")),
    )


class ResponseRow(Base):
    __tablename__ = "responses"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    consultation_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("consultations.id", ondelete="CASCADE"))
    household_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("households.id", ondelete="RESTRICT"), index=True)
    resident_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("residents.id", ondelete="RESTRICT"))
    respondent_key: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))  # household, or resident for demand
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB)
    suggestion: Mapped[str | None] = mapped_column(sa.String(1000))
    channel: Mapped[str] = mapped_column(sa.String(20))
    interviewer: Mapped[str | None] = mapped_column(sa.String(128))
    answered_at: Mapped[datetime] = mapped_column(TS)
    version: Mapped[int] = mapped_column(sa.Integer, server_default="1")
    last_submission_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sa.func.now())
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=sa.func.now())
    __table_args__ = (
        sa.UniqueConstraint("consultation_id", "respondent_key"),
        sa.CheckConstraint("channel IN ('app','door_to_door','paper','meeting')", name="channel_known"),
        sa.CheckConstraint("channel = 'app' OR interviewer IS NOT NULL", name="interviewer_recorded"),
        # a result's suggestions: the first ones in answer order, read without scanning the other answers
        sa.Index(
            "ix_responses_suggestions",
            "consultation_id",
            "created_at",
            "id",
            postgresql_where=sa.text("suggestion IS NOT NULL"),
        ),
    )


class TallyRow(Base):
    """A consultation's incremental tallies (``survey.domain.tallies``): each write adds its answer's change in
    its own transaction (``n = n + excluded.n``); a result reads these rows instead of every answer."""

    __tablename__ = "consultation_tallies"
    consultation_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("consultations.id", ondelete="CASCADE"), primary_key=True
    )
    metric: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    key: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    n: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    amount: Mapped[Decimal] = mapped_column(sa.Numeric, server_default="0")  # exact: areas in m², number sums


class TallyDeltaRow(Base):
    """A write's change to the tallies, applied at its commit: the deferred constraint trigger
    ``apply_tally_delta`` (migration 0006) adds each row to ``consultation_tallies`` (``n = n + excluded.n``,
    in insertion order — the write inserts them in key order) and deletes it, inside COMMIT. The hot tally rows
    every writer shares are locked only for the commit itself, never across a round trip to the application."""

    __tablename__ = "consultation_tally_deltas"
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    consultation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    metric: Mapped[str] = mapped_column(sa.String(20))
    key: Mapped[str] = mapped_column(sa.Text)
    n: Mapped[int] = mapped_column(sa.BigInteger)
    amount: Mapped[Decimal] = mapped_column(sa.Numeric)


class ResultVersionRow(Base):
    """A consultation's result version: + 1 by every transaction that changes what its result is computed from
    (tallies, suggestions), once per transaction, inside its COMMIT (``survey_bump_result_version``, migration
    0009). A result read validates its cached document against it (``results.ResultCache``). No personal data."""

    __tablename__ = "consultation_result_versions"
    consultation_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("consultations.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")


class HouseholdAnswerCountRow(Base):
    """Per-resident (demand) surveys: how many residents of a household have answered, so the household counts
    once in the household-level tallies (its 0 -> 1 and 1 -> 0 transitions)."""

    __tablename__ = "consultation_household_answers"
    consultation_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("consultations.id", ondelete="CASCADE"), primary_key=True
    )
    household_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    n: Mapped[int] = mapped_column(sa.Integer, server_default="0")


class SubmissionRow(Base):
    """Every client submission id once: same id + same body → the stored first result; other body → 409."""

    __tablename__ = "submissions"
    submission_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    consultation_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("consultations.id", ondelete="CASCADE"))
    body_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int] = mapped_column(sa.SmallInteger)
    result: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(TS, server_default=sa.func.now())


class ResponseAuditRow(Base):
    """Every change to a response: who, through which channel, what the answers became."""

    __tablename__ = "response_audit"
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    response_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    consultation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    household_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    resident_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    submission_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    action: Mapped[str] = mapped_column(sa.String(20))  # created | updated | superseded
    version: Mapped[int] = mapped_column(sa.Integer)
    answers: Mapped[dict[str, Any]] = mapped_column(JSONB)
    suggestion: Mapped[str | None] = mapped_column(sa.String(1000))
    channel: Mapped[str] = mapped_column(sa.String(20))
    interviewer: Mapped[str | None] = mapped_column(sa.String(128))
    actor_sub: Mapped[str] = mapped_column(sa.String(128))
    actor_role: Mapped[str] = mapped_column(sa.String(40))
    answered_at: Mapped[datetime] = mapped_column(TS)
    recorded_at: Mapped[datetime] = mapped_column(TS, server_default=sa.func.now())


class RankingRow(Base):
    __tablename__ = "rankings"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    district_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    batch: Mapped[str | None] = mapped_column(sa.String(64))
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    published_by: Mapped[str] = mapped_column(sa.String(128))
    published_at: Mapped[datetime] = mapped_column(TS)


class RegistryAuditRow(Base):
    """Every registry change (communities, households): who and what; personal data is not copied here."""

    __tablename__ = "registry_audit"
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    entity: Mapped[str] = mapped_column(sa.String(20))
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    action: Mapped[str] = mapped_column(sa.String(20))
    actor_sub: Mapped[str] = mapped_column(sa.String(128))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)
    recorded_at: Mapped[datetime] = mapped_column(TS, server_default=sa.func.now())


# design-scheme deliberation (its own module; imported here so this metadata holds its tables)
from survey.adapters import scheme_tables as _scheme_tables  # noqa: E402, F401
