"""Read models keep the newest state: the survey aggregate's version on communities and households.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("communities", "households"):
        op.add_column(table, sa.Column("source_version", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    for table in ("communities", "households"):
        op.drop_column(table, "source_version")
