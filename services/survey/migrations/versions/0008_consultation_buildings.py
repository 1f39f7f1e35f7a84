"""A consultation may be a courtyard's or a building group's own (一院一策: a scheme round's final vote per group):
``building_codes`` lists its buildings; null is the whole community. Expand-only.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("consultations", sa.Column("building_codes", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("consultations", "building_codes")
