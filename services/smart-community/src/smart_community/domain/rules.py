"""Alarm rules as pure functions: an accepted device event in, the effects it must have out.

Time is always passed in (device time, received time, ``now``); the service layer applies the effects in one
transaction (alarms upserted under a partial unique index, timers as persisted deadlines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from smart_community.domain.model import (
    AlarmStatus,
    AlarmType,
    Device,
    DeviceEvent,
    DeviceKind,
    HouseholdFlags,
    Placement,
    RuleSettings,
    Severity,
)


@dataclass(frozen=True)
class RaiseAlarm:
    alarm_type: AlarmType
    severity: Severity
    dedup_key: str  # one active alarm per (dedup_key, alarm_type)
    raised_at: datetime
    device_id: str | None = None
    household_id: str | None = None
    building_id: str | None = None
    escalate_at: datetime | None = None
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class ArmWelfareTimer:
    household_id: str
    door_opened_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class RequestRepair:
    """Goes with a water-leak alarm in a common part: an emergency repair request for the finance service."""

    location: str
    description: str


@dataclass(frozen=True)
class ParkingChange:
    delta: int


@dataclass(frozen=True)
class SensorNormal:
    """The sensor reports normal again (gas/smoke ``clear``, leak ``dry``): its open alarm starts its quiet time."""

    alarm_type: AlarmType
    dedup_key: str
    at: datetime


Effect = RaiseAlarm | ArmWelfareTimer | RequestRepair | ParkingChange | SensorNormal

# The event type with which each alarm-bearing sensor reports normal, and the alarm it ends.
NORMAL_EVENTS: dict[DeviceKind, tuple[str, AlarmType]] = {
    DeviceKind.GAS_DETECTOR: ("clear", AlarmType.GAS),
    DeviceKind.SMOKE_ALARM: ("clear", AlarmType.SMOKE),
    DeviceKind.WATER_LEAK_SENSOR: ("dry", AlarmType.WATER_LEAK),
}


def effective_time(event: DeviceEvent) -> datetime:
    """When the thing happened: device time, but never later than when we received it (clocks drift)."""
    return min(event.device_time, event.received_at)


def escalation_deadline(severity: Severity, raised_at: datetime, settings: RuleSettings) -> datetime | None:
    return raised_at + settings.escalation_after if severity is Severity.CRITICAL else None


def welfare_deadline(door_opened_at: datetime, settings: RuleSettings) -> datetime:
    return door_opened_at + settings.welfare_check_window


def evaluate(
    event: DeviceEvent,
    device: Device,
    home: HouseholdFlags | None,
    settings: RuleSettings,
    *,
    gate_resident: HouseholdFlags | None = None,
) -> list[Effect]:
    """The effects of one accepted event.

    ``home`` is the household the device is installed in (``None`` for common parts or unknown households);
    ``gate_resident`` the household a gate or camera recognised in a ``pass`` event.
    """
    at = effective_time(event)
    kind, etype = device.kind, event.event_type
    effects: list[Effect] = []
    elderly_alone = home is not None and home.elderly_living_alone

    if kind in (DeviceKind.GAS_DETECTOR, DeviceKind.SMOKE_ALARM) and etype == "alarm" and settings.gas_smoke_enabled:
        severity = Severity.CRITICAL if elderly_alone else Severity.MAJOR
        effects.append(
            RaiseAlarm(
                alarm_type=AlarmType.GAS if kind is DeviceKind.GAS_DETECTOR else AlarmType.SMOKE,
                severity=severity,
                dedup_key=device.id,
                raised_at=at,
                device_id=device.id,
                household_id=device.household_id,
                building_id=device.building_id,
                escalate_at=escalation_deadline(severity, at, settings),
                details={"elderly_living_alone": elderly_alone},
            )
        )

    elif kind is DeviceKind.DOOR_SENSOR and etype == "door_open":
        if elderly_alone and settings.welfare_check_enabled and device.household_id is not None:
            effects.append(ArmWelfareTimer(device.household_id, at, welfare_deadline(at, settings)))

    elif kind in (DeviceKind.ACCESS_GATE, DeviceKind.CAMERA) and etype == "pass":
        leaving = event.readings.get("direction", "out") == "out"
        alone = event.readings.get("accompanied") is False or event.readings.get("companions") == 0
        if (
            settings.accompaniment_enabled
            and gate_resident is not None
            and gate_resident.needs_accompaniment
            and gate_resident.community_id == device.community_id
            and leaving
            and alone
        ):
            effects.append(
                RaiseAlarm(
                    alarm_type=AlarmType.UNACCOMPANIED_EXIT,
                    severity=Severity.WARNING,
                    dedup_key=f"{device.id}:{gate_resident.household_id}",
                    raised_at=at,
                    device_id=device.id,
                    household_id=gate_resident.household_id,
                    building_id=gate_resident.building_id,
                )
            )

    elif kind is DeviceKind.WATER_LEAK_SENSOR and etype == "leak" and settings.water_leak_enabled:
        common = device.placement.is_common_part
        effects.append(
            RaiseAlarm(
                alarm_type=AlarmType.WATER_LEAK,
                severity=Severity.MAJOR if common else Severity.MINOR,
                dedup_key=device.id,
                raised_at=at,
                device_id=device.id,
                household_id=device.household_id,
                building_id=device.building_id,
                details={"common_part": common},
            )
        )
        if common:
            where = "building common parts" if device.placement is Placement.BUILDING else "community common parts"
            effects.append(RequestRepair(location=where, description="water leak detected by sensor"))

    elif kind in (DeviceKind.LPR_CAMERA, DeviceKind.BARRIER_GATE) and etype in ("vehicle_entry", "vehicle_exit"):
        effects.append(ParkingChange(+1 if etype == "vehicle_entry" else -1))

    elif kind in NORMAL_EVENTS and etype == NORMAL_EVENTS[kind][0]:
        effects.append(SensorNormal(alarm_type=NORMAL_EVENTS[kind][1], dedup_key=device.id, at=at))

    return effects


# ------------------------------------------------------------------------------------------------ timers


def welfare_check_due(due_at: datetime, fired: bool, now: datetime) -> bool:
    """A welfare-check deadline fires once, when ``now`` reaches it."""
    return not fired and now >= due_at


def welfare_alarm(household: HouseholdFlags, due_at: datetime, door_opened_at: datetime | None) -> RaiseAlarm:
    return RaiseAlarm(
        alarm_type=AlarmType.WELFARE_CHECK,
        severity=Severity.MAJOR,
        dedup_key=f"household:{household.household_id}",
        raised_at=due_at,
        household_id=household.household_id,
        building_id=household.building_id,
        details={"last_door_open_at": door_opened_at.isoformat() if door_opened_at else None},
    )


def offline_deadline(last_seen_at: datetime, heartbeat_interval_s: int, settings: RuleSettings) -> datetime:
    return last_seen_at + timedelta(seconds=heartbeat_interval_s * settings.offline_grace_factor)


def is_offline(last_seen_at: datetime, heartbeat_interval_s: int, settings: RuleSettings, now: datetime) -> bool:
    """Silent for longer than heartbeat × grace factor (a device exactly at the limit is still online)."""
    return settings.offline_enabled and now > offline_deadline(last_seen_at, heartbeat_interval_s, settings)


def offline_alarm(device: Device, at: datetime) -> RaiseAlarm:
    return RaiseAlarm(
        alarm_type=AlarmType.OFFLINE,
        severity=Severity.MINOR,
        dedup_key=device.id,
        raised_at=at,
        device_id=device.id,
        household_id=device.household_id,
        building_id=device.building_id,
    )


def next_escalation(
    *,
    severity: Severity,
    status: AlarmStatus,
    level: int,
    escalate_at: datetime | None,
    now: datetime,
    settings: RuleSettings,
) -> tuple[int, datetime | None] | None:
    """When a critical alarm is still unacknowledged at its deadline: (new level, next deadline or None)."""
    if severity is not Severity.CRITICAL or status is not AlarmStatus.ACTIVE or escalate_at is None:
        return None
    if now < escalate_at or level >= settings.max_escalation_level:
        return None
    new_level = level + 1
    following = now + settings.escalation_after if new_level < settings.max_escalation_level else None
    return new_level, following


def auto_clear_after(alarm_type: AlarmType, settings: RuleSettings) -> timedelta | None:
    """How long a sensor must report normal before its alarm of this type clears itself (``None``: never)."""
    return {
        AlarmType.GAS: settings.gas_auto_clear_after,
        AlarmType.SMOKE: settings.smoke_auto_clear_after,
        AlarmType.WATER_LEAK: settings.water_leak_auto_clear_after,
    }.get(alarm_type)


def auto_clear_due(
    alarm_type: AlarmType, status: AlarmStatus, normal_since: datetime | None, settings: RuleSettings, now: datetime
) -> timedelta | None:
    """The quiet time served when an open alarm clears itself now (its sensor normal since ``normal_since`` for at
    least the type's setting), else ``None``."""
    hold = auto_clear_after(alarm_type, settings)
    if hold is None or normal_since is None or status is AlarmStatus.CLEARED:
        return None
    return hold if now >= normal_since + hold else None


def auto_cleared_by(hold: timedelta) -> str:
    """Who cleared an alarm that cleared itself: ``auto:normal_for_<seconds>s`` (a person's is their ``sub``)."""
    return f"auto:normal_for_{int(hold.total_seconds())}s"


DEVICE_ONLINE_CLEARER = "auto:device_online"


# ------------------------------------------------------------------------------------------------ lifecycle


class InvalidTransition(Exception):
    """An alarm cannot take this step from its status; ``code`` is the stable error code."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


def acknowledge(status: AlarmStatus) -> AlarmStatus:
    if status is AlarmStatus.ACKNOWLEDGED:
        raise InvalidTransition("the alarm is already acknowledged", "alarm_already_acknowledged")
    if status is AlarmStatus.CLEARED:
        raise InvalidTransition("a cleared alarm cannot be acknowledged", "alarm_cleared")
    return AlarmStatus.ACKNOWLEDGED


def clear(status: AlarmStatus) -> AlarmStatus:
    if status is AlarmStatus.CLEARED:
        raise InvalidTransition("the alarm is already cleared", "alarm_cleared")
    return AlarmStatus.CLEARED


# ------------------------------------------------------------------------------------------------ parking


def next_occupancy(occupied: int, delta: int) -> int:
    """Occupied spaces never go below zero (an exit seen without its entry, e.g. after an outage)."""
    return max(0, occupied + delta)


def available_spaces(occupied: int, capacity: int | None) -> int | None:
    return None if capacity is None else max(0, capacity - occupied)
