"""Registry (communities, buildings, households, residents), consultations, responses, submissions, audit, rankings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 07:39:45.434767
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "communities",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("district_id", sa.String(length=64), nullable=False),
        sa.Column("street_id", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("built_year", sa.SmallInteger(), nullable=True),
        sa.Column("delivered_year", sa.SmallInteger(), nullable=True),
        sa.Column("maintenance_fund_established", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "built_year IS NULL OR built_year BETWEEN 1800 AND 2100", name=op.f("ck_communities_built_year_range")
        ),
        sa.CheckConstraint(
            "delivered_year IS NULL OR delivered_year BETWEEN 1800 AND 2100",
            name=op.f("ck_communities_delivered_year_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communities")),
    )
    op.create_index(op.f("ix_communities_district_id"), "communities", ["district_id"], unique=False)
    op.create_index(op.f("ix_communities_street_id"), "communities", ["street_id"], unique=False)
    op.create_table(
        "rankings",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("district_id", sa.String(length=64), nullable=False),
        sa.Column("batch", sa.String(length=64), nullable=True),
        sa.Column("entries", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("published_by", sa.String(length=128), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rankings")),
    )
    op.create_index(op.f("ix_rankings_district_id"), "rankings", ["district_id"], unique=False)
    op.create_table(
        "registry_audit",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("actor_sub", sa.String(length=128), nullable=False),
        sa.Column("changes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_audit")),
    )
    op.create_table(
        "response_audit",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("response_id", sa.UUID(), nullable=False),
        sa.Column("consultation_id", sa.UUID(), nullable=False),
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("resident_id", sa.UUID(), nullable=True),
        sa.Column("submission_id", sa.UUID(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("answers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("suggestion", sa.String(length=1000), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("interviewer", sa.String(length=128), nullable=True),
        sa.Column("actor_sub", sa.String(length=128), nullable=False),
        sa.Column("actor_role", sa.String(length=40), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_audit")),
    )
    op.create_index(op.f("ix_response_audit_consultation_id"), "response_audit", ["consultation_id"], unique=False)
    op.create_index(op.f("ix_response_audit_response_id"), "response_audit", ["response_id"], unique=False)
    op.create_table(
        "buildings",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("community_id", sa.UUID(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_buildings_community_id_communities"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buildings")),
        sa.UniqueConstraint("community_id", "code", name=op.f("uq_buildings_community_id_code")),
    )
    op.create_table(
        "consultations",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("community_id", sa.UUID(), nullable=False),
        sa.Column("district_id", sa.String(length=64), nullable=False),
        sa.Column("street_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("batch", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=20), server_default="draft", nullable=False),
        sa.Column("questions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("threshold", sa.String(length=40), nullable=True),
        sa.Column("decision_question_id", sa.String(length=40), nullable=True),
        sa.Column(
            "approve_options",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("menu_question_id", sa.String(length=40), nullable=True),
        sa.Column("menu_threshold", sa.String(length=40), server_default="1/2", nullable=False),
        sa.Column("age_middle_from", sa.SmallInteger(), server_default="35", nullable=False),
        sa.Column("age_elderly_from", sa.SmallInteger(), server_default="60", nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("decided_by", sa.String(length=60), nullable=True),
        sa.Column("approval_num", sa.BigInteger(), nullable=True),
        sa.Column("approval_den", sa.BigInteger(), nullable=True),
        sa.Column("approval_area_num", sa.BigInteger(), nullable=True),
        sa.Column("approval_area_den", sa.BigInteger(), nullable=True),
        sa.Column("final_result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint(
            "kind IN ('willingness','menu','scheme_vote','demand','satisfaction')",
            name=op.f("ck_consultations_kind_known"),
        ),
        sa.CheckConstraint("state IN ('draft','open','closed','published')", name=op.f("ck_consultations_state_known")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_consultations_community_id_communities"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultations")),
    )
    op.create_index(op.f("ix_consultations_community_id"), "consultations", ["community_id"], unique=False)
    op.create_index("ix_consultations_ranking", "consultations", ["district_id", "kind", "outcome"], unique=False)
    op.create_table(
        "households",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("community_id", sa.UUID(), nullable=False),
        sa.Column("building_id", sa.UUID(), nullable=False),
        sa.Column("unit", sa.String(length=20), server_default="", nullable=False),
        sa.Column("room", sa.String(length=20), nullable=False),
        sa.Column("floor_area_m2", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("owner_name", sa.String(length=50), nullable=True),
        sa.Column("owner_phone", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "floor_area_m2 > 0 AND floor_area_m2 <= 10000", name=op.f("ck_households_floor_area_positive")
        ),
        sa.ForeignKeyConstraint(
            ["building_id"], ["buildings.id"], name=op.f("fk_households_building_id_buildings"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_households_community_id_communities"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
        sa.UniqueConstraint("building_id", "unit", "room", name=op.f("uq_households_building_id_unit_room")),
    )
    op.create_index(op.f("ix_households_community_id"), "households", ["community_id"], unique=False)
    op.create_table(
        "submissions",
        sa.Column("submission_id", sa.UUID(), nullable=False),
        sa.Column("consultation_id", sa.UUID(), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_submissions_consultation_id_consultations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("submission_id", name=op.f("pk_submissions")),
    )
    op.create_table(
        "residents",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("birth_year", sa.SmallInteger(), nullable=False),
        sa.Column("lives_alone", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("needs_accompaniment", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.CheckConstraint("birth_year BETWEEN 1880 AND 2100", name=op.f("ck_residents_birth_year_range")),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_residents_household_id_households"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residents")),
    )
    op.create_index(op.f("ix_residents_household_id"), "residents", ["household_id"], unique=False)
    op.create_table(
        "responses",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("consultation_id", sa.UUID(), nullable=False),
        sa.Column("household_id", sa.UUID(), nullable=False),
        sa.Column("resident_id", sa.UUID(), nullable=True),
        sa.Column("respondent_key", sa.UUID(), nullable=False),
        sa.Column("answers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("suggestion", sa.String(length=1000), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("interviewer", sa.String(length=128), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("last_submission_id", sa.UUID(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "channel = 'app' OR interviewer IS NOT NULL", name=op.f("ck_responses_interviewer_recorded")
        ),
        sa.CheckConstraint(
            "channel IN ('app','door_to_door','paper','meeting')", name=op.f("ck_responses_channel_known")
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_responses_consultation_id_consultations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_responses_household_id_households"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_responses_resident_id_residents"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
        sa.UniqueConstraint(
            "consultation_id", "respondent_key", name=op.f("uq_responses_consultation_id_respondent_key")
        ),
    )
    op.create_index(op.f("ix_responses_household_id"), "responses", ["household_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_responses_household_id"), table_name="responses")
    op.drop_table("responses")
    op.drop_index(op.f("ix_residents_household_id"), table_name="residents")
    op.drop_table("residents")
    op.drop_table("submissions")
    op.drop_index(op.f("ix_households_community_id"), table_name="households")
    op.drop_table("households")
    op.drop_index("ix_consultations_ranking", table_name="consultations")
    op.drop_index(op.f("ix_consultations_community_id"), table_name="consultations")
    op.drop_table("consultations")
    op.drop_table("buildings")
    op.drop_index(op.f("ix_response_audit_response_id"), table_name="response_audit")
    op.drop_index(op.f("ix_response_audit_consultation_id"), table_name="response_audit")
    op.drop_table("response_audit")
    op.drop_table("registry_audit")
    op.drop_index(op.f("ix_rankings_district_id"), table_name="rankings")
    op.drop_table("rankings")
    op.drop_index(op.f("ix_communities_street_id"), table_name="communities")
    op.drop_index(op.f("ix_communities_district_id"), table_name="communities")
    op.drop_table("communities")
