"""Proof: the consumer applies every event exactly once across a stop in the middle of a batch, redeliveries
and lost acks; poison messages go to the dead-letter table without holding up the events behind them."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from renovation_common.events import CloudEvent
from renovation_common.messaging import (
    ConsumerRunner,
    ConsumerSpec,
    PoisonMessage,
    Subscription,
    ensure_event_stream,
    stream_name,
)
from renovation_common.testing import eventually


def _event(producer: str, n: int, *, poison: bool = False) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=f"/renovation/{producer}",
        type=f"{producer}.thing.created.v1",
        time=datetime.now(UTC),
        data={"n": n, "poison": poison},
    )


async def _publish(js, producer: str, events: list[CloudEvent]) -> None:
    for e in events:
        await js.publish(f"renovation.{e.type}", e.model_dump_json().encode(), headers={"Nats-Msg-Id": e.id})


def _spec(producer: str, handler, **kw) -> ConsumerSpec:
    return ConsumerSpec(
        name=f"probe-{producer}",
        handlers={f"{producer}.thing.created.v1": handler},
        subscriptions=[Subscription(stream=stream_name(producer), filter_subjects=[f"renovation.{producer}.>"])],
        **kw,
    )


async def test_stop_mid_batch_and_restart_applies_each_event_once(probe_db, jetstream, unique_producer):
    await ensure_event_stream(jetstream, unique_producer)
    events = [_event(unique_producer, n) for n in range(300)]
    await _publish(jetstream, unique_producer, events)
    handled = 0
    stop_now = asyncio.Event()

    async def apply(session, event, data):
        nonlocal handled
        await session.execute(sa.insert(probe_db.applied).values(event_id=event.id))
        handled += 1
        if handled == 70:
            stop_now.set()
            await asyncio.sleep(3600)  # the process "dies" here, mid-batch, with this transaction open

    spec = _spec(unique_producer, apply, batch_size=50, ack_wait_s=2)
    first = ConsumerRunner(spec, probe_db.sessionmaker, probe_db.infra, jetstream, service="probe")
    task = asyncio.create_task(first.run())
    await asyncio.wait_for(stop_now.wait(), 30)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    applied_before = await probe_db.count(probe_db.applied)
    assert 0 < applied_before < 300

    async def apply_again(session, event, data):
        await session.execute(sa.insert(probe_db.applied).values(event_id=event.id))

    second = ConsumerRunner(
        _spec(unique_producer, apply_again, batch_size=50, ack_wait_s=2),
        probe_db.sessionmaker,
        probe_db.infra,
        jetstream,
        service="probe",
    )
    task = asyncio.create_task(second.run())
    try:

        async def all_applied() -> bool:
            return await probe_db.count(probe_db.applied) >= 300

        await eventually(all_applied, timeout_s=40)
        await asyncio.sleep(2.5)  # past ack_wait: any redelivery would show up now
    finally:
        second.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    async with probe_db.sessionmaker() as s:
        rows = (await s.execute(sa.select(probe_db.applied.c.event_id))).scalars().all()
    assert len(rows) == 300
    assert set(rows) == {e.id for e in events}


async def test_lost_ack_redelivery_is_skipped_by_the_inbox(probe_db, jetstream, unique_producer):
    await ensure_event_stream(jetstream, unique_producer)
    events = [_event(unique_producer, n) for n in range(20)]
    await _publish(jetstream, unique_producer, events)

    async def apply(session, event, data):
        await session.execute(sa.insert(probe_db.applied).values(event_id=event.id))

    spec = _spec(unique_producer, apply, ack_wait_s=1)
    runner = ConsumerRunner(spec, probe_db.sessionmaker, probe_db.infra, jetstream, service="probe")
    sub = await runner._subscribe(spec.subscriptions[0])
    msgs = await sub.fetch(20, timeout=5)
    outcomes = []
    for msg in msgs:
        original_ack = msg.ack

        async def lost_ack(_orig=original_ack):
            return None  # committed, but the ack never reached the server

        msg.ack = lost_ack
        outcomes.append(await runner.handle(msg))
    assert outcomes == ["applied"] * 20
    redelivered: list = []

    async def all_back() -> bool:  # redelivered after ack_wait (1 s), perhaps in pieces on a loaded machine
        with contextlib.suppress(TimeoutError):
            redelivered.extend(await sub.fetch(20 - len(redelivered), timeout=1))
        return len(redelivered) >= 20

    await eventually(all_back, timeout_s=30)
    assert len(redelivered) == 20
    assert [await runner.handle(m) for m in redelivered] == ["duplicate"] * 20
    assert await probe_db.count(probe_db.applied) == 20


async def test_poison_messages_are_dead_lettered_and_do_not_block(probe_db, jetstream, unique_producer):
    await ensure_event_stream(jetstream, unique_producer)
    subject = f"renovation.{unique_producer}.thing.created.v1"
    good = [_event(unique_producer, n) for n in range(4)]
    bad_handler = _event(unique_producer, 99, poison=True)
    await _publish(jetstream, unique_producer, [good[0]])
    await jetstream.publish(subject, b"{not json", headers={"Nats-Msg-Id": "junk-1"})
    await _publish(jetstream, unique_producer, [good[1], bad_handler, good[2]])
    await jetstream.publish(subject, b'{"specversion":"1.0"}', headers={"Nats-Msg-Id": "junk-2"})
    await _publish(jetstream, unique_producer, [good[3]])

    async def apply(session, event, data):
        if event.data.get("poison"):
            raise PoisonMessage("this thing can never be created")
        await session.execute(sa.insert(probe_db.applied).values(event_id=event.id))

    runner = ConsumerRunner(
        _spec(unique_producer, apply), probe_db.sessionmaker, probe_db.infra, jetstream, service="probe"
    )
    task = asyncio.create_task(runner.run())
    try:

        async def settled() -> bool:
            return (
                await probe_db.count(probe_db.applied) == 4 and await probe_db.count(probe_db.infra.dead_letters) == 3
            )

        await eventually(settled, timeout_s=20)
    finally:
        runner.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    async with probe_db.sessionmaker() as s:
        dead = (await s.execute(sa.select(probe_db.infra.dead_letters))).all()
    reasons = sorted(d.reason for d in dead)
    assert any("not a CloudEvent" in r for r in reasons)
    assert any("PoisonMessage" in r for r in reasons)
    assert {d.event_id for d in dead if d.event_id} == {bad_handler.id}


async def test_transient_failure_is_retried_with_backoff_then_applied(probe_db, jetstream, unique_producer):
    await ensure_event_stream(jetstream, unique_producer)
    event = _event(unique_producer, 1)
    await _publish(jetstream, unique_producer, [event])
    attempts = 0

    async def flaky(session, e, data):
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("downstream briefly unavailable")
        await session.execute(sa.insert(probe_db.applied).values(event_id=e.id))

    spec = _spec(unique_producer, flaky, backoff_s=[0.2, 0.2, 0.2])
    runner = ConsumerRunner(spec, probe_db.sessionmaker, probe_db.infra, jetstream, service="probe")
    task = asyncio.create_task(runner.run())
    try:

        async def done() -> bool:
            return await probe_db.count(probe_db.applied) == 1

        await eventually(done, timeout_s=20)
    finally:
        runner.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert attempts == 3
    assert await probe_db.count(probe_db.infra.dead_letters) == 0


async def test_events_a_handler_publishes_commit_with_its_inbox_row_or_not_at_all(probe_db, jetstream, unique_producer):
    from renovation_common.db import ConsumerUnitOfWork

    await ensure_event_stream(jetstream, unique_producer)
    ok, bad = _event(unique_producer, 1), _event(unique_producer, 2, poison=True)
    await _publish(jetstream, unique_producer, [ok, bad])

    async def react(session, event, data):
        uow = ConsumerUnitOfWork(session, probe_db.infra)
        async with uow:
            await session.execute(sa.insert(probe_db.applied).values(event_id=event.id))
            uow.publish(_event(unique_producer + "x", 9))
            await uow.commit()  # writes the outbox row; the runner commits the transaction
        if event.data.get("poison"):
            raise PoisonMessage("fails after publishing")

    runner = ConsumerRunner(
        _spec(unique_producer, react), probe_db.sessionmaker, probe_db.infra, jetstream, service="probe"
    )
    sub = await runner._subscribe(runner.spec.subscriptions[0])
    outcomes = [await runner.handle(m) for m in await sub.fetch(2, timeout=5)]
    assert outcomes == ["applied", "dead_letter"]
    assert await probe_db.count(probe_db.applied) == 1
    assert await probe_db.count(probe_db.infra.outbox) == 1  # only the event of the handler that succeeded
    assert await probe_db.count(probe_db.infra.inbox) == 1


async def test_one_refused_event_in_a_batch_leaves_the_rest_applied_in_the_same_fetch(
    probe_db, jetstream, unique_producer
):
    """Per-message isolation inside a batch: a handler refusing one event (or the database refusing its content)
    rolls back only that event's savepoint."""
    await ensure_event_stream(jetstream, unique_producer)
    events = [_event(unique_producer, n, poison=n in (7, 23)) for n in range(40)]
    await _publish(jetstream, unique_producer, events)

    async def apply(session, event, data):
        if event.data["n"] == 7:
            raise PoisonMessage("refused by the rules")
        name = "\x00" if event.data["n"] == 23 else f"thing-{event.data['n']}"  # Postgres text refuses NUL
        await session.execute(sa.insert(probe_db.things).values(id=uuid.uuid4(), name=name))
        await session.execute(sa.insert(probe_db.applied).values(event_id=event.id))

    runner = ConsumerRunner(
        _spec(unique_producer, apply, batch_size=50), probe_db.sessionmaker, probe_db.infra, jetstream, service="probe"
    )
    sub = await runner._subscribe(runner.spec.subscriptions[0])
    msgs = await sub.fetch(50, timeout=5)
    assert len(msgs) == 40
    outcomes = await runner.process(msgs)
    assert outcomes.count("applied") == 38 and outcomes.count("dead_letter") == 2
    assert await probe_db.count(probe_db.applied) == 38
    assert await probe_db.count(probe_db.infra.inbox) == 38  # the refused ones can be replayed once fixed
    async with probe_db.sessionmaker() as s:
        reasons = sorted((await s.scalars(sa.select(probe_db.infra.dead_letters.c.reason))).all())
    assert len(reasons) == 2 and any("PoisonMessage" in r for r in reasons)


