"""Repositories, one module per aggregate; SQL lives only here.

``communities`` (read model: where communities lie) and ``households`` (read model: care flags), ``devices`` (the
registry with credentials and last-seen times), ``device_events`` (events and rejects, bulk-loaded), ``alarms``,
``rule_settings``, ``welfare_timers``, ``parking``.
"""

from smart_community.adapters.repositories.alarms import AlarmQuery, AlarmRepository, UpsertedAlarm
from smart_community.adapters.repositories.communities import CommunityRepository
from smart_community.adapters.repositories.device_events import (
    DeviceEventRepository,
    EventRow,
    Stored,
    learn_array_types,
)
from smart_community.adapters.repositories.devices import DeviceContext, DeviceRepository
from smart_community.adapters.repositories.households import HouseholdRepository
from smart_community.adapters.repositories.parking import ParkingRepository
from smart_community.adapters.repositories.rule_settings import RuleSettingsRepository
from smart_community.adapters.repositories.welfare_timers import WelfareTimerRepository

__all__ = [
    "AlarmQuery",
    "AlarmRepository",
    "CommunityRepository",
    "DeviceContext",
    "DeviceEventRepository",
    "DeviceRepository",
    "EventRow",
    "HouseholdRepository",
    "ParkingRepository",
    "RuleSettingsRepository",
    "Stored",
    "UpsertedAlarm",
    "WelfareTimerRepository",
    "learn_array_types",
]
