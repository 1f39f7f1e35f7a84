"""Request and response schemas of the smart-community API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from smart_community.domain.model import (
    AlarmRecord,
    AlarmStatus,
    AlarmType,
    DeviceEventRecord,
    DeviceKind,
    DeviceRecord,
    Placement,
    Severity,
    device_topic,
)
from smart_community.domain.payloads import EVENT_TYPES, MAX_READINGS

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
# A device's measurements: vendor-defined lower_snake_case names, each a number, text, a flag or null (the domain's
# check_readings refuses anything else, per event, before it is stored)
Readings = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_READINGS,
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,39}$"},
            "additionalProperties": {"type": ["number", "string", "boolean", "null"]},
            "description": "Vendor-defined measurements: lower_snake_case names, each a number, text (at most 256 "
            "characters), a boolean or null",
        }
    ),
]


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    community_id: Id
    kind: DeviceKind
    placement: Placement = Field(description="household (in a home), building (common parts) or community")
    building_id: Id | None = None
    household_id: Id | None = None
    heartbeat_interval_s: int | None = Field(default=None, ge=10, le=604800)
    label: str = Field(default="", max_length=120, description="e.g. 'east gate'; never a person's name")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"community_id": "c-guidong", "kind": "gas_detector", "placement": "household", "household_id": "h-1"}
            ]
        },
    )


class DeviceRead(BaseModel):
    id: str
    community_id: str
    district_id: str | None
    building_id: str | None
    household_id: str | None
    kind: DeviceKind
    placement: Placement
    label: str
    heartbeat_interval_s: int
    topic: str = Field(description="MQTT topic the device publishes to")
    created_at: datetime
    last_seen_at: datetime | None
    offline: bool
    credentials_issued_at: datetime | None

    @classmethod
    def of(cls, r: DeviceRecord) -> DeviceRead:
        d = r.device
        return cls(
            id=d.id,
            community_id=d.community_id,
            district_id=d.district_id,
            building_id=d.building_id,
            household_id=d.household_id,
            kind=d.kind,
            placement=d.placement,
            label=r.label,
            heartbeat_interval_s=d.heartbeat_interval_s,
            topic=device_topic(d.community_id, d.id, d.kind.value),
            created_at=r.created_at,
            last_seen_at=r.last_seen_at,
            offline=r.offline,
            credentials_issued_at=r.credential_issued_at,
        )


class CredentialsRead(BaseModel):
    device_id: str
    username: str
    password: str = Field(description="Shown once; only a bcrypt hash is kept")
    mqtt_client_id: str = Field(description="The MQTT client id the device must use: its id")
    mqtt_topic: str
    publish_subjects: list[str]
    issued_at: datetime


class GatewayEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: Id
    type: str = Field(
        min_length=1,
        max_length=40,
        description="The event type; each device kind sends its own types besides `heartbeat`, `status`, `fault` "
        "and `reading` (a type its kind does not send is rejected for that event, in `rejected`)",
        json_schema_extra={"enum": sorted(EVENT_TYPES)},
    )
    time: datetime = Field(description="Device time, RFC 3339 with offset")
    readings: Readings = Field(default_factory=dict, max_length=MAX_READINGS)
    event_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="The gateway's own id of this event; resending a batch (e.g. after a timeout) stores each "
        "event once per device and id, and counts the repeats as duplicates",
    )


def _event(device_id: str, type_: str, minute: int, **readings: Any) -> dict[str, Any]:
    when = f"2026-05-12T08:{minute:02d}:00+08:00"
    return {"device_id": device_id, "type": type_, "time": when, "readings": readings, "event_id": f"gw7-{minute:04d}"}


# one event of every event type, from the kind of device that sends it (桂东小区, 3栋2单元)
_GATEWAY_EVENT_EXAMPLES = [
    _event("gas-3-2-501", "heartbeat", 0, battery_pct=87),
    _event("gas-3-2-501", "status", 1, signal_dbm=-71, firmware="2.4.1"),
    _event("gas-3-2-501", "fault", 2, code="E07", message="传感器探头污染，请更换"),
    _event("gas-3-2-501", "reading", 3, ch4_lel_pct=0.0),
    _event("gas-3-2-501", "alarm", 4, ch4_lel_pct=23.5),
    _event("gas-3-2-501", "clear", 5, ch4_lel_pct=0.4),
    _event("smoke-3-2-stair", "alarm", 6, obscuration_pct=12.8),
    _event("smoke-3-2-stair", "clear", 7, obscuration_pct=0.3),
    _event("door-3-2-501", "door_open", 8),
    _event("door-3-2-501", "door_close", 9),
    _event("gate-east", "pass", 10, direction="out", accompanied=False, card_holder="3-2-501"),
    _event("cam-east-01", "motion", 11, zone="东门岗亭"),
    _event("lpr-north", "vehicle_entry", 12, plate="川A·8K2U5"),
    _event("barrier-north", "vehicle_exit", 13, plate="川A·8K2U5"),
    _event("barrier-north", "open", 14, reason="manual"),
    _event("barrier-north", "close", 15),
    _event("leak-3-2-101", "leak", 16, moisture_pct=96),
    _event("leak-3-2-101", "dry", 17, moisture_pct=4),
    _event("intercom-3-2", "call", 18, room="3-2-501"),
    _event("intercom-3-2", "unlock", 19, room="3-2-501"),
    _event("lift-3-2-a", "trapped", 20, floor=7, passengers=2),
    _event("lift-3-2-a", "stopped", 21, floor=1),
    _event("lift-3-2-a", "running", 22, floor=4),
    _event("ebike-shed-05", "charging_started", 23, port=5),
    _event("ebike-shed-05", "charging_finished", 24, port=5, energy_kwh=1.2),
    _event("ebike-shed-05", "overheat", 25, port=5, temperature_c=68.5),
    _event("screen-east", "displayed", 26, message="本周六9:00-12:00 3栋停水检修，请提前储水"),
]
assert {e["type"] for e in _GATEWAY_EVENT_EXAMPLES} == EVENT_TYPES


class GatewayBatch(BaseModel):
    events: list[GatewayEvent] = Field(min_length=1, max_length=1000)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"events": [e]} for e in _GATEWAY_EVENT_EXAMPLES]},  # one per event type
    )


class DeviceRejectRead(BaseModel):
    """A device message that was refused (kept for `EVENT_RETENTION_DAYS`), with why."""

    id: int
    received_at: datetime
    device_id: str
    community_id: str
    source: str = Field(description="`mqtt` (the DEVICES stream) or `gateway` (a batch)")
    reason: str = Field(description="Why it was refused (e.g. `invalid_utf8`, `nul_byte`, `too_deep`, `unknown_type`)")
    payload_preview: str = Field(description="The first 200 characters as received, control characters escaped")

    @classmethod
    def of(cls, row: Any) -> DeviceRejectRead:
        preview = row.payload[:200].encode("unicode_escape").decode("ascii")[:400]
        return cls(
            id=row.id,
            received_at=row.received_at,
            device_id=row.device_id,
            community_id=row.community_id,
            source=row.source,
            reason=row.reason,
            payload_preview=preview,
        )


class RejectedItem(BaseModel):
    index: int
    reason: str


class BatchResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[RejectedItem]
    alarms_raised: int


class DeviceEventRead(BaseModel):
    id: int
    device_id: str
    event_type: str
    device_time: datetime
    received_at: datetime
    readings: Readings
    source: str

    @classmethod
    def of(cls, r: DeviceEventRecord) -> DeviceEventRead:
        return cls(
            id=r.id,
            device_id=r.device_id,
            event_type=r.event_type,
            device_time=r.device_time,
            received_at=r.received_at,
            readings=r.readings,
            source=r.source,
        )


class AlarmRead(BaseModel):
    id: uuid.UUID
    community_id: str
    district_id: str | None
    device_id: str | None
    household_id: str | None
    building_id: str | None
    alarm_type: AlarmType
    severity: Severity
    status: AlarmStatus
    occurrences: int
    raised_at: datetime
    last_occurred_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    cleared_by: str | None = Field(description="a user's `sub`, or `auto:normal_for_<s>s` / `auto:device_online`")
    cleared_at: datetime | None
    escalation_level: int
    normal_since: datetime | None = Field(
        default=None, description="its sensor has reported normal since (it clears itself after the quiet time)"
    )

    @classmethod
    def of(cls, a: AlarmRecord) -> AlarmRead:
        return cls(
            id=a.id,
            community_id=a.community_id,
            district_id=a.district_id,
            device_id=a.device_id,
            household_id=a.household_id,
            building_id=a.building_id,
            alarm_type=AlarmType(a.alarm_type),
            severity=Severity(a.severity),
            status=AlarmStatus(a.status),
            occurrences=a.occurrences,
            raised_at=a.raised_at,
            last_occurred_at=a.last_occurred_at,
            acknowledged_by=a.acknowledged_by,
            acknowledged_at=a.acknowledged_at,
            cleared_by=a.cleared_by,
            cleared_at=a.cleared_at,
            escalation_level=a.escalation_level,
            normal_since=a.normal_since,
        )


class RuleSettingsBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "gas_smoke_enabled": True,
                    "welfare_check_enabled": True,
                    "welfare_check_hours": 12,
                    "accompaniment_enabled": True,
                    "offline_enabled": True,
                    "offline_grace_factor": 2,
                    "water_leak_enabled": True,
                    "escalation_minutes": 5,
                    "max_escalation_level": 3,
                    "parking_capacity": 186,
                    "gas_auto_clear_s": 600,
                    "smoke_auto_clear_s": 900,
                    "water_leak_auto_clear_s": 1800,
                }
            ]
        },
    )

    gas_smoke_enabled: bool = True
    welfare_check_enabled: bool = True
    welfare_check_hours: float = Field(default=24, ge=0.01, le=720, description="No door opening for this long")
    accompaniment_enabled: bool = True
    offline_enabled: bool = True
    offline_grace_factor: float = Field(default=1.5, ge=1, le=10)
    water_leak_enabled: bool = True
    escalation_minutes: int = Field(default=10, ge=1, le=1440)
    max_escalation_level: int = Field(default=3, ge=1, le=10)
    parking_capacity: int | None = Field(default=None, ge=0, le=100000)
    gas_auto_clear_s: int = Field(
        default=600, ge=0, le=86400, description="A gas alarm clears itself after its detector reported `clear` this "
        "long (seconds) without a new alarm; 0: only a person clears it",
    )  # fmt: skip
    smoke_auto_clear_s: int = Field(default=600, ge=0, le=86400, description="The same for smoke alarms")
    water_leak_auto_clear_s: int = Field(
        default=1800, ge=0, le=86400, description="The same for water leaks (the sensor reports `dry`)"
    )


class ParkingRead(BaseModel):
    community_id: str
    occupied: int
    capacity: int | None
    available: int | None
    entries: int
    exits: int
    updated_at: datetime | None
