"""The seven-step democratic decision method per community: the newest record of each kind behind the steps
(lifecycle_records) and each community's current step (community_lifecycle).

Revision ID: 0005
Revises: 0004
Create Date: 2027-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lifecycle_records",
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), server_default="", nullable=False),
        sa.Column("rule", sa.String(length=32), server_default="", nullable=False),
        sa.Column("outcome", sa.String(length=16), server_default="", nullable=False),
        sa.Column("approving_households", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total_households", sa.Integer(), server_default="0", nullable=False),
        sa.Column("approval_ratio", sa.String(length=40), server_default="", nullable=False),
        sa.Column("approval_percent", sa.Numeric(6, 2), nullable=True),
        sa.Column("detail", sa.String(length=200), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("community_id", "source", name=op.f("pk_lifecycle_records")),
    )
    op.create_table(
        "community_lifecycle",
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("current_step", sa.String(length=24), nullable=False),
        sa.Column("current_status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("community_id", name=op.f("pk_community_lifecycle")),
    )
    op.create_index(op.f("ix_community_lifecycle_current_step"), "community_lifecycle", ["current_step"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_community_lifecycle_current_step"), table_name="community_lifecycle")
    op.drop_table("community_lifecycle")
    op.drop_table("lifecycle_records")
