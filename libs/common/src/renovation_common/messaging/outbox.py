"""The outbox relay: publishes a service's outbox rows to JetStream and marks them sent.

A use case writes its state change and its events in one transaction (``db.UnitOfWork``). Every replica runs a
relay; one batch at a time is published across replicas (each batch's transaction takes a transaction-level
advisory lock, safe behind PgBouncer in transaction mode), so the stream receives a service's events in outbox
order. Within a batch the publishes are pipelined (``publish_async``, every ack awaited before the rows are marked
sent). Each message carries ``Nats-Msg-Id`` = event id, so a row published twice (a crash between publish and mark,
or a failed ack) is dropped by JetStream's duplicate window.

Ordering guarantee: per service, events reach the stream in commit order of their aggregates' rows, except when a
publish fails and is retried after later ones — consumers therefore never rely on arrival order alone: events of
one aggregate carry a version and read models keep the newest.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import structlog
from nats.js import JetStreamContext
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from renovation_common import metrics
from renovation_common.db import InfrastructureTables
from renovation_common.workers import WorkLoop

log = structlog.get_logger("renovation.outbox")


RELAY_LOCK = 0x4F7574626F78  # "Outbox": one relay batch at a time per service database
MAX_LOCK_RETRIES = 5  # a relay that finds another one publishing looks again shortly (that one may have missed a row)


class OutboxRelay:
    """Publishes outbox rows to JetStream, oldest first, pipelined, and marks them sent."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        infra: InfrastructureTables,
        js: JetStreamContext,
        *,
        service: str,
        batch_size: int = 500,
        poll_interval_s: float = 0.5,
        ack_timeout_s: float = 10.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._outbox = infra.outbox
        self._js = js
        self.service = service
        self.batch_size = batch_size
        self.ack_timeout_s = ack_timeout_s
        self._busy_retries = 0
        self._loop = WorkLoop("outbox-relay", self._step, service=service, poll_interval_s=poll_interval_s)

    def wake(self) -> None:
        """Called after a commit that wrote events: publish now instead of at the next poll."""
        self._loop.wake()

    async def publish_batch(self) -> int:
        """Publish one batch of pending rows; return how many were sent (``-1``: another relay is publishing)."""
        t = self._outbox
        async with self._sessionmaker() as session, session.begin():
            if not await session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(RELAY_LOCK))):
                return -1
            rows = (
                await session.execute(
                    sa.select(t.c.seq, t.c.event_id, t.c.subject, t.c.payload, t.c.created_at)
                    .where(t.c.published_at.is_(None))
                    .order_by(t.c.seq)
                    .limit(self.batch_size)
                )
            ).all()
            if not rows:
                return 0
            acks: list[asyncio.Future[Any]] = []
            error: BaseException | None = None
            try:
                for row in rows:
                    headers = {"Nats-Msg-Id": str(row.event_id), "Content-Type": "application/cloudevents+json"}
                    traceparent = row.payload.get("traceparent")
                    if traceparent:
                        headers["traceparent"] = traceparent
                    body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
                    acks.append(await self._js.publish_async(row.subject, body, headers=headers, wait_stall=5))
            except Exception as exc:  # the connection dropped mid-batch: what was sent is settled below
                error = exc
            results = await asyncio.gather(
                *(asyncio.wait_for(ack, self.ack_timeout_s) for ack in acks), return_exceptions=True
            )
            sent = [
                row.seq for row, result in zip(rows, results, strict=False) if not isinstance(result, BaseException)
            ]
            failures = [r for r in results if isinstance(r, BaseException)]
            if error is not None or failures:
                first = error or failures[0]
                log.warning("outbox_publish_failed", error=str(first)[:300], sent=len(sent), of=len(rows))
                unsent = [r.seq for r in rows if r.seq not in set(sent)][:1]
                if unsent:
                    await session.execute(
                        sa.update(t)
                        .where(t.c.seq.in_(unsent))
                        .values(attempts=t.c.attempts + 1, last_error=str(first)[:500])
                    )
            if sent:
                await session.execute(
                    sa.update(t)
                    .where(t.c.seq == sa.any_(sa.cast(sent, ARRAY(sa.BigInteger))))
                    .values(published_at=sa.func.now())
                )
                metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(sent))
                oldest = min(r.created_at for r in rows if r.seq in set(sent))
                metrics.OUTBOX_LAG.labels(self.service).set((datetime.now(UTC) - oldest).total_seconds())
            if error is not None and not sent:
                raise error
            return len(sent)

    async def _step(self) -> bool:
        sent = await self.publish_batch()
        if sent < 0:  # another replica's relay is publishing: look again soon, it may have missed our rows
            self._busy_retries += 1
            if self._busy_retries <= MAX_LOCK_RETRIES:
                await asyncio.sleep(0.02)
                return True
            self._busy_retries = 0
            return False
        self._busy_retries = 0
        if sent > 0:
            return True  # drain: until a batch finds nothing
        metrics.OUTBOX_BACKLOG.labels(self.service).set(await self.backlog())
        return False

    async def backlog(self) -> int:
        async with self._sessionmaker() as session:
            t = self._outbox
            return int(
                await session.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.published_at.is_(None))) or 0
            )

    async def run(self) -> None:
        await self._loop.run()

    def stop(self) -> None:
        self._loop.stop()
