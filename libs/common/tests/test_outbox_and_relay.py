"""Proof: a state change and its event commit together; the relay never publishes an outbox row twice."""

from __future__ import annotations

import itertools
import json
import shutil
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from renovation_common.db import UnitOfWork
from renovation_common.events import CloudEvent
from renovation_common.messaging import OutboxRelay, ensure_event_stream, stream_name


def _event(producer: str, n: int = 0) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=f"/renovation/{producer}",
        type=f"{producer}.thing.created.v1",
        time=datetime.now(UTC),
        data={"n": n},
    )


async def test_failure_after_the_write_leaves_neither_row_nor_event(probe_db, unique_producer):
    thing_id = uuid.uuid4()
    with pytest.raises(RuntimeError):
        async with UnitOfWork(probe_db.sessionmaker, probe_db.infra) as uow:
            await uow.session.execute(sa.insert(probe_db.things).values(id=thing_id, name="gate"))
            uow.publish(_event(unique_producer))
            await uow.flush_events()  # both are written inside the transaction ...
            raise RuntimeError("crash before commit")  # ... and neither survives
    assert await probe_db.count(probe_db.things) == 0
    assert await probe_db.count(probe_db.infra.outbox) == 0


async def test_commit_writes_row_and_event_together(probe_db, unique_producer):
    async with UnitOfWork(probe_db.sessionmaker, probe_db.infra) as uow:
        await uow.session.execute(sa.insert(probe_db.things).values(id=uuid.uuid4(), name="gate"))
        uow.publish(_event(unique_producer))
        await uow.commit()
    assert await probe_db.count(probe_db.things) == 1
    assert await probe_db.count(probe_db.infra.outbox) == 1


async def test_leaving_without_commit_rolls_back(probe_db, unique_producer):
    async with UnitOfWork(probe_db.sessionmaker, probe_db.infra) as uow:
        await uow.session.execute(sa.insert(probe_db.things).values(id=uuid.uuid4(), name="gate"))
        uow.publish(_event(unique_producer))
    assert await probe_db.count(probe_db.things) == 0
    assert await probe_db.count(probe_db.infra.outbox) == 0


async def test_relay_publishing_the_same_row_twice_leaves_one_message(probe_db, jetstream, unique_producer):
    await ensure_event_stream(jetstream, unique_producer)
    events = [_event(unique_producer, n) for n in range(3)]
    async with UnitOfWork(probe_db.sessionmaker, probe_db.infra) as uow:
        for e in events:
            uow.publish(e)
        await uow.commit()
    relay = OutboxRelay(probe_db.sessionmaker, probe_db.infra, jetstream, service="probe")
    assert await relay.publish_batch() == 3
    # A crash between publish and mark: the rows look unpublished again and the relay sends them again.
    async with probe_db.sessionmaker() as s, s.begin():
        await s.execute(sa.update(probe_db.infra.outbox).values(published_at=None))
    assert await relay.publish_batch() == 3
    assert await relay.publish_batch() == 0
    info = await jetstream.stream_info(stream_name(unique_producer))
    assert info.state.messages == 3
    received = []
    sub = await jetstream.pull_subscribe(f"renovation.{unique_producer}.>", stream=stream_name(unique_producer))
    for msg in await sub.fetch(10, timeout=2):
        received.append(msg.headers["Nats-Msg-Id"])
        await msg.ack()
    assert sorted(received) == sorted(e.id for e in events)
    assert await relay.backlog() == 0


