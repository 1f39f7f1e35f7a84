"""The outbox relay: publishes a service's outbox rows to JetStream and marks them sent.

A use case writes its state change and its events in one transaction (``db.UnitOfWork``). The relay publishes
pending rows in order with ``Nats-Msg-Id`` = event id, so a row published twice (a crash between publish and mark) is
dropped by JetStream's duplicate window; then it marks them sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import sqlalchemy as sa
import structlog
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from renovation_common import metrics
from renovation_common.db import InfrastructureTables
from renovation_common.events import CloudEvent

log = structlog.get_logger("renovation.outbox")


class OutboxRelay:
    """Publishes outbox rows to JetStream, oldest first, and marks them sent."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        infra: InfrastructureTables,
        js: JetStreamContext,
        *,
        service: str,
        batch_size: int = 200,
        poll_interval_s: float = 0.5,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._outbox = infra.outbox
        self._js = js
        self.service = service
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Called after a commit that wrote events: publish now instead of at the next poll."""
        self._wake.set()

    async def publish_batch(self) -> int:
        """Publish one batch of pending rows; return how many were sent."""
        t = self._outbox
        async with self._sessionmaker() as session, session.begin():
            rows = (
                await session.execute(
                    sa.select(t.c.seq, t.c.event_id, t.c.subject, t.c.payload, t.c.created_at)
                    .where(t.c.published_at.is_(None))
                    .order_by(t.c.seq)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            sent: list[int] = []
            try:
                for row in rows:
                    payload = CloudEvent.model_validate(row.payload).model_dump_json(exclude_none=True).encode()
                    headers = {"Nats-Msg-Id": str(row.event_id), "Content-Type": "application/cloudevents+json"}
                    traceparent = row.payload.get("traceparent")
                    if traceparent:
                        headers["traceparent"] = traceparent
                    await self._js.publish(row.subject, payload, headers=headers, timeout=5)
                    sent.append(row.seq)
            except Exception as exc:
                log.warning("outbox_publish_failed", error=str(exc), sent=len(sent))
                failed = [r.seq for r in rows if r.seq not in set(sent)][:1]
                if failed:
                    await session.execute(
                        sa.update(t)
                        .where(t.c.seq.in_(failed))
                        .values(attempts=t.c.attempts + 1, last_error=str(exc)[:500])
                    )
            if sent:
                await session.execute(sa.update(t).where(t.c.seq.in_(sent)).values(published_at=sa.func.now()))
                metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(sent))
                oldest = min(r.created_at for r in rows if r.seq in set(sent))
                metrics.OUTBOX_LAG.labels(self.service).set((datetime.now(UTC) - oldest).total_seconds())
            return len(sent)

    async def backlog(self) -> int:
        async with self._sessionmaker() as session:
            t = self._outbox
            return int(
                await session.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.published_at.is_(None))) or 0
            )

    async def run(self) -> None:
        while not self._stopping:
            # Cleared before the batch, not after: a commit that wakes the relay while it is publishing must start
            # the next batch at once instead of waiting out the poll interval.
            self._wake.clear()
            try:
                sent = await self.publish_batch()
                if sent >= self.batch_size:
                    continue
                metrics.OUTBOX_BACKLOG.labels(self.service).set(await self.backlog())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database or NATS down: keep trying
                log.warning("outbox_relay_error", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
