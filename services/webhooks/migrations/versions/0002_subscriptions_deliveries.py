"""Subscriptions, the local event copy, deliveries and delivery attempts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("owner_sub", sa.String(200), nullable=False),
        sa.Column("owner_role", sa.String(40), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("event_types", ARRAY(sa.String(200)), nullable=False),
        sa.Column("district_id", sa.String(64)),
        sa.Column("community_id", sa.String(64)),
        sa.Column("description", sa.String(500), nullable=False, server_default=""),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("disabled_reason", sa.String(40)),
        sa.Column("disabled_at", TS),
        sa.Column("secret_encrypted", sa.Text, nullable=False),
        sa.Column("previous_secret_encrypted", sa.Text),
        sa.Column("previous_secret_expires_at", TS),
        sa.Column("max_concurrency", sa.SmallInteger, nullable=False, server_default="4"),
        sa.Column("failing_since", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.CheckConstraint("max_concurrency between 1 and 50", name=op.f("ck_subscriptions_max_concurrency_range")),
        sa.CheckConstraint(
            "cardinality(event_types) between 1 and 50", name=op.f("ck_subscriptions_event_types_count")
        ),
        sa.CheckConstraint("url ~ '^https?://'", name=op.f("ck_subscriptions_url_scheme")),
        sa.CheckConstraint(
            "(enabled and disabled_at is null) or (not enabled and disabled_at is not null)",
            name=op.f("ck_subscriptions_disabled_consistent"),
        ),
    )
    op.create_index("ix_subscriptions_owner_sub", "subscriptions", ["owner_sub", "created_at"])
    op.create_index("ix_subscriptions_district_id", "subscriptions", ["district_id", "created_at"])

    op.create_table(
        "events",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("time", TS, nullable=False),
        sa.Column("district_id", sa.String(64)),
        sa.Column("community_id", sa.String(64)),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("is_test", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_time", "events", ["time"], postgresql_where=sa.text("is_test IS false"))

    op.create_table(
        "deliveries",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("subscription_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("round_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS),
        sa.Column("lease_expires_at", TS),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.String(500)),
        sa.Column("delivered_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_deliveries_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_deliveries_event_id_events")),
        sa.UniqueConstraint("subscription_id", "event_id", name=op.f("uq_deliveries_subscription_id_event_id")),
        sa.CheckConstraint("status in ('pending', 'succeeded', 'failed')", name=op.f("ck_deliveries_status_known")),
        sa.CheckConstraint(
            "status <> 'pending' or next_attempt_at is not null", name=op.f("ck_deliveries_pending_scheduled")
        ),
        sa.CheckConstraint("attempts >= 0 and round_failures >= 0", name=op.f("ck_deliveries_counts_non_negative")),
    )
    op.create_index(
        "ix_deliveries_due", "deliveries", ["next_attempt_at"], postgresql_where=sa.text("status = 'pending'")
    )
    op.create_index("ix_deliveries_status_created", "deliveries", ["status", "created_at", "id"])
    op.create_index("ix_deliveries_subscription_status", "deliveries", ["subscription_id", "status"])

    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("delivery_id", UUID(as_uuid=True), nullable=False),
        sa.Column("attempt_no", sa.Integer, nullable=False),
        sa.Column("attempted_at", TS, nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("response_body", sa.Text),
        sa.Column("error", sa.String(500)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_attempts_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("delivery_id", "attempt_no", name=op.f("uq_delivery_attempts_delivery_id_attempt_no")),
        sa.CheckConstraint("latency_ms >= 0", name=op.f("ck_delivery_attempts_latency_non_negative")),
    )
    op.create_index("ix_delivery_attempts_delivery_id", "delivery_attempts", ["delivery_id", "attempt_no"])


def downgrade() -> None:
    op.drop_table("delivery_attempts")
    op.drop_table("deliveries")
    op.drop_table("events")
    op.drop_table("subscriptions")