async def test_a_commit_during_a_batch_is_published_without_waiting_for_the_poll(probe_db, jetstream, unique_producer):
    """Regression (found by bench/bench_outbox.py): a wake-up that arrived while the relay was publishing was
    cleared after the batch, so back-to-back events waited a whole poll interval."""
    import asyncio
    import time

    await ensure_event_stream(jetstream, unique_producer)
    relay = OutboxRelay(probe_db.sessionmaker, probe_db.infra, jetstream, service="probe", poll_interval_s=120.0)
    original = relay.publish_batch
    second_committed: list[float] = []

    async def publish_then_commit_another() -> int:
        sent = await original()
        if sent and not second_committed:  # a use case commits while the relay is still busy with its batch
            async with UnitOfWork(probe_db.sessionmaker, probe_db.infra, on_commit_events=relay.wake) as uow:
                uow.publish(_event(unique_producer, 2))
                await uow.commit()
            second_committed.append(time.monotonic())
        return sent

    relay.publish_batch = publish_then_commit_another  # type: ignore[method-assign]
    async with UnitOfWork(probe_db.sessionmaker, probe_db.infra) as uow:
        uow.publish(_event(unique_producer, 1))
        await uow.commit()
    task = asyncio.create_task(relay.run())
    try:
        deadline = time.monotonic() + 60.0
        while (await relay.backlog() or not second_committed) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert second_committed and await relay.backlog() == 0
        # without the wake-up it would have waited out the 120 s poll interval (a loaded machine needs seconds, not 120)
        assert time.monotonic() - second_committed[0] < 60.0
    finally:
        relay.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_two_relays_keep_the_order_of_successive_events_of_one_aggregate(probe_db, jetstream, unique_producer):
    """Issue 14's reproduction: with two relays (two replicas) 60 successive events of one aggregate came out with
    13 inversions. One batch at a time per service database keeps them in commit order."""
    import asyncio

    await ensure_event_stream(jetstream, unique_producer)
    relays = [
        OutboxRelay(
            probe_db.sessionmaker, probe_db.infra, jetstream, service="probe", batch_size=7, poll_interval_s=0.05
        )
        for _ in range(2)
    ]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        for n in range(60):
            async with UnitOfWork(probe_db.sessionmaker, probe_db.infra, on_commit_events=relays[n % 2].wake) as uow:
                uow.publish(_event(unique_producer, n))
                await uow.commit()
        deadline = asyncio.get_running_loop().time() + 60
        while await relays[0].backlog() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        assert await relays[0].backlog() == 0
    finally:
        for r in relays:
            r.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    sub = await jetstream.pull_subscribe(f"renovation.{unique_producer}.>", stream=stream_name(unique_producer))
    order = []
    while len(order) < 60:
        for msg in await sub.fetch(60, timeout=5):
            order.append(json.loads(msg.data)["data"]["n"])
            await msg.ack()
    inversions = sum(1 for a, b in itertools.pairwise(order) if b < a)
    assert inversions == 0 and order == list(range(60)), order


async def test_a_pipelined_run_keeps_outbox_order_across_chunks_and_runs(probe_db, jetstream, unique_producer):
    """Chunks of 100 rows, 3 awaiting their acks at once, runs of at most 700 rows: 2,000 events reach the stream
    once each, in outbox order, and every row is marked sent."""
    await ensure_event_stream(jetstream, unique_producer)
    events = [_event(unique_producer, n) for n in range(2000)]
    for start in range(0, 2000, 250):
        async with UnitOfWork(probe_db.sessionmaker, probe_db.infra) as uow:
            for e in events[start : start + 250]:
                uow.publish(e)
            await uow.commit()
    relay = OutboxRelay(
        probe_db.sessionmaker, probe_db.infra, jetstream, service="probe", batch_size=100, window=3,
        max_rows_per_run=700,
    )  # fmt: skip
    runs = []
    while (sent := await relay.publish_batch()) > 0:
        runs.append(sent)
    assert runs == [700, 700, 600]
    assert await relay.backlog() == 0
    info = await jetstream.stream_info(stream_name(unique_producer))
    assert info.state.messages == 2000
    sub = await jetstream.pull_subscribe(f"renovation.{unique_producer}.>", stream=stream_name(unique_producer))
    order: list[int] = []
    while len(order) < 2000:
        for msg in await sub.fetch(500, timeout=5):
            order.append(json.loads(msg.data)["data"]["n"])
            await msg.ack()
    assert order == list(range(2000))


async def test_a_row_jetstream_does_not_acknowledge_stays_pending_and_the_rest_is_sent(
    probe_db, jetstream, unique_producer
):
    """A publish nobody acknowledges (no stream takes its subject: a no-responders answer) is unmarked in the run's
    transaction, counted and kept with its error; the rows around it are sent and marked."""
    await ensure_event_stream(jetstream, unique_producer)
    good = [_event(unique_producer, n) for n in range(5)]
    stray = _event(f"nostream{uuid.uuid4().hex[:8]}", 99)
    async with UnitOfWork(probe_db.sessionmaker, probe_db.infra) as uow:
        for e in [*good[:2], stray, *good[2:]]:
            uow.publish(e)
        await uow.commit()
    relay = OutboxRelay(probe_db.sessionmaker, probe_db.infra, jetstream, service="probe", ack_timeout_s=5)
    assert await relay.publish_batch() == 5
    t = probe_db.infra.outbox
    async with probe_db.sessionmaker() as s:
        pending = (
            await s.execute(sa.select(t.c.event_id, t.c.attempts, t.c.last_error).where(t.c.published_at.is_(None)))
        ).all()
    assert [(str(p.event_id), p.attempts) for p in pending] == [(stray.id, 1)]
    assert pending[0].last_error
    info = await jetstream.stream_info(stream_name(unique_producer))
    assert info.state.messages == 5


