"""Use cases of the smart-community service: one transaction each, events through the outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from renovation_common.auth import Principal, Scope
from renovation_common.contracts.smart_community import (
    AlarmAcknowledged,
    AlarmCleared,
    AlarmEscalated,
    DeviceOffline,
)
from renovation_common.db import UnitOfWork
from renovation_common.errors import BadRequest, InvalidState, NotFound
from renovation_common.events import new_event
from smart_community.adapters import repository as repo
from smart_community.domain import rules
from smart_community.domain.model import (
    DEFAULT_HEARTBEAT_S,
    AlarmStatus,
    DeviceKind,
    HouseholdFlags,
    Placement,
    RuleSettings,
    Severity,
    check_device_placement,
)
from smart_community.service_layer.alarming import raise_alarm

log = structlog.get_logger("smart_community")


# ------------------------------------------------------------------------------------------ devices


@dataclass(frozen=True)
class RegisterDevice:
    community_id: str
    kind: DeviceKind
    placement: Placement
    building_id: str | None = None
    household_id: str | None = None
    heartbeat_interval_s: int | None = None
    label: str = ""


async def register_device(
    uow: UnitOfWork, cmd: RegisterDevice, principal: Principal, *, now: datetime, device_id: str
) -> repo.DeviceRecord:
    problem = check_device_placement(cmd.placement, cmd.building_id, cmd.household_id)
    if problem:
        raise BadRequest(problem, code="invalid_placement", status=422)
    async with uow:
        scope = await repo.community_scope(uow.session, cmd.community_id)
        if scope is None:
            raise BadRequest("the community is not registered (survey events)", code="community_unknown", status=422)
        district_id, street_id = scope
        principal.ensure_covers(Scope(district_id, street_id, cmd.community_id), "community")
        building_id = cmd.building_id
        if cmd.household_id is not None:
            home = (await repo.households_by_id(uow.session, [cmd.household_id])).get(cmd.household_id)
            if home is None or home.community_id != cmd.community_id:
                raise BadRequest(
                    "the household is not registered in this community", code="household_unknown", status=422
                )
            building_id = building_id or home.building_id
        await repo.insert_device(
            uow.session,
            {
                "id": device_id,
                "community_id": cmd.community_id,
                "district_id": district_id,
                "street_id": street_id,
                "building_id": building_id,
                "household_id": cmd.household_id,
                "kind": cmd.kind.value,
                "placement": cmd.placement.value,
                "label": cmd.label,
                "heartbeat_interval_s": cmd.heartbeat_interval_s or DEFAULT_HEARTBEAT_S[cmd.kind],
                "created_at": now,
            },
        )
        record = await repo.get_device(uow.session, device_id)
        await uow.commit()
    assert record is not None
    return record


def device_scope(record: repo.DeviceRecord) -> Scope:
    d = record.device
    return Scope(d.district_id, record.street_id, d.community_id)


async def get_device(session: AsyncSession, device_id: str, principal: Principal) -> repo.DeviceRecord:
    record = await repo.get_device(session, device_id)
    if record is None:
        raise NotFound("no such device", code="device_not_found")
    principal.ensure_covers(device_scope(record), "device")
    return record


# ------------------------------------------------------------------------------------------ read model


async def apply_community(
    session: AsyncSession, community_id: str, district_id: str, street_id: str, *, version: int | None = None
) -> None:
    """A community's scope, from its own events (``version``) or learnt from a household event (``None``)."""
    await repo.upsert_community(session, community_id, district_id, street_id, version=version)


async def apply_household(
    session: AsyncSession, flags: HouseholdFlags, district_id: str, *, at: datetime, version: int = 0
) -> None:
    """Keep the newest flags (an older event arriving late changes nothing); a household newly flagged as elderly
    living alone gets a welfare deadline from ``at``, one no longer flagged loses it."""
    written, previous = await repo.upsert_household(session, flags, district_id, version=version)
    if not written:
        return
    if flags.elderly_living_alone and not previous:
        settings = (await repo.settings_for(session, [flags.community_id]))[flags.community_id]
        if settings.welfare_check_enabled:
            await repo.arm_welfare_timer_if_absent(
                session, flags.household_id, flags.community_id, rules.welfare_deadline(at, settings)
            )
    elif not flags.elderly_living_alone and previous:
        await repo.drop_welfare_timer(session, flags.household_id)