async def test_a_raw_batch_the_database_refuses_is_bisected_down_to_the_bad_message(probe_db, jetstream):
    """A raw batch handler (one statement per batch, like device ingestion): one message whose content the database
    refuses makes the batch fail; the runner retries halves until only that message is left, and dead-letters it."""
    stream = f"RAW{uuid.uuid4().hex[:8].upper()}"
    subject = f"raw{stream.lower()}"
    from renovation_common.messaging import ensure_stream

    await ensure_stream(jetstream, stream, [f"{subject}.>"])
    payloads = [f"ok-{n}".encode() for n in range(64)]
    payloads[41] = b"bad\x00byte"
    for n, payload in enumerate(payloads):
        await jetstream.publish(f"{subject}.d{n}", payload)
    batches: list[int] = []

    async def store(uow, deliveries):
        batches.append(len(deliveries))
        names = [d.data.decode() for d in deliveries]
        await uow.session.execute(sa.insert(probe_db.things), [{"id": uuid.uuid4(), "name": n} for n in names])

    spec = ConsumerSpec(
        name="raw-probe",
        subscriptions=[Subscription(stream=stream, filter_subjects=[f"{subject}.>"])],
        batch_handler=store,
        batch_size=64,
    )
    runner = ConsumerRunner(spec, probe_db.sessionmaker, probe_db.infra, jetstream, service="probe")
    sub = await runner._subscribe(spec.subscriptions[0])
    msgs = await sub.fetch(64, timeout=5)
    outcomes = await runner.process(msgs)
    assert outcomes.count("stored") == 63 and outcomes.count("dead_letter") == 1
    assert await probe_db.count(probe_db.things) == 63
    assert len(batches) <= 2 * 7 + 1  # log2(64) levels of halves, not 64 single retries
    async with probe_db.sessionmaker() as s:
        dead = (await s.execute(sa.select(probe_db.infra.dead_letters))).one()
    assert dead.payload == "bad\\x00byte" and dead.subject == f"{subject}.d41"
    assert "CharacterNotInRepertoire" in dead.reason or "0x00" in dead.reason or "NUL" in dead.reason.upper()


