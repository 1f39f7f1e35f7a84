"""Routes of alarms: the listing within the caller's scope and the lifecycle steps."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import Principal, Role, authorize
from renovation_common.pagination import Page, PageParams, make_page, page_params
from smart_community.domain.model import AlarmType, Severity
from smart_community.entrypoints.api.schemas import AlarmRead
from smart_community.service_layer import alarms

router = APIRouter(prefix="/v1/alarms", tags=["alarms"])

STAFF = (Role.COMMUNITY_WORKER, Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
StatusFilter = Literal["active", "acknowledged", "cleared", "open"]


@router.get(
    "",
    operation_id="listAlarms",
    response_model=Page[AlarmRead],
    summary="Alarms in your scope, newest first, with filters and a cursor",
)
async def list_alarms(
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, authorize(*STAFF, Role.OPERATOR, Role.GOV_SYSTEM, Role.RESIDENT)],
    runtime: RuntimeDep,
    status: Annotated[StatusFilter | None, Query(description="`open`: active or acknowledged")] = None,
    severity: Severity | None = None,
    community_id: Annotated[str | None, Query(max_length=64)] = None,
    alarm_type: AlarmType | None = None,
) -> Page[AlarmRead]:
    """Staff, operators and government systems see the alarms of their token's community, street or district; a
    resident sees those of their own household."""
    found = await alarms.list_alarms(
        runtime.read(),
        principal,
        alarms.AlarmFilters(
            status=status,
            severity=severity.value if severity else None,
            community_id=community_id,
            alarm_type=alarm_type.value if alarm_type else None,
        ),
        after=page.after_time_and_id(uuid.UUID),
        limit=page.limit,
    )
    items = [AlarmRead.of(a) for a in found]
    return make_page(items, page.limit, lambda a: [a.raised_at.isoformat(), str(a.id)])


@router.post(
    "/{alarm_id}/acknowledge",
    operation_id="acknowledgeAlarm",
    response_model=AlarmRead,
    summary="Acknowledge an active alarm (stops its escalation)",
)
async def acknowledge_alarm(
    alarm_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*STAFF, Role.OPERATOR)],
    runtime: RuntimeDep,
) -> AlarmRead:
    """Records who and when, publishes `smart_community.alarm.acknowledged.v1`. 409 `alarm_already_acknowledged`
    or `alarm_cleared` when the alarm is past that step."""
    alarm = await alarms.acknowledge_alarm(
        runtime.uow(), alarm_id, principal, now=runtime.clock(), source=runtime.settings.event_source
    )
    return AlarmRead.of(alarm)


@router.post(
    "/{alarm_id}/clear",
    operation_id="clearAlarm",
    response_model=AlarmRead,
    summary="Clear an alarm (active or acknowledged)",
)
async def clear_alarm(
    alarm_id: uuid.UUID,
    principal: Annotated[Principal, authorize(*STAFF, Role.OPERATOR)],
    runtime: RuntimeDep,
) -> AlarmRead:
    """Records who and when, publishes `smart_community.alarm.cleared.v1`; a new event of the same kind opens a new
    alarm. 409 `alarm_cleared` when it is cleared already."""
    alarm = await alarms.clear_alarm(
        runtime.uow(), alarm_id, principal, now=runtime.clock(), source=runtime.settings.event_source
    )
    return AlarmRead.of(alarm)
