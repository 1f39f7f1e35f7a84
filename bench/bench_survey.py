"""Survey benchmark: response submission throughput, offline batch sync and live result latency for communities
of several sizes (3,605 households — the Jinsong figure — and 4× and 16× that), each against the bare FastAPI +
asyncpg baselines of ``bench_baselines.py`` (one INSERT with 16 in flight; one primary-key SELECT one at a time),
measured in the same run right after each size.

Both apps run in-process behind the same httpx ASGI transport, against the same Postgres server, with the same
client concurrency (16 in flight), so the ratio shows what the service's work costs (auth, validation, idempotent
submission claim, upsert, audit row, outbox event, incremental tallies) over a single INSERT / a single SELECT.
Goals (issue 13): writes ≥ 0.4 × the bare insert endpoint's requests/s, offline sync of 500-item batches
≥ 1.0 × in items/s, live result p50 ≤ 3 × the bare read p50 — printed for every size with met / not met, and
recorded for ``bench/run.py`` at 3,605 households. Per size at most ``--submits`` single submissions and
``--syncs`` synced items are measured (the cost must not grow with the community).

    .venv/bin/python bench/bench_survey.py [--sizes 3605,14420,57680] [--concurrency 16] [--reads 30]
        [--submits 3605] [--syncs 3605] [--base-requests 1000]

Uses DATABASE_URL / NATS_URL when set, otherwise starts its own embedded Postgres and NATS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from common import curve, record  # bench/common.py: machine-readable figures for bench/run.py

from renovation_common.auth import issue_dev_token
from renovation_common.devstack import SERVICES, create_databases, embedded_stack
from renovation_common.migrations import upgrade_head
from renovation_common.settings import DEV_JWT_SECRET, database_url_for
from renovation_common.testing.plugin import running_app


def token(role: str, **scope: str) -> dict[str, str]:
    t = issue_dev_token(secret=os.environ.get("JWT_SECRET") or DEV_JWT_SECRET, role=role, sub=f"bench-{role}", **scope)
    return {"Authorization": f"Bearer {t}"}


async def run_many(n: int, concurrency: int, make_call) -> tuple[float, list[float]]:
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(i: int) -> None:
        async with sem:
            t = time.perf_counter()
            r = await make_call(i)
            latencies.append(time.perf_counter() - t)
            assert r.status_code in (200, 201), r.text

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - start, latencies


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] * 1000


async def measure_service(
    server_url: str,
    nats_url: str,
    *,
    relay: bool,
    households: int,
    concurrency: int,
    reads: int,
    submits: int | None = None,
    syncs: int | None = None,
) -> dict[str, Any]:
    """Seed a community of ``households``, open a willingness consultation, submit one answer per household (at
    most ``submits``), sync answers again as offline batches of 500 (at most ``syncs`` items), read the live result
    ``reads`` times, close."""
    n_submit = min(households, submits or households)
    n_sync = min(households, syncs or households)
    db = f"bench_survey_{uuid.uuid4().hex[:6]}"
    await create_databases(server_url, [db])
    url = database_url_for(server_url, db)
    info = next(s for s in SERVICES if s.name == "survey")
    await asyncio.to_thread(upgrade_head, info.directory, url)
    from survey.entrypoints.app import create_app

    app = create_app(database_url=url, nats_url=nats_url, log_level="WARNING", db_pool_size=20, relay_enabled=relay)
    out: dict[str, Any] = {}
    district, street = "d-bench", "s-bench"
    async with running_app(app) as client:
        officer = token("district_admin", district_id=district)
        r = await client.post(
            "/v1/communities",
            headers=officer,
            json={"name": "劲松", "district_id": district, "street_id": street, "delivered_year": 1985},
        )
        community = r.json()["id"]
        worker = token("community_worker", district_id=district, street_id=street, community_id=community)
        hids: list[str] = []
        t = time.perf_counter()
        for start in range(0, households, 1000):
            batch = [
                {
                    "building": str(1 + i // 120),
                    "unit": str(1 + (i // 20) % 6),
                    "room": str(100 + i % 20),
                    "floor_area_m2": f"{45 + (i * 7) % 60}.{i % 100:02d}",
                    "residents": [{"birth_year": 1940 + i % 60}],
                }
                for i in range(start, min(households, start + 1000))
            ]
            r = await client.post(f"/v1/communities/{community}/households", headers=worker, json={"households": batch})
            assert r.status_code == 201, r.text
            hids.extend(h["id"] for h in r.json()["households"])
        out["seed_s"] = time.perf_counter() - t
        out["hids"] = hids
        r = await client.post(
            "/v1/consultations",
            headers=worker,
            json={
                "community_id": community,
                "kind": "willingness",
                "title": "意愿征询",
                "questions": [
                    {"id": "agree", "kind": "single_choice", "text": "同意?", "options": ["yes", "no"]},
                    {
                        "id": "items",
                        "kind": "multiple_choice",
                        "text": "项目",
                        "required": False,
                        "options": ["parking", "greening", "elevator_installation", "lighting"],
                    },
                ],
                "rule": {"kind": "civil_code_278_major"},
                "decision_question_id": "agree",
                "approve_options": ["yes"],
            },
        )
        cid = r.json()["id"]
        await client.post(f"/v1/consultations/{cid}/open", headers=worker)
        cpu = time.process_time()
        out["submit_wall"], out["submit_lat"] = await run_many(
            n_submit,
            concurrency,
            lambda i: client.post(
                f"/v1/consultations/{cid}/responses",
                headers=worker,
                json={
                    "submission_id": str(uuid.uuid4()),
                    "household_id": hids[i],
                    "answers": answers(i),
                    "channel": "door_to_door",
                },
            ),
        )
        out["submit_cpu_ms"] = (time.process_time() - cpu) * 1000 / n_submit
        t = time.perf_counter()
        for start in range(0, n_sync, 500):
            items = [
                {
                    "submission_id": str(uuid.uuid4()),
                    "household_id": hids[i],
                    "answers": answers(i + 1),
                    "channel": "paper",
                }
                for i in range(start, min(n_sync, start + 500))
            ]
            r = await client.post(f"/v1/consultations/{cid}/responses/batch", headers=worker, json={"items": items})
            assert r.status_code == 200 and r.json()["rejected"] == 0, r.text[:300]
        out["sync_s"] = time.perf_counter() - t

        async def read_result() -> list[float]:
            lat = []
            for _ in range(reads):
                t = time.perf_counter()
                r = await client.get(f"/v1/consultations/{cid}/result", headers=worker)
                lat.append(time.perf_counter() - t)
                assert r.status_code == 200 and r.json()["responses"] == max(n_submit, n_sync), r.text[:300]
            return lat

        # right after the writes the relay still publishes their events in this process (one event loop): reads
        # then measure the relay too; the goal's figure is read once the outbox has drained, like the bare read
        out["result_lat_busy"], out["outbox_backlog"] = await read_result(), await outbox_backlog(url)
        t = time.perf_counter()
        while await outbox_backlog(url) and time.perf_counter() - t < 120:
            await asyncio.sleep(0.5)
        out["drain_s"] = time.perf_counter() - t
        out["result_lat"] = await read_result()
        t = time.perf_counter()
        closed = await client.post(f"/v1/consultations/{cid}/close", headers=worker)
        out["close_ms"] = (time.perf_counter() - t) * 1000
        out["outcome"] = (closed.json()["outcome"], closed.json()["decided_by"])
    out["n_submit"], out["n_sync"] = n_submit, n_sync
    return out


async def outbox_backlog(url: str) -> int:
    """Events of the service's outbox the relay has not published yet."""
    import asyncpg
    from common import asyncpg_dsn

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return int(await conn.fetchval("select count(*) from outbox where published_at is null"))
    finally:
        await conn.close()


