"""Proof: a periodic job runs once per tick across replicas (row lease), never twice at the same time, and a
replica killed in the middle of a run is replaced once its lease expires."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import ClassVar

import pytest
from pydantic_settings import SettingsConfigDict

from renovation_common.app import Runtime
from renovation_common.settings import ServiceSettings
from renovation_common.workers import PeriodicJob

pytestmark = pytest.mark.integration


class ProbeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROBE_", extra="ignore")
    service_name: ClassVar[str] = "probe"


def runtime_of(probe_db) -> Runtime:
    settings = ProbeSettings(database_url=probe_db.url)
    return Runtime(settings=settings, infra=probe_db.infra, engine=probe_db.engine, sessionmaker=probe_db.sessionmaker)


async def test_three_replicas_run_the_job_once_per_tick_and_never_at_once(probe_db):
    runtime = runtime_of(probe_db)
    interval = 0.4
    runs: list[tuple[str, float, float]] = []
    running = 0
    overlaps = 0

    def job_for(replica: str):
        async def job(_: Runtime) -> None:
            nonlocal running, overlaps
            running += 1
            overlaps += running > 1
            started = time.monotonic()
            await asyncio.sleep(0.05)
            running -= 1
            runs.append((replica, started, time.monotonic()))

        return job

    replicas = [PeriodicJob("tick-probe", interval, job_for(f"r{i}"), jitter=0.2) for i in range(3)]
    began = time.monotonic()
    tasks = [asyncio.create_task(r(runtime)) for r in replicas]
    await asyncio.sleep(4.0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = time.monotonic() - began
    assert overlaps == 0
    assert runs, "the job never ran"
    # one run per tick: three unleased replicas would have run it about three times as often
    assert len(runs) <= elapsed / interval + 1, (len(runs), elapsed)
    starts = sorted(s for _, s, _ in runs)
    assert all(b - a >= interval * 0.9 for a, b in itertools.pairwise(starts)), starts


async def test_a_killed_leader_is_replaced_when_its_lease_expires(probe_db):
    runtime = runtime_of(probe_db)
    started = asyncio.Event()
    taken_over = asyncio.Event()

    async def stuck(_: Runtime) -> None:
        started.set()
        await asyncio.sleep(3600)

    async def healthy(_: Runtime) -> None:
        taken_over.set()

    budget = 1.0
    leader = asyncio.create_task(PeriodicJob("lease-probe", 0.2, stuck, budget_s=budget, jitter=0)(runtime))
    await asyncio.wait_for(started.wait(), timeout=30)
    leader.cancel()  # like kill -9: the lease is not handed back
    await asyncio.gather(leader, return_exceptions=True)
    killed_at = time.monotonic()
    follower = asyncio.create_task(PeriodicJob("lease-probe", 0.2, healthy, budget_s=budget, jitter=0)(runtime))
    try:
        await asyncio.wait_for(taken_over.wait(), timeout=30)
        # not before the dead leader's lease ran out
        assert time.monotonic() - killed_at >= budget * 0.5
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)


async def test_a_failing_job_is_logged_counted_and_tried_again(probe_db):
    runtime = runtime_of(probe_db)
    calls = 0

    async def flaky(_: Runtime) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("boom")

    task = asyncio.create_task(PeriodicJob("flaky-probe", 0.2, flaky, jitter=0)(runtime))
    deadline = time.monotonic() + 30
    while calls < 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert calls >= 3
    from prometheus_client import REGISTRY

    failed = REGISTRY.get_sample_value(
        "periodic_job_runs_total", {"service": "probe", "job": "flaky-probe", "outcome": "failed"}
    )
    assert failed is not None and failed >= 3
