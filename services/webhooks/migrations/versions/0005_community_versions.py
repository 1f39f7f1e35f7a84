"""The communities read model keeps the newest state by the survey aggregate's version (the event time decides
between equal versions, sent by a producer that does not count versions yet). Two partial indexes let the
dispatcher lease an endpoint's next deliveries without reading its whole backlog: its pending deliveries by due
time, and its leased ones (what counts against its concurrency limit).

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
    op.create_index(
        "ix_deliveries_pending_by_subscription",
        "deliveries",
        ["subscription_id", "next_attempt_at", "id"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_deliveries_leased_by_subscription",
        "deliveries",
        ["subscription_id", "lease_expires_at"],
        postgresql_where=sa.text("status = 'pending' AND lease_expires_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_leased_by_subscription", table_name="deliveries")
    op.drop_index("ix_deliveries_pending_by_subscription", table_name="deliveries")
    op.drop_column("communities", "source_version")
