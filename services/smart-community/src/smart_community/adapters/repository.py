"""SQL of the smart-community service (the only place it lives)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from renovation_common.db import upsert_newest
from smart_community.adapters.orm import (
    alarms,
    communities,
    device_events,
    device_rejects,
    devices,
    households,
    parking,
    rule_settings,
    welfare_timers,
)
from smart_community.domain.model import Device, DeviceKind, HouseholdFlags, Placement, RuleSettings
from smart_community.domain.rules import RaiseAlarm


@dataclass(frozen=True)
class DeviceRecord:
    device: Device
    street_id: str | None
    label: str
    created_at: datetime
    last_seen_at: datetime | None
    offline: bool
    credential_issued_at: datetime | None


def _device(row: Any) -> DeviceRecord:
    return DeviceRecord(
        device=Device(
            id=row.id,
            community_id=row.community_id,
            kind=DeviceKind(row.kind),
            placement=Placement(row.placement),
            heartbeat_interval_s=row.heartbeat_interval_s,
            district_id=row.district_id,
            building_id=row.building_id,
            household_id=row.household_id,
        ),
        street_id=row.street_id,
        label=row.label,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        offline=row.offline,
        credential_issued_at=row.credential_issued_at,
    )


# ------------------------------------------------------------------------------------------ read model


async def upsert_community(
    session: AsyncSession, community_id: str, district_id: str, street_id: str, *, version: int | None = None
) -> None:
    """The community's scope. ``version``: from a community event, kept unless the stored row is newer; ``None``:
    learnt from a household event, only written when the community is not known yet."""
    values = {"id": community_id, "district_id": district_id, "street_id": street_id}
    if version is None:
        await session.execute(pg_insert(communities).values(**values).on_conflict_do_nothing())
        return
    await upsert_newest(session, communities, "id", {**values, "source_version": version})


async def upsert_household(
    session: AsyncSession, flags: HouseholdFlags, district_id: str, *, version: int = 0
) -> tuple[bool, bool | None]:
    """Write the flags unless the stored row is newer; return (written, the previous ``elderly_living_alone`` —
    ``None`` when the household is new)."""
    previous = await session.scalar(
        sa.select(households.c.elderly_living_alone).where(households.c.id == flags.household_id).with_for_update()
    )
    written = await upsert_newest(
        session,
        households,
        "id",
        {
            "id": flags.household_id,
            "community_id": flags.community_id,
            "district_id": district_id,
            "building_id": flags.building_id,
            "elderly_living_alone": flags.elderly_living_alone,
            "needs_accompaniment": flags.needs_accompaniment,
            "source_version": version,
        },
    )
    return written, previous


async def community_scope(session: AsyncSession, community_id: str) -> tuple[str, str] | None:
    row = (
        await session.execute(
            sa.select(communities.c.district_id, communities.c.street_id).where(communities.c.id == community_id)
        )
    ).first()
    return (row.district_id, row.street_id) if row else None


def _flags(row: Any) -> HouseholdFlags:
    return HouseholdFlags(
        household_id=row.id,
        community_id=row.community_id,
        building_id=row.building_id,
        elderly_living_alone=row.elderly_living_alone,
        needs_accompaniment=row.needs_accompaniment,
    )


async def households_by_id(session: AsyncSession, ids: Iterable[str]) -> dict[str, HouseholdFlags]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await session.execute(sa.select(households).where(households.c.id.in_(wanted)))
    return {r.id: _flags(r) for r in rows}


# ------------------------------------------------------------------------------------------ devices


async def insert_device(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(sa.insert(devices).values(**values))


async def get_device(session: AsyncSession, device_id: str, *, for_update: bool = False) -> DeviceRecord | None:
    stmt = sa.select(devices).where(devices.c.id == device_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    return _device(row) if row else None


async def devices_by_id(session: AsyncSession, ids: Iterable[str]) -> dict[str, DeviceRecord]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await session.execute(sa.select(devices).where(devices.c.id.in_(wanted)))
    return {r.id: _device(r) for r in rows}


async def set_credential(session: AsyncSession, device_id: str, password_hash: str, at: datetime) -> None:
    await session.execute(
        sa.update(devices)
        .where(devices.c.id == device_id)
        .values(credential_hash=password_hash, credential_issued_at=at)
    )


async def device_credential(session: AsyncSession, device_id: str) -> tuple[str, str | None] | None:
    """(community id, bcrypt hash or ``None``) of a device, or ``None`` when there is no such device."""
    row = (
        await session.execute(
            sa.select(devices.c.community_id, devices.c.credential_hash).where(devices.c.id == device_id)
        )
    ).first()
    return (row.community_id, row.credential_hash) if row else None


async def credential_hashes(session: AsyncSession, device_ids: Sequence[str]) -> dict[str, str | None]:
    """Current bcrypt hash (``None``: revoked or never issued) of each of these devices that exists."""
    if not device_ids:
        return {}
    rows = await session.execute(
        sa.select(devices.c.id, devices.c.credential_hash).where(devices.c.id.in_(list(device_ids)))
    )
    return {r.id: r.credential_hash for r in rows}


async def credential_of(session: AsyncSession, device_id: str) -> tuple[str | None, datetime | None]:
    row = (
        await session.execute(
            sa.select(devices.c.credential_hash, devices.c.credential_issued_at).where(devices.c.id == device_id)
        )
    ).first()
    return (row.credential_hash, row.credential_issued_at) if row else (None, None)


async def clear_credential(session: AsyncSession, device_id: str) -> None:
    await session.execute(
        sa.update(devices).where(devices.c.id == device_id).values(credential_hash=None, credential_issued_at=None)
    )


async def restore_credential(
    session: AsyncSession,
    device_id: str,
    *,
    replaced_hash: str,
    previous_hash: str | None,
    previous_at: datetime | None,
) -> bool:
    """Put the previous credential back, only while ``replaced_hash`` is still the current one (compare and set)."""
    result = await session.execute(
        sa.update(devices)
        .where(devices.c.id == device_id, devices.c.credential_hash == replaced_hash)
        .values(credential_hash=previous_hash, credential_issued_at=previous_at)
    )
    return bool(getattr(result, "rowcount", 0))


async def touch_devices(session: AsyncSession, last_seen: dict[str, datetime]) -> None:
    """Record when devices were last heard of (ordered by id so concurrent batches lock in the same order)."""
    if not last_seen:
        return
    ids = sorted(last_seen)
    await session.execute(
        sa.text(
            "update devices d set last_seen_at = greatest(coalesce(d.last_seen_at, v.t), v.t), offline = false"
            " from unnest(cast(:ids as text[]), cast(:ts as timestamptz[])) as v(id, t) where d.id = v.id"
        ),
        {"ids": ids, "ts": [last_seen[i] for i in ids]},
    )


# ------------------------------------------------------------------------------------------ device events

_STAGE_COLUMNS = (
    "ord",
    "device_id",
    "community_id",
    "event_type",
    "device_time",
    "received_at",
    "readings",
    "source",
    "stream_seq",
    "client_event_id",
)


@dataclass(frozen=True)
class EventRow:
    device_id: str
    community_id: str
    event_type: str
    device_time: datetime
    received_at: datetime
    readings: dict[str, Any]
    source: str
    stream_seq: int | None
    client_event_id: str | None = None


async def _raw_connection(session: AsyncSession) -> Any:
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection


async def bulk_insert_events(session: AsyncSession, rows: Sequence[EventRow]) -> list[bool]:
    """COPY the rows into a staging table, then insert those not seen before (JetStream redelivery by stream
    sequence; a gateway's resent batch by its client event ids).

    Returns, for each row, whether it is new. Runs in the session's transaction.
    """
    if not rows:
        return []
    pg = await _raw_connection(session)
    await pg.execute(
        "create temp table if not exists device_events_stage ("
        " ord integer, device_id text, community_id text, event_type text, device_time timestamptz,"
        " received_at timestamptz, readings text, source text, stream_seq bigint, client_event_id text)"
        " on commit delete rows"
    )
    await pg.copy_records_to_table(
        "device_events_stage",
        records=[
            (
                i,
                r.device_id,
                r.community_id,
                r.event_type,
                r.device_time,
                r.received_at,
                json.dumps(r.readings, separators=(",", ":")),
                r.source,
                r.stream_seq,
                r.client_event_id,
            )
            for i, r in enumerate(rows)
        ],
        columns=list(_STAGE_COLUMNS),
    )
    inserted = await pg.fetch(
        "insert into device_events (device_id, community_id, event_type, device_time, received_at, readings,"
        " source, stream_seq, client_event_id)"
        " select device_id, community_id, event_type, device_time, received_at, readings::jsonb, source, stream_seq,"
        " client_event_id from device_events_stage order by ord"
        " on conflict do nothing"  # either unique index: the stream sequence or (device, client event id)
        " returning stream_seq, device_id, client_event_id"
    )
    await pg.execute("truncate device_events_stage")
    new_seqs = {r["stream_seq"] for r in inserted if r["stream_seq"] is not None}
    new_client_ids = {(r["device_id"], r["client_event_id"]) for r in inserted if r["client_event_id"] is not None}

    def is_new(r: EventRow) -> bool:
        if r.stream_seq is not None:
            return r.stream_seq in new_seqs
        if r.client_event_id is not None:
            return (r.device_id, r.client_event_id) in new_client_ids
        return True

    return [is_new(r) for r in rows]


async def insert_rejects(session: AsyncSession, rejects: Sequence[dict[str, Any]]) -> None:
    if rejects:
        await session.execute(
            pg_insert(device_rejects).on_conflict_do_nothing(
                index_elements=[device_rejects.c.stream_seq], index_where=sa.text("stream_seq is not null")
            ),
            list(rejects),
        )


async def events_of_device(
    session: AsyncSession,
    device_id: str,
    start: datetime,
    end: datetime,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[Any]:
    t = device_events
    stmt = (
        sa.select(t)
        .where(t.c.device_id == device_id, t.c.device_time >= start, t.c.device_time < end)
        .order_by(t.c.device_time, t.c.id)
        .limit(limit + 1)
    )
    if after is not None:
        stmt = stmt.where(sa.tuple_(t.c.device_time, t.c.id) > sa.tuple_(sa.literal(after[0]), sa.literal(after[1])))
    return list((await session.execute(stmt)).all())


async def purge_before(session: AsyncSession, cutoff: datetime, chunk: int) -> int:
    """Delete up to ``chunk`` events and rejects received before ``cutoff``; return how many went."""
    total = 0
    for table in (device_events, device_rejects):
        ids = sa.select(table.c.id).where(table.c.received_at < cutoff).limit(chunk).scalar_subquery()
        result = await session.execute(sa.delete(table).where(table.c.id.in_(ids)))
        total += int(getattr(result, "rowcount", 0) or 0)
    return total


# ------------------------------------------------------------------------------------------ rules and alarms


def _settings(row: Any) -> RuleSettings:
    return RuleSettings(
        gas_smoke_enabled=row.gas_smoke_enabled,
        welfare_check_enabled=row.welfare_check_enabled,
        welfare_check_window=timedelta(hours=float(row.welfare_check_hours)),
        accompaniment_enabled=row.accompaniment_enabled,
        offline_enabled=row.offline_enabled,
        offline_grace_factor=float(row.offline_grace_factor),
        water_leak_enabled=row.water_leak_enabled,
        escalation_after=timedelta(minutes=row.escalation_minutes),
        max_escalation_level=row.max_escalation_level,
        parking_capacity=row.parking_capacity,
    )


async def settings_for(session: AsyncSession, community_ids: Iterable[str]) -> dict[str, RuleSettings]:
    wanted = sorted(set(community_ids))
    found: dict[str, RuleSettings] = {}
    if wanted:
        rows = await session.execute(sa.select(rule_settings).where(rule_settings.c.community_id.in_(wanted)))
        found = {r.community_id: _settings(r) for r in rows}
    return {c: found.get(c, RuleSettings()) for c in wanted}


async def put_settings(session: AsyncSession, community_id: str, s: RuleSettings, by: str, at: datetime) -> None:
    values = {
        "gas_smoke_enabled": s.gas_smoke_enabled,
        "welfare_check_enabled": s.welfare_check_enabled,
        "welfare_check_hours": Decimal(str(round(s.welfare_check_window.total_seconds() / 3600, 2))),
        "accompaniment_enabled": s.accompaniment_enabled,
        "offline_enabled": s.offline_enabled,
        "offline_grace_factor": Decimal(str(round(s.offline_grace_factor, 2))),
        "water_leak_enabled": s.water_leak_enabled,
        "escalation_minutes": int(s.escalation_after.total_seconds() // 60),
        "max_escalation_level": s.max_escalation_level,
        "parking_capacity": s.parking_capacity,
        "updated_by": by,
        "updated_at": at,
    }
    stmt = pg_insert(rule_settings).values(community_id=community_id, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=[rule_settings.c.community_id], set_=values))


@dataclass(frozen=True)
class UpsertedAlarm:
    id: uuid.UUID
    inserted: bool
    occurrences: int


async def upsert_alarm(
    session: AsyncSession,
    raise_: RaiseAlarm,
    *,
    community_id: str,
    district_id: str | None,
    street_id: str | None,
    new_id: uuid.UUID,
) -> UpsertedAlarm:
    """Open an alarm, or count a repeat on the open one (the partial unique index decides, not Python)."""
    stmt = pg_insert(alarms).values(
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
    stmt = stmt.on_conflict_do_update(
        index_elements=[alarms.c.dedup_key, alarms.c.alarm_type],
        # a literal predicate: with a bound parameter Postgres cannot match the partial index once it switches to a
        # generic plan (after five executions of the prepared statement)
        index_where=sa.text("status <> 'cleared'"),
        set_={
            "occurrences": alarms.c.occurrences + 1,
            "last_occurred_at": sa.func.greatest(alarms.c.last_occurred_at, stmt.excluded.last_occurred_at),
        },
    ).returning(alarms.c.id, alarms.c.occurrences, sa.literal_column("(xmax = 0)").label("inserted"))
    row = (await session.execute(stmt)).one()
    return UpsertedAlarm(row.id, bool(row.inserted), row.occurrences)


async def get_alarm(session: AsyncSession, alarm_id: uuid.UUID, *, for_update: bool = False) -> Any:
    stmt = sa.select(alarms).where(alarms.c.id == alarm_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).first()


async def update_alarm(session: AsyncSession, alarm_id: uuid.UUID, **values: Any) -> None:
    await session.execute(sa.update(alarms).where(alarms.c.id == alarm_id).values(**values))


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


async def list_alarms(
    session: AsyncSession,
    query: AlarmQuery,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Any]:
    stmt = (
        sa.select(alarms).where(*query.where()).order_by(alarms.c.raised_at.desc(), alarms.c.id.desc()).limit(limit + 1)
    )
    if after is not None:
        stmt = stmt.where(
            sa.tuple_(alarms.c.raised_at, alarms.c.id) < sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
        )
    return list((await session.execute(stmt)).all())


async def due_escalations(session: AsyncSession, now: datetime, limit: int) -> list[Any]:
    return list(
        (
            await session.execute(
                sa.select(alarms)
                .where(alarms.c.status == "active", alarms.c.escalate_at <= now)
                .order_by(alarms.c.escalate_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )


# ------------------------------------------------------------------------------------------ timers


async def arm_welfare_timer(
    session: AsyncSession, household_id: str, community_id: str, door_opened_at: datetime | None, due_at: datetime
) -> None:
    """A newer door opening sets the deadline (and re-arms a fired timer); an older one arriving late is ignored."""
    t = welfare_timers
    stmt = pg_insert(t).values(
        household_id=household_id, community_id=community_id, door_opened_at=door_opened_at, due_at=due_at
    )
    later = sa.or_(t.c.door_opened_at.is_(None), stmt.excluded.door_opened_at > t.c.door_opened_at)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[t.c.household_id],
            set_={
                "due_at": sa.case((later, stmt.excluded.due_at), else_=t.c.due_at),
                "door_opened_at": sa.func.greatest(t.c.door_opened_at, stmt.excluded.door_opened_at),
                "fired_at": sa.case((later, sa.null()), else_=t.c.fired_at),
            },
        )
    )


async def arm_welfare_timer_if_absent(
    session: AsyncSession, household_id: str, community_id: str, due_at: datetime
) -> None:
    await session.execute(
        pg_insert(welfare_timers)
        .values(household_id=household_id, community_id=community_id, due_at=due_at)
        .on_conflict_do_nothing()
    )


async def drop_welfare_timer(session: AsyncSession, household_id: str) -> None:
    await session.execute(sa.delete(welfare_timers).where(welfare_timers.c.household_id == household_id))


async def due_welfare_timers(session: AsyncSession, now: datetime, limit: int) -> list[Any]:
    t = welfare_timers
    return list(
        (
            await session.execute(
                sa.select(t)
                .where(t.c.fired_at.is_(None), t.c.due_at <= now)
                .order_by(t.c.due_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )


async def mark_timer_fired(session: AsyncSession, household_id: str, now: datetime) -> None:
    await session.execute(
        sa.update(welfare_timers).where(welfare_timers.c.household_id == household_id).values(fired_at=now)
    )


async def silent_devices(session: AsyncSession, now: datetime, limit: int) -> list[DeviceRecord]:
    """Devices past heartbeat × grace (community setting or the default) that are not yet marked offline."""
    d, rs = devices, rule_settings
    grace = sa.func.coalesce(rs.c.offline_grace_factor, 1.5)
    enabled = sa.func.coalesce(rs.c.offline_enabled, sa.true())
    base = sa.func.coalesce(d.c.last_seen_at, d.c.created_at)
    deadline = base + sa.func.make_interval(0, 0, 0, 0, 0, 0, d.c.heartbeat_interval_s * grace)
    rows = await session.execute(
        sa.select(d)
        .select_from(d.outerjoin(rs, rs.c.community_id == d.c.community_id))
        .where(d.c.offline.is_(False), enabled, deadline < now)
        .order_by(d.c.id)
        .limit(limit)
        .with_for_update(of=d, skip_locked=True)
    )
    return [_device(r) for r in rows]


async def mark_offline(session: AsyncSession, device_id: str) -> None:
    await session.execute(sa.update(devices).where(devices.c.id == device_id).values(offline=True))


# ------------------------------------------------------------------------------------------ parking


async def add_parking(
    session: AsyncSession, community_id: str, delta: int, entries: int, exits: int, at: datetime
) -> None:
    p = parking
    stmt = pg_insert(p).values(
        community_id=community_id, occupied=max(0, delta), entries=entries, exits=exits, updated_at=at
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[p.c.community_id],
            set_={
                "occupied": sa.func.greatest(0, p.c.occupied + delta),
                "entries": p.c.entries + entries,
                "exits": p.c.exits + exits,
                "updated_at": at,
            },
        )
    )


async def get_parking(session: AsyncSession, community_id: str) -> Any:
    return (await session.execute(sa.select(parking).where(parking.c.community_id == community_id))).first()