# ------------------------------------------------------------------------------------------ alarms


def _step(transition: Any, status: str) -> AlarmStatus:
    try:
        result: AlarmStatus = transition(AlarmStatus(status))
    except rules.InvalidTransition as exc:
        raise InvalidState(exc.detail, code=exc.code) from None
    return result


def alarm_scope(row: Any) -> Scope:
    return Scope(row.district_id, row.street_id, row.community_id, row.household_id)


def alarm_query(
    principal: Principal,
    *,
    status: str | None = None,
    severity: str | None = None,
    community_id: str | None = None,
    alarm_type: str | None = None,
) -> repo.AlarmQuery:
    """What a caller asked for, narrowed to what they may list: the narrowest claim of their token."""
    from renovation_common.auth import Role

    wanted = {"status": status, "severity": severity, "community_id": community_id, "alarm_type": alarm_type}
    if principal.role is Role.RESIDENT:
        if principal.household_id is None:
            raise BadRequest("your token has no household", code="out_of_scope", status=403)
        return repo.AlarmQuery(household_id=principal.household_id, **wanted)
    if not (principal.community_id or principal.street_id or principal.district_id):
        raise BadRequest("your token has no scope", code="out_of_scope", status=403)
    return repo.AlarmQuery(
        scope_community_id=principal.community_id,
        scope_street_id=principal.street_id,
        scope_district_id=principal.district_id,
        **wanted,
    )


async def acknowledge_alarm(
    uow: UnitOfWork, alarm_id: uuid.UUID, principal: Principal, *, now: datetime, source: str
) -> Any:
    async with uow:
        row = await repo.get_alarm(uow.session, alarm_id, for_update=True)
        if row is None:
            raise NotFound("no such alarm", code="alarm_not_found")
        principal.ensure_covers(alarm_scope(row), "alarm")
        status = _step(rules.acknowledge, row.status)
        await repo.update_alarm(
            uow.session, alarm_id, status=status.value, acknowledged_by=principal.sub, acknowledged_at=now,
            escalate_at=None,
        )  # fmt: skip
        uow.publish(
            new_event(
                AlarmAcknowledged(
                    alarm_id=str(alarm_id),
                    community_id=row.community_id,
                    district_id=row.district_id,
                    acknowledged_by=principal.sub,
                    acknowledged_at=now,
                ),
                source=source,
                subject=str(alarm_id),
                time=now,
            )
        )
        updated = await repo.get_alarm(uow.session, alarm_id)
        await uow.commit()
    return updated


async def clear_alarm(uow: UnitOfWork, alarm_id: uuid.UUID, principal: Principal, *, now: datetime, source: str) -> Any:
    async with uow:
        row = await repo.get_alarm(uow.session, alarm_id, for_update=True)
        if row is None:
            raise NotFound("no such alarm", code="alarm_not_found")
        principal.ensure_covers(alarm_scope(row), "alarm")
        status = _step(rules.clear, row.status)
        await repo.update_alarm(
            uow.session, alarm_id, status=status.value, cleared_by=principal.sub, cleared_at=now, escalate_at=None
        )
        uow.publish(
            new_event(
                AlarmCleared(
                    alarm_id=str(alarm_id),
                    community_id=row.community_id,
                    district_id=row.district_id,
                    cleared_by=principal.sub,
                    cleared_at=now,
                ),
                source=source,
                subject=str(alarm_id),
                time=now,
            )
        )
        updated = await repo.get_alarm(uow.session, alarm_id)
        await uow.commit()
    return updated


# ------------------------------------------------------------------------------------------ settings, parking


async def put_rule_settings(
    uow: UnitOfWork, community_id: str, settings: RuleSettings, principal: Principal, *, now: datetime
) -> RuleSettings:
    async with uow:
        scope = await repo.community_scope(uow.session, community_id)
        if scope is None:
            raise NotFound("the community is not registered", code="community_unknown")
        principal.ensure_covers(Scope(scope[0], scope[1], community_id), "community")
        await repo.put_settings(uow.session, community_id, settings, principal.sub, now)
        await uow.commit()
    return settings


