"""Finance benchmark: emergency repair approvals (issue 16.3) and the fund's district statistics, each against a bare
asyncpg baseline measured in the same run, at several sizes.

* **approvals**: ``POST /v1/emergency-repairs/{id}/approve`` through the in-process app (JWT, scope from records,
  the request and the fund / public-income / clearing accounts locked, the split, two pending transfers with their
  entries, the households' dues, the outbox event), 16 in flight, every approval against the same district fund
  (the worst case: they serialise on its row lock), for repairs concerning ``--households`` households each. The
  baseline does the same contention bare: per call one transaction locking the shared fund row ``FOR UPDATE``,
  raising its pending counter and inserting one row, 16 connections in flight. Figure: approvals/s ÷ baseline tx/s.
* **statistics**: ``GET /v1/emergency-repairs/stats?period=month`` p50 over a district with ``--repairs`` paid
  repairs, against the bare aggregate query (the same ``GROUP BY`` on the same table) through asyncpg: p50 ratio.

    .venv/bin/python bench/bench_finance.py [--households 10,100,1000] [--approvals 200] [--repairs 1000,10000,50000]

Uses DATABASE_URL / NATS_URL when set, otherwise starts its own embedded Postgres and NATS.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
from common import asyncpg_dsn, bearer, curve, fresh_database, pct, record, run_many, servers

from renovation_common.testing.plugin import running_app

SCRIPT = "finance"
CONCURRENCY = 16
DISTRICT, STREET = "330402", "33040201"


async def seed(app, community: str, households: int) -> None:
    from finance.service_layer import readmodels
    from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered

    async with app.state.runtime.uow() as uow:
        await readmodels.record_community(
            uow,
            CommunityRegistered(
                community_id=community, district_id=DISTRICT, street_id=STREET, name="bench",
                delivered_year=1994, maintenance_fund_established=False,
            ),
        )  # fmt: skip
    for start in range(0, households, 500):
        async with app.state.runtime.uow() as uow:
            for i in range(start, min(households, start + 500)):
                await readmodels.record_household(
                    uow,
                    HouseholdRegistered(
                        household_id=f"{community}-h{i}", community_id=community, district_id=DISTRICT,
                        street_id=STREET, building_id="b1", building_code="1",
                        floor_area_m2=Decimal("50.00") + Decimal(i % 40), delivered_year=1994,
                        maintenance_fund_established=False,
                    ),
                )  # fmt: skip


async def approvals(app, client, households: int, n: int) -> float:
    community = f"c-{households}"
    await seed(app, community, households)
    admin = bearer("district_admin", district_id=DISTRICT)
    worker = bearer("community_worker", district_id=DISTRICT, street_id=STREET, community_id=community)
    r = await client.post(
        "/v1/emergency-fund/deposits", headers=admin, json={"deposit_id": str(uuid.uuid4()), "amount_fen": 10**12}
    )
    assert r.status_code == 201, r.text
    ids = []
    for _ in range(n):  # requests made before the clock starts
        body = {"request_id": str(uuid.uuid4()), "community_id": community, "description": "bench"}
        r = await client.post("/v1/emergency-repairs", headers=worker, json=body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])

    async def approve(i: int) -> None:
        r = await client.post(
            f"/v1/emergency-repairs/{ids[i]}/approve",
            headers=admin,
            json={"approved_cost_fen": 1_000_003, "use_public_income": False},
        )
        assert r.status_code == 200, r.text

    wall, _ = await run_many(n, CONCURRENCY, approve)
    return n / wall


async def bare_reservations(dsn: str, n: int) -> float:
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        "create table if not exists bench_fund (id int primary key, pending bigint not null);"
        "create table if not exists bench_reserve (id uuid primary key, amount bigint not null);"
        "insert into bench_fund values (1, 0) on conflict do nothing"
    )
    await conn.close()
    pool = await asyncpg.create_pool(dsn, min_size=CONCURRENCY, max_size=CONCURRENCY)

    async def reserve(_i: int) -> None:
        async with pool.acquire() as c, c.transaction():
            await c.fetchrow("select pending from bench_fund where id = 1 for update")
            await c.execute("update bench_fund set pending = pending + 800003 where id = 1")
            await c.execute("insert into bench_reserve values ($1, 800003)", uuid.uuid4())

    wall, _ = await run_many(n, CONCURRENCY, reserve)
    await pool.close()
    return n / wall


STATS_SQL = """
select date_trunc('month', timezone('Asia/Shanghai', paid_at)) as period_start, kind, count(*),
       sum(approved_cost_fen), sum(government_fen), sum(owners_fen), sum(public_income_fen), sum(households_fen)
