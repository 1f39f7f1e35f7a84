"""Who closed a consultation (a user's token `sub`, or 'system:auto-close'); index for the auto-closer's scan.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("consultations", sa.Column("closed_by", sa.String(length=128), nullable=True))
    op.create_index(
        "ix_consultations_open_closes_at",
        "consultations",
        ["closes_at"],
        unique=False,
        postgresql_where=sa.text("state = 'open'"),
    )


def downgrade() -> None:
    op.drop_index("ix_consultations_open_closes_at", table_name="consultations")
    op.drop_column("consultations", "closed_by")
