"""Smart-community benchmark: device ingestion (a DEVICES backlog, and MQTT end to end) and gas-alarm latency
under a telemetry backlog, each against a baseline measured in the same run.

    .venv/bin/python bench/bench_smart_community.py [--sizes 20000,200000,1000000] [--mqtt-events 40000]
        [--mqtt-connections 8] [--events 100000] [--probes 40] [--devices 200] [--profile]

* Its own embedded Postgres (fsync on: "rows" means committed to disk) and NATS (JetStream + MQTT over TLS with the
  auth callout, as ``renovation_common.devstack`` / ``deploy/nats`` ship them), in a temp dir. The service runs
  in-process on uvloop (what uvicorn picks in production); its device consumers are the ones the app runs
  (``entrypoints.consumers.device_consumers`` on the common ``ConsumerRunner``), started and stopped by the script
  so that a backlog can be built first.
* **Backlog** (goal: ≥ 0.15 × COPY at 200,000): for each size, a bare asyncpg ``copy_records_to_table`` of the same
  rows (1,000-row transactions, into a copy of ``device_events`` without its indexes) is the baseline; then the
  same number of messages is published on ``devices.<community>.<device>.elevator_monitor`` into the DEVICES
  stream with ingestion stopped, the device consumers are started, and the rate is messages / (start → last row
  committed). Sizes run one after another on the same database, so each size starts with everything the earlier
  ones stored: a per-event cost that grew with the table would show as a falling rate (the rate over the first
  and the last fifth of each drain is printed too).
* **MQTT end to end** (goal: rows ≥ 0.8 × the broker's acknowledgements): ``--mqtt-connections`` devices, each
  with its own credentials issued through the API and logged in through the auth callout, publish QoS 1 over
  TLS with ``aiomqtt`` (in a separate process, as devices are: up to 64 publishes awaiting PUBACK per
  connection). Once with ingestion stopped (the broker's acknowledgement rate alone), once with it running:
  rows/s = messages / (first publish → last row committed), compared with the acknowledgement rate of the same
  publishes.
* **Alarm latency** (goal: p99 ≤ 250 ms under a 100,000-message backlog): ``--probes`` gas detectors in homes
  of elderly residents living alone, each connected over MQTT as itself (login before the clock starts), publish
  one gas alarm (QoS 1): half of them idle, the other half spread over the drain of an ``--events`` telemetry
  backlog (built with ingestion stopped, then drained). Latency = MQTT publish → ``alarm.raised`` received on
  NATS; a probe counts as "under backlog" only when sent before the last telemetry row landed.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import logging
import os
import platform
import pstats
import ssl
import subprocess
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
from common import curve, record  # noqa: E402 - bench/common.py: machine-readable figures for bench/run.py

COMMUNITY, DISTRICT, STREET = "c-bench", "510105", "s-bench"
SCRIPT = "smart_community"
COPY_COLUMNS = [
    "device_id",
    "community_id",
    "event_type",
    "device_time",
    "received_at",
    "readings",
    "source",
    "stream_seq",
]


async def seed(dsn: str, devices: int, probes: int, publishers: int) -> tuple[list[str], list[str], list[str]]:
    conn = await asyncpg.connect(dsn)
    now = datetime.now(UTC)
    await conn.execute(
        "insert into communities (id, district_id, street_id) values ($1, $2, $3)", COMMUNITY, DISTRICT, STREET
    )
    load = [f"load-{i}" for i in range(devices)]
    probe_ids = [f"probe-{i}" for i in range(probes)]
    mqtt_ids = [f"mqtt-{i}" for i in range(publishers)]
    await conn.executemany(
        "insert into households (id, community_id, district_id, elderly_living_alone) values ($1, $2, $3, true)",
        [(f"h-{d}", COMMUNITY, DISTRICT) for d in probe_ids],
    )
    await conn.executemany(
        "insert into devices (id, community_id, district_id, street_id, kind, placement, household_id,"
        " heartbeat_interval_s, created_at) values ($1, $2, $3, $4, $5, $6, $7, 3600, $8)",
        [(d, COMMUNITY, DISTRICT, STREET, "elevator_monitor", "community", None, now) for d in load + mqtt_ids]
        + [(d, COMMUNITY, DISTRICT, STREET, "gas_detector", "household", f"h-{d}", now) for d in probe_ids],
    )
    await conn.close()
    return load, probe_ids, mqtt_ids


def payload(i: int, when: bytes) -> bytes:
    return b'{"type":"reading","time":"%s","readings":{"load_kg":%d,"floor":%d}}' % (when, i % 1000, i % 30)


def copy_rows(load: list[str], n: int) -> list[tuple]:
    now = datetime.now(UTC)
    return [
        (
            load[i % len(load)],
            COMMUNITY,
            "reading",
            now,
            now,
            f'{{"load_kg":{i % 1000},"floor":{i % 30}}}',
            "mqtt",
            None,
        )
        for i in range(n)
    ]


async def baseline_copy(dsn: str, rows: list[tuple]) -> float:
    conn = await asyncpg.connect(dsn)
    await conn.execute("create table bench_copy (like device_events including defaults including identity)")
    started = time.perf_counter()
    for i in range(0, len(rows), 1000):  # the ingestor's batch size, one transaction each
        async with conn.transaction():
            await conn.copy_records_to_table("bench_copy", records=rows[i : i + 1000], columns=COPY_COLUMNS)
    elapsed = time.perf_counter() - started
    await conn.execute("drop table bench_copy")
    await conn.close()
    return len(rows) / elapsed


class Ingestion:
    """The app's device consumers, started and stopped on demand; rows committed counted from the service's own
    ``smart_community_device_events_total{outcome="accepted"}`` (incremented after each commit)."""

    def __init__(self, app) -> None:
        from smart_community.service_layer.ingestion import DEVICE_EVENTS

        self.runtime = app.state.runtime
        self.accepted = DEVICE_EVENTS.labels("mqtt", "accepted")
        self.runners: list = []
        self.tasks: list[asyncio.Task] = []

    def count(self) -> float:
        return self.accepted._value.get()

    def start(self) -> None:
        from renovation_common.messaging import ConsumerRunner
        from smart_community.entrypoints.consumers import device_consumers

        rt = self.runtime
        for spec in device_consumers(rt):
            spec.after_commit = rt.wake_relay  # as the app does
            runner = ConsumerRunner(spec, rt.sessionmaker, rt.infra, rt.js, service=rt.settings.service_name)
            self.runners.append(runner)
            self.tasks.append(asyncio.create_task(runner.run()))

    async def stop(self) -> None:
        for r in self.runners:
            r.stop()
        await asyncio.wait(self.tasks, timeout=5)
        for t in self.tasks:
            t.cancel()
        for r in self.runners:
            await r.close()
        self.runners, self.tasks = [], []

    async def wait_for(self, target: float, samples: list[tuple[float, float]] | None = None) -> float:
        """Until ``target`` rows were committed: the moment it happened (perf_counter)."""
        while self.count() < target:
            if samples is not None:
                samples.append((time.perf_counter(), self.count()))
            await asyncio.sleep(0.02)
        return time.perf_counter()


async def publish_backlog(nc, js, load: list[str], n: int) -> None:
    """``n`` telemetry messages into the DEVICES stream (core publishes, as NATS's MQTT listener hands them on)."""
    before = (await js.stream_info("DEVICES")).state.messages
    when = datetime.now(UTC).isoformat().encode()
    for i in range(n):
        await nc.publish(f"devices.{COMMUNITY}.{load[i % len(load)]}.elevator_monitor", payload(i, when))
        if i % 2000 == 0:
            await nc.flush()
    await nc.flush()
    while (await js.stream_info("DEVICES")).state.messages < before + n:
        await asyncio.sleep(0.05)


def server_pid(server: object) -> int | None:
    """The pid of an embedded server of the stack (``None`` when the stack uses a server it was given)."""
    proc = getattr(server, "proc", None)
    return proc.pid if proc is not None else None


def tree_cpu(pid: int | None) -> float:
    """CPU seconds used by a process and its children (live ones, and those it has reaped) from /proc."""
    if pid is None:
        return float("nan")

    def stat(p: int) -> list[str]:
        text = Path(f"/proc/{p}/stat").read_text()
        return text[text.rindex(")") + 2 :].split()

    tick = os.sysconf("SC_CLK_TCK")
    try:
        f = stat(pid)
    except OSError:
        return float("nan")
    total = sum(int(x) for x in f[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                c = stat(int(entry.name))
            except (OSError, ValueError):
                continue
            if int(c[1]) == pid:
                total += int(c[11]) + int(c[12])
    return total / tick


def fifth_rates(samples: list[tuple[float, float]], base: float, n: int) -> tuple[float, float]:
    """Events/s over the first and the last fifth of a drain (from the row-count samples)."""

    def at(count: float) -> float:
        return next(t for t, c in samples if c - base >= count)

    try:
        first = (n / 5) / (at(n / 5) - samples[0][0])
        last = (n / 5) / (samples[-1][0] - at(4 * n / 5))
    except (StopIteration, ZeroDivisionError):
        return float("nan"), float("nan")
    return first, last


# ------------------------------------------------------------------------------------------------ MQTT publisher


async def mqtt_publisher(spec_path: str) -> None:
    """Child process: every connection publishes its share QoS 1, at most 64 awaiting PUBACK each; prints
    {"first": wall time of the first publish, "last_ack": of the last PUBACK, "acked": n}."""
    logging.getLogger("mqtt").setLevel(logging.ERROR)  # aiomqtt's "pending publish calls" notes
    spec = json.loads(Path(spec_path).read_text())
    tls = ssl.create_default_context(cafile=spec["ca"])
    when = datetime.now(UTC).isoformat().encode()
    clients = []
    for c in spec["creds"]:
        m = aiomqtt.Client(
            "127.0.0.1",
            spec["port"],
            username=c["username"],
            password=c["password"],
            identifier=c["mqtt_client_id"],
            tls_context=tls,
            max_inflight_messages=64,
        )
        await m.__aenter__()
        clients.append((m, c["mqtt_topic"]))
    per = spec["events"] // len(clients)
    acked = 0

    async def run(m, topic: str) -> None:
        nonlocal acked
        sem = asyncio.Semaphore(64)

        async def one(i: int) -> None:
            nonlocal acked
            try:
                await m.publish(topic, payload(i, when), qos=1)
                acked += 1
            finally:
                sem.release()

        tasks = []
        for i in range(per):
            await sem.acquire()
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)

    first = time.time()
    await asyncio.gather(*(run(m, t) for m, t in clients))
    last = time.time()
    for m, _ in clients:
        await m.__aexit__(None, None, None)
    print(json.dumps({"first": first, "last_ack": last, "acked": acked}))


async def run_publisher(spec: dict) -> dict:
    path = Path(tempfile.mkstemp(suffix=".json")[1])
    path.write_text(json.dumps(spec))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--mqtt-publisher", str(path), stdout=subprocess.PIPE
    )
    out, _ = await proc.communicate()
    path.unlink()
    return json.loads(out.decode().strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------ the run


async def main(args: argparse.Namespace) -> None:
    from renovation_common.auth import issue_dev_token
    from renovation_common.devstack import Stack, create_databases
    from renovation_common.migrations import upgrade_head
    from renovation_common.settings import DEV_JWT_SECRET, database_url_for
    from renovation_common.testing.plugin import running_app

    logging.getLogger("mqtt").setLevel(logging.ERROR)
    sizes = [int(s) for s in args.sizes.split(",") if s]
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
        load, probes, publishers = await seed(dsn, args.devices, args.probes, args.mqtt_connections)

        from smart_community.entrypoints.app import create_app

        app = create_app(
            database_url=url,
            nats_url=stack.nats_url,
            log_json=True,
            log_level="WARNING",
            ingest_enabled=False,  # the script starts the device consumers itself (Ingestion)
            ingest_batch_size=args.batch_size,
            ingest_batches_in_flight=args.in_flight,
        )
        async with running_app(app) as client:
            from smart_community.entrypoints.broker_workers import RESPONDER_READY

            runtime = app.state.runtime
            while not (runtime.messaging_ready.is_set() and runtime.extras.get(RESPONDER_READY)):
                await asyncio.sleep(0.1)
            ingestion = Ingestion(app)
            nc = await nats.connect(stack.nats_url)
            js = nc.jetstream()
            pg = await asyncpg.connect(dsn)

            # ---------------------------------------------------------------- backlog drains at several sizes
            backlog: list[dict] = []
            for n in sizes:
                copy_rate = await baseline_copy(dsn, copy_rows(load, n))
                await publish_backlog(nc, js, load, n)
                stored = await pg.fetchval("select count(*) from device_events")
                base = ingestion.count()
                prof = cProfile.Profile() if args.profile and n == max(sizes) else None
                samples: list[tuple[float, float]] = [(time.perf_counter(), base)]
                cpu0 = time.process_time()
                pg0, nats0 = tree_cpu(server_pid(stack.postgres)), tree_cpu(server_pid(stack.nats))
                if prof:
                    prof.enable()
                started = time.perf_counter()
                ingestion.start()
                done = await ingestion.wait_for(base + n, samples)
                if prof:
                    prof.disable()
                cpu = time.process_time() - cpu0
                pg_cpu = tree_cpu(server_pid(stack.postgres)) - pg0
                nats_cpu = tree_cpu(server_pid(stack.nats)) - nats0
                await ingestion.stop()
                samples.append((done, ingestion.count()))
                rate = n / (done - started)
                first, last = fifth_rates(samples, base, n)
                backlog.append({"n": n, "copy": copy_rate, "rate": rate, "stored": stored, "first": first,
                                "last": last, "cpu_us": cpu / n * 1e6, "pg_us": pg_cpu / n * 1e6,
                                "nats_us": nats_cpu / n * 1e6, "wall_us": (done - started) / n * 1e6})  # fmt: skip
                if prof:
                    out = io.StringIO()
                    stats = pstats.Stats(prof, stream=out)
                    stats.sort_stats("tottime").print_stats(30)
                    (tmp / "profile.txt").write_text(out.getvalue())
                    print(out.getvalue()[:6000])
            rows = await pg.fetchval("select count(*) from device_events")
            assert rows >= sum(sizes), f"{rows} rows for {sum(sizes)} messages"

            # ---------------------------------------------------------------- MQTT end to end
            token = issue_dev_token(
                secret=DEV_JWT_SECRET, role="community_worker", district_id=DISTRICT, community_id=COMMUNITY
            )
            creds: dict[str, dict] = {}
            for d in publishers + probes:
                r = await client.post(f"/v1/devices/{d}/credentials", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 201, r.text  # 201 = the broker was shown to enforce it
                creds[d] = r.json()
            spec = {
                "port": stack.mqtt_port,
                "ca": stack.env()["MQTT_CA_FILE"],
                "events": args.mqtt_events,
                "creds": [creds[d] for d in publishers],
            }
            mqtt_n = args.mqtt_events // len(publishers) * len(publishers)
            alone = await run_publisher(spec)  # ingestion stopped: the broker's acknowledgements alone
            ack_alone = alone["acked"] / (alone["last_ack"] - alone["first"])
            base = ingestion.count()
            ingestion.start()
            await ingestion.wait_for(base + mqtt_n)  # that backlog drained (not timed)
            base = ingestion.count()
            together = await run_publisher(spec)  # ingestion running
            done_at = await ingestion.wait_for(base + mqtt_n)
            done_wall = time.time() - (time.perf_counter() - done_at)
            await ingestion.stop()
            ack_together = together["acked"] / (together["last_ack"] - together["first"])
            mqtt_rows = mqtt_n / (done_wall - together["first"])

            # ---------------------------------------------------------------- alarm latency
            tls = ssl.create_default_context(cafile=stack.env()["MQTT_CA_FILE"])
            raised_at: dict[str, float] = {}

            async def on_raised(msg) -> None:
                raised_at[json.loads(msg.data)["data"]["device_id"]] = time.perf_counter()

            await nc.subscribe("renovation.smart_community.alarm.raised.v1", cb=on_raised)
            probe_clients: dict[str, aiomqtt.Client] = {}
            for p in probes:  # every probe logged in before any clock starts
                c = creds[p]
                m = aiomqtt.Client(
                    "127.0.0.1",
                    stack.mqtt_port,
                    username=c["username"],
                    password=c["password"],
                    identifier=c["mqtt_client_id"],
                    tls_context=tls,
                )
                await m.__aenter__()
                probe_clients[p] = m

            async def probe(device: str) -> tuple[float, float]:
                c = creds[device]
                body = json.dumps({"type": "alarm", "time": datetime.now(UTC).isoformat(), "readings": {}}).encode()
                sent = time.perf_counter()
                await probe_clients[device].publish(c["mqtt_topic"], body, qos=1)
                for _ in range(3000):
                    if device in raised_at:
                        return sent, raised_at[device] - sent
                    await asyncio.sleep(0.002)
                return sent, float("nan")

            ingestion.start()
            idle = [(await probe(p))[1] for p in probes[: len(probes) // 2]]
            await ingestion.stop()
            await publish_backlog(nc, js, load, args.events)
            base = ingestion.count()
            drained: list[float] = []

            async def watch() -> None:
                drained.append(await ingestion.wait_for(base + args.events))

            from smart_community.service_layer.ingestion import ALARM_LATENCY

            committed = ALARM_LATENCY.labels("critical")  # arrival in the stream → alarm committed
            sum0, n0 = committed._sum.get(), sum(b.get() for b in committed._buckets)
            started = time.perf_counter()
            ingestion.start()
            watcher = asyncio.create_task(watch())
            expected = args.events / max(backlog[-1]["rate"] if backlog else 5000.0, 1.0)
            gap = max(0.02, 0.8 * expected / max(1, len(probes) - len(probes) // 2))
            results = []
            for p in probes[len(probes) // 2 :]:
                results.append(await probe(p))
                await asyncio.sleep(gap)
            await watcher
            await ingestion.stop()
            n_commit = sum(b.get() for b in committed._buckets) - n0
            commit_ms = (committed._sum.get() - sum0) / max(n_commit, 1) * 1000
            loaded = [lat for sent, lat in results if sent < drained[0]]
            late = len(results) - len(loaded)
            drain_s = drained[0] - started
            for m in probe_clients.values():
                await m.__aexit__(None, None, None)
            rejects = await pg.fetchval("select count(*) from device_rejects")
            await pg.close()
            await nc.close()

        def pct(xs: list[float], q: float) -> float:
            xs = sorted(x for x in xs if x == x)
            return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")

        print(f"machine: {platform.machine()} {os.cpu_count()} cpu, {platform.python_version()}, uvloop, "
              f"Postgres fsync on; load average at the end {os.getloadavg()[0]:.1f}")  # fmt: skip
        print(f"devices={args.devices} batch={args.batch_size} rejects={rejects}")
        print()
        print("| measure | value | baseline | ratio |")
        print("|---|---:|---:|---:|")
        for b in backlog:
            ratio = b["rate"] / b["copy"]
            print(f"| DEVICES backlog of {b['n']:,} → rows ({b['stored']:,} rows stored before; first / last "
                  f"fifth {b['first']:,.0f} / {b['last']:,.0f} /s; service process CPU {b['cpu_us']:.0f} µs/event)"
                  f" | {b['rate']:,.0f} events/s | COPY {b['copy']:,.0f} rows/s | {ratio:.3f} |")  # fmt: skip
        print(f"| MQTT QoS 1, {len(publishers)} connections, {mqtt_n:,} messages → rows | {mqtt_rows:,.0f} rows/s"
              f" | broker acks of the same publishes {ack_together:,.0f} /s | {mqtt_rows / ack_together:.2f} |"
              )  # fmt: skip
        print(f"| broker acks with ingestion stopped | {ack_alone:,.0f} /s | | rows / this: "
              f"{mqtt_rows / ack_alone:.2f} |")  # fmt: skip
        print(f"| alarm latency idle, MQTT → alarm.raised p50 / max | {pct(idle, 0.5):.0f} / {pct(idle, 1.0):.0f} ms"
              " | | |")  # fmt: skip
        print(f"| alarm latency while a {args.events:,}-message backlog drains ({drain_s:.1f} s; {len(loaded)} "
              f"probes under it, {late} after) p50 / p99 / max | {pct(loaded, 0.5):.0f} / {pct(loaded, 0.99):.0f} / "
              f"{pct(loaded, 1.0):.0f} ms | goal p99 ≤ 250 ms | |")  # fmt: skip
        print(f"| of which stream → alarm committed (the service's alarm latency histogram), mean of {n_commit:.0f}"
              f" | {commit_ms:.0f} ms | | |")  # fmt: skip
        print()
        print("| backlog | wall µs/event | CPU µs/event: service process | Postgres | nats-server |")
        print("|---:|---:|---:|---:|---:|")
        for b in backlog:
            print(f"| {b['n']:,} | {b['wall_us']:.0f} | {b['cpu_us']:.0f} | {b['pg_us']:.0f} | {b['nats_us']:.0f} |")
        print()

        note = f"{args.devices} devices, batch {args.batch_size}; own stack, fsync on"
        for b in backlog:
            record(SCRIPT, f"sc.copy_{b['n']}", f"asyncpg COPY of {b['n']:,} device rows (smart-community's stack)",
                   b["copy"], "rows/s", note=note)  # fmt: skip
            goal = "ratio >= 0.15" if b["n"] == 200_000 else None
            record(SCRIPT, f"sc.ingest_{b['n']}", f"device ingestion: DEVICES backlog of {b['n']:,} → rows",
                   b["rate"], "events/s", baseline=f"sc.copy_{b['n']}", goal=goal,
                   note=f"{note}; {b['stored']:,} rows stored before")  # fmt: skip
        curve(SCRIPT, "sc_backlog", "Device ingestion: DEVICES backlog → rows", "service",
              [(b["n"], b["rate"]) for b in backlog], x_label="backlog (messages)", y_label="events/s",
              log_x=True)  # fmt: skip
        curve(SCRIPT, "sc_backlog", "Device ingestion: DEVICES backlog → rows", "asyncpg COPY",
              [(b["n"], b["copy"]) for b in backlog], x_label="backlog (messages)", y_label="events/s",
              log_x=True)  # fmt: skip
        record(SCRIPT, "sc.mqtt_acks", f"MQTT QoS 1 PUBACKs, {len(publishers)} connections (ingestion running)",
               ack_together, "msg/s", note=note)  # fmt: skip
        record(SCRIPT, "sc.mqtt_rows", f"device ingestion: MQTT QoS 1 from {len(publishers)} connections → rows",
               mqtt_rows, "rows/s", baseline="sc.mqtt_acks", goal="ratio >= 0.8", note=note)  # fmt: skip
        record(SCRIPT, "sc.alarm_idle_p50", "MQTT gas alarm → alarm.raised on NATS, idle p50", pct(idle, 0.5),
               "ms", baseline="base.js_p50", better="lower", note=note)  # fmt: skip
        record(SCRIPT, "sc.alarm_backlog_p99",
               f"MQTT gas alarm → alarm.raised while a {args.events:,}-message backlog drains, p99",
               pct(loaded, 0.99), "ms", baseline="base.js_p50", better="lower", goal="value <= 250",
               note=f"{note}; {len(loaded)} probes under backlog")  # fmt: skip
    finally:
        await asyncio.to_thread(stack.stop)


def cli() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="20000,200000,1000000")
    parser.add_argument("--mqtt-events", type=int, default=40_000)
    parser.add_argument("--mqtt-connections", type=int, default=8)
    parser.add_argument("--events", type=int, default=100_000, help="telemetry backlog under the alarm probes")
    parser.add_argument("--probes", type=int, default=40)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=500, help="INGEST_BATCH_SIZE (the service's default)")
    parser.add_argument("--in-flight", type=int, default=2, help="INGEST_BATCHES_IN_FLIGHT (the service's default)")
    parser.add_argument("--profile", action="store_true", help="cProfile the largest drain (top functions)")
    parser.add_argument("--mqtt-publisher", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        import uvloop

        run = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is pinned
        run = asyncio.run
    if args.mqtt_publisher:
        run(mqtt_publisher(args.mqtt_publisher))
    else:
        run(main(args))


if __name__ == "__main__":
    cli()
