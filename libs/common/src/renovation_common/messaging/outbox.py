"""The outbox relay: publishes a service's outbox rows to JetStream and marks them sent.

A use case writes its state change and its events in one transaction (``db.UnitOfWork``). Every replica runs a
relay, woken at once by the commits of its own process (``wake``) and polling every ``poll_interval_s`` besides.
One relay at a time publishes across replicas: each run's transaction takes a transaction-level advisory lock
(safe behind PgBouncer in transaction mode), so the stream receives a service's events in outbox order. A relay
woken while another holds the lock waits for it (up to ``lock_wait_s``) and then looks for itself: whatever was
committed before its wake-up is published by the holder or by it, never left for the next poll.

Within a run the publishes are pipelined: chunks of ``batch_size`` rows, oldest first, are read and sent without
waiting, up to ``window`` chunks awaiting their acks at once, so reading the next chunk overlaps the acks of the
previous ones. Each message is a plain publish whose reply subject is the relay's own ack inbox (what
``publish_async`` does, without its per-message semaphore, timer and ack parsing, which cost as much as the rest of
the relay together); the ack is JetStream's answer there, and an error or a no-responders status is a failure. A
chunk is marked sent as it is sent, in the run's transaction, and unmarked if an ack fails; the transaction commits
when every ack of the run is in (at most ``max_rows_per_run`` rows), so a row is durably marked only once JetStream
has it. Each message carries ``Nats-Msg-Id`` = event id, so a row published twice (a crash before the commit, a
failed ack) is dropped by JetStream's duplicate window. The payload is sent as the database's JSON text, never
decoded and encoded again.

Ordering guarantee: per service, events reach the stream in commit order of their aggregates' rows (every chunk
reads the oldest pending rows again, so a row committed late is never overtaken by a later event of its
aggregate), except when a publish fails and is retried after later ones — consumers therefore never rely on
arrival order alone: events of one aggregate carry a version and read models keep the newest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from renovation_common import metrics
from renovation_common.db import InfrastructureTables
from renovation_common.workers import WorkLoop

log = structlog.get_logger("renovation.outbox")


RELAY_LOCK = 0x4F7574626F78  # "Outbox": one relay run at a time per service database
LOCK_NOT_AVAILABLE = "55P03"


class PublishNotAcknowledged(Exception):
    """JetStream answered a publish with an error (or nobody answered: no stream takes the subject)."""


@dataclass
class _Chunk:
    rows: list[Any]
    acks: list[asyncio.Future[Any]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    sent_at: float = 0.0  # loop time: each ack is due within ack_timeout_s of its chunk's sending
    error: BaseException | None = None  # the publishing itself failed after len(acks) rows


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
        window: int = 4,
        max_rows_per_run: int | None = None,
        lock_wait_s: float = 5.0,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._outbox = infra.outbox
        self._js = js
        self.service = service
        self.batch_size = batch_size
        self.ack_timeout_s = ack_timeout_s
        self.window = max(1, window)
        self.max_rows_per_run = max_rows_per_run or 20 * batch_size
        self.lock_wait_s = lock_wait_s
        self._loop = WorkLoop("outbox-relay", self._step, service=service, poll_interval_s=poll_interval_s)
        self._nc: NATS = js._nc  # the JetStream context's connection: acks come back on a core subscription
        self._ack_sub: Any = None
        self._ack_prefix = ""
        self._acks_sent = 0
        self._pending: dict[str, asyncio.Future[None]] = {}

    def wake(self) -> None:
        """Called after a commit that wrote events: publish now instead of at the next poll."""
        self._loop.wake()

    async def publish_batch(self) -> int:
        """One run: publish pending rows, oldest first, in one transaction; return how many were sent (``-1``:
        another relay kept the lock longer than ``lock_wait_s``)."""
        t = self._outbox
        async with self._sessionmaker() as session, session.begin():
            try:  # waits for a relay holding the lock, up to lock_wait_s (then -1: the loop comes back)
                await session.execute(
                    sa.select(
                        sa.func.set_config("lock_timeout", f"{int(self.lock_wait_s * 1000)}ms", True),
                        sa.func.pg_advisory_xact_lock(RELAY_LOCK),
                    )
                )
            except DBAPIError as exc:
                if _sqlstate(exc) == LOCK_NOT_AVAILABLE:
                    return -1
                raise
            conn = (await (await session.connection()).get_raw_connection()).driver_connection
            assert conn is not None
            table = _quoted(session, t)
            # The oldest pending rows, marked sent in the same statement (in this transaction: nobody sees the mark
            # before the commit, and it is taken back if an ack fails), so the next chunk reads the oldest rows still
            # pending. The payload comes as the database's JSON text: sent as it is, never decoded and encoded again.
            take = (
                f"UPDATE {table} SET published_at = now() WHERE seq IN (SELECT seq FROM {table} "
                f"WHERE published_at IS NULL ORDER BY seq LIMIT $1) RETURNING seq, event_id::text AS event_id, "
                f"subject, payload::text AS body, payload->>'traceparent' AS traceparent, created_at"
            )
            window: deque[_Chunk] = deque()
            sent_total = taken = 0
            failure: BaseException | None = None
            more = True
            while True:
                if more and failure is None and len(window) < self.window and taken < self.max_rows_per_run:
                    rows = sorted(
                        await conn.fetch(take, min(self.batch_size, self.max_rows_per_run - taken)),
                        key=lambda r: r["seq"],
                    )
                    more = len(rows) == self.batch_size
                    if rows:
                        taken += len(rows)
                        chunk = await self._publish(rows)
                        window.append(chunk)
                        if chunk.error is not None:
                            failure = chunk.error
                        continue  # fill the window before waiting for acks
                if not window:
                    break
                sent, error = await self._settle(session, window.popleft())
                sent_total += sent
                failure = failure or error
        # committed first (the failed rows unmarked, their attempt counted), then reported: the work loop backs off
        if failure is not None and not sent_total:
            raise failure
        return sent_total

    async def _ack_inbox(self) -> str:
        """The subject prefix JetStream answers this relay's publishes on (subscribed once; the client renews the
        subscription after a reconnect)."""
        if self._ack_sub is None:
            prefix = self._nc.new_inbox()
            self._ack_sub = await self._nc.subscribe(f"{prefix}.*", cb=self._on_ack)
            self._ack_prefix = prefix
        return self._ack_prefix

    async def _on_ack(self, msg: Msg) -> None:
        future = self._pending.pop(msg.subject, None)
        if future is None or future.done():
            return  # answered after its ack timeout
        data = msg.data
        status = msg.headers.get("Status") if msg.headers else None
        if status or not data.startswith(b"{") or b'"error"' in data:
            future.set_exception(
                PublishNotAcknowledged(f"status {status}" if status else data[:300].decode(errors="replace"))
            )
        else:
            future.set_result(None)

    async def _publish(self, rows: list[Any]) -> _Chunk:
        """Send a chunk without waiting for its acks: every message goes to the client's write buffer and the chunk
        reaches the socket in a few writes, not one per message."""
        chunk = _Chunk(rows, sent_at=asyncio.get_running_loop().time())
        prefix = await self._ack_inbox()
        loop = asyncio.get_running_loop()
        publish = self._nc.publish
        try:
            for row in rows:
                headers = {"Nats-Msg-Id": row["event_id"], "Content-Type": "application/cloudevents+json"}
                if row["traceparent"]:
                    headers["traceparent"] = row["traceparent"]
                self._acks_sent += 1
                reply = f"{prefix}.{self._acks_sent}"
                future: asyncio.Future[None] = loop.create_future()
                self._pending[reply] = future
                chunk.acks.append(future)
                chunk.replies.append(reply)
                await publish(row["subject"], row["body"].encode(), reply=reply, headers=headers)
        except Exception as exc:  # the connection dropped mid-chunk: what was sent is settled with the acks
            if chunk.acks:
                chunk.acks.pop().cancel()
                self._pending.pop(chunk.replies.pop(), None)
            chunk.error = exc
        return chunk

    async def _settle(self, session: AsyncSession, chunk: _Chunk) -> tuple[int, BaseException | None]:
        """Wait for a chunk's acks; unmark the rows JetStream did not acknowledge. Returns (sent, first error)."""
        if chunk.acks:
            remaining = chunk.sent_at + self.ack_timeout_s - asyncio.get_running_loop().time()
            _, late = await asyncio.wait(chunk.acks, timeout=max(remaining, 0.0))
            for ack in late:
                ack.cancel()
            for reply in chunk.replies:
                self._pending.pop(reply, None)
        errors = [_ack_error(a) for a in chunk.acks]
        sent = [row["seq"] for row, e in zip(chunk.rows, errors, strict=False) if e is None]
        first = chunk.error or next((e for e in errors if e is not None), None)
        if first is not None:
            log.warning("outbox_publish_failed", error=str(first)[:300], sent=len(sent), of=len(chunk.rows))
            sent_set = set(sent)
            unsent = [r["seq"] for r in chunk.rows if r["seq"] not in sent_set]
            if unsent:
                await self._unmark(session, unsent)
                t = self._outbox
                await session.execute(
                    sa.update(t)
                    .where(t.c.seq == unsent[0])
                    .values(attempts=t.c.attempts + 1, last_error=str(first)[:500])
                )
        if sent:
            metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(sent))
            oldest = min(r["created_at"] for r in chunk.rows)
            metrics.OUTBOX_LAG.labels(self.service).set((datetime.now(UTC) - oldest).total_seconds())
        return len(sent), first

    async def _unmark(self, session: AsyncSession, seqs: list[int]) -> None:
        t = self._outbox
        await session.execute(
            sa.update(t).where(t.c.seq == sa.any_(sa.cast(seqs, ARRAY(sa.BigInteger)))).values(published_at=None)
        )

    async def _step(self) -> bool:
        sent = await self.publish_batch()
        if sent != 0:
            return True  # drain until a run finds nothing (or wait for the lock again: its holder is busy)
        metrics.OUTBOX_BACKLOG.labels(self.service).set(await self.backlog())
        return False

    async def backlog(self) -> int:
        async with self._sessionmaker() as session:
            t = self._outbox
            return int(
                await session.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.published_at.is_(None))) or 0
            )

    async def run(self) -> None:
        try:
            await self._loop.run()
        finally:
            sub, self._ack_sub = self._ack_sub, None
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    def stop(self) -> None:
        self._loop.stop()


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return code if isinstance(code, str) else None


def _quoted(session: AsyncSession, table: sa.Table) -> str:
    return session.get_bind().dialect.identifier_preparer.format_table(table)


def _ack_error(ack: asyncio.Future[Any]) -> BaseException | None:
    """Why a publish was not acknowledged (``None``: it was)."""
    if not ack.done():
        return TimeoutError("no ack")
    if ack.cancelled():
        return TimeoutError("no ack within the ack timeout")
    return ack.exception()