def answers(i: int) -> dict[str, Any]:
    return {"agree": "yes" if i % 5 else "no", "items": ["parking", "lighting"] if i % 2 else ["greening"]}


GOALS = {  # issue 13, each a ratio to a baseline of bench_baselines.py measured in this run
    "writes": ("ratio >= 0.4", "response writes, 16 in flight / bare insert req/s"),
    "sync": ("ratio >= 1.0", "offline sync items/s (500 per request) / bare insert req/s"),
    "result": ("ratio <= 3", "live result p50 / bare read p50 (one at a time)"),
}


async def bench(server_url: str, nats_url: str, args: argparse.Namespace) -> None:
    from bench_baselines import http_baselines  # the same bare endpoints bench/run.py compares with
    from common import goal_met

    sizes = [int(x) for x in args.sizes.split(",")]
    goal_n = 3605 if 3605 in sizes else sizes[-1]
    runs: dict[int, dict[str, Any]] = {}
    bases: dict[int, dict[str, float]] = {}
    for n in sizes:
        runs[n] = await measure_service(
            server_url, nats_url, relay=True, households=n, concurrency=args.concurrency, reads=args.reads,
            submits=args.submits, syncs=args.syncs,
        )  # fmt: skip
        # the bare baselines right after each size (a shared machine's load drifts within a run)
        bases[n] = await http_baselines(server_url, args.base_requests, args.concurrency)
        m, b = runs[n], bases[n]
        print(f"{n:>6,} households: submit {m['n_submit'] / m['submit_wall']:6.1f} req/s (p50 "
              f"{pct(m['submit_lat'], 50):.0f} ms, {m['submit_cpu_ms']:.1f} ms CPU of this process each), sync "
              f"{m['n_sync'] / m['sync_s']:7.0f} items/s, result p50 "
              f"{pct(m['result_lat'], 50):.1f} ms ({pct(m['result_lat_busy'], 50):.1f} ms while the relay still "
              f"published {m['outbox_backlog']} events, drained {m['drain_s']:.1f} s later), seed {m['seed_s']:.1f} s"
              f" | bare insert {b['insert_rps']:.0f} "
              f"req/s, bare read p50 {b['read_p50_ms']:.2f} ms", flush=True)  # fmt: skip

    def figures(n: int) -> dict[str, tuple[float, float, float]]:
        m, b = runs[n], bases[n]
        writes = m["n_submit"] / m["submit_wall"]
        sync = m["n_sync"] / m["sync_s"]
        result = pct(m["result_lat"], 50)
        return {
            "writes": (writes, b["insert_rps"], writes / b["insert_rps"]),
            "sync": (sync, b["insert_rps"], sync / b["insert_rps"]),
            "result": (result, b["read_p50_ms"], result / b["read_p50_ms"]),
        }

    print(f"\nsurvey benchmark — concurrency {args.concurrency}, {args.reads} result reads, at most "
          f"{args.submits} single submissions and {args.syncs} synced items per size")  # fmt: skip
    print(
        f"machine: {platform.machine()} cpus={os.cpu_count()} python={platform.python_version()} {platform.platform()}"
    )
    print("survey = full service (relay publishing every event to JetStream in the same process); "
          "baselines = bench_baselines.py's bare FastAPI + asyncpg insert (16 in flight) and pk read (one at a "
          "time), measured right after each size")  # fmt: skip
    print(f"{'households':>10}  {'goal':<66}{'survey':>10}{'bare':>10}{'ratio':>8}  verdict")
    for n in sorted(runs):
        for name, (value, base, ratio) in figures(n).items():
            goal, label = GOALS[name]
            met = goal_met(goal, value, ratio)
            verdict = "met" if met else ("not measured" if met is None else "not met")
            print(f"{n:>10,}  {label + ' ' + goal.replace('ratio ', ''):<66}{value:>10.1f}{base:>10.2f}"
                  f"{ratio:>8.2f}  {verdict}")  # fmt: skip
    full = runs[goal_n]
    k = full["n_submit"]
    note = f"{goal_n} households, concurrency {args.concurrency}"
    record("survey", "survey.submit_rps", f"survey: response writes (POST /responses), {goal_n:,} households",
           k / full["submit_wall"], "req/s", baseline="base.insert_rps", goal="ratio >= 0.4", note=note)  # fmt: skip
    record("survey", "survey.submit_p50", "survey: response write p50", pct(full["submit_lat"], 50), "ms",
           baseline="base.insert_p50", better="lower", note=note)  # fmt: skip
    record("survey", "survey.result_p50", f"survey: live consultation result p50 ({goal_n:,} households)",
           pct(full["result_lat"], 50), "ms", baseline="base.read_p50", better="lower", goal="ratio <= 3",
           note=note)  # fmt: skip
    record("survey", "survey.sync_rate", "survey: offline batch sync, 500 items per request",
           full["n_sync"] / full["sync_s"], "items/s", baseline="base.insert_rps", goal="ratio >= 1.0",
           note=note)  # fmt: skip
    sized = sorted(runs.items())
    curve("survey", "survey_writes", "Survey writes by community size", "response writes (req/s)",
          [(float(n), m["n_submit"] / m["submit_wall"]) for n, m in sized], x_label="households in the community",
          y_label="per second", log_x=True, baseline="base.insert_rps")  # fmt: skip
    curve("survey", "survey_writes", "Survey writes by community size", "offline sync (items/s)",
          [(float(n), m["n_sync"] / m["sync_s"]) for n, m in sized], x_label="households in the community",
          y_label="per second", log_x=True)  # fmt: skip
    curve("survey", "survey_result", "Survey: live consultation result by community size", "result p50 (ms)",
          [(float(n), pct(m["result_lat"], 50)) for n, m in sized], x_label="households in the community",
          y_label="ms", log_x=True, baseline="base.read_p50")  # fmt: skip
    for n, m in sized:
        print(f"{n:>6,}: seed {n} households (JSON batches of 1000) {m['seed_s']:.2f} s; close {m['close_ms']:.0f} ms "
              f"-> {m['outcome'][0]} ({m['outcome'][1]})")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="3605,14420,57680", help="households per community, comma-separated")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--reads", type=int, default=30)
    ap.add_argument("--submits", type=int, default=3605, help="single submissions measured per size, at most")
    ap.add_argument("--syncs", type=int, default=3605, help="offline items synced per size, at most")
    ap.add_argument("--base-requests", type=int, default=1000, help="requests per bare baseline, after each size")
    args = ap.parse_args()
    if os.environ.get("DATABASE_URL") and os.environ.get("NATS_URL"):
        asyncio.run(bench(os.environ["DATABASE_URL"], os.environ["NATS_URL"], args))
        return
    with embedded_stack(Path(tempfile.mkdtemp(prefix="bench-survey-"))) as stack:
        asyncio.run(bench(stack.database_url, stack.nats_url, args))


if __name__ == "__main__":
    main()
