"""Tables of the webhooks database."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from renovation_common.db import define_infrastructure_tables, new_metadata

metadata = new_metadata()
infra = define_infrastructure_tables(metadata)


TS = sa.DateTime(timezone=True)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
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
    # Secrets are stored encrypted (WEBHOOKS_SECRET_ENCRYPTION_KEY); the clear text is returned once, on creation
    # or rotation. *_key_id names the key each was sealed under (SecretBox.key_id; NULL = sealed before key ids were
    # kept), so the re-seal job finds what an older key still holds.
    sa.Column("secret_encrypted", sa.Text, nullable=False),
    sa.Column("secret_key_id", sa.String(16)),
    sa.Column("previous_secret_encrypted", sa.Text),
    sa.Column("previous_secret_key_id", sa.String(16)),
    sa.Column("previous_secret_expires_at", TS),
    sa.Column("max_concurrency", sa.SmallInteger, nullable=False, server_default="4"),
    sa.Column("failing_since", TS),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.CheckConstraint("max_concurrency between 1 and 50", name="max_concurrency_range"),
    sa.CheckConstraint("cardinality(event_types) between 1 and 50", name="event_types_count"),
    sa.CheckConstraint("url ~ '^https?://'", name="url_scheme"),
    sa.CheckConstraint(
        "(enabled and disabled_at is null) or (not enabled and disabled_at is not null)", name="disabled_consistent"
    ),
)
sa.Index("ix_subscriptions_owner_sub", subscriptions.c.owner_sub, subscriptions.c.created_at)
sa.Index("ix_subscriptions_district_id", subscriptions.c.district_id, subscriptions.c.created_at)

# Local copy of every event consumed (and every test ping), so deliveries can be replayed.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("type", sa.String(200), nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("time", TS, nullable=False),
    sa.Column("district_id", sa.String(64)),
    sa.Column("community_id", sa.String(64)),
    sa.Column("payload", JSONB, nullable=False),
    sa.Column("is_test", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("received_at", TS, nullable=False),
)
sa.Index("ix_events_time", events.c.time, postgresql_where=events.c.is_test.is_(False))

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "subscription_id", UUID(as_uuid=True), sa.ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("event_id", UUID(as_uuid=True), sa.ForeignKey("events.id"), nullable=False),
    sa.Column("event_type", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # Failures since the schedule was last reset (a manual retry or a replay starts the schedule again).
    sa.Column("round_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", TS),
    sa.Column("lease_expires_at", TS),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.String(500)),
    sa.Column("delivered_at", TS),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("subscription_id", "event_id"),
    sa.CheckConstraint("status in ('pending', 'succeeded', 'failed')", name="status_known"),
    sa.CheckConstraint("status <> 'pending' or next_attempt_at is not null", name="pending_scheduled"),
    sa.CheckConstraint("attempts >= 0 and round_failures >= 0", name="counts_non_negative"),
)
sa.Index(
    "ix_deliveries_due",
    deliveries.c.next_attempt_at,
    postgresql_where=deliveries.c.status == "pending",
)
sa.Index("ix_deliveries_status_created", deliveries.c.status, deliveries.c.created_at, deliveries.c.id)
sa.Index("ix_deliveries_subscription_status", deliveries.c.subscription_id, deliveries.c.status)
# the dispatcher's lease: an endpoint's next due deliveries, and its leased ones (its concurrency in use)
sa.Index(
    "ix_deliveries_pending_by_subscription",
    deliveries.c.subscription_id,
    deliveries.c.next_attempt_at,
    deliveries.c.id,
    postgresql_where=deliveries.c.status == "pending",
)
sa.Index(
    "ix_deliveries_leased_by_subscription",
    deliveries.c.subscription_id,
    deliveries.c.lease_expires_at,
    postgresql_where=sa.and_(deliveries.c.status == "pending", deliveries.c.lease_expires_at.is_not(None)),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("delivery_id", UUID(as_uuid=True), sa.ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    sa.Column("attempt_no", sa.Integer, nullable=False),
    sa.Column("attempted_at", TS, nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),  # without its query string (it may carry a token)
    sa.Column("status_code", sa.Integer),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("response_body", sa.Text),
    sa.Column("error", sa.String(500)),
    sa.UniqueConstraint("delivery_id", "attempt_no"),
    sa.CheckConstraint("latency_ms >= 0", name="latency_non_negative"),
)
sa.Index("ix_delivery_attempts_delivery_id", delivery_attempts.c.delivery_id, delivery_attempts.c.attempt_no)

# Where each community lies (read model of survey.community.registered.v1): community filters are checked against
# it, so a subscription's scope comes from the platform's records, never from the request body.
communities = sa.Table(
    "communities",
    metadata,
    sa.Column("community_id", sa.String(64), primary_key=True),
    sa.Column("district_id", sa.String(64), nullable=False),
    sa.Column("street_id", sa.String(64)),
    sa.Column("updated_at", TS, nullable=False),  # time of the registry event this state comes from
    # the survey community's version in that event: the newest wins (then the event time, between equal versions)
    sa.Column("source_version", sa.BigInteger, nullable=False, server_default="0"),
)
sa.Index("ix_communities_district_id", communities.c.district_id)
