"""Events produced by the smart-community service (no names; household ids only)."""

from __future__ import annotations

from datetime import datetime

from renovation_common.events import EventData, event_contract


@event_contract("smart_community.alarm.raised.v1", "An alarm was raised (or a repeat updated the active one).")
class AlarmRaised(EventData):
    alarm_id: str
    community_id: str
    district_id: str | None = None
    device_id: str | None = None
    household_id: str | None = None
    alarm_type: str  # gas | smoke | welfare_check | unaccompanied_exit | offline | water_leak | ...
    severity: str  # critical | major | minor | warning
    raised_at: datetime
    occurrences: int = 1


@event_contract("smart_community.alarm.acknowledged.v1", "Someone took charge of an alarm.")
class AlarmAcknowledged(EventData):
    alarm_id: str
    community_id: str
    district_id: str | None = None
    acknowledged_by: str
    acknowledged_at: datetime


@event_contract("smart_community.alarm.cleared.v1", "An alarm was cleared (by a person, or by itself: ``auto:…``).")
class AlarmCleared(EventData):
    alarm_id: str
    community_id: str
    district_id: str | None = None
    cleared_by: str  # a user's sub, or auto:normal_for_<s>s (sensor normal that long), auto:device_online
    cleared_at: datetime


@event_contract("smart_community.alarm.escalated.v1", "A critical alarm was not acknowledged in time.")
class AlarmEscalated(EventData):
    alarm_id: str
    community_id: str
    district_id: str | None = None
    street_id: str | None = None  # the street office the escalation goes to
    alarm_type: str | None = None
    severity: str
    level: int
    escalated_at: datetime


@event_contract("smart_community.device.offline.v1", "A device has been silent beyond its heartbeat interval.")
class DeviceOffline(EventData):
    device_id: str
    community_id: str
    district_id: str | None = None
    kind: str
    last_seen_at: datetime | None = None


@event_contract("smart_community.device.online.v1", "A device marked offline was heard from again.")
class DeviceOnline(EventData):
    device_id: str
    community_id: str
    district_id: str | None = None
    kind: str
    seen_at: datetime


@event_contract("smart_community.repair.requested.v1", "A common-part fault (e.g. a burst pipe) needs repair.")
class RepairRequested(EventData):
    request_id: str
    alarm_id: str
    community_id: str
    district_id: str | None = None
    device_id: str | None = None
    building_id: str | None = None
    location: str
    description: str
    requested_at: datetime
