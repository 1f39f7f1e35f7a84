"""NATS JetStream: streams, the outbox relay and the durable pull-consumer runner with its inbox.

Delivery guarantees, end to end:

* **Outbox** — a use case writes its state change and its events in one transaction (see ``db.UnitOfWork``).
  :class:`OutboxRelay` publishes pending rows in order with ``Nats-Msg-Id`` = event id, so a row published twice
  (a crash between publish and mark) is dropped by JetStream's duplicate window; then it marks them sent.
  Several replicas may run the relay: rows are claimed with ``FOR UPDATE SKIP LOCKED``.
* **Inbox** — :class:`ConsumerRunner` records ``(consumer, event id)`` in the same transaction as the handler's
  effects, so a redelivered event is acked and skipped. A transient failure is ``nak``-ed with backoff; a poison
  message (not a CloudEvent, data breaking its contract, a :class:`PoisonMessage` from the handler, or too many
  deliveries) is stored in ``dead_letters`` and ``term``-ed, so it never holds up the events behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import nats
import sqlalchemy as sa
import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NotFoundError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from renovation_common import metrics
from renovation_common.db import InfrastructureTables
from renovation_common.events import SUBJECT_PREFIX, CloudEvent, EventData, InvalidEvent, parse_event
from renovation_common.tracing import child_traceparent, set_trace

log = structlog.get_logger("renovation.messaging")

DUPLICATE_WINDOW_S = 2 * 60 * 60  # 2 h: the relay's retry of a row always falls inside it
PRODUCERS = ("survey", "projects", "finance", "smart_community", "webhooks")


def stream_name(producer: str) -> str:
    return producer.upper().replace("-", "_")


def stream_subject(producer: str) -> str:
    return f"{SUBJECT_PREFIX}.{producer}.>"


async def connect_nats(url: str, *, name: str) -> NatsClient:
    async def _disconnected() -> None:
        metrics.NATS_CONNECTED.labels(name).set(0)
        log.warning("nats_disconnected")

    async def _reconnected() -> None:
        metrics.NATS_CONNECTED.labels(name).set(1)
        log.info("nats_reconnected")

    async def _error(exc: Exception) -> None:
        log.warning("nats_error", error=str(exc))

    return await nats.connect(
        servers=[s.strip() for s in url.split(",")],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        disconnected_cb=_disconnected,
        reconnected_cb=_reconnected,
        error_cb=_error,
    )


async def ensure_stream(
    js: JetStreamContext,
    name: str,
    subjects: Sequence[str],
    *,
    max_age_s: float | None = None,
    max_bytes: int | None = None,
    replicas: int = 1,
) -> None:
    """Create the stream when missing, or bring its limits (``max_age``, ``max_bytes``) to the given ones
    (idempotent; safe from every replica of every service)."""
    config = api.StreamConfig(
        name=name,
        subjects=list(subjects),
        storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS,
        duplicate_window=DUPLICATE_WINDOW_S,
        max_age=max_age_s,
        max_bytes=max_bytes,
        num_replicas=replicas,
    )
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.stream_info(name)  # created concurrently by another replica
        return
    current = info.config
    wanted_age = max_age_s or 0
    if (max_age_s is not None and abs((current.max_age or 0) - wanted_age) > 1) or (
        max_bytes is not None and (current.max_bytes or -1) != max_bytes
    ):
        current.max_age = max_age_s if max_age_s is not None else current.max_age
        current.max_bytes = max_bytes if max_bytes is not None else current.max_bytes
        with contextlib.suppress(BadRequestError):  # another replica changed it first
            await js.update_stream(current)


async def ensure_event_stream(
    js: JetStreamContext,
    producer: str,
    *,
    replicas: int = 1,
    max_age_s: float | None = None,
    max_bytes: int | None = None,
) -> str:
    name = stream_name(producer)
    await ensure_stream(
        js, name, [stream_subject(producer)], replicas=replicas, max_age_s=max_age_s, max_bytes=max_bytes
    )
    return name


# --------------------------------------------------------------------------------------------------------------
# Outbox relay
# --------------------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------------------
# Consumers
# --------------------------------------------------------------------------------------------------------------


class PoisonMessage(Exception):
    """Raised by a handler when an event can never be applied (retrying will not help)."""


class TransientError(Exception):
    """Raised by a handler to ask for a redelivery later."""


Handler = Callable[[AsyncSession, CloudEvent, EventData | None], Awaitable[None]]


@dataclass
class Subscription:
    """A durable pull consumer on one stream, with the subjects it filters on."""

    stream: str
    filter_subjects: list[str]
    ensure_stream_subjects: list[str] | None = None


@dataclass
class ConsumerSpec:
    """What one logical consumer (one inbox identity) handles, and where the events come from."""

    name: str
    handlers: dict[str, Handler]
    subscriptions: list[Subscription]
    default_handler: Handler | None = None
    max_deliver: int = 20
    ack_wait_s: float = 30.0
    backoff_s: list[float] = field(default_factory=lambda: [0.5, 1, 2, 5, 10, 30, 60])
    batch_size: int = 50
    # Called after the transaction that applied an event committed (e.g. to wake the outbox relay).
    after_commit: Callable[[], None] | None = None


class ConsumerRunner:
    """Runs a :class:`ConsumerSpec`: fetch, apply each event once inside a transaction, ack/nak/term."""

    def __init__(
        self,
        spec: ConsumerSpec,
        sessionmaker: async_sessionmaker[AsyncSession],
        infra: InfrastructureTables,
        js: JetStreamContext,
        *,
        service: str,
    ) -> None:
        self.spec = spec
        self._sessionmaker = sessionmaker
        self._infra = infra
        self._js = js
        self.service = service
        self._stopping = False
        self._subs: list[Any] = []

    def durable_name(self, sub: Subscription) -> str:
        return f"{self.service}__{self.spec.name}__{sub.stream}".replace(".", "_").replace("-", "_")

    async def _subscribe(self, sub: Subscription) -> Any:
        if sub.ensure_stream_subjects:
            await ensure_stream(self._js, sub.stream, sub.ensure_stream_subjects)
        config = api.ConsumerConfig(
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=self.spec.ack_wait_s,
            max_deliver=self.spec.max_deliver + 1,  # the runner dead-letters at max_deliver itself
            filter_subjects=sub.filter_subjects if len(sub.filter_subjects) > 1 else None,
            filter_subject=sub.filter_subjects[0] if len(sub.filter_subjects) == 1 else None,
            max_ack_pending=max(1000, self.spec.batch_size * 4),
        )
        return await self._js.pull_subscribe(
            sub.filter_subjects[0], durable=self.durable_name(sub), stream=sub.stream, config=config
        )

    async def handle(self, msg: Msg) -> str:
        """Apply one message; return what was done (``applied``, ``duplicate``, ``retry``, ``dead_letter``)."""
        deliveries = msg.metadata.num_delivered if msg.metadata else 1
        stream_seq = msg.metadata.sequence.stream if msg.metadata else None
        try:
            event, data = parse_event(msg.data)
        except InvalidEvent as exc:
            await self._dead_letter(msg, None, None, stream_seq, deliveries, str(exc))
            await msg.term()
            return "dead_letter"
        set_trace(child_traceparent(event.traceparent), request_id=event.id)
        handler = self.spec.handlers.get(event.type, self.spec.default_handler)
        try:
            async with self._sessionmaker() as session, session.begin():
                inserted = (
                    await session.execute(
                        pg_insert(self._infra.inbox)
                        .values(consumer=self.spec.name, event_id=uuid.UUID(event.id), event_type=event.type)
                        .on_conflict_do_nothing()
                        .returning(self._infra.inbox.c.event_id)
                    )
                ).first()
                if inserted is None:
                    outcome = "duplicate"
                else:
                    if handler is not None:
                        await handler(session, event, data)
                    outcome = "applied"
        except (PoisonMessage, ValueError) as exc:
            await self._dead_letter(msg, event.id, event.type, stream_seq, deliveries, f"{type(exc).__name__}: {exc}")
            await msg.term()
            metrics.EVENTS_CONSUMED.labels(self.service, self.spec.name, "dead_letter").inc()
            return "dead_letter"
        except Exception as exc:
            if deliveries >= self.spec.max_deliver:
                await self._dead_letter(
                    msg, event.id, event.type, stream_seq, deliveries, f"gave up after {deliveries}: {exc}"
                )
                await msg.term()
                metrics.EVENTS_CONSUMED.labels(self.service, self.spec.name, "dead_letter").inc()
                return "dead_letter"
            delay = self.spec.backoff_s[min(deliveries - 1, len(self.spec.backoff_s) - 1)]
            log.warning("event_retry", event_type=event.type, deliveries=deliveries, delay_s=delay, error=str(exc))
            await msg.nak(delay=delay)
            metrics.EVENTS_CONSUMED.labels(self.service, self.spec.name, "retry").inc()
            return "retry"
        if outcome == "applied" and self.spec.after_commit is not None:
            self.spec.after_commit()
        await msg.ack()
        metrics.EVENTS_CONSUMED.labels(self.service, self.spec.name, outcome).inc()
        return outcome

    async def _dead_letter(
        self,
        msg: Msg,
        event_id: str | None,
        event_type: str | None,
        stream_seq: int | None,
        deliveries: int,
        reason: str,
    ) -> None:
        log.error("event_dead_lettered", consumer=self.spec.name, event_type=event_type, reason=reason[:200])
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                pg_insert(self._infra.dead_letters)
                .values(
                    consumer=self.spec.name,
                    subject=msg.subject,
                    event_id=event_id,
                    event_type=event_type,
                    stream_seq=stream_seq,
                    deliveries=deliveries,
                    payload=msg.data.decode("utf-8", errors="replace"),
                    reason=reason[:2000],
                )
                .on_conflict_do_nothing()
            )

    async def _run_subscription(self, sub: Subscription) -> None:
        psub = None
        while not self._stopping:
            try:
                if psub is None:
                    psub = await self._subscribe(sub)
                    self._subs.append(psub)
                try:
                    msgs = await psub.fetch(self.spec.batch_size, timeout=1.0)
                except TimeoutError:
                    continue
                for msg in msgs:
                    if self._stopping:
                        break  # unacked messages are redelivered after ack_wait
                    await self.handle(msg)
                if psub is not None:
                    with contextlib.suppress(Exception):
                        info = await psub.consumer_info()
                        metrics.CONSUMER_PENDING.labels(self.service, self.spec.name, sub.stream).set(
                            info.num_pending or 0
                        )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer_loop_error", consumer=self.spec.name, stream=sub.stream, error=str(exc))
                psub = None
                await asyncio.sleep(1.0)

    async def run(self) -> None:
        await asyncio.gather(*(self._run_subscription(s) for s in self.spec.subscriptions))

    def stop(self) -> None:
        self._stopping = True

    async def close(self) -> None:
        """Drop the pull subscriptions (after :meth:`stop`): a fetch cancelled mid-flight leaves messages in their
        queues that nobody will read, and the connection's ``drain()`` would wait its whole timeout for them."""
        subs, self._subs = self._subs, []
        for psub in subs:
            with contextlib.suppress(Exception):
                await psub.unsubscribe()


def subscription_for(event_types: Sequence[str]) -> list[Subscription]:
    """Group event types by producing stream into subscriptions (one durable consumer per stream)."""
    by_producer: dict[str, list[str]] = {}
    for event_type in event_types:
        producer = event_type.split(".", 1)[0]
        by_producer.setdefault(producer, []).append(f"{SUBJECT_PREFIX}.{event_type}")
    return [
        Subscription(
            stream=stream_name(p), filter_subjects=sorted(subjects), ensure_stream_subjects=[stream_subject(p)]
        )
        for p, subjects in sorted(by_producer.items())
    ]
