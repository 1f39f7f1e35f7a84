"""Alarms: one open alarm per (dedup key, type), enforced by the partial unique index ``uq_alarms_open_per_key``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from smart_community.adapters.orm import alarm_transitions, alarms, rule_settings
from smart_community.domain.model import AlarmRecord, RuleSettings
from smart_community.domain.rules import RaiseAlarm

_RECORD_FIELDS = tuple(f for f in AlarmRecord.__dataclass_fields__ if f in alarms.c)


def _seconds(quiet: timedelta | None) -> int:
    return int(quiet.total_seconds()) if quiet is not None else 0


def _record(row: Any) -> AlarmRecord:
    m = row._mapping
    return AlarmRecord(**{f: m[f] for f in _RECORD_FIELDS})


@dataclass(frozen=True)
class UpsertedAlarm:
    id: uuid.UUID
    inserted: bool
    occurrences: int


@dataclass(frozen=True)
class AlarmQuery:
    """Filters of an alarm listing: the caller's scope plus what they asked for (plain values; SQL is built here)."""

    household_id: str | None = None
    scope_community_id: str | None = None
    scope_street_id: str | None = None
    scope_district_id: str | None = None
    status: str | None = None  # active | acknowledged | cleared | open (= not cleared)
    severity: str | None = None
    community_id: str | None = None
    alarm_type: str | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        c = alarms.c
        equal = {
            c.household_id: self.household_id,
            c.community_id: self.scope_community_id,
            c.street_id: self.scope_street_id,
            c.district_id: self.scope_district_id,
            c.severity: self.severity,
            c.alarm_type: self.alarm_type,
        }
        filters = [column == value for column, value in equal.items() if value is not None]
        if self.community_id is not None:
            filters.append(c.community_id == self.community_id)
        if self.status == "open":
            filters.append(c.status != "cleared")
        elif self.status is not None:
            filters.append(c.status == self.status)
        return filters


class AlarmRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open_or_repeat(
        self,
        raise_: RaiseAlarm,
        *,
        community_id: str,
        district_id: str | None,
        street_id: str | None,
        new_id: uuid.UUID,
        announce: Callable[[sa.FromClause, sa.ColumnElement[bool]], sa.Insert] | None = None,
    ) -> UpsertedAlarm:
        """Open an alarm, or count a repeat on the open one (the partial unique index decides, not Python).

        ``announce(source, opened)``: the outbox INSERT of the events of a newly opened alarm
        (``UnitOfWork.events_if``), run in the same statement, writing only if this statement opened it."""
        insert = pg_insert(alarms).values(
            id=new_id,
            community_id=community_id,
            district_id=district_id,
            street_id=street_id,
            device_id=raise_.device_id,
            household_id=raise_.household_id,
            building_id=raise_.building_id,
            alarm_type=raise_.alarm_type.value,
            dedup_key=raise_.dedup_key,
            severity=raise_.severity.value,
            status="active",
            occurrences=1,
            raised_at=raise_.raised_at,
            last_occurred_at=raise_.raised_at,
            escalate_at=raise_.escalate_at,
            details=raise_.details,
        )
        stmt = insert.on_conflict_do_update(
            index_elements=[alarms.c.dedup_key, alarms.c.alarm_type],
            # a literal predicate: with a bound parameter Postgres cannot match the partial index once it switches
            # to a generic plan (after five executions of the prepared statement)
            index_where=sa.text("status <> 'cleared'"),
            set_={
                "occurrences": alarms.c.occurrences + 1,
                "last_occurred_at": sa.func.greatest(alarms.c.last_occurred_at, insert.excluded.last_occurred_at),
                # the sensor alarms again: its quiet time starts over (a late repeat older than the normal report
                # leaves it)
                "normal_since": sa.case(
                    (insert.excluded.last_occurred_at >= alarms.c.normal_since, sa.null()),
                    else_=alarms.c.normal_since,
                ),
            },
        ).returning(alarms.c.id, alarms.c.occurrences, sa.literal_column("(xmax = 0)").label("inserted"))
        if announce is not None:
            upserted = stmt.cte("upserted")
            events = announce(upserted, upserted.c.inserted).cte("announced")
            query = sa.select(upserted.c.id, upserted.c.occurrences, upserted.c.inserted).add_cte(events)
            row = (await self.session.execute(query)).one()
        else:
            row = (await self.session.execute(stmt)).one()
        return UpsertedAlarm(row.id, bool(row.inserted), row.occurrences)

    async def get(self, alarm_id: uuid.UUID, *, for_update: bool = False) -> AlarmRecord | None:
        stmt = sa.select(alarms).where(alarms.c.id == alarm_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).first()
        return _record(row) if row else None

    async def update(self, alarm_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(sa.update(alarms).where(alarms.c.id == alarm_id).values(**values))

    async def find(self, query: AlarmQuery, after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[AlarmRecord]:
        """Up to ``limit + 1`` alarms, newest first, after the cursor key."""
        stmt = (
            sa.select(alarms)
            .where(*query.where())
            .order_by(alarms.c.raised_at.desc(), alarms.c.id.desc())
            .limit(limit + 1)
        )
        if after is not None:
            stmt = stmt.where(
                sa.tuple_(alarms.c.raised_at, alarms.c.id) < sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
            )
        return [_record(r) for r in await self.session.execute(stmt)]

    async def claim_due_escalations(self, now: datetime, limit: int) -> list[AlarmRecord]:
        rows = await self.session.execute(
            sa.select(alarms)
            .where(alarms.c.status == "active", alarms.c.escalate_at <= now)
            .order_by(alarms.c.escalate_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_record(r) for r in rows]

    async def open_of(self, dedup_key: str, alarm_type: str, *, for_update: bool = False) -> AlarmRecord | None:
        """The open (not cleared) alarm of this key and type, if any (at most one: ``uq_alarms_open_per_key``)."""
        stmt = sa.select(alarms).where(
            alarms.c.dedup_key == dedup_key, alarms.c.alarm_type == alarm_type, alarms.c.status != "cleared"
        )
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).first()
        return _record(row) if row else None

    async def mark_normal(self, dedup_key: str, alarm_type: str, since: datetime) -> None:
        """The sensor reports normal at ``since``: the open alarm's quiet time starts then, unless it started
        already or the alarm occurred again after it."""
        await self.session.execute(
            sa.update(alarms)
            .where(
                alarms.c.dedup_key == dedup_key,
                alarms.c.alarm_type == alarm_type,
                alarms.c.status != "cleared",
                alarms.c.normal_since.is_(None),
                alarms.c.last_occurred_at <= since,
            )
            .values(normal_since=since)
        )

    async def claim_due_auto_clears(self, now: datetime, limit: int) -> list[AlarmRecord]:
        """Open alarms whose sensor has reported normal for at least its kind's quiet time (the community's setting,
        or the default), locked ``FOR UPDATE SKIP LOCKED`` so each is cleared once across replicas."""
        a, rs = alarms, rule_settings
        defaults = RuleSettings()
        hold = sa.case(
            (a.c.alarm_type == "gas", sa.func.coalesce(rs.c.gas_auto_clear_s, _seconds(defaults.gas_auto_clear_after))),
            (
                a.c.alarm_type == "smoke",
                sa.func.coalesce(rs.c.smoke_auto_clear_s, _seconds(defaults.smoke_auto_clear_after)),
            ),
            (
                a.c.alarm_type == "water_leak",
                sa.func.coalesce(rs.c.water_leak_auto_clear_s, _seconds(defaults.water_leak_auto_clear_after)),
            ),
            else_=0,
        )
        rows = await self.session.execute(
            sa.select(a)
            .select_from(a.outerjoin(rs, rs.c.community_id == a.c.community_id))
            .where(
                a.c.normal_since.is_not(None),
                a.c.status != "cleared",
                hold > 0,
                a.c.normal_since + sa.func.make_interval(0, 0, 0, 0, 0, 0, hold) <= now,
            )
            .order_by(a.c.normal_since)
            .limit(limit)
            .with_for_update(of=a, skip_locked=True)
        )
        return [_record(r) for r in rows]

    async def add_transition(
        self, alarm_id: uuid.UUID, from_status: str, to_status: str, by: str, at: datetime
    ) -> None:
        await self.session.execute(
            sa.insert(alarm_transitions).values(
                alarm_id=alarm_id, from_status=from_status, to_status=to_status, by=by, at=at
            )
        )
