"""Webhooks benchmark: dispatcher throughput to a local receiver against a bare httpx baseline measured in the
same run, and how long a fast endpoint waits when a slow endpoint has a backlog at the same time.

* throughput: N deliveries (fanned out from N events by the real consumer use case, ``fan_out_many`` on batches
  of 100 events per transaction as the consumer runner hands them over) to one endpoint with max_concurrency C,
  sent by the real Dispatcher (lease in Postgres, decrypt, sign, SSRF check, POST, record the attempt). Baseline:
  the same N bodies POSTed by one httpx client with C concurrent requests, nothing else (goal: ≥ 0.5 ×). At each of
  ``--sizes`` (a growth curve).
* fan-out: events → kept events + deliveries, against the bare insert endpoint (goal: ≥ 0.5 ×, as every inbox
  consumer).
* isolation: fast endpoint (N/2 deliveries) alone, then with a slow endpoint (200 ms per request, concurrency 2,
  40 deliveries) in the same dispatcher at the same time (goal: ≤ 1.3 × alone).

    .venv/bin/python bench/bench_webhooks.py [--events 1000] [--sizes 300,1000,3000] [--concurrency 16]

Uses DATABASE_URL when set, otherwise starts its own embedded Postgres (and NATS, unused).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
from common import curve, record  # bench/common.py: machine-readable figures for bench/run.py
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from renovation_common.contracts.finance import ContributionPaid
from renovation_common.db import ConsumerUnitOfWork, UnitOfWork
from renovation_common.devstack import SERVICES, create_databases, embedded_stack
from renovation_common.events import new_event
from renovation_common.logs import configure_logging
from renovation_common.migrations import upgrade_head
from renovation_common.settings import database_url_for
from webhooks.adapters.http import TargetPolicy, WebhookSender, check_target
from webhooks.adapters.orm import deliveries, infra, subscriptions
from webhooks.adapters.secrets import SecretBox
from webhooks.domain.signing import format_secret
from webhooks.domain.targets import parse_networks
from webhooks.service_layer.context import Context
from webhooks.service_layer.dispatcher import Dispatcher
from webhooks.service_layer.fanout import fan_out_many


class Receiver:
    """Minimal asyncio HTTP/1.1 server (keep-alive); path /slow waits 200 ms."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}
        self.server: asyncio.Server | None = None
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                length = next((int(x.split(":", 1)[1]) for x in lines if x.lower().startswith("content-length")), 0)
                await reader.readexactly(length)
                if path == "/slow":
                    await asyncio.sleep(0.2)
                self.count[path] = self.count.get(path, 0) + 1
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]


async def setup_db(server_url: str) -> str:
    db = f"bench_webhooks_{uuid.uuid4().hex[:6]}"
    await create_databases(server_url, [db])
    url = database_url_for(server_url, db)
    info = next(s for s in SERVICES if s.name == "webhooks")
    await asyncio.to_thread(upgrade_head, info.directory, url)
    return url


async def run_dispatch(url: str, receiver: Receiver, plan: list[tuple[str, int, int]], concurrency_total: int):
    """plan: (path, deliveries, max_concurrency). Returns seconds until each path's deliveries all succeeded."""
    engine = create_async_engine(url, pool_size=20, max_overflow=20)
    sm = async_sessionmaker(engine, expire_on_commit=False)
    box = SecretBox("bench")
    policy = TargetPolicy(allow_private=False, allowed_networks=parse_networks(["127.0.0.0/8"]))
    ctx = Context(box=box, check_target=lambda url: check_target(url, policy))
    now = datetime.now(UTC)
    async with sm() as s, s.begin():
        await s.execute(sa.delete(deliveries))
        await s.execute(sa.delete(subscriptions))
    sub_ids: dict[str, uuid.UUID] = {}
    districts: dict[str, str] = {}
    for path, _, conc in plan:
        district = f"d-{uuid.uuid4().hex[:6]}"
        sid = uuid.uuid4()
        sub_ids[path] = sid
        districts[path] = district
        async with sm() as s, s.begin():
            await s.execute(
                sa.insert(subscriptions).values(
                    id=sid, owner_sub="bench", owner_role="gov_system", url=f"http://127.0.0.1:{receiver.port}{path}",
                    event_types=["finance.*"], district_id=district, enabled=True,
                    secret_encrypted=box.seal(format_secret(os.urandom(32))), secret_key_id=box.key_id,
                    max_concurrency=conc,
                    created_at=now, updated_at=now,
                )
            )  # fmt: skip
    n_max = max(n for _, n, _ in plan)
    events = [
        new_event(
            ContributionPaid(due_id=str(i), scheme_id="s", community_id="c", district_id=districts[path],
                             household_id="h", amount_fen=i),
            source="/renovation/finance",
        )
        for i in range(n_max)
        for path, n, _ in plan
        if i < n
    ]  # fmt: skip
    fan_t = time.perf_counter()
    for start in range(0, len(events), 100):  # what the consumer runner hands the fan-out per fetch
        async with sm() as s, s.begin():
            await fan_out_many(ConsumerUnitOfWork(s, infra), events[start : start + 100], now=now)
    fan_s = time.perf_counter() - fan_t
    sender = WebhookSender(policy, timeout_s=15)
    dispatcher = Dispatcher(
        lambda: UnitOfWork(sm, infra), ctx, sender, max_in_flight=concurrency_total, poll_interval_s=0.05
    )
    receiver.count.clear()
    started = time.perf_counter()
    done: dict[str, float] = {}
    task = asyncio.create_task(dispatcher.run())
    while len(done) < len(plan):
        await asyncio.sleep(0.02)
        for path, n, _ in plan:
            if path not in done and receiver.count.get(path, 0) >= n:
                done[path] = time.perf_counter() - started
    expected = sum(n for _, n, _ in plan)
    for _ in range(500):  # the last attempts are being recorded
        async with sm() as s:
            ok = await s.scalar(sa.select(sa.func.count()).where(deliveries.c.status == "succeeded"))
        if ok == expected:
            break
        await asyncio.sleep(0.02)
    dispatcher.stop()
    await task
    await sender.aclose()
    await engine.dispose()
    assert ok == expected, ok
    return done, fan_s