async def test_a_batch_handler_applies_a_fetch_in_one_call_and_a_refused_event_is_isolated(
    probe_db, jetstream, unique_producer
):
    """Set-based handlers (``event_batch_handlers``): the new events of a fetch reach the handler in one call, in
    stream order, after one inbox statement; a redelivered event is not passed again. When the batch fails (one
    refused event, one the database refuses), the events are applied one at a time — a list of one each — so the
    refused ones are dead-lettered and the others applied in the same transaction."""
    await ensure_event_stream(jetstream, unique_producer)
    events = [_event(unique_producer, n) for n in range(30)]
    await _publish(jetstream, unique_producer, events)
    calls: list[list[int]] = []

    async def apply_many(session, items):
        calls.append([event.data["n"] for event, _ in items])
        for event, _ in items:
            if event.data.get("poison"):
                raise PoisonMessage("refused by the rules")
        rows = [{"id": uuid.uuid4(), "name": "\x00" if e.data.get("nul") else f"t-{e.data['n']}"} for e, _ in items]
        await session.execute(sa.insert(probe_db.things), rows)
        await session.execute(sa.insert(probe_db.applied), [{"event_id": e.id} for e, _ in items])

    spec = ConsumerSpec(
        name=f"probe-{unique_producer}",
        event_batch_handlers={f"{unique_producer}.thing.created.v1": apply_many},
        subscriptions=[
            Subscription(stream=stream_name(unique_producer), filter_subjects=[f"renovation.{unique_producer}.>"])
        ],
        batch_size=50,
    )
    runner = ConsumerRunner(spec, probe_db.sessionmaker, probe_db.infra, jetstream, service="probe")
    sub = await runner._subscribe(spec.subscriptions[0])
    msgs = await sub.fetch(50, timeout=5)
    assert len(msgs) == 30
    assert await runner.process(msgs) == ["applied"] * 30
    assert calls == [list(range(30))]  # one call, in stream order
    assert await probe_db.count(probe_db.applied) == 30

    # a second fetch: 1 event refused by the handler, 1 the database refuses, 6 good ones
    poison = _event(unique_producer, 100, poison=True)
    nul = _event(unique_producer, 101)
    nul.data["nul"] = True
    fresh = [_event(unique_producer, 200 + n) for n in range(6)]
    await _publish(jetstream, unique_producer, [*fresh[:3], poison, *fresh[3:], nul])
    msgs = await sub.fetch(50, timeout=5)
    assert len(msgs) == 8
    calls.clear()
    outcomes = await runner.process(msgs)
    assert outcomes == ["applied"] * 3 + ["dead_letter"] + ["applied"] * 3 + ["dead_letter"]
    assert calls[0] == [200, 201, 202, 100, 203, 204, 205, 101]  # tried together first
    assert all(len(c) == 1 for c in calls[1:])  # then one at a time
    assert await probe_db.count(probe_db.applied) == 36
    assert await probe_db.count(probe_db.infra.inbox) == 36  # the refused ones can be replayed once fixed
    assert await probe_db.count(probe_db.infra.dead_letters) == 2


