"""Gateway events carry a client event id: a resent batch is stored once per (device, id).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("device_events", sa.Column("client_event_id", sa.String(64), nullable=True))
    op.create_index(
        "uq_device_events_client_event",
        "device_events",
        ["device_id", "client_event_id"],
        unique=True,
        postgresql_where=sa.text("client_event_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_device_events_client_event", table_name="device_events")
    op.drop_column("device_events", "client_event_id")
