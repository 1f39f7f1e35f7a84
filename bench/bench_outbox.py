"""Outbox relay lag: from the commit of a use case's transaction (state change + outbox row) to the event on NATS.

The survey service runs in-process with its relay (default settings: woken on commit, polling every
``OUTBOX_POLL_INTERVAL_S`` = 0.5 s as a fallback, batches of ``OUTBOX_BATCH_SIZE`` = 200). A unit of work from
the service's own runtime writes ``survey.community.registered.v1`` events and commits; a NATS subscriber notes
when each arrives.

* idle: one event per transaction, one at a time (``--single``), lag p50 / p95;
* burst: ``--burst`` transactions committed as fast as possible by 8 writers; lag of the last event and the
  relay's throughput over the burst.

    .venv/bin/python bench/bench_outbox.py [--single 200] [--burst 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import nats
from common import fresh_database, pct, record, servers

from renovation_common.contracts.survey import CommunityRegistered
from renovation_common.events import new_event
from renovation_common.testing.plugin import running_app

SCRIPT = "outbox"
SUBJECT = "renovation.survey.community.registered.v1"


async def bench(args: argparse.Namespace, db: str, nats_url: str) -> None:
    from survey.entrypoints.app import create_app

    url = await fresh_database(db, "outbox", "survey")
    app = create_app(database_url=url, nats_url=nats_url, log_level="WARNING", consumers_enabled=False)
    arrived: dict[str, float] = {}
    nc = await nats.connect(nats_url)

    async def on_event(msg) -> None:
        arrived[json.loads(msg.data)["data"]["community_id"]] = time.perf_counter()

    await nc.subscribe(SUBJECT, cb=on_event)
    committed: dict[str, float] = {}
    async with running_app(app):
        runtime = app.state.runtime

        async def one(community_id: str) -> None:
            data = CommunityRegistered(
                community_id=community_id,
                district_id="510105",
                street_id="51010501",
                name="bench",
                maintenance_fund_established=False,
            )
            async with runtime.uow() as uow:
                uow.publish(new_event(data, source="/renovation/survey", subject=community_id))
                await uow.commit()
            committed[community_id] = time.perf_counter()

        async def wait_for(ids: list[str], timeout_s: float = 60) -> None:
            deadline = time.perf_counter() + timeout_s
            while any(i not in arrived for i in ids) and time.perf_counter() < deadline:
                await asyncio.sleep(0.001)

        single = [f"single-{uuid.uuid4().hex[:8]}" for _ in range(args.single)]
        for cid in single:
            await one(cid)
            await wait_for([cid], 10)
        burst = [f"burst-{uuid.uuid4().hex[:8]}" for _ in range(args.burst)]
        queue = list(burst)
        started = time.perf_counter()

        async def writer() -> None:
            while queue:
                await one(queue.pop())

        await asyncio.gather(*(writer() for _ in range(8)))
        await wait_for(burst)
        burst_s = max(arrived.get(c, float("inf")) for c in burst) - started
    await nc.close()

    lags = [arrived[c] - committed[c] for c in single if c in arrived]
    missing = len(single) + len(burst) - sum(1 for c in [*single, *burst] if c in arrived)
    p50, p95 = pct(lags, 50) * 1000, pct(lags, 95) * 1000
    burst_lags = [arrived[c] - committed[c] for c in burst if c in arrived]
    print(f"\noutbox relay — {args.single} single events, burst of {args.burst} (8 writers)")
    print(f"idle lag commit → NATS: p50 {p50:.1f} ms, p95 {p95:.1f} ms; missing events: {missing}")
    print(f"burst: {args.burst / burst_s:,.0f} events/s end to end, lag p50 {pct(burst_lags, 50) * 1000:.0f} ms, "
          f"max {max(burst_lags) * 1000:.0f} ms")  # fmt: skip
    record(SCRIPT, "outbox.lag_p50", "outbox relay lag, commit → NATS, idle p50", p50, "ms",
           baseline="base.js_p50", better="lower")  # fmt: skip
    record(SCRIPT, "outbox.lag_p95", "outbox relay lag, idle p95", p95, "ms", baseline="base.js_p50",
           better="lower")  # fmt: skip
    record(SCRIPT, "outbox.burst_rate", f"outbox burst of {args.burst}: commit → NATS throughput",
           args.burst / burst_s, "ev/s", baseline="base.js_rate", better="higher")  # fmt: skip
    if missing:
        raise SystemExit(1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--single", type=int, default=200)
    ap.add_argument("--burst", type=int, default=5000)
    args = ap.parse_args()
    with servers("outbox") as (db, nats_url):
        asyncio.run(bench(args, db, nats_url))


if __name__ == "__main__":
    main()