async def test_a_redelivered_event_never_reaches_a_batch_handler_twice(probe_db, jetstream, unique_producer):
    await ensure_event_stream(jetstream, unique_producer)
    events = [_event(unique_producer, n) for n in range(10)]
    await _publish(jetstream, unique_producer, events)
    seen: list[str] = []

    async def apply_many(session, items):
        seen.extend(e.id for e, _ in items)
        await session.execute(sa.insert(probe_db.applied), [{"event_id": e.id} for e, _ in items])

    spec = ConsumerSpec(
        name=f"probe-{unique_producer}",
        event_batch_handlers={f"{unique_producer}.thing.created.v1": apply_many},
        subscriptions=[
            Subscription(stream=stream_name(unique_producer), filter_subjects=[f"renovation.{unique_producer}.>"])
        ],
        ack_wait_s=1,
    )
    runner = ConsumerRunner(spec, probe_db.sessionmaker, probe_db.infra, jetstream, service="probe")
    sub = await runner._subscribe(spec.subscriptions[0])
    msgs = await sub.fetch(10, timeout=5)

    async def lost_acks(*_: object) -> None:
        return None  # committed, but the acks never reached the server

    runner._ack_all, runner._settle = lost_acks, lost_acks  # type: ignore[method-assign]
    assert await runner.process(msgs) == ["applied"] * 10
    del runner._ack_all, runner._settle  # the runner's own again
    redelivered: list = []

    async def all_back() -> bool:
        with contextlib.suppress(TimeoutError):
            redelivered.extend(await sub.fetch(10 - len(redelivered), timeout=1))
        return len(redelivered) >= 10

    await eventually(all_back, timeout_s=30)
    assert await runner.process(redelivered) == ["duplicate"] * 10
    assert sorted(seen) == sorted(e.id for e in events)
    assert await probe_db.count(probe_db.applied) == 10