async def test_a_relay_woken_while_another_publishes_waits_for_it_instead_of_the_poll(
    probe_db, jetstream, unique_producer
):
    """Replicas: while one relay holds the run lock, another woken by its own commit waits for the lock (not for
    its poll interval, 120 s here) and then publishes what the holder did not see."""
    import asyncio

    from renovation_common.messaging.outbox import RELAY_LOCK

    await ensure_event_stream(jetstream, unique_producer)
    relay = OutboxRelay(probe_db.sessionmaker, probe_db.infra, jetstream, service="probe", poll_interval_s=120.0)
    task = asyncio.create_task(relay.run())
    try:
        async with probe_db.sessionmaker() as holder, holder.begin():  # "another replica" in the middle of its run
            await holder.execute(sa.select(sa.func.pg_advisory_xact_lock(RELAY_LOCK)))
            async with UnitOfWork(probe_db.sessionmaker, probe_db.infra, on_commit_events=relay.wake) as uow:
                uow.publish(_event(unique_producer, 1))
                await uow.commit()
            await asyncio.sleep(0.3)  # the woken relay is now waiting for the lock
            assert await relay.backlog() == 1
        deadline = asyncio.get_running_loop().time() + 60  # a loaded machine needs seconds, never the 120 s poll
        while await relay.backlog() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        assert await relay.backlog() == 0
    finally:
        relay.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.skipif(shutil.which("pgbouncer") is None, reason="pgbouncer not installed (apt-get install pgbouncer)")
async def test_two_relays_behind_pgbouncer_in_transaction_mode_publish_everything_once_in_order(
    probe_db, jetstream, unique_producer, pgbouncer
):
    """Production runs the relays behind a transaction-mode pooler: the run lock is transaction-level, the lock wait
    is set per transaction, the raw chunk statements are unnamed. Two relays and three writers through PgBouncer
    (3 server connections): 300 events reach the stream once each, in outbox order."""
    import asyncio

    from sqlalchemy.ext.asyncio import async_sessionmaker

    from renovation_common.db import create_engine

    await ensure_event_stream(jetstream, unique_producer)
    engine = create_engine(pgbouncer(probe_db.url), pool_size=6, max_overflow=0, transaction_pooler=True)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    relays = [
        OutboxRelay(sessionmaker, probe_db.infra, jetstream, service="probe", batch_size=20, poll_interval_s=0.05)
        for _ in range(2)
    ]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        counter = itertools.count()

        async def writer(k: int) -> None:
            for _ in range(20):
                async with UnitOfWork(sessionmaker, probe_db.infra, on_commit_events=relays[k % 2].wake) as uow:
                    for _ in range(5):
                        uow.publish(_event(unique_producer, next(counter)))
                    await uow.commit()

        await asyncio.gather(*(writer(k) for k in range(3)))
        deadline = asyncio.get_running_loop().time() + 60
        while await relays[0].backlog() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        assert await relays[0].backlog() == 0
    finally:
        for r in relays:
            r.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await engine.dispose()
    t = probe_db.infra.outbox
    async with probe_db.sessionmaker() as s:
        in_outbox = [p["data"]["n"] for p in (await s.scalars(sa.select(t.c.payload).order_by(t.c.seq)))]
    sub = await jetstream.pull_subscribe(f"renovation.{unique_producer}.>", stream=stream_name(unique_producer))
    order: list[int] = []
    while len(order) < 300:
        for msg in await sub.fetch(300, timeout=5):
            order.append(json.loads(msg.data)["data"]["n"])
            await msg.ack()
    assert order == in_outbox and sorted(order) == list(range(300))


