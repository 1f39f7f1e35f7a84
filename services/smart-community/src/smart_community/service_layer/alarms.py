"""Alarms: opening them from rule effects (with their events and repair requests), the lifecycle
``active → acknowledged → cleared``, and the listing within the caller's scope."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter

from renovation_common.auth import Principal, Role, Scope
from renovation_common.contracts.smart_community import AlarmAcknowledged, AlarmCleared, AlarmRaised, RepairRequested
from renovation_common.db import ReadOnlyUnitOfWork, UnitOfWork
from renovation_common.errors import BadRequest, InvalidState, NotFound
from renovation_common.events import EventData, new_event
from smart_community.adapters.repositories import AlarmQuery, AlarmRepository, UpsertedAlarm
from smart_community.domain import rules
from smart_community.domain.model import AlarmRecord, AlarmStatus
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
) -> UpsertedAlarm:
    """Open the alarm (or count a repeat) inside the caller's unit of work; a newly opened one is announced, with
    its repair request if any — its events written by the upsert's own statement, only if it opened the alarm (one
    round trip)."""
    new_id = uuid.uuid4()
    events = [
        new_event(
            AlarmRaised(
                alarm_id=str(new_id),
                community_id=community_id,
                district_id=district_id,
                device_id=raise_.device_id,
                household_id=raise_.household_id,
                alarm_type=raise_.alarm_type.value,
                severity=raise_.severity.value,
                raised_at=raise_.raised_at,
                occurrences=1,  # a newly opened alarm's (a repeat writes no event)
            ),
            source=source,
            subject=str(new_id),
            time=now,
        )
    ]
    if repair is not None:
        request_id = uuid.uuid4()
        events.append(
            new_event(
                RepairRequested(
                    request_id=str(request_id),
                    alarm_id=str(new_id),
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
    result = await AlarmRepository(uow.session).open_or_repeat(
        raise_,
        community_id=community_id,
        district_id=district_id,
        street_id=street_id,
        new_id=new_id,
        announce=lambda source_rows, opened: uow.events_if(events, source_rows, opened),
    )
    if result.inserted:
        ALARMS_RAISED.labels(raise_.severity.value).inc()
    return result


def alarm_scope(alarm: AlarmRecord) -> Scope:
    return Scope(alarm.district_id, alarm.street_id, alarm.community_id, alarm.household_id)


@dataclass(frozen=True)
class AlarmFilters:
    status: str | None = None  # active | acknowledged | cleared | open
    severity: str | None = None
    community_id: str | None = None
    alarm_type: str | None = None


def alarm_query(principal: Principal, filters: AlarmFilters) -> AlarmQuery:
    """What a caller asked for, narrowed to what they may list: the narrowest claim of their token."""
    wanted = {
        "status": filters.status,
        "severity": filters.severity,
        "community_id": filters.community_id,
        "alarm_type": filters.alarm_type,
    }
    if principal.role is Role.RESIDENT:
        if principal.household_id is None:
            raise BadRequest("your token has no household", code="out_of_scope", status=403)
        return AlarmQuery(household_id=principal.household_id, **wanted)
    if not (principal.community_id or principal.street_id or principal.district_id):
        raise BadRequest("your token has no scope", code="out_of_scope", status=403)
    return AlarmQuery(
        scope_community_id=principal.community_id,
        scope_street_id=principal.street_id,
        scope_district_id=principal.district_id,
        **wanted,
    )


async def list_alarms(
    read: ReadOnlyUnitOfWork,
    principal: Principal,
    filters: AlarmFilters,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[AlarmRecord]:
    """Up to ``limit + 1`` alarms in the caller's scope, newest first."""
    query = alarm_query(principal, filters)
    async with read:
        return await AlarmRepository(read.session).find(query, after, limit)


# ------------------------------------------------------------------------------------------------ lifecycle


@dataclass(frozen=True)
class Step:
    """One step of the lifecycle ``active → acknowledged → cleared``: what the domain allows, the who/when columns
    it sets and the event announcing it."""

    name: str
    decide: Callable[[AlarmStatus], AlarmStatus]
    columns: Callable[[str, datetime], dict[str, Any]]
    event: Callable[[AlarmRecord, str, datetime], EventData]


ACKNOWLEDGE = Step(
    "acknowledge",
    rules.acknowledge,
    lambda by, at: {"acknowledged_by": by, "acknowledged_at": at},
    lambda a, by, at: AlarmAcknowledged(
        alarm_id=str(a.id),
        community_id=a.community_id,
        district_id=a.district_id,
        acknowledged_by=by,
        acknowledged_at=at,
    ),
)
CLEAR = Step(
    "clear",
    rules.clear,
    lambda by, at: {"cleared_by": by, "cleared_at": at, "normal_since": None},
    lambda a, by, at: AlarmCleared(
        alarm_id=str(a.id), community_id=a.community_id, district_id=a.district_id, cleared_by=by, cleared_at=at
    ),
)


async def take_step(uow: UnitOfWork, alarm: AlarmRecord, step: Step, *, by: str, now: datetime, source: str) -> None:
    """Move a locked alarm one step inside the caller's unit of work: the domain decides (409 with its code when the
    step is not allowed), the row takes the new status with who/when (escalation stops), the audit row
    (``alarm_transitions``) and the event go in the same transaction."""
    try:
        status = step.decide(AlarmStatus(alarm.status))
    except rules.InvalidTransition as exc:
        raise InvalidState(exc.detail, code=exc.code) from None
    repo = AlarmRepository(uow.session)
    await repo.update(alarm.id, status=status.value, escalate_at=None, **step.columns(by, now))
    await repo.add_transition(alarm.id, alarm.status, status.value, by, now)
    uow.publish(new_event(step.event(alarm, by, now), source=source, subject=str(alarm.id), time=now))


async def change_alarm(
    uow: UnitOfWork, alarm_id: uuid.UUID, principal: Principal, step: Step, *, now: datetime, source: str
) -> AlarmRecord:
    """A person takes a step (acknowledge, clear): one transaction; the alarm is locked and must be in their scope."""
    async with uow:
        repo = AlarmRepository(uow.session)
        alarm = await repo.get(alarm_id, for_update=True)
        if alarm is None:
            raise NotFound("no such alarm", code="alarm_not_found")
        principal.ensure_covers(alarm_scope(alarm), "alarm")
        await take_step(uow, alarm, step, by=principal.sub, now=now, source=source)
        updated = await repo.get(alarm_id)
        await uow.commit()
    assert updated is not None
    return updated


async def acknowledge_alarm(
    uow: UnitOfWork, alarm_id: uuid.UUID, principal: Principal, *, now: datetime, source: str
) -> AlarmRecord:
    return await change_alarm(uow, alarm_id, principal, ACKNOWLEDGE, now=now, source=source)


async def clear_alarm(
    uow: UnitOfWork, alarm_id: uuid.UUID, principal: Principal, *, now: datetime, source: str
) -> AlarmRecord:
    return await change_alarm(uow, alarm_id, principal, CLEAR, now=now, source=source)
