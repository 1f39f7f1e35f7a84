"""Tables of design-scheme deliberation (三上三下, 一院一策), migration 0007.

Integrity in the database: a building in at most one group of a round; one version number per proposal (two
revisions racing on the same parent: one wins); a version's parent is the one before it; one feedback per household
per version; one final-vote consultation per group. Imported at the end of ``orm.py`` so the service's one
``metadata`` holds these tables.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from survey.adapters.orm import TS, Base


class SchemeRoundRow(Base):
    __tablename__ = "scheme_rounds"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    community_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("communities.id", ondelete="RESTRICT"), index=True)
    district_id: Mapped[str] = mapped_column(sa.String(64))
    street_id: Mapped[str] = mapped_column(sa.String(64))
    title: Mapped[str] = mapped_column(sa.String(200))
    state: Mapped[str] = mapped_column(sa.String(20), server_default="deliberating")
    round_no: Mapped[int] = mapped_column(sa.SmallInteger, server_default="1")
    phase: Mapped[str] = mapped_column(sa.String(10), server_default="up")
    created_by: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)
    decided_at: Mapped[datetime | None] = mapped_column(TS)
    decided_by: Mapped[str | None] = mapped_column(sa.String(128))
    version: Mapped[int] = mapped_column(sa.Integer, server_default="1")  # + 1 on each change
    __table_args__ = (
        sa.CheckConstraint("state IN ('deliberating','voting','decided')", name="state_known"),
        sa.CheckConstraint("phase IN ('up','down')", name="phase_known"),
        sa.CheckConstraint("round_no BETWEEN 1 AND 3", name="at_most_three_rounds"),
    )


class SchemeGroupRow(Base):
    """A courtyard or building group (院落/楼栋组) of a round: it votes on its own (一院一策)."""

    __tablename__ = "scheme_groups"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    round_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("scheme_rounds.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(100))
    position: Mapped[int] = mapped_column(sa.SmallInteger)
    consultation_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("consultations.id", ondelete="RESTRICT"), unique=True
    )
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)  # frozen when the round is decided
    winner_version_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # migration 0011: the group's decision (pending → awaiting_runoff ⇄ runoff_open → decided), when it was decided
    decision: Mapped[str] = mapped_column(sa.String(20), server_default="pending")
    decided_at: Mapped[datetime | None] = mapped_column(TS)
    __table_args__ = (
        sa.UniqueConstraint("round_id", "code"),
        sa.CheckConstraint("decision IN ('pending','awaiting_runoff','runoff_open','decided')", name="decision_known"),
        sa.CheckConstraint("(decision = 'decided') = (decided_at IS NOT NULL)", name="decided_when"),
    )


class SchemeRunoffRow(Base):
    """A run-off vote (决选) of one group among its tied or leading schemes (migration 0011): its own scheme_vote
    consultation (its own ballots), numbered 1..2 per group; ``result`` frozen when it is counted."""

    __tablename__ = "scheme_runoffs"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    round_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("scheme_rounds.id", ondelete="CASCADE"), index=True)
    group_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("scheme_groups.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(sa.SmallInteger)
    consultation_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("consultations.id", ondelete="RESTRICT"), unique=True
    )
    candidates: Mapped[list[str]] = mapped_column(JSONB)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(TS)
    counted_at: Mapped[datetime | None] = mapped_column(TS)
    __table_args__ = (
        sa.UniqueConstraint("group_id", "number"),
        sa.CheckConstraint("number BETWEEN 1 AND 2", name="runoff_limit"),
        sa.CheckConstraint("(result IS NULL) = (counted_at IS NULL)", name="counted_when"),
    )


class SchemeGroupBuildingRow(Base):
    __tablename__ = "scheme_group_buildings"
    group_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("scheme_groups.id", ondelete="CASCADE"), primary_key=True)
    building_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("buildings.id", ondelete="RESTRICT"), primary_key=True)
    round_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    __table_args__ = (sa.UniqueConstraint("round_id", "building_id"),)  # a building in at most one group


class SchemeProposalRow(Base):
    __tablename__ = "scheme_proposals"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    round_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("scheme_rounds.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(sa.String(20))  # P1, P2 … : the final vote's option
    source_kind: Mapped[str] = mapped_column(sa.String(20))
    proposer: Mapped[str] = mapped_column(sa.String(100))
    group_codes: Mapped[list[str]] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (
        sa.UniqueConstraint("round_id", "code"),
        sa.CheckConstraint("source_kind IN ('firm','university','resident')", name="source_kind_known"),
    )


class SchemeVersionRow(Base):
    __tablename__ = "scheme_versions"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    proposal_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("scheme_proposals.id", ondelete="CASCADE"))
    round_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    number: Mapped[int] = mapped_column(sa.SmallInteger)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("scheme_versions.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.String(4000))
    document_ref: Mapped[str | None] = mapped_column(sa.String(500))
    changes: Mapped[str | None] = mapped_column(sa.String(2000))
    answers_feedback: Mapped[list[str]] = mapped_column(JSONB, server_default=sa.text("'[]'::jsonb"))
    published_in_round: Mapped[int] = mapped_column(sa.SmallInteger)
    created_by: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (
        sa.UniqueConstraint("proposal_id", "number"),
        sa.CheckConstraint("number BETWEEN 1 AND 3", name="number_range"),
        sa.CheckConstraint("(number = 1) = (parent_id IS NULL)", name="parent_unless_first"),
        sa.CheckConstraint("number = 1 OR changes IS NOT NULL", name="changes_recorded"),
    )


class SchemeFeedbackRow(Base):
    __tablename__ = "scheme_feedback"
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    version_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("scheme_versions.id", ondelete="CASCADE"))
    round_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    household_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("households.id", ondelete="RESTRICT"))
    stance: Mapped[str] = mapped_column(sa.String(20))
    text: Mapped[str | None] = mapped_column(sa.String(1000))
    channel: Mapped[str] = mapped_column(sa.String(20))
    recorded_by: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(TS)
    __table_args__ = (
        sa.UniqueConstraint("version_id", "household_id"),
        sa.CheckConstraint("stance IN ('support','concerns')", name="stance_known"),
        sa.CheckConstraint("channel IN ('app','door_to_door','paper','meeting')", name="channel_known"),
    )