async def baseline(receiver: Receiver, n: int, concurrency: int) -> float:
    body = b'{"specversion":"1.0","id":"x","type":"finance.contribution.paid.v1","data":{"amount_fen":1}}' * 2
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient() as client:

        async def one() -> None:
            async with sem:
                r = await client.post(f"http://127.0.0.1:{receiver.port}/base", content=body)
                assert r.status_code == 204

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return time.perf_counter() - started


async def bench(server_url: str, events: int, concurrency: int, sizes: list[int]) -> None:
    configure_logging("webhooks", level="WARNING")  # as a service runs it: no debug line per attempt
    receiver = Receiver()
    await receiver.start()
    url = await setup_db(server_url)
    curve_points: dict[str, list[tuple[float, float]]] = {"httpx": [], "dispatcher": [], "fan-out": []}
    for n in sorted({*sizes, events}):
        base_s = await baseline(receiver, n, concurrency)
        done, fan_s = await run_dispatch(url, receiver, [("/fast", n, concurrency)], concurrency * 2)
        curve_points["httpx"].append((float(n), n / base_s))
        curve_points["dispatcher"].append((float(n), n / done["/fast"]))
        curve_points["fan-out"].append((float(n), n / fan_s))
        if n == events:
            main_base_s, main_done, main_fan_s = base_s, done, fan_s
        print(f"{n:>6,} deliveries: httpx {n / base_s:,.0f} req/s, dispatcher {n / done['/fast']:,.0f}/s, "
              f"fan-out {n / fan_s:,.0f} ev/s", flush=True)  # fmt: skip
    base_s, done, fan_s = main_base_s, main_done, main_fan_s
    half = events // 2
    alone, _ = await run_dispatch(url, receiver, [("/fast", half, concurrency)], concurrency * 2)
    mixed, _ = await run_dispatch(url, receiver, [("/fast", half, concurrency), ("/slow", 40, 2)], concurrency * 2)
    print(f"\nwebhooks benchmark — {events} events, endpoint concurrency {concurrency}")
    print(
        f"machine: {platform.machine()} cpus={os.cpu_count()} python={platform.python_version()} {platform.platform()}"
    )
    print(f"{'measure':58} {'value':>10} {'ratio':>8}")
    print(f"{'baseline: bare httpx POSTs (req/s)':58} {events / base_s:10.1f} {1.0:8.2f}")
    print(f"{'dispatcher: signed deliveries incl. log (deliveries/s)':58} {events / done['/fast']:10.1f} "
          f"{(events / done['/fast']) / (events / base_s):8.2f}")  # fmt: skip
    print(f"{'fan-out: events -> deliveries, 100 per transaction (ev/s)':58} {events / fan_s:10.1f} {'':>8}")
    print(f"{'fast endpoint alone, ' + str(half) + ' deliveries (s)':58} {alone['/fast']:10.2f} {1.0:8.2f}")
    print(f"{'fast endpoint with slow endpoint backlog (s)':58} {mixed['/fast']:10.2f} "
          f"{mixed['/fast'] / alone['/fast']:8.2f}")  # fmt: skip
    print(f"{'slow endpoint: 40 x 200 ms at concurrency 2 (s, floor 4.0)':58} {mixed['/slow']:10.2f} {'':>8}")
    note = f"{events} events, endpoint concurrency {concurrency}"
    record("webhooks", "wh.httpx", "bare httpx POSTs to the same receiver", events / base_s, "req/s", note=note)
    record("webhooks", "wh.dispatch", "webhook delivery: signed, leased, logged", events / done["/fast"],
           "deliveries/s", baseline="wh.httpx", goal="ratio >= 0.5", note=note)  # fmt: skip
    record("webhooks", "wh.fanout", "webhook fan-out: events → deliveries (consumer use case, 100 per transaction)",
           events / fan_s, "events/s", baseline="base.insert_rps", goal="ratio >= 0.5", note=note)  # fmt: skip
    record("webhooks", "wh.isolation", "fast endpoint time with a slow endpoint's backlog", mixed["/fast"],
           "s", baseline="wh.fast_alone", better="lower", goal="ratio <= 1.3", note=note)  # fmt: skip
    record("webhooks", "wh.fast_alone", "fast endpoint time alone", alone["/fast"], "s", better="lower", note=note)
    for series, points in curve_points.items():
        curve("webhooks", "webhooks", "Webhooks: deliveries to one endpoint, and the fan-out", series, points,
              x_label="deliveries (events)", y_label="per second", log_x=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sizes", default="300,1000,3000", help="deliveries per throughput run (a growth curve)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    if os.environ.get("DATABASE_URL"):
        asyncio.run(bench(os.environ["DATABASE_URL"], args.events, args.concurrency, sizes))
        return
    with embedded_stack(Path(tempfile.mkdtemp(prefix="bench-webhooks-"))) as stack:
        asyncio.run(bench(stack.database_url, args.events, args.concurrency, sizes))


if __name__ == "__main__":
    main()
