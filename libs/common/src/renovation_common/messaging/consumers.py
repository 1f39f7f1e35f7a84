"""Durable pull consumers: the one runner every stream consumer uses — CloudEvent consumers with their inbox, and
raw-message consumers such as device ingestion.

A runner fetches a batch and applies it **in one transaction**:

* CloudEvent consumers (``ConsumerSpec.handlers`` — one event at a time — and ``ConsumerSpec.event_batch_handlers``
  — every event of one type in a row at once, set-based): messages that are not CloudEvents or break their contract
  are dead-lettered; ``(consumer, event id)`` of the rest goes into ``inbox`` in one statement (a repeat is acked
  and skipped). The new events are applied in order inside **one** savepoint, consecutive events of a type with a
  batch handler in one call. Only if that fails are they applied again one at a time, each inside its own
  savepoint (a batch handler then gets a list of one), so a handler that refuses an event (:class:`PoisonMessage`,
  ``ValueError``) or fails for now (:class:`TransientError`, anything else) leaves the other events of the batch
  applied. The refused one is dead-lettered in the same transaction; the failing one gets its inbox row back out
  and is ``nak``-ed with a growing delay, until ``max_deliver`` deliveries dead-letter it.
* Raw consumers (``ConsumerSpec.batch_handler``): the handler takes the whole batch (e.g. one COPY for a batch of
  device events) and isolates bad *content* itself (rejects with a reason).

If the batch transaction fails as a whole, the batch is split in halves and each half retried in its own
transaction, down to single messages: one message the database refuses (a data error such as a NUL byte in text)
cannot hold up the others, and is dead-lettered with the reason; a transient failure (the database away) is
``nak``-ed and redelivered with backoff. Dead letters record the consumer, subject, stream sequence, deliveries, the
payload (escaped so any bytes can be stored) and the reason. Events a handler publishes (through
``db.ConsumerUnitOfWork``) commit with the inbox rows or not at all.

Replicas of a service share each durable consumer, so JetStream spreads the work between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.protocol.command import pub_cmd
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from renovation_common import metrics
from renovation_common.db import ConsumerUnitOfWork, InfrastructureTables
from renovation_common.events import SUBJECT_PREFIX, CloudEvent, EventData, InvalidEvent, parse_event
from renovation_common.messaging.streams import ensure_stream, stream_name, stream_subject
from renovation_common.tracing import child_traceparent, set_trace

log = structlog.get_logger("renovation.consumers")

MAX_DEAD_LETTER_PAYLOAD = 16 * 1024


class PoisonMessage(Exception):
    """Raised by a handler when an event can never be applied (retrying will not help)."""


class TransientError(Exception):
    """Raised by a handler to ask for a redelivery later."""


Handler = Callable[[AsyncSession, CloudEvent, EventData | None], Awaitable[None]]
# Several new events of one type, in stream order: applied together (one statement for all of them, say).
EventBatchHandler = Callable[[AsyncSession, Sequence[tuple[CloudEvent, EventData | None]]], Awaitable[None]]


class Delivery(NamedTuple):
    """One message of a batch, as a raw batch handler sees it (a tuple: one is made per message, at a third of a
    frozen dataclass's cost)."""

    msg: Msg
    subject: str
    data: bytes
    stream_seq: int | None
    deliveries: int
    received_at: datetime | None = None  # when the stream stored it


BatchHandler = Callable[[ConsumerUnitOfWork, list[Delivery]], Awaitable[None]]


@dataclass
class Subscription:
    """A durable pull consumer on one stream, with the subjects it filters on."""

    stream: str
    filter_subjects: list[str]
    ensure_stream_subjects: list[str] | None = None


@dataclass
class ConsumerSpec:
    """What one logical consumer (one inbox identity, one durable per stream) handles, and where from."""

    name: str
    subscriptions: list[Subscription]
    handlers: dict[str, Handler] = field(default_factory=dict)
    default_handler: Handler | None = None
    # set-based handlers by event type (and for every other type): take precedence over ``handlers`` for a batch;
    # when a batch has to be applied one event at a time (a refused or failing event), they get lists of one
    event_batch_handlers: dict[str, EventBatchHandler] = field(default_factory=dict)
    default_event_batch_handler: EventBatchHandler | None = None
    batch_handler: BatchHandler | None = None  # raw messages: the handler takes the batch (no CloudEvent, no inbox)
    max_deliver: int = 20
    ack_wait_s: float = 30.0
    backoff_s: list[float] = field(default_factory=lambda: [0.5, 1, 2, 5, 10, 30, 60])
    batch_size: int = 100
    fetch_timeout_s: float = 1.0
    max_ack_pending: int | None = None
    # Raw consumers (``batch_handler``) whose batches are independent of each other's order (e.g. telemetry rows
    # deduplicated by stream sequence): up to this many batches applied at once, each in its own transaction, while
    # the next one is fetched (fetch, handler and commit of consecutive batches overlap). 1 = one after another.
    batches_in_flight: int = 1
    # Called after a transaction that applied messages committed (e.g. to wake the outbox relay).
    after_commit: Callable[[], None] | None = None


@dataclass
class _Verdict:
    action: str  # ack | term | nak
    outcome: str  # applied | duplicate | dead_letter | retry | stored
    delay_s: float = 0.0
    wrote_events: bool = False  # stored: the raw batch's transaction wrote events into the outbox

    @property
    def wakes(self) -> bool:
        """Whether the commit of this message's transaction may have written events for the relay."""
        return self.outcome in ("applied", "dead_letter") or self.wrote_events


def _escaped(data: bytes) -> str:
    """Any bytes as storable text: invalid UTF-8 as \\x.. escapes, NUL as \\x00 (Postgres text refuses NUL)."""
    text = data[:MAX_DEAD_LETTER_PAYLOAD].decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")
    return text if len(data) <= MAX_DEAD_LETTER_PAYLOAD else text + f"… ({len(data)} bytes)"


def _storable(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8").replace("\x00", "\\x00")[:limit]


TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "55", "57", "58")


def is_data_error(exc: BaseException) -> bool:
    """True when the database refused the *content* (retrying the same message cannot succeed)."""
    if isinstance(exc, UnicodeError):  # the driver could not even encode it (a lone surrogate)
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return False
        cause = getattr(exc.orig, "__cause__", None)  # asyncpg's own exception, behind SQLAlchemy's adapter
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and len(sqlstate) == 5:
            return not sqlstate.startswith(TRANSIENT_SQLSTATE_CLASSES)
        return isinstance(cause, UnicodeError)
    return False


class ConsumerRunner:
    """Runs a :class:`ConsumerSpec`: fetch a batch, apply it in one transaction, ack / nak / term each message."""

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
        self._handlers: dict[str, tuple[EventBatchHandler | None, Handler | None]] = {}

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
            max_ack_pending=self.spec.max_ack_pending or max(1000, self.spec.batch_size * 4),
        )
        return await self._js.pull_subscribe(
            sub.filter_subjects[0], durable=self.durable_name(sub), stream=sub.stream, config=config
        )

    # ------------------------------------------------------------------------------------------------ one batch

    async def process(self, msgs: Sequence[Msg]) -> list[str]:
        """Apply ``msgs`` and settle each with the broker; return each message's outcome (tests, metrics)."""
        verdicts = await self._settled(list(msgs))
        for outcome, n in Counter(verdicts).items():  # one update per outcome, not per message
            metrics.EVENTS_CONSUMED.labels(self.service, self.spec.name, outcome).inc(n)
            if outcome == "dead_letter":
                metrics.DEAD_LETTERS.labels(self.service, self.spec.name).inc(n)
        return verdicts

    async def handle(self, msg: Msg) -> str:
        """One message on its own (kept for tests and callers that have a single message)."""
        return (await self.process([msg]))[0]

    async def _settled(self, msgs: list[Msg], *, again: bool = False) -> list[str]:
        try:
            verdicts = await self._apply_in_transaction(msgs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not again and isinstance(exc, DBAPIError) and exc.connection_invalidated:
                # the pooled connection had been dropped by the server (a restart, a failover; services may run
                # without a pre-ping): the pool has thrown it away, so the batch goes again at once, not after a nak
                log.warning("consumer_connection_dropped", consumer=self.spec.name, error=str(exc)[:200])
                return await self._settled(msgs, again=True)
            if len(msgs) > 1 and is_data_error(exc):
                mid = len(msgs) // 2  # isolate the message the database refuses: halves, then quarters, ...
                return [*(await self._settled(msgs[:mid])), *(await self._settled(msgs[mid:]))]
            return await self._failed(msgs, exc)
        # a raw batch wakes the relay only when its transaction wrote events (a telemetry batch writes none); the
        # units of work of event handlers are their own, not seen here: an applied event always wakes it
        if self.spec.after_commit and any(v.wakes for v in verdicts):
            self.spec.after_commit()
        await self._ack_all([msg for msg, v in zip(msgs, verdicts, strict=True) if v.action == "ack"])
        for msg, verdict in zip(msgs, verdicts, strict=True):
            if verdict.action != "ack":
                await self._settle(msg, verdict)
        return [v.outcome for v in verdicts]

    async def _ack_all(self, msgs: list[Msg]) -> None:
        """Ack messages in one write to the connection: the same ``PUB <ack subject>`` commands ``Msg.ack`` sends
        one by one (a check, a command and a flush wake-up per message), joined."""
        nc = msgs[0]._client if msgs else None
        if (
            len(msgs) <= 1
            or nc is None
            or nc.is_closed
            or nc.is_draining_pubs
            or any(not m.reply or m._ackd for m in msgs)
        ):
            for msg in msgs:  # one by one, each with Msg.ack's own checks and errors
                await self._settle(msg, _Verdict("ack", "stored"))
            return
        try:
            await nc._send_command(b"".join([pub_cmd(m.reply, "", b"") for m in msgs]))
            await nc._flush_pending()
            for msg in msgs:
                msg._ackd = True
        except Exception as exc:  # the connection dropped: the broker redelivers after ack_wait; dedup skips them
            log.warning("settle_failed", consumer=self.spec.name, action="ack", error=str(exc)[:200])

    async def _failed(self, msgs: list[Msg], exc: Exception) -> list[str]:
        """The transaction of ``msgs`` failed: a single message the database refuses is dead-lettered; otherwise
        (the database away, a lock timeout) every message is retried later, or dead-lettered at max_deliver."""
        outcomes: list[str] = []
        poison = len(msgs) == 1 and is_data_error(exc)
        for msg in msgs:
            deliveries = _deliveries(msg)
            if poison or deliveries >= self.spec.max_deliver:
                reason = f"{type(exc).__name__}: {exc}" if poison else f"gave up after {deliveries}: {exc}"
                try:
                    async with self._sessionmaker() as session, session.begin():
                        await self._dead_letter(session, msg, None, None, reason)
                except Exception as dl_exc:  # the database is away: let the broker redeliver
                    log.warning("dead_letter_failed", consumer=self.spec.name, error=str(dl_exc)[:200])
                    await self._settle(msg, _Verdict("nak", "retry", self._delay(deliveries)))
                    outcomes.append("retry")
                    continue
                await self._settle(msg, _Verdict("term", "dead_letter"))
                outcomes.append("dead_letter")
            else:
                log.warning(
                    "consumer_batch_retry", consumer=self.spec.name, deliveries=deliveries, error=str(exc)[:300]
                )
                await self._settle(msg, _Verdict("nak", "retry", self._delay(deliveries)))
                outcomes.append("retry")
        return outcomes

    async def _apply_in_transaction(self, msgs: list[Msg]) -> list[_Verdict]:
        async with self._sessionmaker() as session, session.begin():
            if self.spec.batch_handler is not None:
                deliveries = [_delivery(m) for m in msgs]
                uow = ConsumerUnitOfWork(session, self._infra)
                await self.spec.batch_handler(uow, deliveries)
                await uow.flush_events()
                return [_Verdict("ack", "stored", wrote_events=uow.wrote_events) for _ in msgs]
            return await self._apply_events(session, msgs)

    async def _apply_events(self, session: AsyncSession, msgs: list[Msg]) -> list[_Verdict]:
        verdicts: list[_Verdict | None] = [None] * len(msgs)
        parsed: list[tuple[int, CloudEvent, EventData | None]] = []
        for i, msg in enumerate(msgs):
            try:
                event, data = parse_event(msg.data)
                uuid.UUID(event.id)
            except (InvalidEvent, ValueError) as exc:
                await self._dead_letter(session, msg, None, None, str(exc))
                verdicts[i] = _Verdict("term", "dead_letter")
                continue
            parsed.append((i, event, data))
        new_ids: set[str] = set()
        if parsed:
            inbox = self._infra.inbox
            rows = {
                e.id: {"consumer": self.spec.name, "event_id": uuid.UUID(e.id), "event_type": e.type}
                for _, e, _ in parsed
            }
            inserted = await session.execute(  # one multi-row INSERT of a cached statement
                pg_insert(inbox).on_conflict_do_nothing().returning(inbox.c.event_id), list(rows.values())
            )
            new_ids = {str(r) for r in inserted.scalars()}
        todo: list[tuple[int, CloudEvent, EventData | None]] = []
        seen: set[str] = set()
        for i, event, data in parsed:
            if event.id not in new_ids or event.id in seen:
                verdicts[i] = _Verdict("ack", "duplicate")
                continue
            seen.add(event.id)
            if self._single_handler(event.type) is None:
                verdicts[i] = _Verdict("ack", "applied")
                continue
            todo.append((i, event, data))
        if len(todo) > 1:
            # the usual case first: every new event applied in one savepoint, runs of a type with a batch handler
            # in one call each; only if that fails, one at a time (below) to find and isolate the failing events
            try:
                async with session.begin_nested():
                    await self._apply_in_order(session, [(e, d) for _, e, d in todo])
            except Exception as exc:
                if not session.in_transaction() or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
                    raise  # the transaction itself is gone: the whole batch goes again
                log.info("consumer_batch_isolating", consumer=self.spec.name, events=len(todo), error=str(exc)[:200])
            else:
                for i, _, _ in todo:
                    verdicts[i] = _Verdict("ack", "applied")
                todo = []
        for i, event, data in todo:
            verdicts[i] = await self._apply_one(session, msgs[i], event, data)
        return [v if v is not None else _Verdict("ack", "applied") for v in verdicts]

    def _handlers_for(self, event_type: str) -> tuple[EventBatchHandler | None, Handler | None]:
        """(batch handler, handler of one event) for ``event_type``; the handler of one may be the batch handler
        given a list of one. Both ``None``: the consumer does not handle the type (the event is acked)."""
        found = self._handlers.get(event_type)
        if found is not None:
            return found
        spec = self.spec
        batch = spec.event_batch_handlers.get(event_type)
        single = spec.handlers.get(event_type)
        if batch is None and single is None:
            batch, single = spec.default_event_batch_handler, spec.default_handler
        if single is None and batch is not None:
            single = _one_of(batch)
        found = self._handlers[event_type] = (batch, single)
        return found

    def _batch_handler(self, event_type: str) -> EventBatchHandler | None:
        return self._handlers_for(event_type)[0]

    def _single_handler(self, event_type: str) -> Handler | None:
        return self._handlers_for(event_type)[1]

    async def _apply_in_order(self, session: AsyncSession, events: list[tuple[CloudEvent, EventData | None]]) -> None:
        """Apply ``events`` in stream order: consecutive events with one batch handler in one call."""
        i = 0
        while i < len(events):
            event, data = events[i]
            set_trace(child_traceparent(event.traceparent), request_id=event.id)
            batch = self._batch_handler(event.type)
            if batch is None:
                handler = self._single_handler(event.type)
                if handler is not None:
                    await handler(session, event, data)
                i += 1
                continue
            j = i + 1
            while j < len(events) and self._batch_handler(events[j][0].type) is batch:
                j += 1
            await batch(session, events[i:j])
            i = j

    async def _apply_one(self, session: AsyncSession, msg: Msg, event: CloudEvent, data: EventData | None) -> _Verdict:
        """Apply one event in its own savepoint; a refused one is dead-lettered, a failing one retried later."""
        set_trace(child_traceparent(event.traceparent), request_id=event.id)
        handler = self._single_handler(event.type)
        if handler is None:
            return _Verdict("ack", "applied")
        try:
            async with session.begin_nested():
                await handler(session, event, data)
            return _Verdict("ack", "applied")
        except Exception as exc:
            if not session.in_transaction() or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
                raise  # the transaction itself is gone: the whole batch goes again
            # not applied: its inbox row goes (a redelivery, or a replay of the dead letter once the cause is
            # fixed, will apply it)
            await session.execute(
                sa.delete(self._infra.inbox).where(
                    self._infra.inbox.c.consumer == self.spec.name,
                    self._infra.inbox.c.event_id == uuid.UUID(event.id),
                )
            )
            if isinstance(exc, PoisonMessage | ValueError) or is_data_error(exc):
                await self._dead_letter(session, msg, event.id, event.type, f"{type(exc).__name__}: {exc}")
                return _Verdict("term", "dead_letter")
            deliveries = _deliveries(msg)
            if deliveries >= self.spec.max_deliver:
                await self._dead_letter(
                    session, msg, event.id, event.type, f"gave up after {deliveries}: {type(exc).__name__}: {exc}"
                )
                return _Verdict("term", "dead_letter")
            delay = self._delay(deliveries)
            log.warning(
                "event_retry", event_type=event.type, deliveries=deliveries, delay_s=delay, error=str(exc)[:300]
            )
            return _Verdict("nak", "retry", delay)

    def _delay(self, deliveries: int) -> float:
        return self.spec.backoff_s[min(max(deliveries, 1) - 1, len(self.spec.backoff_s) - 1)]

    async def _settle(self, msg: Msg, verdict: _Verdict) -> None:
        try:
            if verdict.action == "ack":
                await msg.ack()
            elif verdict.action == "term":
                await msg.term()
            else:
                await msg.nak(delay=verdict.delay_s)
        except Exception as exc:  # the connection dropped: the broker redelivers after ack_wait; the inbox skips it
            log.warning("settle_failed", consumer=self.spec.name, action=verdict.action, error=str(exc)[:200])

    async def _dead_letter(
        self, session: AsyncSession, msg: Msg, event_id: str | None, event_type: str | None, reason: str
    ) -> None:
        log.error("message_dead_lettered", consumer=self.spec.name, event_type=event_type, reason=reason[:200])
        await session.execute(
            pg_insert(self._infra.dead_letters)
            .values(
                consumer=self.spec.name,
                subject=_storable(msg.subject, 255) or "",
                event_id=_storable(event_id, 200),
                event_type=_storable(event_type, 200),
                stream_seq=_stream_seq(msg),
                deliveries=_deliveries(msg),
                payload=_escaped(msg.data),
                reason=_storable(reason, 2000) or "",
            )
            .on_conflict_do_nothing()
        )

    # ------------------------------------------------------------------------------------------------ the loop

    async def _run_subscription(self, sub: Subscription) -> None:
        psub = None
        failures = 0
        # batches being applied while the next one is fetched (``ConsumerSpec.batches_in_flight``)
        concurrent = self.spec.batch_handler is not None and self.spec.batches_in_flight > 1
        slots = asyncio.Semaphore(self.spec.batches_in_flight if concurrent else 1)
        inflight: set[asyncio.Task[None]] = set()

        async def apply(msgs: list[Msg]) -> None:
            try:
                await self.process(msgs)
                # what is still waiting behind this batch, from the last message's metadata (no round trip)
                with contextlib.suppress(Exception):
                    pending = msgs[-1].metadata.num_pending
                    metrics.CONSUMER_PENDING.labels(self.service, self.spec.name, sub.stream).set(pending or 0)
            except Exception as exc:  # process() settles every message itself; this is a bug or a lost broker
                log.warning("consumer_batch_error", consumer=self.spec.name, error=str(exc)[:300])
            finally:
                slots.release()

        feed: _PullFeed | None = None
        try:
            while not self._stopping:
                try:
                    if psub is None:
                        psub = await self._subscribe(sub)
                        self._subs.append(psub)
                        if self.spec.batch_handler is not None:
                            feed = _PullFeed(
                                self._js._nc,  # the JetStream context's connection
                                psub._nms,  # $JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>
                                self.spec.batch_size,
                                self.spec.batch_size * self.spec.batches_in_flight,
                                self.spec.fetch_timeout_s,
                            )
                            self._subs.append(await feed.start())
                    if feed is not None:
                        msgs = await feed.next_batch(self.spec.fetch_timeout_s)
                        if not msgs:
                            if not inflight:
                                metrics.CONSUMER_PENDING.labels(self.service, self.spec.name, sub.stream).set(0)
                            continue
                    else:
                        try:
                            msgs = await psub.fetch(self.spec.batch_size, timeout=self.spec.fetch_timeout_s)
                        except TimeoutError:
                            metrics.CONSUMER_PENDING.labels(self.service, self.spec.name, sub.stream).set(0)
                            continue
                    if self._stopping:
                        break  # unacked messages are redelivered after ack_wait
                    if concurrent:
                        await slots.acquire()  # waits while every slot is taken
                        task = asyncio.create_task(apply(msgs))
                        inflight.add(task)
                        task.add_done_callback(inflight.discard)
                    else:  # one batch after another, the next fetched once this one is settled
                        await self.process(msgs)
                        # what is still waiting behind this batch, from the last message's metadata (no round trip)
                        with contextlib.suppress(Exception):
                            pending = msgs[-1].metadata.num_pending
                            metrics.CONSUMER_PENDING.labels(self.service, self.spec.name, sub.stream).set(pending or 0)
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    log.warning("consumer_loop_error", consumer=self.spec.name, stream=sub.stream, error=str(exc)[:300])
                    old, psub = psub, None
                    if feed is not None:
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(feed._sub.unsubscribe(), timeout=2)
                        feed = None
                    if old is not None:
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(old.unsubscribe(), timeout=2)
                    await asyncio.sleep(min(10.0, 0.5 * failures))
        except asyncio.CancelledError:
            for task in inflight:  # the process is going away: so are its open transactions (redelivered later)
                task.cancel()
            await asyncio.gather(*inflight, return_exceptions=True)
            raise
        if inflight:  # stopped: let the batches being applied finish (their commit and acks) before leaving
            await asyncio.wait(set(inflight), timeout=self.spec.ack_wait_s)

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


class _PullFeed:
    """Pull requests kept outstanding on one inbox, for raw consumers (``batch_handler``).

    ``PullSubscription.fetch`` has one request at a time and waits for each message on its own (a task and a
    timer per message). Here the broker streams the messages of ``prefetch`` requested messages (requests of
    ``batch`` each) to a callback that only appends them; a batch is handed out as soon as it is full or no
    message came for a couple of milliseconds, and each request that ends is replaced as soon as batches are
    taken, so the next batch is on its way while the last ones are applied (in order, when one at a time). The
    broker serves a consumer's pull requests oldest first, so counting the messages received tells which request
    is done."""

    def __init__(self, nc: Any, next_subject: str, batch: int, prefetch: int, expires_s: float) -> None:
        self._nc = nc
        self._next = next_subject
        self._batch = batch
        self._prefetch = max(prefetch, batch)
        self._expires_ns = int(max(expires_s, 0.05) * 1e9)
        self._requests: list[int] = []  # messages still due on each outstanding request, oldest first
        self._due = 0  # their sum
        self._buf: list[Msg] = []
        self._arrived = asyncio.Event()
        self._sub: Any = None
        self._inbox = ""
        self._broken = False

    async def start(self) -> Any:
        self._inbox = self._nc.new_inbox()
        self._sub = await self._nc.subscribe(self._inbox, cb=self._on_msg)
        await self._top_up()
        return self._sub

    async def _top_up(self) -> None:
        while self._due + len(self._buf) + self._batch <= self._prefetch:
            body = json.dumps({"batch": self._batch, "expires": self._expires_ns}).encode()
            self._requests.append(self._batch)
            self._due += self._batch
            await self._nc.publish(self._next, body, reply=self._inbox)

    async def _on_msg(self, msg: Msg) -> None:
        status = msg.headers.get("Status") if msg.headers else None
        if status is None:
            self._buf.append(msg)
            if self._requests:
                self._requests[0] -= 1
                self._due -= 1
                if self._requests[0] <= 0:
                    self._requests.pop(0)
            self._arrived.set()
            return
        if status == "100":  # idle heartbeat (not asked for)
            return
        if status in ("404", "408") and self._requests:  # the oldest request ended short (expired, or nothing)
            self._due -= self._requests.pop(0)
        else:  # 409 and the like (max waiting, leadership change, consumer deleted): start over
            self._requests.clear()
            self._due = 0
            self._broken = status not in ("404", "408")
        self._arrived.set()

    async def next_batch(self, timeout: float, linger: float = 0.002) -> list[Msg]:
        """Up to ``batch`` messages: as soon as a full batch is there, or what came once none arrived for
        ``linger`` seconds; ``[]`` after ``timeout`` without any."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = -1
        while len(self._buf) < self._batch:
            if self._broken:
                self._broken = False
                await asyncio.sleep(0.5)
            await self._top_up()
            if self._buf and len(self._buf) == seen:
                break  # nothing more came during the linger: take what is there
            seen = len(self._buf)
            left = deadline - loop.time()
            if left <= 0:
                break
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), linger if self._buf else left)
        taken, self._buf = self._buf[: self._batch], self._buf[self._batch :]
        await self._top_up()
        return taken


def _one_of(batch: EventBatchHandler) -> Handler:
    async def one(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
        await batch(session, [(event, data)])

    return one


def _delivery(msg: Msg) -> Delivery:
    """A raw message with its stream sequence, deliveries and storage time, read straight from the ack subject
    (``$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ns>.<pending>``, or with domain and
    account hash after ``ACK``) rather than through ``msg.metadata`` (which builds an object per message)."""
    tokens: list[str] = msg.reply.split(".") if msg.reply else []
    shift = 0 if len(tokens) == 9 else 2 if len(tokens) >= 11 else -1
    if shift >= 0 and tokens[0] == "$JS" and tokens[1] == "ACK":
        try:
            stored = datetime.fromtimestamp(int(tokens[7 + shift]) / 1e9, UTC)
            return Delivery(msg, msg.subject, msg.data, int(tokens[5 + shift]), int(tokens[4 + shift]) or 1, stored)
        except ValueError:
            pass
    return Delivery(msg, msg.subject, msg.data, _stream_seq(msg), _deliveries(msg), _stored_at(msg))


def _deliveries(msg: Msg) -> int:
    try:
        return msg.metadata.num_delivered or 1
    except Exception:
        return 1


def _stored_at(msg: Msg) -> datetime | None:
    try:
        return msg.metadata.timestamp
    except Exception:
        return None


def _stream_seq(msg: Msg) -> int | None:
    try:
        return msg.metadata.sequence.stream
    except Exception:
        return None


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
