"""What time alone decides (the ``deadline-scanner`` and ``device-event-retention`` periodic jobs): due welfare
deadlines, silent devices, unacknowledged critical alarms to escalate, alarms whose sensor has reported normal long
enough to clear themselves, and the retention purge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from renovation_common.contracts.smart_community import AlarmEscalated
from renovation_common.db import UnitOfWork, UowFactory
from renovation_common.events import new_event
from smart_community.adapters.repositories import (
    AlarmRepository,
    CommunityRepository,
    DeviceEventRepository,
    DeviceRepository,
    HouseholdRepository,
    RuleSettingsRepository,
    WelfareTimerRepository,
)
from smart_community.domain import rules
from smart_community.domain.model import AlarmStatus, AlarmType, Severity
from smart_community.service_layer.alarms import CLEAR, raise_alarm, take_step
from smart_community.service_layer.devices import announce_liveness


@dataclass
class ScanResult:
    welfare_alarms: int = 0
    offline: int = 0
    escalated: int = 0
    auto_cleared: int = 0


async def scan_deadlines(uow_factory: UowFactory, *, now: datetime, source: str, limit: int = 200) -> ScanResult:
    """Fire due welfare deadlines, mark silent devices offline, escalate unacknowledged critical alarms, clear
    alarms whose sensor has reported normal for its kind's quiet time.

    Each step is one transaction; rows are claimed with ``FOR UPDATE SKIP LOCKED`` and marked in the same
    transaction, so every deadline fires once across restarts and replicas.
    """
    result = ScanResult()
    result.welfare_alarms = await _fire_welfare_deadlines(uow_factory(), now=now, source=source, limit=limit)
    result.offline = await _mark_silent_devices(uow_factory(), now=now, source=source, limit=limit)
    result.escalated = await _escalate(uow_factory(), now=now, source=source, limit=limit)
    result.auto_cleared = await _auto_clear(uow_factory(), now=now, source=source, limit=limit)
    return result


async def _fire_welfare_deadlines(uow: UnitOfWork, *, now: datetime, source: str, limit: int) -> int:
    raised = 0
    async with uow:
        timers = WelfareTimerRepository(uow.session)
        due = await timers.claim_due(now, limit)
        homes = await HouseholdRepository(uow.session).by_ids([t.household_id for t in due])
        settings_by = await RuleSettingsRepository(uow.session).for_communities({t.community_id for t in due})
        scopes: dict[str, tuple[str, str] | None] = {}
        for timer in due:
            await timers.mark_fired(timer.household_id, now)
            home = homes.get(timer.household_id)
            if home is None or not home.elderly_living_alone:
                continue
            if timer.community_id not in scopes:
                scopes[timer.community_id] = await CommunityRepository(uow.session).scope(timer.community_id)
            scope = scopes[timer.community_id]
            settings = settings_by[timer.community_id]
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
            raised += int(upserted.inserted)
        await uow.commit()
    return raised


async def _mark_silent_devices(uow: UnitOfWork, *, now: datetime, source: str, limit: int) -> int:
    offline = 0
    async with uow:
        repo = DeviceRepository(uow.session)
        silent = await repo.silent(now, limit)
        settings_by = await RuleSettingsRepository(uow.session).for_communities({r.device.community_id for r in silent})
        for record in silent:
            d = record.device
            last = record.last_seen_at or record.created_at
            if not rules.is_offline(last, d.heartbeat_interval_s, settings_by[d.community_id], now):
                continue
            await repo.mark_offline(d.id)
            await raise_alarm(
                uow,
                rules.offline_alarm(d, now),
                community_id=d.community_id,
                district_id=d.district_id,
                street_id=record.street_id,
                source=source,
                now=now,
            )
            announce_liveness(uow, d, online=False, seen_at=record.last_seen_at, source=source, now=now)
            offline += 1
        await uow.commit()
    return offline


async def _escalate(uow: UnitOfWork, *, now: datetime, source: str, limit: int) -> int:
    escalated = 0
    async with uow:
        repo = AlarmRepository(uow.session)
        due = await repo.claim_due_escalations(now, limit)
        settings_by = await RuleSettingsRepository(uow.session).for_communities({a.community_id for a in due})
        for alarm in due:
            step = rules.next_escalation(
                severity=Severity(alarm.severity),
                status=AlarmStatus(alarm.status),
                level=alarm.escalation_level,
                escalate_at=alarm.escalate_at,
                now=now,
                settings=settings_by[alarm.community_id],
            )
            if step is None:
                await repo.update(alarm.id, escalate_at=None)
                continue
            level, following = step
            await repo.update(alarm.id, escalation_level=level, escalate_at=following)
            uow.publish(
                new_event(
                    AlarmEscalated(
                        alarm_id=str(alarm.id),
                        community_id=alarm.community_id,
                        district_id=alarm.district_id,
                        street_id=alarm.street_id,
                        alarm_type=alarm.alarm_type,
                        severity=alarm.severity,
                        level=level,
                        escalated_at=now,
                    ),
                    source=source,
                    subject=str(alarm.id),
                    time=now,
                )
            )
            escalated += 1
        await uow.commit()
    return escalated


async def _auto_clear(uow: UnitOfWork, *, now: datetime, source: str, limit: int) -> int:
    cleared = 0
    async with uow:
        due = await AlarmRepository(uow.session).claim_due_auto_clears(now, limit)
        settings_by = await RuleSettingsRepository(uow.session).for_communities({a.community_id for a in due})
        for alarm in due:
            quiet = rules.auto_clear_due(
                AlarmType(alarm.alarm_type),
                AlarmStatus(alarm.status),
                alarm.normal_since,
                settings_by[alarm.community_id],
                now,
            )
            if quiet is None:
                continue
            await take_step(uow, alarm, CLEAR, by=rules.auto_cleared_by(quiet), now=now, source=source)
            cleared += 1
        await uow.commit()
    return cleared


async def purge_expired(uow: UnitOfWork, *, now: datetime, retention: timedelta, chunk: int = 10_000) -> int:
    """Delete one chunk of events and rejects older than ``retention``; return how many went."""
    async with uow:
        deleted = await DeviceEventRepository(uow.session).purge_before(now - retention, chunk)
        await uow.commit()
    return deleted
