"""Streets and the district each belongs to: a community's district comes from its street's record, never from a
request body. Existing communities give the first records.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10
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
        "streets",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("district_id", sa.String(length=64), nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_streets")),
    )
    op.create_index(op.f("ix_streets_district_id"), "streets", ["district_id"], unique=False)
    # the district of each street's earliest community
    op.execute(
        "insert into streets (id, district_id, recorded_by, created_at) "
        "select distinct on (street_id) street_id, district_id, 'migration:0005', created_at "
        "from communities order by street_id, created_at, id"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_streets_district_id"), table_name="streets")
    op.drop_table("streets")
