"""Inbox consumers applying events to read models: how fast a backlog of registrations reaches another service.

A backlog of N ``survey.household.registered.v1`` events (a registry of N households) waits on the stream; the
consumer starts and applies it — events/s from its start until its inbox holds all N (each event exactly once,
inbox row and effect in one transaction). Against the bare FastAPI + asyncpg insert endpoint of the same run
(goal: ≥ 0.5 ×), at several backlog sizes (a growth curve).

* ``ConsumerRunner``, one handler per event: ``db.upsert_newest`` into a households read model (the generic path,
  what finance, smart-community and projects use);
* ``ConsumerRunner``, a set-based handler (``event_batch_handlers``): ``db.upsert_newest_many`` of the fetched batch;
* the webhooks service's ``event-fanout`` consumer (in-process app, dispatcher off): every event kept for replay and
  fanned out to the subscriptions it matches (3 subscriptions, one matching: one delivery per event);
* the webhooks service's ``community-registry`` consumer: N ``survey.community.registered.v1`` into its communities
  read model (newest version wins).

    .venv/bin/python bench/bench_consumers.py [--sizes 3605,14420,57680]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import nats
import sqlalchemy as sa
from common import curve, fresh_database, record, servers
from nats.js import api

from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered
from renovation_common.db import (
    create_engine,
    define_infrastructure_tables,
    new_metadata,
    upsert_newest,
    upsert_newest_many,
)
from renovation_common.events import new_event
from renovation_common.messaging import (
    PRODUCERS,
    ConsumerRunner,
    ConsumerSpec,
    Subscription,
    ensure_event_stream,
    stream_name,
    stream_subject,
)
from renovation_common.testing.plugin import running_app

SCRIPT = "consumers"
DISTRICT, STREET = "510105", "51010501"

metadata = new_metadata()
infra = define_infrastructure_tables(metadata)
households = sa.Table(
    "households",
    metadata,
    sa.Column("household_id", sa.String(64), primary_key=True),
    sa.Column("community_id", sa.String(64), nullable=False),
    sa.Column("building_id", sa.String(64), nullable=False),
    sa.Column("floor_area_m2", sa.Numeric(10, 2), nullable=False),
    sa.Column("elderly_living_alone", sa.Boolean, nullable=False),
    sa.Column("source_version", sa.BigInteger, nullable=False, server_default="0"),
)


def household_event(i: int, community: str, producer: str = "survey") -> Any:
    data = HouseholdRegistered(
        household_id=f"h-{uuid.uuid4().hex[:12]}",
        community_id=community,
        district_id=DISTRICT,
        street_id=STREET,
        building_id=f"b-{i // 120}",
        building_code=str(1 + i // 120),
        unit=str(1 + (i // 20) % 6),
        floor_area_m2=Decimal(f"{45 + (i * 7) % 60}.{i % 100:02d}"),
        maintenance_fund_established=True,
        elderly_living_alone=i % 17 == 0,
        resident_count=1 + i % 4,
        version=1,
    )
    event = new_event(data, source=f"/renovation/{producer}", subject=data.household_id)
    if producer != "survey":
        event = event.model_copy(update={"type": f"{producer}.household.registered.v1"})
    return event


async def publish_all(js: Any, events: list[Any]) -> None:
    acks = []
    for e in events:
        body = e.model_dump_json(exclude_none=True).encode()
        acks.append(await js.publish_async(f"renovation.{e.type}", body, headers={"Nats-Msg-Id": e.id}))
        if len(acks) >= 2000:
            await asyncio.gather(*acks)
            acks = []
    await asyncio.gather(*acks)


async def inbox_count(sessionmaker: Any, consumer: str) -> int:
    inbox = infra.inbox
    async with sessionmaker() as s:
        return int(await s.scalar(sa.select(sa.func.count()).where(inbox.c.consumer == consumer)) or 0)


async def until_applied(sessionmaker: Any, consumer: str, n: int, started: float, timeout_s: float = 600) -> float:
    while (count := await inbox_count(sessionmaker, consumer)) < n:
        if time.perf_counter() - started > timeout_s:
            raise SystemExit(f"{consumer}: {count} of {n} applied after {timeout_s:.0f} s")
        await asyncio.sleep(0.02)
    return n / (time.perf_counter() - started)


async def generic_runner(server_url: str, js: Any, n: int, *, batch: bool) -> float:
    """The generic ConsumerRunner path on a stream of its own."""
    url = await fresh_database(server_url, "consumer")
    engine = create_engine(url, pool_size=5)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    from sqlalchemy.ext.asyncio import async_sessionmaker

    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    producer = f"bench{uuid.uuid4().hex[:8]}"
    await ensure_event_stream(js, producer)
    await publish_all(js, [household_event(i, "c-bench", producer) for i in range(n)])
    event_type = f"{producer}.household.registered.v1"

    def row(data: Any) -> dict[str, Any]:
        return {
            "household_id": data["household_id"],
            "community_id": data["community_id"],
            "building_id": data["building_id"],
            "floor_area_m2": Decimal(str(data["floor_area_m2"])),
            "elderly_living_alone": data["elderly_living_alone"],
            "source_version": data["version"],
        }

    async def one(session: Any, event: Any, data: Any) -> None:
        await upsert_newest(session, households, "household_id", row(event.data))

    async def many(session: Any, events: Any) -> None:
        await upsert_newest_many(session, households, "household_id", [row(e.data) for e, _ in events])

    handlers: dict[str, Any] = (
        {"event_batch_handlers": {event_type: many}} if batch else {"handlers": {event_type: one}}
    )
    spec = ConsumerSpec(
        name="bench-readmodel",
        subscriptions=[Subscription(stream=stream_name(producer), filter_subjects=[f"renovation.{producer}.>"])],
        **handlers,
    )
    runner = ConsumerRunner(spec, sessionmaker, infra, js, service="bench")
    started = time.perf_counter()
    task = asyncio.create_task(runner.run())
    try:
        rate = await until_applied(sessionmaker, spec.name, n, started)
    finally:
        runner.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.close()
        await js.delete_stream(stream_name(producer))
        await engine.dispose()
    async with sessionmaker() as s:
        assert await s.scalar(sa.select(sa.func.count()).select_from(households)) == n
    return rate


async def start_after_now(js: Any, service: str, consumer: str, streams: list[tuple[str, list[str]]]) -> None:
    """Durable consumers of a service that start after what the shared streams already hold (earlier scripts of
    the run published there), with the settings the service's ConsumerRunner gives them."""
    for stream, subjects in streams:
        durable = f"{service}__{consumer}__{stream}".replace(".", "_").replace("-", "_")
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_consumer(stream, durable)
        last = (await js.stream_info(stream)).state.last_seq
        await js.add_consumer(
            stream,
            api.ConsumerConfig(
                durable_name=durable,
                name=durable,
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=30.0,
                max_deliver=21,
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=last + 1,
                filter_subject=subjects[0] if len(subjects) == 1 else None,
                filter_subjects=subjects if len(subjects) > 1 else None,
                max_ack_pending=1000,
            ),
        )


