"""Devices, alarms and rule settings: the vocabulary of the smart-community domain (pure)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class DeviceKind(StrEnum):
    ACCESS_GATE = "access_gate"
    CAMERA = "camera"
    LPR_CAMERA = "lpr_camera"
    BARRIER_GATE = "barrier_gate"
    INFO_SCREEN = "info_screen"
    GAS_DETECTOR = "gas_detector"
    SMOKE_ALARM = "smoke_alarm"
    DOOR_SENSOR = "door_sensor"
    INTERCOM = "intercom"
    WATER_LEAK_SENSOR = "water_leak_sensor"
    ELEVATOR_MONITOR = "elevator_monitor"
    EBIKE_CHARGER = "ebike_charger"


class Placement(StrEnum):
    """Where a device sits: in a home (household), in a building's common parts, or in the community's."""

    HOUSEHOLD = "household"
    BUILDING = "building"
    COMMUNITY = "community"

    @property
    def is_common_part(self) -> bool:
        return self is not Placement.HOUSEHOLD


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"


class AlarmType(StrEnum):
    GAS = "gas"
    SMOKE = "smoke"
    WELFARE_CHECK = "welfare_check"
    UNACCOMPANIED_EXIT = "unaccompanied_exit"
    OFFLINE = "offline"
    WATER_LEAK = "water_leak"


class AlarmStatus(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


# Default heartbeat interval (seconds) by kind: battery sensors report seldom, powered equipment often.
DEFAULT_HEARTBEAT_S: dict[DeviceKind, int] = {
    DeviceKind.ACCESS_GATE: 300,
    DeviceKind.CAMERA: 300,
    DeviceKind.LPR_CAMERA: 300,
    DeviceKind.BARRIER_GATE: 300,
    DeviceKind.INFO_SCREEN: 600,
    DeviceKind.GAS_DETECTOR: 3600,
    DeviceKind.SMOKE_ALARM: 3600,
    DeviceKind.DOOR_SENSOR: 3600,
    DeviceKind.INTERCOM: 600,
    DeviceKind.WATER_LEAK_SENSOR: 3600,
    DeviceKind.ELEVATOR_MONITOR: 300,
    DeviceKind.EBIKE_CHARGER: 600,
}
MIN_HEARTBEAT_S = 10
MAX_HEARTBEAT_S = 7 * 24 * 3600

# Ids travel inside MQTT topics and NATS subjects: no wildcards, separators or spaces.
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def valid_topic_token(value: str) -> bool:
    return bool(_TOKEN_RE.match(value))


def device_topic(community_id: str, device_id: str, kind: str) -> str:
    """The MQTT topic a device publishes to."""
    return f"devices/{community_id}/{device_id}/{kind}"


def device_subject(community_id: str, device_id: str, kind: str) -> str:
    """The NATS subject NATS's MQTT listener maps the topic to (``/`` becomes ``.``)."""
    return f"devices.{community_id}.{device_id}.{kind}"


def device_publish_permissions(community_id: str, device_id: str) -> list[str]:
    """A device may publish only below its own topic (``devices/<community>/<device>/#``)."""
    return [f"devices.{community_id}.{device_id}.>"]


def parse_device_subject(subject: str) -> tuple[str, str, str] | None:
    """``devices.<community>.<device>.<kind>`` → its three parts, or ``None`` when it has another shape."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[0] != "devices":
        return None
    _, community_id, device_id, kind = parts
    if not all(valid_topic_token(p) for p in (community_id, device_id, kind)):
        return None
    return community_id, device_id, kind


@dataclass(frozen=True)
class Device:
    id: str
    community_id: str
    kind: DeviceKind
    placement: Placement
    heartbeat_interval_s: int
    district_id: str | None = None
    building_id: str | None = None
    household_id: str | None = None


def check_device_placement(placement: Placement, building_id: str | None, household_id: str | None) -> str | None:
    """Return why a placement is inconsistent, or ``None`` when it is fine."""
    if placement is Placement.HOUSEHOLD and household_id is None:
        return "a device in a home needs household_id"
    if placement is not Placement.HOUSEHOLD and household_id is not None:
        return "only a device in a home has a household_id"
    if placement is Placement.BUILDING and building_id is None:
        return "a device in a building's common parts needs building_id"
    return None


@dataclass(frozen=True)
class HouseholdFlags:
    """The care flags of a household (from the survey service; no names)."""

    household_id: str
    community_id: str
    building_id: str | None = None
    elderly_living_alone: bool = False
    needs_accompaniment: bool = False


@dataclass(frozen=True)
class RuleSettings:
    """Per-community configuration of the alarm rules (defaults apply until a community sets its own)."""

    gas_smoke_enabled: bool = True
    welfare_check_enabled: bool = True
    welfare_check_window: timedelta = timedelta(hours=24)
    accompaniment_enabled: bool = True
    offline_enabled: bool = True
    offline_grace_factor: float = 1.5  # silent for more than heartbeat × factor → offline
    water_leak_enabled: bool = True
    escalation_after: timedelta = timedelta(minutes=10)
    max_escalation_level: int = 3
    parking_capacity: int | None = None
    # an open gas / smoke / water-leak alarm clears itself once its sensor has reported normal (``clear``, ``dry``)
    # for this long without a new alarm; ``None``: only a person clears it
    gas_auto_clear_after: timedelta | None = timedelta(minutes=10)
    smoke_auto_clear_after: timedelta | None = timedelta(minutes=10)
    water_leak_auto_clear_after: timedelta | None = timedelta(minutes=30)


@dataclass(frozen=True)
class DeviceEvent:
    """One accepted event from a device: device time, received time, type and readings."""

    device_id: str
    event_type: str
    device_time: datetime
    received_at: datetime
    readings: dict[str, object] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ records
# What the repositories load and the use cases hand to the routes (plain values, no ORM rows).


@dataclass(frozen=True)
class DeviceRecord:
    device: Device
    street_id: str | None
    label: str
    created_at: datetime
    last_seen_at: datetime | None
    offline: bool
    credential_issued_at: datetime | None


@dataclass(frozen=True)
class AlarmRecord:
    id: uuid.UUID
    community_id: str
    district_id: str | None
    street_id: str | None
    device_id: str | None
    household_id: str | None
    building_id: str | None
    alarm_type: str
    severity: str
    status: str
    occurrences: int
    raised_at: datetime
    last_occurred_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    cleared_by: str | None
    cleared_at: datetime | None
    escalation_level: int
    escalate_at: datetime | None = None
    normal_since: datetime | None = None  # its sensor has reported normal since (auto-clear), reset by a repeat


@dataclass(frozen=True)
class DeviceEventRecord:
    id: int
    device_id: str
    community_id: str
    event_type: str
    device_time: datetime
    received_at: datetime
    readings: dict[str, object]
    source: str


@dataclass(frozen=True)
class DeviceRejectRecord:
    id: int
    received_at: datetime
    subject: str
    device_id: str | None
    community_id: str | None
    source: str
    reason: str
    payload: str


@dataclass(frozen=True)
class ParkingRecord:
    community_id: str
    occupied: int
    entries: int
    exits: int
    updated_at: datetime | None