from emergency_repairs where status = 'paid' and district_id = $1 group by 1, 2 order by 1, 2
"""


async def stats(client, dsn: str, repairs: int, reads: int) -> tuple[float, float]:
    """p50 of the stats endpoint and of the bare query, seconds, over ``repairs`` paid repairs of the district."""
    conn = await asyncpg.connect(dsn)
    await conn.execute("delete from emergency_repairs where origin = 'bench'")
    base = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [
        (
            uuid.uuid4(), "bench", ("repair", "renewal", "renovation")[i % 3], "c-stats", DISTRICT, STREET, True,
            "paid", 100_000 + i, 100_000 + i - (100_000 + i) // 5, (100_000 + i) // 5, 0, (100_000 + i) // 5,
            "bench", base + timedelta(hours=7 * i), uuid.uuid4(),
        )
        for i in range(repairs)
    ]  # fmt: skip
    await conn.copy_records_to_table(
        "emergency_repairs",
        records=rows,
        columns=[
            "id", "origin", "kind", "community_id", "district_id", "street_id", "eligible", "status",
            "approved_cost_fen", "government_fen", "owners_fen", "public_income_fen", "households_fen",
            "requested_by", "paid_at", "transfer_group_id",
        ],
    )  # fmt: skip
    await conn.execute("analyze emergency_repairs")
    admin = bearer("district_admin", district_id=DISTRICT)
    api, bare = [], []
    for _ in range(reads):
        t = time.perf_counter()
        r = await client.get("/v1/emergency-repairs/stats", headers=admin, params={"period": "month"})
        api.append(time.perf_counter() - t)
        assert r.status_code == 200 and r.json()["uses"] >= repairs, r.text
        t = time.perf_counter()
        await conn.fetch(STATS_SQL, DISTRICT)
        bare.append(time.perf_counter() - t)
    await conn.close()
    return pct(api, 50), pct(bare, 50)


async def bench(server_url: str, nats_url: str, args: argparse.Namespace) -> None:
    from finance.entrypoints.app import create_app

    url = await fresh_database(server_url, "finance", "finance")
    app = create_app(database_url=url, nats_url=nats_url, log_level="WARNING", consumers_enabled=False)
    sizes = [int(s) for s in args.households.split(",")]
    stat_sizes = [int(s) for s in args.repairs.split(",")]
    async with running_app(app) as client:
        await asyncio.wait_for(app.state.runtime.messaging_ready.wait(), 30)
        baseline = await bare_reservations(asyncpg_dsn(url), args.approvals)
        record(SCRIPT, "finance.bare_reservation", "bare asyncpg: lock one fund row, reserve, insert (16 in flight)",
               baseline, "tx/s")  # fmt: skip
        print(f"bare reservation: {baseline:.0f} tx/s")
        points = []
        for size in sizes:
            rate = await approvals(app, client, size, args.approvals)
            points.append((size, rate / baseline))
            print(f"approvals, {size} households each: {rate:.1f}/s = {rate / baseline:.3f} × bare")
            record(SCRIPT, f"finance.approve.{size}", f"repair approvals, {size} households each (one fund)", rate,
                   "approvals/s", baseline="finance.bare_reservation")  # fmt: skip
        curve(SCRIPT, "finance_approvals", "Emergency repair approvals against one fund", "approvals / bare", points,
              x_label="households per repair", y_label="× bare reservation", log_x=True)  # fmt: skip
        stat_points = []
        for size in stat_sizes:
            api, bare = await stats(client, asyncpg_dsn(url), size, args.reads)
            stat_points.append((size, api / bare))
            print(f"stats over {size} paid repairs: p50 {api * 1000:.1f} ms vs bare {bare * 1000:.1f} ms "
                  f"= {api / bare:.2f} ×")  # fmt: skip
            record(SCRIPT, f"finance.stats_bare.{size}", f"bare stats query, {size} repairs (p50)", bare * 1000, "ms",
                   better="lower")  # fmt: skip
            record(SCRIPT, f"finance.stats.{size}", f"district stats by month, {size} repairs (p50)", api * 1000, "ms",
                   baseline=f"finance.stats_bare.{size}", better="lower")  # fmt: skip
        curve(SCRIPT, "finance_stats", "Emergency fund statistics by month", "stats p50 / bare p50", stat_points,
              x_label="paid repairs in the district", y_label="× bare query", log_x=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", default="10,100,1000")
    ap.add_argument("--approvals", type=int, default=200)
    ap.add_argument("--repairs", default="1000,10000,50000")
    ap.add_argument("--reads", type=int, default=20)
    args = ap.parse_args()
    with servers("finance") as (server_url, nats_url):
        asyncio.run(bench(server_url, nats_url, args))


if __name__ == "__main__":
    main()
