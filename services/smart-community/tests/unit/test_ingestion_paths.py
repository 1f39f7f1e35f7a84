"""Which DEVICES subjects travel on the alarm consumer's path (ahead of telemetry)."""

from __future__ import annotations

import pytest

from smart_community.domain.model import DeviceKind
from smart_community.service_layer.ingestion import ALARM_SUBJECTS, on_alarm_path


@pytest.mark.parametrize(
    ("kind", "alarm_path"),
    [
        (DeviceKind.GAS_DETECTOR, True),
        (DeviceKind.SMOKE_ALARM, True),
        (DeviceKind.WATER_LEAK_SENSOR, True),
        (DeviceKind.DOOR_SENSOR, True),
        (DeviceKind.ACCESS_GATE, True),
        # the telemetry bulk: no rule reads them, so they must not queue in front of a gas alarm
        (DeviceKind.ELEVATOR_MONITOR, False),
        (DeviceKind.EBIKE_CHARGER, False),
        (DeviceKind.INFO_SCREEN, False),
        (DeviceKind.LPR_CAMERA, False),
    ],
)
def test_alarm_bearing_kinds_have_their_own_path(kind: DeviceKind, alarm_path: bool) -> None:
    subject = f"devices.c-1.d-1.{kind.value}"
    assert on_alarm_path(subject) is alarm_path
    assert (f"devices.*.*.{kind.value}" in ALARM_SUBJECTS) is alarm_path


def test_other_shapes_are_not_on_the_alarm_path() -> None:
    assert not on_alarm_path("devices.c-1.d-1.gas_detector.extra")
    assert not on_alarm_path("telemetry.c-1.d-1.gas_detector")
