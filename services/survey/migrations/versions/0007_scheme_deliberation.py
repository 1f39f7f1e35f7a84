"""Design-scheme deliberation (方案评选: 三上三下, 一院一策): scheme rounds, their courtyard/building groups and the
buildings of each, proposals, versions (v1 → v2 → v3, each linked to its parent) and residents' feedback.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
UUID = postgresql.UUID(as_uuid=True)


def upgrade() -> None:
    op.create_table(
        "scheme_rounds",
        sa.Column("id", UUID, nullable=False),
        sa.Column("community_id", UUID, nullable=False),
        sa.Column("district_id", sa.String(length=64), nullable=False),
        sa.Column("street_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), server_default="deliberating", nullable=False),
        sa.Column("round_no", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("phase", sa.String(length=10), server_default="up", nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("state IN ('deliberating','voting','decided')", name=op.f("ck_scheme_rounds_state_known")),
        sa.CheckConstraint("phase IN ('up','down')", name=op.f("ck_scheme_rounds_phase_known")),
        sa.CheckConstraint("round_no BETWEEN 1 AND 3", name=op.f("ck_scheme_rounds_at_most_three_rounds")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_scheme_rounds_community_id_communities"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheme_rounds")),
    )
    op.create_index(op.f("ix_scheme_rounds_community_id"), "scheme_rounds", ["community_id"], unique=False)

    op.create_table(
        "scheme_groups",
        sa.Column("id", UUID, nullable=False),
        sa.Column("round_id", UUID, nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("consultation_id", UUID, nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("winner_version_id", UUID, nullable=True),
        sa.ForeignKeyConstraint(
            ["round_id"], ["scheme_rounds.id"], name=op.f("fk_scheme_groups_round_id_scheme_rounds"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_scheme_groups_consultation_id_consultations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheme_groups")),
        sa.UniqueConstraint("consultation_id", name=op.f("uq_scheme_groups_consultation_id")),
        sa.UniqueConstraint("round_id", "code", name=op.f("uq_scheme_groups_round_id_code")),
    )

    op.create_table(
        "scheme_group_buildings",
        sa.Column("group_id", UUID, nullable=False),
        sa.Column("building_id", UUID, nullable=False),
        sa.Column("round_id", UUID, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["scheme_groups.id"],
            name=op.f("fk_scheme_group_buildings_group_id_scheme_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["buildings.id"],
            name=op.f("fk_scheme_group_buildings_building_id_buildings"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("group_id", "building_id", name=op.f("pk_scheme_group_buildings")),
        sa.UniqueConstraint(
            "round_id", "building_id", name=op.f("uq_scheme_group_buildings_round_id_building_id")
        ),  # a building in at most one group of a round
    )

    op.create_table(
        "scheme_proposals",
        sa.Column("id", UUID, nullable=False),
        sa.Column("round_id", UUID, nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("source_kind", sa.String(length=20), nullable=False),
        sa.Column("proposer", sa.String(length=100), nullable=False),
        sa.Column("group_codes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "source_kind IN ('firm','university','resident')", name=op.f("ck_scheme_proposals_source_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["scheme_rounds.id"],
            name=op.f("fk_scheme_proposals_round_id_scheme_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheme_proposals")),
        sa.UniqueConstraint("round_id", "code", name=op.f("uq_scheme_proposals_round_id_code")),
    )
    op.create_index(op.f("ix_scheme_proposals_round_id"), "scheme_proposals", ["round_id"], unique=False)

    op.create_table(
        "scheme_versions",
        sa.Column("id", UUID, nullable=False),
        sa.Column("proposal_id", UUID, nullable=False),
        sa.Column("round_id", UUID, nullable=False),
        sa.Column("number", sa.SmallInteger(), nullable=False),
        sa.Column("parent_id", UUID, nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.String(length=4000), nullable=False),
        sa.Column("document_ref", sa.String(length=500), nullable=True),
        sa.Column("changes", sa.String(length=2000), nullable=True),
        sa.Column(
            "answers_feedback",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("published_in_round", sa.SmallInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("number BETWEEN 1 AND 3", name=op.f("ck_scheme_versions_number_range")),
        sa.CheckConstraint("(number = 1) = (parent_id IS NULL)", name=op.f("ck_scheme_versions_parent_unless_first")),
        sa.CheckConstraint("number = 1 OR changes IS NOT NULL", name=op.f("ck_scheme_versions_changes_recorded")),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["scheme_proposals.id"],
            name=op.f("fk_scheme_versions_proposal_id_scheme_proposals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["scheme_versions.id"],
            name=op.f("fk_scheme_versions_parent_id_scheme_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheme_versions")),
        sa.UniqueConstraint("proposal_id", "number", name=op.f("uq_scheme_versions_proposal_id_number")),
    )
    op.create_index(op.f("ix_scheme_versions_round_id"), "scheme_versions", ["round_id"], unique=False)

    op.create_table(
        "scheme_feedback",
        sa.Column("id", UUID, nullable=False),
        sa.Column("version_id", UUID, nullable=False),
        sa.Column("round_id", UUID, nullable=False),
        sa.Column("household_id", UUID, nullable=False),
        sa.Column("stance", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("stance IN ('support','concerns')", name=op.f("ck_scheme_feedback_stance_known")),
        sa.CheckConstraint(
            "channel IN ('app','door_to_door','paper','meeting')", name=op.f("ck_scheme_feedback_channel_known")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["scheme_versions.id"],
            name=op.f("fk_scheme_feedback_version_id_scheme_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_scheme_feedback_household_id_households"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheme_feedback")),
        sa.UniqueConstraint("version_id", "household_id", name=op.f("uq_scheme_feedback_version_id_household_id")),
    )
    op.create_index(op.f("ix_scheme_feedback_round_id"), "scheme_feedback", ["round_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_scheme_feedback_round_id"), table_name="scheme_feedback")
    op.drop_table("scheme_feedback")
    op.drop_index(op.f("ix_scheme_versions_round_id"), table_name="scheme_versions")
    op.drop_table("scheme_versions")
    op.drop_index(op.f("ix_scheme_proposals_round_id"), table_name="scheme_proposals")
    op.drop_table("scheme_proposals")
    op.drop_table("scheme_group_buildings")
    op.drop_table("scheme_groups")
    op.drop_index(op.f("ix_scheme_rounds_community_id"), table_name="scheme_rounds")
    op.drop_table("scheme_rounds")