async def test_rows_whose_acks_never_come_stay_pending(probe_db, jetstream, unique_producer):
    """The run marks rows as it sends them but commits only acknowledged ones: when no ack comes back (the broker
    unreachable after the publish), every row of the run is left pending for the next run, none lost."""
    await ensure_event_stream(jetstream, unique_producer)
    async with UnitOfWork(probe_db.sessionmaker, probe_db.infra) as uow:
        for n in range(60):
            uow.publish(_event(unique_producer, n))
        await uow.commit()
    relay = OutboxRelay(
        probe_db.sessionmaker, probe_db.infra, jetstream, service="probe", batch_size=20, ack_timeout_s=0.5
    )

    async def lost(msg) -> None:
        return None  # the acks never reach the relay

    relay._on_ack = lost  # type: ignore[method-assign]
    with pytest.raises(TimeoutError):
        await relay.publish_batch()
    assert await relay.backlog() == 60
    t = probe_db.infra.outbox
    async with probe_db.sessionmaker() as s:
        attempts = (await s.scalars(sa.select(t.c.attempts).order_by(t.c.seq))).all()
    assert attempts[0] == 1 and sum(attempts) >= 1
    relay2 = OutboxRelay(probe_db.sessionmaker, probe_db.infra, jetstream, service="probe")
    sent = 0
    while (n := await relay2.publish_batch()) > 0:
        sent += n
    assert sent == 60 and await relay2.backlog() == 0  # published again: JetStream's duplicate window drops repeats
    info = await jetstream.stream_info(stream_name(unique_producer))
    assert info.state.messages == 60


async def test_an_event_written_in_the_use_case_own_statement_is_an_outbox_row_like_any(
    probe_db, jetstream, unique_producer
):
    """outbox_insert_sql: a use case writes its state change and its event in one statement on the driver (a
    data-modifying CTE, the event's figures filled in by the statement); the row has the one outbox format, the
    relay is woken at commit as for publish(), publishes it, and a rollback leaves neither."""
    from renovation_common.db import outbox_insert_sql, outbox_values

    await ensure_event_stream(jetstream, unique_producer)
    woken: list[int] = []
    sql = (
        "with thing as (insert into things (id, name) values ($1::uuid, 'gate') returning name), event as ("
        + outbox_insert_sql(
            2, payload="jsonb_set({payload}::jsonb, '{data,n}', to_jsonb(length(t.name)))", source="from thing t"
        )
        + " returning 1) select count(*) from event"
    )

    async def write(event: CloudEvent, commit: bool) -> None:
        async with UnitOfWork(probe_db.sessionmaker, probe_db.infra, on_commit_events=lambda: woken.append(1)) as uow:
            conn = await uow.driver()  # the transaction begun by the driver's first statement
            assert await conn.fetchval(sql, uuid.uuid4(), *outbox_values(event, uow.subject_prefix)) == 1
            uow.published_in_statement()
            if commit:
                await uow.commit()

    await write(_event(unique_producer), commit=False)
    assert (await probe_db.count(probe_db.things), await probe_db.count(probe_db.infra.outbox), woken) == (0, 0, [])
    in_statement, published = _event(unique_producer), _event(unique_producer)
    await write(in_statement, commit=True)
    assert woken == [1]
    async with UnitOfWork(probe_db.sessionmaker, probe_db.infra) as uow:  # the same event through publish()
        uow.publish(published.model_copy(update={"data": {"n": 4}}))
        await uow.commit()
    outbox = probe_db.infra.outbox
    async with probe_db.sessionmaker() as s:
        rows = (
            await s.execute(sa.select(outbox.c.subject, outbox.c.event_type, outbox.c.payload).order_by("seq"))
        ).all()
    assert rows[0].subject == rows[1].subject == f"renovation.{in_statement.type}"
    assert rows[0].event_type == rows[1].event_type == in_statement.type
    assert rows[0].payload == {**in_statement.model_dump(mode="json", exclude_none=True), "data": {"n": 4}}
    assert rows[0].payload.keys() == rows[1].payload.keys()
    relay = OutboxRelay(probe_db.sessionmaker, probe_db.infra, jetstream, service="probe")
    assert await relay.publish_batch() == 2
    sub = await jetstream.pull_subscribe(f"renovation.{unique_producer}.>", stream=stream_name(unique_producer))
    messages = await sub.fetch(10, timeout=2)
    assert json.loads(messages[0].data)["data"] == {"n": 4} and messages[0].headers["Nats-Msg-Id"] == in_statement.id
