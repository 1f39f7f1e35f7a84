"""Alarms: one open alarm per (dedup key, type), enforced by the partial unique index ``uq_alarms_open_per_key``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from smart_community.adapters.orm import alarms
from smart_community.domain.model import AlarmRecord
from smart_community.domain.rules import RaiseAlarm

_RECORD_FIELDS = tuple(f for f in AlarmRecord.__dataclass_fields__ if f in alarms.c)


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
    ) -> UpsertedAlarm:
        """Open an alarm, or count a repeat on the open one (the partial unique index decides, not Python)."""
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
            },
        ).returning(alarms.c.id, alarms.c.occurrences, sa.literal_column("(xmax = 0)").label("inserted"))
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
