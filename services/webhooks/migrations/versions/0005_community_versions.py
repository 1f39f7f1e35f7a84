"""The communities read model keeps the newest state by the survey aggregate's version (the event time decides
between equal versions, sent by a producer that does not count versions yet).

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
    op.add_column("communities", sa.Column("source_version", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("communities", "source_version")
