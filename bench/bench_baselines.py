"""Raw baselines, measured in the same run as the project's figures (``make bench`` compares against these):

* bare FastAPI + asyncpg **read**: ``GET /items/{id}`` = one primary-key SELECT through an asyncpg pool
  (throughput with ``--concurrency`` in flight; p50 latency one request at a time);
* bare FastAPI + asyncpg **insert**: ``POST /items`` = one INSERT (autocommit);
  both in-process behind the httpx ASGI transport with ``--concurrency`` requests in flight — the same client set-up
  as the service benchmarks, so the ratio is the cost of the service's own work (auth, validation, rules, audit,
  outbox, idempotency);
* asyncpg **COPY**: ``copy_records_to_table`` in 1,000-row transactions;
* **JetStream publish**: one publish awaited for its ack at a time (file storage), messages/s and ack latency; and
  **with 256 acks in flight** (the client's pipelined ``publish_async``, at most 256 unacknowledged), messages/s —
  what the outbox relay's burst rate is held to.

    .venv/bin/python bench/bench_baselines.py [--requests 3000] [--concurrency 16] [--rows 50000] [--messages 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import nats
from common import asyncpg_dsn, fresh_database, pct, record, run_many, servers
from fastapi import FastAPI

from renovation_common.testing.plugin import running_app

SCRIPT = "baselines"


def bare_app(dsn: str) -> FastAPI:
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state["pool"] = await asyncpg.create_pool(dsn, min_size=5, max_size=20)
        await state["pool"].execute(
            "create table if not exists items (id uuid primary key, community_id text not null, "
            "payload jsonb not null, created_at timestamptz not null default now())"
        )
        yield
        await state["pool"].close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/items", status_code=201)
    async def insert(body: dict[str, Any]) -> dict[str, str]:
        item_id = uuid.uuid4()
        await state["pool"].execute(
            "insert into items (id, community_id, payload) values ($1, $2, $3)",
            item_id,
            body["community_id"],
            json.dumps(body["payload"]),
        )
        return {"id": str(item_id)}

    @app.get("/items/{item_id}")
    async def read(item_id: uuid.UUID) -> dict[str, Any]:
        row = await state["pool"].fetchrow("select id, community_id, payload from items where id = $1", item_id)
        return {"id": str(row["id"]), "community_id": row["community_id"], "payload": json.loads(row["payload"])}

    return app


async def http_baselines(server_url: str, requests: int, concurrency: int) -> dict[str, float]:
    url = await fresh_database(server_url, "base_http")
    out: dict[str, float] = {}
    async with running_app(bare_app(asyncpg_dsn(url))) as client:
        ids: list[str] = []

        async def insert(i: int) -> None:
            r = await client.post("/items", json={"community_id": "c-bench", "payload": {"answer": i % 5}})
            assert r.status_code == 201
            ids.append(r.json()["id"])

        wall, lat = await run_many(requests, concurrency, insert)
        out["insert_rps"], out["insert_p50_ms"] = requests / wall, pct(lat, 50) * 1000

        async def read(i: int) -> httpx.Response:
            r = await client.get(f"/items/{ids[i % len(ids)]}")
            assert r.status_code == 200
            return r

        wall, lat = await run_many(requests, concurrency, read)
        out["read_rps"] = requests / wall
        # latency one request at a time (the service benchmarks read results one at a time too)
        _, lat = await run_many(min(requests, 300), 1, read)
        out["read_p50_ms"] = pct(lat, 50) * 1000
    return out


async def copy_baseline(server_url: str, rows: int) -> float:
    conn = await asyncpg.connect(asyncpg_dsn(await fresh_database(server_url, "base_copy")))
    await conn.execute(
        "create table events (id bigint generated always as identity, device_id text, event_type text, "
        "device_time timestamptz, readings jsonb)"
    )
    now = datetime.now(UTC)
    records = [(f"d-{i % 200}", "reading", now, json.dumps({"load_kg": i % 1000})) for i in range(rows)]
    started = time.perf_counter()
    for i in range(0, rows, 1000):
        async with conn.transaction():
            await conn.copy_records_to_table(
                "events", records=records[i : i + 1000], columns=["device_id", "event_type", "device_time", "readings"]
            )
    elapsed = time.perf_counter() - started
    await conn.close()
    return rows / elapsed


async def jetstream_baseline(nats_url: str, messages: int) -> dict[str, float]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stream = f"BENCH_{uuid.uuid4().hex[:6].upper()}"
    await js.add_stream(name=stream, subjects=[f"bench.{stream}.>"], storage="file")
    body = json.dumps({"specversion": "1.0", "type": "bench.v1", "data": {"n": 0, "pad": "x" * 300}}).encode()
    lat: list[float] = []
    started = time.perf_counter()
    for i in range(messages):
        t = time.perf_counter()
        await js.publish(f"bench.{stream}.e", body, headers={"Nats-Msg-Id": f"{stream}-{i}"})
        lat.append(time.perf_counter() - t)
    wall = time.perf_counter() - started
    await js.delete_stream(stream)
    # pipelined: at most 256 publishes awaiting their acks (the client suspends a publish while 256 are pending)
    pipelined = nc.jetstream(publish_async_max_pending=256)
    await pipelined.add_stream(name=stream, subjects=[f"bench.{stream}.>"], storage="file")
    n = messages * 10
    started = time.perf_counter()
    acks = [
        await pipelined.publish_async(f"bench.{stream}.e", body, headers={"Nats-Msg-Id": f"{stream}-p{i}"})
        for i in range(n)
    ]
    await asyncio.gather(*acks)
    pipelined_rate = n / (time.perf_counter() - started)
    await pipelined.delete_stream(stream)
    await nc.close()
    return {"publish_rate": messages / wall, "publish_p50_ms": pct(lat, 50) * 1000, "pipelined_rate": pipelined_rate}


async def bench(args: argparse.Namespace, db: str, nats_url: str) -> None:
    http = await http_baselines(db, args.requests, args.concurrency)
    copy_rate = await copy_baseline(db, args.rows)
    js = await jetstream_baseline(nats_url, args.messages)
    c = args.concurrency
    rows = [
        (
            "base.read_rps",
            f"bare FastAPI + asyncpg read (pk SELECT), {c} in flight",
            http["read_rps"],
            "req/s",
            "higher",
        ),
        ("base.read_p50", "bare FastAPI + asyncpg read p50, one at a time", http["read_p50_ms"], "ms", "lower"),
        (
            "base.insert_rps",
            f"bare FastAPI + asyncpg insert (one INSERT), {c} in flight",
            http["insert_rps"],
            "req/s",
            "higher",
        ),
        ("base.insert_p50", f"bare FastAPI + asyncpg insert p50, {c} in flight", http["insert_p50_ms"], "ms", "lower"),
        ("base.copy", "asyncpg COPY, 1,000-row transactions", copy_rate, "rows/s", "higher"),
        ("base.js_rate", "JetStream publish, awaited ack, one at a time", js["publish_rate"], "msg/s", "higher"),
        ("base.js_p50", "JetStream publish → ack p50", js["publish_p50_ms"], "ms", "lower"),
        (
            "base.js_rate_256",
            f"JetStream publish, 256 acks in flight ({args.messages * 10:,} messages)",
            js["pipelined_rate"],
            "msg/s",
            "higher",
        ),
    ]
    print(f"\nbaselines — {args.requests} requests at concurrency {args.concurrency}, {args.rows} COPY rows, "
          f"{args.messages} JetStream messages")  # fmt: skip
    for key, label, value, unit, better in rows:
        print(f"{label:52} {value:12,.2f} {unit}")
        record(SCRIPT, key, label, value, unit, better=better)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--messages", type=int, default=3000)
    args = ap.parse_args()
    with servers("baselines") as (db, nats_url):
        asyncio.run(bench(args, db, nats_url))


if __name__ == "__main__":
    main()
