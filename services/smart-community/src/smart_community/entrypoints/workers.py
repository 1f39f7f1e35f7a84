"""Periodic jobs of the smart-community service (device ingestion is a consumer: entrypoints/consumers.py).

* ``deadline-scanner``: due welfare deadlines, silent devices (``device.offline``), unacknowledged critical alarms
  to escalate, alarms whose sensor has reported normal long enough (auto-clear);
* ``device-event-retention``: device events and rejects older than ``EVENT_RETENTION_DAYS``, in chunks.

Both run once per tick across replicas (``renovation_common.workers.PeriodicJob``).
"""

from __future__ import annotations

from datetime import timedelta

from renovation_common.app import Runtime, Worker
from renovation_common.messaging import ensure_stream
from renovation_common.workers import PeriodicJob
from smart_community.config import Settings
from smart_community.entrypoints.consumers import DEVICES_STREAM, DEVICES_SUBJECTS
from smart_community.service_layer.timers import purge_expired
from smart_community.service_layer.timers import scan_deadlines as scan


async def ensure_devices_stream(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings) and runtime.js is not None
    await ensure_stream(
        runtime.js, DEVICES_STREAM, DEVICES_SUBJECTS, max_age_s=settings.devices_stream_max_age_h * 3600
    )


async def scan_deadlines(runtime: Runtime) -> None:
    await scan(runtime.uow, now=runtime.clock(), source=runtime.settings.event_source)


async def purge_device_events(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    retention = timedelta(days=settings.event_retention_days)
    for _ in range(1000):  # bounded: 1000 chunks per tick
        if await purge_expired(runtime.uow(), now=runtime.clock(), retention=retention) == 0:
            break


def workers(runtime: Runtime) -> list[Worker]:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    return [
        PeriodicJob("deadline-scanner", settings.scan_interval_s, scan_deadlines),
        PeriodicJob("device-event-retention", settings.purge_interval_s, purge_device_events, budget_s=600),
    ]