async def webhooks_consumers(server_url: str, nats_url: str, js: Any, n: int) -> tuple[float, float]:
    """(event-fanout events/s on household registrations, community-registry events/s)."""
    from webhooks.adapters.orm import communities, deliveries, subscriptions
    from webhooks.entrypoints.app import create_app

    url = await fresh_database(server_url, "consumer_wh", "webhooks")
    for producer in PRODUCERS:
        await ensure_event_stream(js, producer)
    await start_after_now(js, "webhooks", "event-fanout", [(stream_name(p), [stream_subject(p)]) for p in PRODUCERS])
    await start_after_now(
        js, "webhooks", "community-registry", [(stream_name("survey"), ["renovation.survey.community.registered.v1"])]
    )
    community = f"c-{uuid.uuid4().hex[:8]}"
    await publish_all(js, [household_event(i, community) for i in range(n)])
    app = create_app(database_url=url, nats_url=nats_url, log_level="WARNING", dispatcher_enabled=False)
    now = datetime.now(UTC)
    async with running_app(app):
        runtime = app.state.runtime
        async with runtime.sessionmaker() as s, s.begin():
            for district, types in ((DISTRICT, ["survey.*"]), ("d-other", ["survey.*"]), (DISTRICT, ["finance.*"])):
                await s.execute(
                    sa.insert(subscriptions).values(
                        id=uuid.uuid4(), owner_sub="bench", owner_role="gov_system", url="https://gov.example/hook",
                        event_types=types, district_id=district, enabled=True, secret_encrypted="x",
                        max_concurrency=4, created_at=now, updated_at=now,
                    )
                )  # fmt: skip
        started = time.perf_counter()  # the consumers start once NATS is connected
        await asyncio.wait_for(runtime.messaging_ready.wait(), 30)
        fanout = await until_applied(runtime.sessionmaker, "event-fanout", n, started)
        async with runtime.sessionmaker() as s:
            made = await s.scalar(sa.select(sa.func.count()).select_from(deliveries))
        assert made == n, made  # one matching subscription: one delivery per event
        events = []
        for i in range(n):
            data = CommunityRegistered(
                community_id=f"c-{uuid.uuid4().hex[:10]}", district_id=DISTRICT, street_id=STREET, name="社区",
                maintenance_fund_established=i % 2 == 0, household_count=i % 3000, version=1,
            )  # fmt: skip
            events.append(new_event(data, source="/renovation/survey", subject=data.community_id))
        started = time.perf_counter()
        await publish_all(js, events)
        registry = await until_applied(runtime.sessionmaker, "community-registry", n, started)
        async with runtime.sessionmaker() as s:
            kept = await s.scalar(sa.select(sa.func.count()).select_from(communities))
        assert kept == n, kept
    return fanout, registry


