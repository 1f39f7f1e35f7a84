"""Proof: the consumer applies every event exactly once across a stop in the middle of a batch, redeliveries
and lost acks; poison messages go to the dead-letter table without holding up the events behind them."""

from __future__ import annotations

import asyncio
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
    await asyncio.sleep(1.5)
    redelivered = await sub.fetch(20, timeout=5)
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
