"""Tables of the smart_community database."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase

from renovation_common.db import define_infrastructure_tables, new_metadata

metadata = new_metadata()
infra = define_infrastructure_tables(metadata)


class Base(DeclarativeBase):
    metadata = metadata


TS = sa.DateTime(timezone=True)
ID = sa.String(64)

KINDS = (
    "access_gate",
    "camera",
    "lpr_camera",
    "barrier_gate",
    "info_screen",
    "gas_detector",
    "smoke_alarm",
    "door_sensor",
    "intercom",
    "water_leak_sensor",
    "elevator_monitor",
    "ebike_charger",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


# ---- read model from the survey service (no names)
communities = sa.Table(
    "communities",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("district_id", ID, nullable=False),
    sa.Column("street_id", ID, nullable=False),
    sa.Column("source_version", sa.BigInteger, nullable=False, server_default="0"),  # survey's version of it
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
)

households = sa.Table(
    "households",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("community_id", ID, nullable=False, index=True),
    sa.Column("district_id", ID, nullable=False),
    sa.Column("building_id", ID),
    sa.Column("elderly_living_alone", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("needs_accompaniment", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("source_version", sa.BigInteger, nullable=False, server_default="0"),  # survey's version of it
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
)

# ---- devices
devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("community_id", ID, nullable=False),
    sa.Column("district_id", ID),
    sa.Column("street_id", ID),
    sa.Column("building_id", ID),
    sa.Column("household_id", ID),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("placement", sa.String(20), nullable=False),
    sa.Column("label", sa.String(120), nullable=False, server_default=""),
    sa.Column("heartbeat_interval_s", sa.Integer, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("last_seen_at", TS),
    sa.Column("offline", sa.Boolean, nullable=False, server_default=sa.false()),
    # MQTT credentials: the username is the device id; only a bcrypt hash of the password is kept.
    sa.Column("credential_hash", sa.String(100)),
    sa.Column("credential_issued_at", TS),
    sa.CheckConstraint(_in("kind", KINDS), name="kind_known"),
    sa.CheckConstraint(_in("placement", ("household", "building", "community")), name="placement_known"),
    sa.CheckConstraint("heartbeat_interval_s between 10 and 604800", name="heartbeat_range"),
    sa.CheckConstraint("(placement = 'household') = (household_id is not null)", name="household_placement"),
)
sa.Index("ix_devices_community_id", devices.c.community_id, devices.c.id)
sa.Index("ix_devices_household_id", devices.c.household_id, postgresql_where=devices.c.household_id.is_not(None))

# ---- device events: append-only, bulk-loaded by the ingestor; stream_seq makes JetStream redelivery idempotent
device_events = sa.Table(
    "device_events",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("device_id", ID, nullable=False),
    sa.Column("community_id", ID, nullable=False),
    sa.Column("event_type", sa.String(40), nullable=False),
    sa.Column("device_time", TS, nullable=False),
    sa.Column("received_at", TS, nullable=False),
    sa.Column("readings", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("source", sa.String(10), nullable=False),
    sa.Column("stream_seq", sa.BigInteger),
    sa.Column("client_event_id", sa.String(64)),  # gateway-supplied id: a resent batch is stored once
    sa.CheckConstraint(_in("source", ("mqtt", "http")), name="source_known"),
)
sa.Index("ix_device_events_device_time", device_events.c.device_id, device_events.c.device_time, device_events.c.id)
sa.Index("ix_device_events_received_at", device_events.c.received_at)
sa.Index(
    "uq_device_events_client_event",
    device_events.c.device_id,
    device_events.c.client_event_id,
    unique=True,
    postgresql_where=device_events.c.client_event_id.is_not(None),
)
sa.Index(
    "uq_device_events_stream_seq",
    device_events.c.stream_seq,
    unique=True,
    postgresql_where=device_events.c.stream_seq.is_not(None),
)

device_rejects = sa.Table(
    "device_rejects",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("received_at", TS, nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("device_id", ID),
    sa.Column("source", sa.String(10), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("stream_seq", sa.BigInteger),
)
sa.Index(
    "uq_device_rejects_stream_seq",
    device_rejects.c.stream_seq,
    unique=True,
    postgresql_where=device_rejects.c.stream_seq.is_not(None),
)
sa.Index("ix_device_rejects_received_at", device_rejects.c.received_at)

# ---- rules
rule_settings = sa.Table(
    "rule_settings",
    metadata,
    sa.Column("community_id", ID, primary_key=True),
    sa.Column("gas_smoke_enabled", sa.Boolean, nullable=False),
    sa.Column("welfare_check_enabled", sa.Boolean, nullable=False),
    sa.Column("welfare_check_hours", sa.Numeric(6, 2), nullable=False),
    sa.Column("accompaniment_enabled", sa.Boolean, nullable=False),
    sa.Column("offline_enabled", sa.Boolean, nullable=False),
    sa.Column("offline_grace_factor", sa.Numeric(4, 2), nullable=False),
    sa.Column("water_leak_enabled", sa.Boolean, nullable=False),
    sa.Column("escalation_minutes", sa.Integer, nullable=False),
    sa.Column("max_escalation_level", sa.Integer, nullable=False),
    sa.Column("parking_capacity", sa.Integer),
    # seconds a sensor must report normal before its open alarm clears itself; 0 = only a person clears it
    sa.Column("gas_auto_clear_s", sa.Integer, nullable=False, server_default="600"),
    sa.Column("smoke_auto_clear_s", sa.Integer, nullable=False, server_default="600"),
    sa.Column("water_leak_auto_clear_s", sa.Integer, nullable=False, server_default="1800"),
    sa.Column("updated_by", sa.String(200), nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.CheckConstraint("welfare_check_hours between 0.01 and 720", name="welfare_hours_range"),
    sa.CheckConstraint("offline_grace_factor between 1 and 10", name="grace_range"),
    sa.CheckConstraint("escalation_minutes between 1 and 1440", name="escalation_range"),
    sa.CheckConstraint("max_escalation_level between 1 and 10", name="level_range"),
    sa.CheckConstraint("parking_capacity is null or parking_capacity between 0 and 100000", name="capacity_range"),
    sa.CheckConstraint(
        "gas_auto_clear_s between 0 and 86400 and smoke_auto_clear_s between 0 and 86400"
        " and water_leak_auto_clear_s between 0 and 86400",
        name="auto_clear_range",
    ),
)

# Persisted deadlines: a restart keeps them; the scanner fires each once (fired_at set in the same transaction).
welfare_timers = sa.Table(
    "welfare_timers",
    metadata,
    sa.Column("household_id", ID, primary_key=True),
    sa.Column("community_id", ID, nullable=False),
    sa.Column("door_opened_at", TS),
    sa.Column("due_at", TS, nullable=False),
    sa.Column("fired_at", TS),
)
sa.Index("ix_welfare_timers_due", welfare_timers.c.due_at, postgresql_where=welfare_timers.c.fired_at.is_(None))

alarms = sa.Table(
    "alarms",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("community_id", ID, nullable=False),
    sa.Column("district_id", ID),
    sa.Column("street_id", ID),
    sa.Column("device_id", ID),
    sa.Column("household_id", ID),
    sa.Column("building_id", ID),
    sa.Column("alarm_type", sa.String(40), nullable=False),
    sa.Column("dedup_key", sa.String(140), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("status", sa.String(15), nullable=False),
    sa.Column("occurrences", sa.Integer, nullable=False, server_default="1"),
    sa.Column("raised_at", TS, nullable=False),
    sa.Column("last_occurred_at", TS, nullable=False),
    sa.Column("acknowledged_by", sa.String(200)),
    sa.Column("acknowledged_at", TS),
    sa.Column("cleared_by", sa.String(200)),
    sa.Column("cleared_at", TS),
    sa.Column("escalation_level", sa.Integer, nullable=False, server_default="0"),
    sa.Column("escalate_at", TS),
    sa.Column("details", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("normal_since", TS),  # the sensor has reported normal since (auto-clear); a repeat resets it
    sa.CheckConstraint(_in("severity", ("critical", "major", "minor", "warning")), name="severity_known"),
    sa.CheckConstraint(_in("status", ("active", "acknowledged", "cleared")), name="status_known"),
    sa.CheckConstraint("occurrences >= 1", name="occurrences_positive"),
    sa.CheckConstraint(
        "(status = 'active' and acknowledged_at is null and cleared_at is null)"
        " or (status = 'acknowledged' and acknowledged_at is not null and cleared_at is null)"
        " or (status = 'cleared' and cleared_at is not null)",
        name="lifecycle_consistent",
    ),
)
# One open (not cleared) alarm per device (or household) and type: a repeat updates it.
sa.Index(
    "uq_alarms_open_per_key",
    alarms.c.dedup_key,
    alarms.c.alarm_type,
    unique=True,
    postgresql_where=alarms.c.status != "cleared",
)
sa.Index("ix_alarms_community_raised", alarms.c.community_id, alarms.c.raised_at, alarms.c.id)
sa.Index("ix_alarms_escalate_at", alarms.c.escalate_at, postgresql_where=alarms.c.escalate_at.is_not(None))
sa.Index(
    "ix_alarms_normal_since",
    alarms.c.normal_since,
    postgresql_where=sa.and_(alarms.c.normal_since.is_not(None), alarms.c.status != "cleared"),
)

# Audit of the lifecycle: every step of every alarm, by whom (a user's sub or ``auto:…``) and when.
alarm_transitions = sa.Table(
    "alarm_transitions",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("alarm_id", UUID(as_uuid=True), sa.ForeignKey("alarms.id", ondelete="CASCADE"), nullable=False),
    sa.Column("from_status", sa.String(15), nullable=False),
    sa.Column("to_status", sa.String(15), nullable=False),
    sa.Column("by", sa.String(200), nullable=False),
    sa.Column("at", TS, nullable=False),
)
sa.Index("ix_alarm_transitions_alarm", alarm_transitions.c.alarm_id, alarm_transitions.c.id)

parking = sa.Table(
    "parking",
    metadata,
    sa.Column("community_id", ID, primary_key=True),
    sa.Column("occupied", sa.Integer, nullable=False, server_default="0"),
    sa.Column("entries", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("exits", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", TS, nullable=False),
    sa.CheckConstraint("occupied >= 0", name="occupied_non_negative"),
)
