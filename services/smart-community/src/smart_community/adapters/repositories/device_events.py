"""Device events (append-only, bulk-loaded by the ingestor) and the rejects kept with their reason."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from smart_community.adapters.orm import device_events, device_rejects, devices
from smart_community.domain.model import DeviceEventRecord

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
# The staging table lives as long as its connection (a temp table; emptied at each commit): created at most once
# per connection, the batches after that only COPY into it (no DDL, no truncate per batch).
_STAGE_DDL = (
    "create temp table if not exists device_events_stage ("
    " ord integer, device_id text, community_id text, event_type text, device_time timestamptz,"
    " received_at timestamptz, readings text, source text, stream_seq bigint, client_event_id text)"
    " on commit delete rows"
)
_INSERT_COLUMNS = (
    "insert into device_events (device_id, community_id, event_type, device_time, received_at, readings,"
    " source, stream_seq, client_event_id)"
)
# After the insert, in the same statement: the devices heard from (new events only) get their last-seen time (never
# moved back) and are marked online, locked in id order (concurrent batches lock in the same order; of two batches
# hearing an offline device only the first sees it offline); those that were offline come back in the answer
# (``device.online`` and their offline alarm cleared by the caller, in the transaction).
_TOUCH = (
    " returning stream_seq, device_id, client_event_id, device_time, received_at),"
    " heard as (select device_id, max(least(device_time, received_at)) as t from new group by device_id),"
    " locked as (select d.id, d.offline from devices d join heard h on h.device_id = d.id order by d.id"
    " for update of d),"
    " touched as (update devices d set last_seen_at = greatest(coalesce(d.last_seen_at, h.t), h.t), offline = false"
    " from locked l join heard h on h.device_id = l.id where d.id = l.id returning d.id, l.offline as was_offline)"
    " select stream_seq, device_id, client_event_id, false as online_again from new"
    " union all select null, id, null, true from touched where was_offline"
)
_INSERT_NEW = (
    "with new as (" + _INSERT_COLUMNS + " select device_id, community_id, event_type, device_time, received_at,"
    " readings::jsonb, source, stream_seq, client_event_id from device_events_stage order by ord"
    " on conflict do nothing"  # either unique index: the stream sequence or (device, client event id)
     + _TOUCH
)

# A few rows (the alarm consumer's usual batch of one): the same insert from arrays, in one statement.
_SMALL_BATCH = 16
_INSERT_FEW = (
    "with new as (" + _INSERT_COLUMNS + " select d, c, e, t, r, j::jsonb, s, q, x from unnest($1::text[],"
    " $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[], $7::text[], $8::bigint[],"
    " $9::text[]) as v(d, c, e, t, r, j, s, q, x)"
    " on conflict do nothing" + _TOUCH
)


# asyncpg learns an array type's codec by introspecting the catalog (three round trips and a recursive query of
# ~20 ms) the first time a connection meets it. The telemetry path never sends arrays (COPY), so a pooled connection
# it warmed would still pay that on the first alarm it carries: each new connection learns them when it opens.
_ARRAY_TYPES = "select $1::text[], $2::varchar[], $3::timestamptz[], $4::bigint[]"


def learn_array_types(dbapi_connection: Any, _record: Any = None) -> None:
    """A pool ``connect`` listener: the array types of the ingestion's statements learnt by the new connection."""
    dbapi_connection.run_async(lambda pg: pg.prepare(_ARRAY_TYPES))


class Stored(NamedTuple):
    """What :meth:`DeviceEventRepository.add_new` did: for each row whether it is new, and the devices that were
    offline and are online again."""

    fresh: list[bool]
    online_again: list[str]


class EventRow(NamedTuple):
    """One event to store, in the staging table's column order after ``ord`` (a plain tuple: one per event, so
    it is kept as light as a COPY record; ``readings`` is already JSON text)."""

    device_id: str
    community_id: str
    event_type: str
    device_time: datetime
    received_at: datetime
    readings: str
    source: str
    stream_seq: int | None
    client_event_id: str | None = None


async def _raw_connection(session: AsyncSession) -> Any:
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    return raw.driver_connection


class DeviceEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_new(self, rows: Sequence[EventRow]) -> Stored:
        """Insert the rows not seen before (JetStream redelivery by stream sequence; a gateway's resent batch by
        its client event ids) — a few rows from arrays, more through a COPY into the connection's staging table —
        and, in the same statement, the last-seen times of their devices (see ``_TOUCH``).

        Returns, for each row, whether it is new, and the devices online again. Runs in the session's transaction.
        """
        if not rows:
            return Stored([], [])
        pg = await _raw_connection(self.session)
        if len(rows) <= _SMALL_BATCH:  # an alarm or two: one statement (no staging table, no COPY)
            answer = await pg.fetch(_INSERT_FEW, *map(list, zip(*rows, strict=True)))
        else:
            answer = await self._staged(pg, rows)
        inserted = [r for r in answer if not r["online_again"]]
        online_again = [r["device_id"] for r in answer if r["online_again"]]
        if len(inserted) == len(rows):  # the usual case: every row new
            return Stored([True] * len(rows), online_again)
        new_seqs = {r["stream_seq"] for r in inserted if r["stream_seq"] is not None}
        new_client_ids = {(r["device_id"], r["client_event_id"]) for r in inserted if r["client_event_id"] is not None}

        def is_new(r: EventRow) -> bool:
            if r.stream_seq is not None:
                return r.stream_seq in new_seqs
            if r.client_event_id is not None:
                return (r.device_id, r.client_event_id) in new_client_ids
            return True

        return Stored([is_new(r) for r in rows], online_again)

    async def _staged(self, pg: Any, rows: Sequence[EventRow]) -> list[Any]:
        # one round trip: the table exists from this connection's first batch on (the statement is then a no-op),
        # and is empty (emptied at commit; the delete covers a second call in one transaction)
        await pg.execute(_STAGE_DDL + "; delete from device_events_stage")
        await pg.copy_records_to_table(
            "device_events_stage",
            records=[(i, *r) for i, r in enumerate(rows)],
            columns=list(_STAGE_COLUMNS),
        )
        return list(await pg.fetch(_INSERT_NEW))

    async def add_rejects(self, rejects: Sequence[dict[str, Any]]) -> None:
        if rejects:
            await self.session.execute(
                pg_insert(device_rejects).on_conflict_do_nothing(
                    index_elements=[device_rejects.c.stream_seq], index_where=sa.text("stream_seq is not null")
                ),
                list(rejects),
            )

    async def rejects(self, scope: dict[str, str], after: int | None, limit: int) -> list[Any]:
        """A page of rejects of the devices whose columns equal ``scope``, newest first (rejects no registered device
        can be tied to belong to no scope and are not listed)."""
        d = devices.c
        stmt = (
            sa.select(device_rejects, d.community_id)
            .join(devices, d.id == device_rejects.c.device_id)
            .where(*(d[column] == value for column, value in scope.items()))
            .order_by(device_rejects.c.id.desc())
            .limit(limit)
        )
        if after is not None:
            stmt = stmt.where(device_rejects.c.id < after)
        return list((await self.session.execute(stmt)).all())

    async def of_device(
        self, device_id: str, start: datetime, end: datetime, after: tuple[datetime, int] | None, limit: int
    ) -> list[DeviceEventRecord]:
        """Up to ``limit + 1`` events of a device in [start, end), by device time then id, after the cursor key."""
        t = device_events
        stmt = (
            sa.select(t)
            .where(t.c.device_id == device_id, t.c.device_time >= start, t.c.device_time < end)
            .order_by(t.c.device_time, t.c.id)
            .limit(limit + 1)
        )
        if after is not None:
            stmt = stmt.where(
                sa.tuple_(t.c.device_time, t.c.id) > sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
            )
        return [
            DeviceEventRecord(
                id=r.id,
                device_id=r.device_id,
                community_id=r.community_id,
                event_type=r.event_type,
                device_time=r.device_time,
                received_at=r.received_at,
                readings=r.readings,
                source=r.source,
            )
            for r in await self.session.execute(stmt)
        ]

    async def purge_before(self, cutoff: datetime, chunk: int) -> int:
        """Delete up to ``chunk`` events and rejects received before ``cutoff``; return how many went."""
        total = 0
        for table in (device_events, device_rejects):
            ids = sa.select(table.c.id).where(table.c.received_at < cutoff).limit(chunk).scalar_subquery()
            result = await self.session.execute(sa.delete(table).where(table.c.id.in_(ids)))
            total += int(getattr(result, "rowcount", 0) or 0)
        return total