async def test_raw_batches_in_flight_store_every_message_once_and_isolate_the_bad_one(probe_db, jetstream):
    """``batches_in_flight`` > 1 (device telemetry): batches fetched ahead on the runner's own pull requests and
    applied in concurrent transactions still store each message exactly once and ack it (nothing comes back after
    ack_wait), every message carries its stream sequence and storage time, and a message the database refuses is
    still bisected out and dead-lettered without holding up the rest."""
    stream = f"RAW{uuid.uuid4().hex[:8].upper()}"
    subject = f"raw{stream.lower()}"
    from renovation_common.messaging import ensure_stream

    await ensure_stream(jetstream, stream, [f"{subject}.>"])
    total = 1500
    for n in range(total):
        await jetstream.publish(f"{subject}.d{n}", b"bad\x00byte" if n == 777 else f"ok-{n}".encode())
    seqs: list[int] = []
    concurrent = 0
    most = 0

    async def store(uow, deliveries):
        nonlocal concurrent, most
        concurrent += 1
        most = max(most, concurrent)
        try:
            assert all(d.stream_seq and d.received_at and d.received_at.tzinfo for d in deliveries)
            rows = [{"id": uuid.uuid4(), "name": d.data.decode()} for d in deliveries]
            await uow.session.execute(sa.insert(probe_db.things), rows)
            await asyncio.sleep(0.05)  # the transaction stays open a while: the next batches overlap it
            seqs.extend(d.stream_seq for d in deliveries)
        finally:
            concurrent -= 1

    spec = ConsumerSpec(
        name="raw-inflight",
        subscriptions=[Subscription(stream=stream, filter_subjects=[f"{subject}.>"])],
        batch_handler=store,
        batch_size=100,
        batches_in_flight=3,
        ack_wait_s=2,
    )
    runner = ConsumerRunner(spec, probe_db.sessionmaker, probe_db.infra, jetstream, service="probe")
    task = asyncio.create_task(runner.run())
    try:

        async def all_stored() -> bool:
            return await probe_db.count(probe_db.things) >= total - 1

        await eventually(all_stored, timeout_s=60)
        await asyncio.sleep(3)  # past ack_wait: an unacked message would be redelivered and stored again
    finally:
        runner.stop()
        await asyncio.wait_for(task, 10)
        await runner.close()
    assert await probe_db.count(probe_db.things) == total - 1
    async with probe_db.sessionmaker() as s:
        names = (await s.scalars(sa.select(probe_db.things.c.name))).all()
        dead = (await s.execute(sa.select(probe_db.infra.dead_letters))).one()
    assert len(set(names)) == total - 1 and "ok-777" not in names
    assert dead.payload == "bad\\x00byte" and dead.subject == f"{subject}.d777"
    assert most >= 2  # batches really were applied at the same time
    info = await jetstream.consumer_info(stream, runner.durable_name(spec.subscriptions[0]))
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_a_raw_batch_on_a_dropped_connection_is_applied_again_at_once(probe_db, jetstream):
    """Without a pre-ping, the pooled connection a batch gets may have been dropped by the server: the batch's
    transaction fails on it, the pool throws it away, and the runner applies the batch again at once on a fresh one
    (stored and acked, not nak-ed for a redelivery later)."""
    from renovation_common.db import create_engine
    from renovation_common.messaging import ensure_stream

    stream = f"RAW{uuid.uuid4().hex[:8].upper()}"
    subject = f"raw{stream.lower()}"
    await ensure_stream(jetstream, stream, [f"{subject}.>"])
    for n in range(5):
        await jetstream.publish(f"{subject}.d{n}", f"ok-{n}".encode())
    engine = create_engine(probe_db.url, pool_size=1, max_overflow=0, pre_ping=False)
    sessionmaker = sa.ext.asyncio.async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessionmaker() as s:  # the pool's one connection, then dropped by the server while pooled
            pid = await s.scalar(sa.text("select pg_backend_pid()"))
        async with probe_db.sessionmaker() as s:
            assert await s.scalar(sa.text("select pg_terminate_backend(:pid)"), {"pid": pid})
        calls = 0

        async def store(uow, deliveries):
            nonlocal calls
            calls += 1
            rows = [{"id": uuid.uuid4(), "name": d.data.decode()} for d in deliveries]
            await uow.session.execute(sa.insert(probe_db.things), rows)

        spec = ConsumerSpec(
            name="raw-dropped",
            subscriptions=[Subscription(stream=stream, filter_subjects=[f"{subject}.>"])],
            batch_handler=store,
            batch_size=5,
        )
        runner = ConsumerRunner(spec, sessionmaker, probe_db.infra, jetstream, service="probe")
        sub = await runner._subscribe(spec.subscriptions[0])
        msgs = await sub.fetch(5, timeout=5)
        assert await runner.process(msgs) == ["stored"] * 5
        assert await probe_db.count(probe_db.things) == 5
    finally:
        await engine.dispose()


