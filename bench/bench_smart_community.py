"""Smart-community benchmark: durable ingestion rate and MQTT alarm latency, against a bare asyncpg COPY.

    .venv/bin/python bench/bench_smart_community.py [--events 50000] [--devices 200] [--probes 20]

* Its own embedded Postgres (fsync on: "durable" means committed to disk) and NATS (JetStream + MQTT), in a temp dir.
* Baseline, same run: ``copy_records_to_table`` of the same rows straight into ``device_events`` (no NATS, no
  parsing, no rules) — the ceiling of one Postgres connection on this machine.
* Ingestion: ``--events`` messages published on ``devices.<community>.<device>.<kind>`` (what NATS's MQTT listener
  produces), through the DEVICES stream, the service's batching ingestor (parse, COPY + dedup insert, rules,
  last-seen) until all are rows in Postgres. Rate = events / wall time from first publish to last row.
* Alarm latency: ``--probes`` gas detectors in homes of elderly residents living alone, each with its own MQTT
  credentials (issued through the API: the broker's auth callout, answered by the service, lets each in as itself),
  publish one gas alarm over MQTT over TLS (QoS 1): half of them once idle, the other half while the telemetry
  backlog drains — the ``--events`` telemetry messages (elevator monitors: the telemetry path) are all published
  into the DEVICES stream first, then the probes go out one after another while the ingestor works through it.
  Latency is MQTT publish → ``smart_community.alarm.raised.v1`` received from NATS (login not included); a probe
  counts as "under backlog" only when it was sent before the last telemetry row landed. Goal (issue 13): p99 ≤
  250 ms under a 100,000-message backlog (``--events 100000``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import ssl
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "smart-community" / "src"))

import aiomqtt  # noqa: E402
import asyncpg  # noqa: E402
import nats  # noqa: E402
from common import record  # noqa: E402 - bench/common.py: machine-readable figures for bench/run.py

from renovation_common.auth import issue_dev_token  # noqa: E402
from renovation_common.devstack import Stack, create_databases  # noqa: E402
from renovation_common.migrations import upgrade_head  # noqa: E402
from renovation_common.settings import DEV_JWT_SECRET, database_url_for  # noqa: E402
from renovation_common.testing.plugin import running_app  # noqa: E402

COMMUNITY, DISTRICT, STREET = "c-bench", "510105", "s-bench"


async def seed(dsn: str, devices: int, probes: int) -> tuple[list[str], list[str]]:
    conn = await asyncpg.connect(dsn)
    now = datetime.now(UTC)
    await conn.execute(
        "insert into communities (id, district_id, street_id) values ($1, $2, $3)", COMMUNITY, DISTRICT, STREET
    )
    load = [f"load-{i}" for i in range(devices)]
    probe_ids = [f"probe-{i}" for i in range(probes)]
    await conn.executemany(
        "insert into households (id, community_id, district_id, elderly_living_alone) values ($1, $2, $3, true)",
        [(f"h-{d}", COMMUNITY, DISTRICT) for d in probe_ids],
    )
    await conn.executemany(
        "insert into devices (id, community_id, district_id, street_id, kind, placement, household_id,"
        " heartbeat_interval_s, created_at) values ($1, $2, $3, $4, $5, $6, $7, 3600, $8)",
        [(d, COMMUNITY, DISTRICT, STREET, "door_sensor", "community", None, now) for d in []]
        + [(d, COMMUNITY, DISTRICT, STREET, "elevator_monitor", "community", None, now) for d in load]
        + [(d, COMMUNITY, DISTRICT, STREET, "gas_detector", "household", f"h-{d}", now) for d in probe_ids],
    )
    await conn.close()
    return load, probe_ids


def rows_for(load: list[str], n: int) -> list[tuple]:
    now = datetime.now(UTC)
    return [
        (
            load[i % len(load)],
            COMMUNITY,
            "reading",
            now,
            now,
            json.dumps({"load_kg": i % 1000, "floor": i % 30}),
            "mqtt",
            None,
        )
        for i in range(n)
    ]


async def baseline_copy(dsn: str, rows: list[tuple]) -> float:
    conn = await asyncpg.connect(dsn)
    await conn.execute("create table bench_copy (like device_events including defaults including identity)")
    started = time.perf_counter()
    chunk = 1000
    for i in range(0, len(rows), chunk):  # same batch size as the ingestor, one transaction each
        async with conn.transaction():
            await conn.copy_records_to_table(
                "bench_copy",
                records=rows[i : i + chunk],
                columns=[
                    "device_id",
                    "community_id",
                    "event_type",
                    "device_time",
                    "received_at",
                    "readings",
                    "source",
                    "stream_seq",
                ],
            )
    elapsed = time.perf_counter() - started
    await conn.execute("drop table bench_copy")
    await conn.close()
    return len(rows) / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--probes", type=int, default=40)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_sc_"))
    stack = Stack(tmp, fast=False)
    await asyncio.to_thread(stack.start)
    try:
        for k, v in stack.env().items():
            os.environ[k] = v
        await create_databases(stack.database_url, ["smart_community_bench"])
        url = database_url_for(stack.database_url, "smart_community_bench")
        await asyncio.to_thread(upgrade_head, ROOT / "services" / "smart-community", url)
        dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        load, probes = await seed(dsn, args.devices, args.probes)
        rows = rows_for(load, args.events)
        copy_rate = await baseline_copy(dsn, rows)

        from smart_community.entrypoints.app import create_app

        app = create_app(
            database_url=url, nats_url=stack.nats_url, log_json=True, log_level="WARNING", ingest_batch_size=1000
        )
        async with running_app(app) as client:
            token = issue_dev_token(
                secret=DEV_JWT_SECRET, role="community_worker", district_id=DISTRICT, community_id=COMMUNITY
            )
            from smart_community.entrypoints.broker_workers import RESPONDER_READY

            while not app.state.runtime.extras.get(RESPONDER_READY):  # the auth callout responder starts in background
                await asyncio.sleep(0.1)
            creds = {}
            for p in probes:
                r = await client.post(f"/v1/devices/{p}/credentials", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 201, r.text  # 201 = the broker was shown to enforce it
                creds[p] = r.json()
            tls = ssl.create_default_context(cafile=stack.env()["MQTT_CA_FILE"])
            nc = await nats.connect(stack.nats_url)
            raised_at: dict[str, float] = {}

            async def on_raised(msg) -> None:
                raised_at[json.loads(msg.data)["data"]["device_id"]] = time.perf_counter()

            await nc.subscribe("renovation.smart_community.alarm.raised.v1", cb=on_raised)

            async def probe(device: str) -> float:
                c = creds[device]
                body = json.dumps({"type": "alarm", "time": datetime.now(UTC).isoformat(), "readings": {}}).encode()
                async with aiomqtt.Client(
                    "127.0.0.1",
                    stack.mqtt_port,
                    username=c["username"],
                    password=c["password"],
                    identifier=c["mqtt_client_id"],
                    tls_context=tls,
                ) as m:
                    sent = time.perf_counter()
                    await m.publish(c["mqtt_topic"], body, qos=1)
                for _ in range(600):
                    if device in raised_at:
                        return raised_at[device] - sent
                    await asyncio.sleep(0.005)
                return float("nan")

            idle = [await probe(p) for p in probes[: len(probes) // 2]]

            async def build_backlog() -> float:
                """Every telemetry message into the DEVICES stream, as fast as the broker takes them."""
                started = time.perf_counter()
                for i, row in enumerate(rows):
                    subject = f"devices.{COMMUNITY}.{row[0]}.elevator_monitor"
                    payload = json.dumps(
                        {"type": "reading", "time": row[3].isoformat(), "readings": json.loads(row[5])}
                    )
                    await nc.publish(subject, payload.encode())
                    if i % 2000 == 0:
                        await nc.flush()
                await nc.flush()
                return started

            pg = await asyncpg.connect(dsn)
            drained_at: list[float] = []

            async def watch_drain() -> None:
                while True:
                    n = await pg.fetchval("select count(*) from device_events where event_type = 'reading'")
                    if n >= args.events:
                        drained_at.append(time.perf_counter())
                        return
                    await asyncio.sleep(0.05)

            def commit_histogram(metrics: str) -> dict[str, float]:
                """The alarm latency histogram's critical series (arrival → alarm committed): bucket bound → count."""
                out: dict[str, float] = {}
                for line in metrics.splitlines():
                    if (
                        line.startswith("smart_community_alarm_latency_seconds_bucket{")
                        and 'severity="critical"' in line
                    ):
                        bound = line.split('le="', 1)[1].split('"', 1)[0]
                        out[bound] = float(line.rsplit(" ", 1)[1])
                    elif line.startswith('smart_community_alarm_latency_seconds_sum{severity="critical"}'):
                        out["sum"] = float(line.rsplit(" ", 1)[1])
                return out

            before = commit_histogram((await client.get("/metrics")).text)
            started = await build_backlog()
            published_s = time.perf_counter() - started
            watcher = asyncio.create_task(watch_drain())
            loaded: list[float] = []
            late = 0  # probes sent after the backlog had drained (not counted as under backlog)
            for p in probes[len(probes) // 2 :]:
                sent_at = time.perf_counter()
                latency = await probe(p)
                if drained_at and drained_at[0] < sent_at:
                    late += 1
                else:
                    loaded.append(latency)
                await asyncio.sleep(0.1)
            after = commit_histogram((await client.get("/metrics")).text)
            await watcher
            ingest_s = drained_at[0] - started
            # the part of the loaded probes' latency up to the commit (the rest: relay, broker, subscriber)
            delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
            bounds = sorted((float(k), v) for k, v in delta.items() if k not in ("sum",) and k != "+Inf")
            n_commits = delta.get("+Inf", 0.0)

            def bucket_quantile(q: float) -> float:
                for bound, count in bounds:
                    if count >= q * n_commits:
                        return bound * 1000
                return float("inf")

            rejects = await pg.fetchval("select count(*) from device_rejects")
            await pg.close()
            await nc.close()
        ingest_rate = args.events / ingest_s

        def pct(xs: list[float], q: float) -> float:
            xs = sorted(x for x in xs if x == x)
            return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")

        print(f"machine: {platform.machine()} {os.cpu_count()} cpu, {platform.python_version()}, Postgres fsync on")
        print(f"events={args.events} devices={args.devices} probes={args.probes} rejects={rejects}")
        print(f"backlog published in {published_s:.1f} s, drained {ingest_s:.1f} s after the first publish; "
              f"{len(loaded)} probes under backlog, {late} after it drained")  # fmt: skip
        print()
        print("| measure | value | vs baseline |")
        print("|---|---:|---:|")
        print(f"| bare asyncpg COPY into device_events (1,000-row transactions) | {copy_rate:,.0f} rows/s | 1.00 |")
        print(f"| service: DEVICES → Postgres | {ingest_rate:,.0f} events/s | {ingest_rate / copy_rate:.2f} |")
        print(f"| alarm latency idle, MQTT → alarm.raised p50/max | {pct(idle, 0.5):.0f} / {pct(idle, 1.0):.0f} ms | |")
        print(f"| alarm latency under a {args.events:,}-message backlog p50 / p99 / max | {pct(loaded, 0.5):.0f} / "
              f"{pct(loaded, 0.99):.0f} / {pct(loaded, 1.0):.0f} ms | goal p99 ≤ 250 ms |")  # fmt: skip
        if n_commits:
            print(f"| of which arrival → alarm committed (alarm latency histogram, {n_commits:.0f} alarms) "
                  f"mean / p50 ≤ / p99 ≤ | {delta['sum'] / n_commits * 1000:.0f} / {bucket_quantile(0.5):.0f} / "
                  f"{bucket_quantile(0.99):.0f} ms | |")  # fmt: skip
        note = f"{args.events} events, {args.devices} devices; own stack, fsync on"
        record("smart_community", "sc.copy", "smart-community's own COPY baseline (its Postgres)", copy_rate,
               "rows/s", note=note)  # fmt: skip
        record("smart_community", "sc.ingest", "device ingestion: DEVICES stream → Postgres", ingest_rate,
               "events/s", baseline="sc.copy", note=note)  # fmt: skip
        record("smart_community", "sc.alarm_idle_p50", "MQTT gas alarm → alarm.raised on NATS, idle p50",
               pct(idle, 0.5), "ms", baseline="base.js_p50", better="lower", note=note)  # fmt: skip
        record("smart_community", "sc.alarm_load_p50", "MQTT gas alarm → alarm.raised, telemetry backlog draining p50",
               pct(loaded, 0.5), "ms", baseline="base.js_p50", better="lower", note=note)  # fmt: skip
        record("smart_community", "sc.alarm_backlog_p99",
               "MQTT gas alarm → alarm.raised, telemetry backlog draining p99", pct(loaded, 0.99), "ms",
               baseline="base.js_p50", better="lower", goal="value <= 250",
               note=f"{note}; {len(loaded)} probes under backlog")  # fmt: skip
    finally:
        await asyncio.to_thread(stack.stop)


if __name__ == "__main__":
    asyncio.run(main())
