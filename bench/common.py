"""Shared helpers for the benchmark scripts: machine description, percentiles, concurrent load, the Postgres/NATS
to run against, and machine-readable results for ``bench/run.py``'s combined table.

A script calls :func:`record` for each figure it wants in the combined table (with the goal it is held to, if any)
and :func:`curve` for each growth curve (a figure measured at several sizes). When ``BENCH_RESULTS`` names a file
(``bench/run.py`` sets it), each record is appended to it as one JSON line; otherwise they do nothing and the
script only prints its own table.

Goals are written ``"ratio >= 0.5"`` (the figure divided by its baseline), ``"ratio <= 3"``, ``"value <= 20"`` (the
figure itself, in its unit): :func:`goal_met` evaluates them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_ENV = "BENCH_RESULTS"


def record(
    script: str,
    key: str,
    label: str,
    value: float,
    unit: str,
    *,
    baseline: str | None = None,
    better: str = "higher",
    note: str = "",
    goal: str | None = None,
) -> None:
    """One figure. ``key`` is unique in the run; ``baseline`` names the key of the figure it is compared with;
    ``better`` is ``higher`` (throughputs) or ``lower`` (latencies, gaps); ``goal`` as in the module doc."""
    _append(
        {
            "script": script,
            "key": key,
            "label": label,
            "value": value,
            "unit": unit,
            "baseline": baseline,
            "better": better,
            "note": note,
            "goal": goal,
        }
    )


def curve(
    script: str,
    chart: str,
    title: str,
    series: str,
    points: list[tuple[float, float]],
    *,
    x_label: str,
    y_label: str,
    log_x: bool = False,
    baseline: str | None = None,
) -> None:
    """One series of a growth curve: ``points`` = (size, figure). Series of one ``chart`` key are drawn together
    by ``bench/run.py --write-docs``; ``baseline`` (a figure's key of the same run) is drawn as a flat line."""
    _append(
        {
            "type": "curve",
            "script": script,
            "chart": chart,
            "title": title,
            "series": series,
            "points": points,
            "x_label": x_label,
            "y_label": y_label,
            "log_x": log_x,
            "baseline": baseline,
        }
    )


def goal_met(goal: str, value: float, ratio: float | None) -> bool | None:
    """Whether ``goal`` holds for ``value`` (and ``ratio`` = value / baseline); ``None`` when it cannot be told."""
    subject, op, threshold = goal.split()
    x = ratio if subject == "ratio" else value
    if x is None or x != x:
        return None
    limit = float(threshold)
    return x >= limit if op == ">=" else x <= limit


def _append(line: dict[str, Any]) -> None:
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")


def read_results(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().splitlines()[0].split()[1])
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    nproc = str(os.cpu_count())
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    return {
        "nproc": nproc,
        "cpu": cpu,
        "ram": ram,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def pct(values: list[float], p: float) -> float:
    """Percentile ``p`` (0-100) of ``values`` (nearest rank)."""
    s = sorted(v for v in values if v == v)
    if not s:
        return float("nan")
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def run_many(n: int, concurrency: int, call: Callable[[int], Awaitable[Any]]) -> tuple[float, list[float]]:
    """Run ``call(i)`` for i < n with ``concurrency`` in flight; returns (wall seconds, per-call seconds)."""
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(i: int) -> None:
        async with sem:
            t = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - start, latencies


@contextlib.contextmanager
def servers(prefix: str) -> Iterator[tuple[str, str]]:
    """(database server URL, NATS URL): ``DATABASE_URL`` / ``NATS_URL`` when set (``bench/run.py`` starts one
    durable embedded stack for the whole run), otherwise an embedded stack of this script's own. Enter it outside
    the event loop (the embedded servers start synchronously)."""
    if os.environ.get("DATABASE_URL") and os.environ.get("NATS_URL"):
        yield os.environ["DATABASE_URL"], os.environ["NATS_URL"]
        return
    from renovation_common.devstack import embedded_stack

    with embedded_stack(Path(tempfile.mkdtemp(prefix=f"bench-{prefix}-")), fast=False) as stack:
        for k, v in stack.env().items():
            os.environ[k] = v
        yield stack.database_url, stack.nats_url


async def fresh_database(server_url: str, prefix: str, service: str | None = None) -> str:
    """A new database (migrated for ``service`` when given); returns its SQLAlchemy URL."""
    import uuid

    from renovation_common.devstack import SERVICES, create_databases
    from renovation_common.migrations import upgrade_head
    from renovation_common.settings import database_url_for

    name = f"bench_{prefix}_{uuid.uuid4().hex[:6]}"
    await create_databases(server_url, [name])
    url = database_url_for(server_url, name)
    if service is not None:
        info = next(s for s in SERVICES if service in (s.name, s.package))
        await asyncio.to_thread(upgrade_head, info.directory, url)
    return url


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def bearer(role: str, **scope: str) -> dict[str, str]:
    from renovation_common.auth import issue_dev_token
    from renovation_common.settings import DEV_JWT_SECRET

    token = issue_dev_token(
        secret=os.environ.get("JWT_SECRET") or DEV_JWT_SECRET, role=role, sub=f"bench-{role}", **scope
    )
    return {"Authorization": f"Bearer {token}"}