async def bench(args: argparse.Namespace, server_url: str, nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    sizes = [int(x) for x in args.sizes.split(",")]
    results: dict[str, dict[int, float]] = {"one": {}, "batch": {}, "fanout": {}, "registry": {}}
    for n in sizes:
        results["one"][n] = await generic_runner(server_url, js, n, batch=False)
        results["batch"][n] = await generic_runner(server_url, js, n, batch=True)
        results["fanout"][n], results["registry"][n] = await webhooks_consumers(server_url, nats_url, js, n)
        print(f"backlog {n:>6,}: " + ", ".join(f"{k} {v[n]:,.0f} ev/s" for k, v in results.items()), flush=True)
    await nc.close()
    labels = {
        "one": "ConsumerRunner, one handler per event (upsert_newest)",
        "batch": "ConsumerRunner, set-based handler (upsert_newest_many)",
        "fanout": "webhooks event-fanout: household registrations → kept + deliveries",
        "registry": "webhooks community-registry: communities read model",
    }
    goal_n = 3605 if 3605 in sizes else sizes[-1]
    for key, label in labels.items():
        record(SCRIPT, f"consumer.{key}", f"{label}, backlog of {goal_n:,}", results[key][goal_n], "ev/s",
               baseline="base.insert_rps", goal="ratio >= 0.5", note=f"sizes {args.sizes}")  # fmt: skip
    short = {
        "one": "one per event",
        "batch": "set-based",
        "fanout": "webhooks fan-out",
        "registry": "webhooks registry",
    }
    for key, points in results.items():
        curve(SCRIPT, "consumers", "Inbox consumers: a backlog of registrations applied", short[key],
              [(float(n), v) for n, v in points.items()], x_label="events in the backlog", y_label="events/s",
              log_x=True, baseline="base.insert_rps" if key == "one" else None)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="3605,14420,57680", help="backlog sizes (events), comma-separated")
    args = ap.parse_args()
    with servers("consumers") as (db, nats_url):
        asyncio.run(bench(args, db, nats_url))


if __name__ == "__main__":
    main()