async def community_checked(session: AsyncSession, community_id: str, principal: Principal) -> None:
    scope = await repo.community_scope(session, community_id)
    if scope is None:
        raise NotFound("the community is not registered", code="community_unknown")
    principal.ensure_covers(Scope(scope[0], scope[1], community_id), "community")


# ------------------------------------------------------------------------------------------ timers (worker)


@dataclass
class ScanResult:
    welfare_alarms: int = 0
    offline: int = 0
    escalated: int = 0


async def scan_deadlines(uow_factory: Any, *, now: datetime, source: str, limit: int = 200) -> ScanResult:
    """Fire due welfare deadlines, mark silent devices offline, escalate unacknowledged critical alarms.

    Each step is one transaction; rows are claimed with ``FOR UPDATE SKIP LOCKED`` and marked in the same
    transaction, so every deadline fires once across restarts and replicas.
    """
    result = ScanResult()
    uow: UnitOfWork = uow_factory()
    async with uow:
        timers = await repo.due_welfare_timers(uow.session, now, limit)
        homes = await repo.households_by_id(uow.session, [t.household_id for t in timers])
        scopes = {}
        for timer in timers:
            await repo.mark_timer_fired(uow.session, timer.household_id, now)
            home = homes.get(timer.household_id)
            if home is None or not home.elderly_living_alone:
                continue
            if timer.community_id not in scopes:
                scopes[timer.community_id] = await repo.community_scope(uow.session, timer.community_id)
            scope = scopes[timer.community_id]
            settings = (await repo.settings_for(uow.session, [timer.community_id]))[timer.community_id]
            if not rules.welfare_check_due(timer.due_at, False, now) or not settings.welfare_check_enabled:
                continue
            upserted = await raise_alarm(
                uow,
                rules.welfare_alarm(home, timer.due_at, timer.door_opened_at),
                community_id=timer.community_id,
                district_id=scope[0] if scope else None,
                street_id=scope[1] if scope else None,
                source=source,
                now=now,
            )
            result.welfare_alarms += int(upserted.inserted)
        await uow.commit()

    uow = uow_factory()
    async with uow:
        silent = await repo.silent_devices(uow.session, now, limit)
        settings_by = await repo.settings_for(uow.session, {r.device.community_id for r in silent})
        for record in silent:
            d = record.device
            last = record.last_seen_at or record.created_at
            if not rules.is_offline(last, d.heartbeat_interval_s, settings_by[d.community_id], now):
                continue
            await repo.mark_offline(uow.session, d.id)
            await raise_alarm(
                uow,
                rules.offline_alarm(d, now),
                community_id=d.community_id,
                district_id=d.district_id,
                street_id=record.street_id,
                source=source,
                now=now,
            )
            uow.publish(
                new_event(
                    DeviceOffline(
                        device_id=d.id,
                        community_id=d.community_id,
                        district_id=d.district_id,
                        kind=d.kind.value,
                        last_seen_at=record.last_seen_at,
                    ),
                    source=source,
                    subject=d.id,
                    time=now,
                )
            )
            result.offline += 1
        await uow.commit()

    uow = uow_factory()
    async with uow:
        due = await repo.due_escalations(uow.session, now, limit)
        settings_by = await repo.settings_for(uow.session, {r.community_id for r in due})
        for row in due:
            step = rules.next_escalation(
                severity=Severity(row.severity),
                status=AlarmStatus(row.status),
                level=row.escalation_level,
                escalate_at=row.escalate_at,
                now=now,
                settings=settings_by[row.community_id],
            )
            if step is None:
                await repo.update_alarm(uow.session, row.id, escalate_at=None)
                continue
            level, following = step
            await repo.update_alarm(uow.session, row.id, escalation_level=level, escalate_at=following)
            uow.publish(
                new_event(
                    AlarmEscalated(
                        alarm_id=str(row.id),
                        community_id=row.community_id,
                        district_id=row.district_id,
                        severity=row.severity,
                        level=level,
                        escalated_at=now,
                    ),
                    source=source,
                    subject=str(row.id),
                    time=now,
                )
            )
            result.escalated += 1
        await uow.commit()
    return result


async def purge_expired(uow: UnitOfWork, *, now: datetime, retention: timedelta, chunk: int = 10_000) -> int:
    async with uow:
        deleted = await repo.purge_before(uow.session, now - retention, chunk)
        await uow.commit()
    return deleted
