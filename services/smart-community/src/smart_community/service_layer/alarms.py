"""Alarms: opening them from rule effects (with their events and repair requests), the lifecycle
``active → acknowledged → cleared``, and the listing within the caller's scope."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter

from renovation_common.auth import Principal, Role, Scope
from renovation_common.contracts.smart_community import AlarmAcknowledged, AlarmCleared, AlarmRaised, RepairRequested
from renovation_common.db import ReadOnlyUnitOfWork, UnitOfWork
from renovation_common.errors import BadRequest, InvalidState, NotFound
from renovation_common.events import new_event
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
    its repair request if any."""
    result = await AlarmRepository(uow.session).open_or_repeat(
        raise_, community_id=community_id, district_id=district_id, street_id=street_id, new_id=uuid.uuid4()
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


def _step(transition: Callable[[AlarmStatus], AlarmStatus], status: str) -> AlarmStatus:
    try:
        return transition(AlarmStatus(status))
    except rules.InvalidTransition as exc:
        raise InvalidState(exc.detail, code=exc.code) from None


async def _locked_alarm(uow: UnitOfWork, alarm_id: uuid.UUID, principal: Principal) -> AlarmRecord:
    alarm = await AlarmRepository(uow.session).get(alarm_id, for_update=True)
    if alarm is None:
        raise NotFound("no such alarm", code="alarm_not_found")
    principal.ensure_covers(alarm_scope(alarm), "alarm")
    return alarm


async def acknowledge_alarm(
    uow: UnitOfWork, alarm_id: uuid.UUID, principal: Principal, *, now: datetime, source: str
) -> AlarmRecord:
    async with uow:
        alarm = await _locked_alarm(uow, alarm_id, principal)
        status = _step(rules.acknowledge, alarm.status)
        repo = AlarmRepository(uow.session)
        await repo.update(
            alarm_id, status=status.value, acknowledged_by=principal.sub, acknowledged_at=now, escalate_at=None
        )
        uow.publish(
            new_event(
                AlarmAcknowledged(
                    alarm_id=str(alarm_id),
                    community_id=alarm.community_id,
                    district_id=alarm.district_id,
                    acknowledged_by=principal.sub,
                    acknowledged_at=now,
                ),
                source=source,
                subject=str(alarm_id),
                time=now,
            )
        )
        updated = await repo.get(alarm_id)
        await uow.commit()
    assert updated is not None
    return updated


async def clear_alarm(
    uow: UnitOfWork, alarm_id: uuid.UUID, principal: Principal, *, now: datetime, source: str
) -> AlarmRecord:
    async with uow:
        alarm = await _locked_alarm(uow, alarm_id, principal)
        status = _step(rules.clear, alarm.status)
        repo = AlarmRepository(uow.session)
        await repo.update(alarm_id, status=status.value, cleared_by=principal.sub, cleared_at=now, escalate_at=None)
        uow.publish(
            new_event(
                AlarmCleared(
                    alarm_id=str(alarm_id),
                    community_id=alarm.community_id,
                    district_id=alarm.district_id,
                    cleared_by=principal.sub,
                    cleared_at=now,
                ),
                source=source,
                subject=str(alarm_id),
                time=now,
            )
        )
        updated = await repo.get(alarm_id)
        await uow.commit()
    assert updated is not None
    return updated
