"""Applying rule effects inside a unit of work: alarms, their events, repair requests."""

from __future__ import annotations

import uuid
from datetime import datetime

from prometheus_client import Counter

from renovation_common.contracts.smart_community import AlarmRaised, RepairRequested
from renovation_common.db import UnitOfWork
from renovation_common.events import new_event
from smart_community.adapters import repository as repo
from smart_community.domain.rules import RaiseAlarm, RequestRepair

ALARMS_RAISED = Counter("alarms_raised_total", "Alarms opened (repeats of an open alarm not counted)", ["severity"])


async def raise_alarm(
    uow: UnitOfWork,
    raise_: RaiseAlarm,
    *,
    community_id: str,
    district_id: str | None,
    street_id: str | None,
    source: str,
    now: datetime,
    repair: RequestRepair | None = None,
) -> repo.UpsertedAlarm:
    """Open the alarm (or count a repeat); a newly opened one is announced, with its repair request if any."""
    result = await repo.upsert_alarm(
        uow.session,
        raise_,
        community_id=community_id,
        district_id=district_id,
        street_id=street_id,
        new_id=uuid.uuid4(),
    )
    if result.inserted:
        ALARMS_RAISED.labels(raise_.severity.value).inc()
        uow.publish(
            new_event(
                AlarmRaised(
                    alarm_id=str(result.id),
                    community_id=community_id,
                    district_id=district_id,
                    device_id=raise_.device_id,
                    household_id=raise_.household_id,
                    alarm_type=raise_.alarm_type.value,
                    severity=raise_.severity.value,
                    raised_at=raise_.raised_at,
                    occurrences=result.occurrences,
                ),
                source=source,
                subject=str(result.id),
                time=now,
            )
        )
        if repair is not None:
            request_id = uuid.uuid4()
            uow.publish(
                new_event(
                    RepairRequested(
                        request_id=str(request_id),
                        alarm_id=str(result.id),
                        community_id=community_id,
                        district_id=district_id,
                        device_id=raise_.device_id,
                        building_id=raise_.building_id,
                        location=repair.location,
                        description=repair.description,
                        requested_at=raise_.raised_at,
                    ),
                    source=source,
                    subject=str(request_id),
                    time=now,
                )
            )
    return result
