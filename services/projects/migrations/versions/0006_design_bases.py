"""The design basis of each community: per survey scheme round and courtyard/building group, the scheme it chose
(``survey.scheme_round.decided.v1``) or ``pending`` while it awaits a run-off.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "design_bases",
        sa.Column("round_id", sa.String(length=64), nullable=False),
        sa.Column("group_code", sa.String(length=20), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("round_title", sa.String(length=200), nullable=False),
        sa.Column("rounds_held", sa.SmallInteger(), nullable=False),
        sa.Column(
            "building_codes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposal_id", sa.String(length=64), nullable=True),
        sa.Column("proposal_code", sa.String(length=20), nullable=True),
        sa.Column("version_id", sa.String(length=64), nullable=True),
        sa.Column("version", sa.SmallInteger(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("consultation_id", sa.String(length=64), nullable=True),
        sa.Column("decided_by", sa.String(length=16), nullable=True),
        sa.Column("runoff_number", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending','won','tied','not_passed')", name=op.f("ck_design_bases_status_known")
        ),
        sa.CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name=op.f("ck_design_bases_decided_when")),
        sa.PrimaryKeyConstraint("round_id", "group_code", name=op.f("pk_design_bases")),
    )
    op.create_index(op.f("ix_design_bases_community_id"), "design_bases", ["community_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_design_bases_community_id"), table_name="design_bases")
    op.drop_table("design_bases")
