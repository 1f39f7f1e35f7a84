"""Alarm rules, timers and lifecycle at their boundaries, with an injected clock (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smart_community.domain import rules
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
    check_device_placement,
    device_publish_permissions,
    parse_device_subject,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
S = RuleSettings()


def device(kind: DeviceKind, placement: Placement = Placement.HOUSEHOLD, household: str | None = "h1") -> Device:
    return Device(
        id=f"d-{kind.value}",
        community_id="c1",
        kind=kind,
        placement=placement,
        heartbeat_interval_s=300,
        district_id="510105",
        building_id="b1",
        household_id=household if placement is Placement.HOUSEHOLD else None,
    )


def event(kind_type: str, at: datetime = T0, received: datetime | None = None, **readings: object) -> DeviceEvent:
    return DeviceEvent("d", kind_type, at, received or at, dict(readings))


ALONE = HouseholdFlags("h1", "c1", "b1", elderly_living_alone=True)
FAMILY = HouseholdFlags("h1", "c1", "b1", elderly_living_alone=False)
NEEDS_COMPANY = HouseholdFlags("h2", "c1", "b1", needs_accompaniment=True)


@pytest.mark.parametrize(
    "kind, alarm_type", [(DeviceKind.GAS_DETECTOR, AlarmType.GAS), (DeviceKind.SMOKE_ALARM, AlarmType.SMOKE)]
)
def test_gas_or_smoke_at_elderly_alone_home_is_critical_at_once_and_escalates(kind, alarm_type):
    [effect] = rules.evaluate(event("alarm"), device(kind), ALONE, S)
    assert isinstance(effect, rules.RaiseAlarm)
    assert (effect.alarm_type, effect.severity) == (alarm_type, Severity.CRITICAL)
    assert effect.raised_at == T0
    assert effect.escalate_at == T0 + timedelta(minutes=10)
    assert effect.dedup_key == f"d-{kind.value}"


def test_gas_alarm_elsewhere_is_major_without_escalation_and_can_be_disabled():
    [effect] = rules.evaluate(event("alarm"), device(DeviceKind.GAS_DETECTOR), FAMILY, S)
    assert isinstance(effect, rules.RaiseAlarm) and effect.severity is Severity.MAJOR and effect.escalate_at is None
    assert (
        rules.evaluate(event("alarm"), device(DeviceKind.GAS_DETECTOR), ALONE, RuleSettings(gas_smoke_enabled=False))
        == []
    )
    assert rules.evaluate(event("heartbeat"), device(DeviceKind.GAS_DETECTOR), ALONE, S) == []


def test_device_time_in_the_future_is_capped_at_receipt():
    late_clock = event("alarm", at=T0 + timedelta(minutes=5), received=T0)
    [effect] = rules.evaluate(late_clock, device(DeviceKind.SMOKE_ALARM), ALONE, S)
    assert isinstance(effect, rules.RaiseAlarm) and effect.raised_at == T0


def test_door_open_at_elderly_alone_home_arms_the_welfare_deadline_from_the_window():
    settings = RuleSettings(welfare_check_window=timedelta(hours=12))
    [effect] = rules.evaluate(event("door_open"), device(DeviceKind.DOOR_SENSOR), ALONE, settings)
    assert effect == rules.ArmWelfareTimer("h1", T0, T0 + timedelta(hours=12))
    # door closing, heartbeats and other homes do not touch the timer
    assert rules.evaluate(event("door_close"), device(DeviceKind.DOOR_SENSOR), ALONE, settings) == []
    assert rules.evaluate(event("heartbeat"), device(DeviceKind.DOOR_SENSOR), ALONE, settings) == []
    assert rules.evaluate(event("door_open"), device(DeviceKind.DOOR_SENSOR), FAMILY, settings) == []


def test_welfare_deadline_fires_exactly_at_the_deadline_and_only_once():
    due = rules.welfare_deadline(T0, S)
    assert due == T0 + timedelta(hours=24)
    assert not rules.welfare_check_due(due, False, due - timedelta(microseconds=1))
    assert rules.welfare_check_due(due, False, due)
    assert not rules.welfare_check_due(due, True, due + timedelta(hours=1))
    alarm = rules.welfare_alarm(ALONE, due, T0)
    assert (alarm.alarm_type, alarm.severity, alarm.dedup_key) == (
        AlarmType.WELFARE_CHECK,
        Severity.MAJOR,
        "household:h1",
    )


def test_resident_needing_accompaniment_leaving_alone_raises_a_warning():
    gate = device(DeviceKind.ACCESS_GATE, Placement.COMMUNITY)
    [effect] = rules.evaluate(
        event("pass", household_id="h2", direction="out", accompanied=False), gate, None, S, gate_resident=NEEDS_COMPANY
    )
    assert isinstance(effect, rules.RaiseAlarm)
    assert (effect.alarm_type, effect.severity, effect.household_id) == (
        AlarmType.UNACCOMPANIED_EXIT,
        Severity.WARNING,
        "h2",
    )
    # accompanied, coming in, not flagged, or the rule switched off: nothing
    for readings, resident, settings in [
        ({"direction": "out", "accompanied": True}, NEEDS_COMPANY, S),
        ({"direction": "in", "accompanied": False}, NEEDS_COMPANY, S),
        ({"direction": "out", "accompanied": False}, FAMILY, S),
        ({"direction": "out", "accompanied": False}, NEEDS_COMPANY, RuleSettings(accompaniment_enabled=False)),
    ]:
        assert rules.evaluate(event("pass", **readings), gate, None, settings, gate_resident=resident) == []


def test_water_leak_in_common_part_raises_alarm_and_repair_request_but_not_at_home():
    common = device(DeviceKind.WATER_LEAK_SENSOR, Placement.BUILDING)
    alarm, repair = rules.evaluate(event("leak"), common, None, S)
    assert isinstance(alarm, rules.RaiseAlarm) and alarm.severity is Severity.MAJOR
    assert isinstance(repair, rules.RequestRepair) and repair.location == "building common parts"
    [home_alarm] = rules.evaluate(event("leak"), device(DeviceKind.WATER_LEAK_SENSOR), FAMILY, S)
    assert isinstance(home_alarm, rules.RaiseAlarm) and home_alarm.severity is Severity.MINOR


def test_offline_only_strictly_after_heartbeat_times_grace():
    limit = T0 + timedelta(seconds=300 * 1.5)
    assert rules.offline_deadline(T0, 300, S) == limit
    assert not rules.is_offline(T0, 300, S, limit)
    assert rules.is_offline(T0, 300, S, limit + timedelta(seconds=1))
    assert not rules.is_offline(T0, 300, RuleSettings(offline_enabled=False), limit + timedelta(days=1))


def test_escalation_of_unacknowledged_critical_alarms_up_to_the_maximum_level():
    deadline = T0 + timedelta(minutes=10)
    kwargs = dict(severity=Severity.CRITICAL, status=AlarmStatus.ACTIVE, escalate_at=deadline, settings=S)
    assert rules.next_escalation(level=0, now=deadline - timedelta(seconds=1), **kwargs) is None
    assert rules.next_escalation(level=0, now=deadline, **kwargs) == (1, deadline + timedelta(minutes=10))
    assert rules.next_escalation(level=2, now=deadline, **kwargs) == (3, None)
    assert rules.next_escalation(level=3, now=deadline, **kwargs) is None
    acked = {**kwargs, "status": AlarmStatus.ACKNOWLEDGED}
    assert rules.next_escalation(level=0, now=deadline, **acked) is None
    major = {**kwargs, "severity": Severity.MAJOR}
    assert rules.next_escalation(level=0, now=deadline, **major) is None


def test_alarm_lifecycle_active_acknowledged_cleared():
    assert rules.acknowledge(AlarmStatus.ACTIVE) is AlarmStatus.ACKNOWLEDGED
    assert rules.clear(AlarmStatus.ACKNOWLEDGED) is AlarmStatus.CLEARED
    assert rules.clear(AlarmStatus.ACTIVE) is AlarmStatus.CLEARED
    with pytest.raises(rules.InvalidTransition) as exc:
        rules.acknowledge(AlarmStatus.ACKNOWLEDGED)
    assert exc.value.code == "alarm_already_acknowledged"
    with pytest.raises(rules.InvalidTransition) as exc:
        rules.acknowledge(AlarmStatus.CLEARED)
    assert exc.value.code == "alarm_cleared"
    with pytest.raises(rules.InvalidTransition):
        rules.clear(AlarmStatus.CLEARED)


def test_parking_counts_never_go_negative():
    lpr = device(DeviceKind.LPR_CAMERA, Placement.COMMUNITY)
    assert rules.evaluate(event("vehicle_entry"), lpr, None, S) == [rules.ParkingChange(1)]
    assert rules.evaluate(event("vehicle_exit"), lpr, None, S) == [rules.ParkingChange(-1)]
    assert rules.next_occupancy(0, -1) == 0
    assert rules.available_spaces(12, 10) == 0 and rules.available_spaces(3, 10) == 7
    assert rules.available_spaces(3, None) is None


def test_topics_subjects_and_permissions():
    assert parse_device_subject("devices.c1.d1.gas_detector") == ("c1", "d1", "gas_detector")
    assert parse_device_subject("devices.c1.d1") is None
    assert parse_device_subject("devices.c1.d1.x.y") is None
    assert parse_device_subject("other.c1.d1.gas") is None
    assert device_publish_permissions("c1", "d1") == ["devices.c1.d1.>"]


def test_placement_consistency():
    assert check_device_placement(Placement.HOUSEHOLD, None, None) is not None
    assert check_device_placement(Placement.COMMUNITY, None, "h1") is not None
    assert check_device_placement(Placement.BUILDING, None, None) is not None
    assert check_device_placement(Placement.BUILDING, "b1", None) is None


@pytest.mark.parametrize(
    ("kind", "normal", "alarm_type"),
    [
        (DeviceKind.GAS_DETECTOR, "clear", AlarmType.GAS),
        (DeviceKind.SMOKE_ALARM, "clear", AlarmType.SMOKE),
        (DeviceKind.WATER_LEAK_SENSOR, "dry", AlarmType.WATER_LEAK),
    ],
)
def test_a_sensor_reporting_normal_starts_its_alarms_quiet_time(kind, normal, alarm_type):
    at = T0 + timedelta(minutes=3)
    [effect] = rules.evaluate(event(normal, at), device(kind), None, S)
    assert effect == rules.SensorNormal(alarm_type=alarm_type, dedup_key=f"d-{kind.value}", at=at)
    assert rules.evaluate(event("heartbeat", at), device(kind), None, S) == []


def test_auto_clear_after_the_kinds_quiet_time_and_never_when_off():
    assert (S.gas_auto_clear_after, S.smoke_auto_clear_after, S.water_leak_auto_clear_after) == (
        timedelta(minutes=10),
        timedelta(minutes=10),
        timedelta(minutes=30),
    )
    since = T0
    due = rules.auto_clear_due
    assert due(AlarmType.GAS, AlarmStatus.ACTIVE, since, S, since + timedelta(seconds=599)) is None
    assert due(AlarmType.GAS, AlarmStatus.ACTIVE, since, S, since + timedelta(seconds=600)) == timedelta(seconds=600)
    assert due(AlarmType.GAS, AlarmStatus.ACKNOWLEDGED, since, S, since + timedelta(hours=1)) == timedelta(minutes=10)
    assert due(AlarmType.WATER_LEAK, AlarmStatus.ACTIVE, since, S, since + timedelta(minutes=29)) is None
    assert due(AlarmType.GAS, AlarmStatus.CLEARED, since, S, since + timedelta(hours=1)) is None
    assert due(AlarmType.GAS, AlarmStatus.ACTIVE, None, S, since + timedelta(hours=1)) is None  # not normal yet
    off = RuleSettings(smoke_auto_clear_after=None)
    assert due(AlarmType.SMOKE, AlarmStatus.ACTIVE, since, off, since + timedelta(days=1)) is None
    # only sensor alarms clear themselves: a welfare check or an unaccompanied exit needs a person
    assert due(AlarmType.WELFARE_CHECK, AlarmStatus.ACTIVE, since, S, since + timedelta(days=1)) is None
    assert rules.auto_cleared_by(timedelta(seconds=600)) == "auto:normal_for_600s"