async def test_a_raw_batch_wakes_the_relay_only_when_it_wrote_events(probe_db, jetstream, unique_producer):
    """``after_commit`` (the relay's wake-up) follows a raw batch whose transaction wrote events, not one that only
    stored rows (a telemetry batch): no relay run per telemetry batch."""
    from renovation_common.messaging import ensure_stream

    stream = f"RAW{uuid.uuid4().hex[:8].upper()}"
    subject = f"raw{stream.lower()}"
    await ensure_stream(jetstream, stream, [f"{subject}.>"])
    for n in range(4):
        await jetstream.publish(f"{subject}.d{n}", b"alarm" if n == 3 else b"reading")
    woken = 0

    def wake() -> None:
        nonlocal woken
        woken += 1

    async def store(uow, deliveries):
        for d in deliveries:
            if d.data == b"alarm":
                uow.publish(_event(unique_producer, 1))
        await uow.session.execute(sa.insert(probe_db.things), [{"id": uuid.uuid4(), "name": "x"} for _ in deliveries])

    spec = ConsumerSpec(
        name="raw-wake",
        subscriptions=[Subscription(stream=stream, filter_subjects=[f"{subject}.>"])],
        batch_handler=store,
        after_commit=wake,
    )
    runner = ConsumerRunner(spec, probe_db.sessionmaker, probe_db.infra, jetstream, service="probe")
    sub = await runner._subscribe(spec.subscriptions[0])
    readings = await sub.fetch(3, timeout=5)
    assert await runner.process(readings) == ["stored"] * 3
    assert woken == 0
    alarm = await sub.fetch(1, timeout=5)
    assert await runner.process(alarm) == ["stored"]
    assert woken == 1
    assert await probe_db.count(probe_db.infra.outbox) == 1
