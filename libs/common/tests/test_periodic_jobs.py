"""Proof: a periodic job runs once per tick across replicas (row lease), never twice at the same time, and a
replica killed in the middle of a run is replaced once its lease expires."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import ClassVar

import pytest
import sqlalchemy as sa
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
    """What ``kill -9`` leaves behind: a live lease of a process that will never hand it back."""
    runtime = runtime_of(probe_db)
    budget = 1.5
    async with probe_db.sessionmaker() as s, s.begin():
        await s.execute(
            sa.insert(probe_db.infra.periodic_jobs).values(
                name="lease-probe",
                lease_owner="dead-host:1234:abcd",
                lease_until=sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, budget),
                next_run_at=sa.func.now(),
                last_started_at=sa.func.now(),
            )
        )
    killed_at = time.monotonic()
    taken_over = asyncio.Event()

    async def healthy(_: Runtime) -> None:
        taken_over.set()

    follower = asyncio.create_task(PeriodicJob("lease-probe", 0.2, healthy, budget_s=budget, jitter=0)(runtime))
    try:
        await asyncio.wait_for(taken_over.wait(), timeout=30)
        assert time.monotonic() - killed_at >= budget * 0.8  # not while the dead leader's lease was live
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)


async def test_a_leader_stopping_mid_run_hands_its_lease_back(probe_db):
    runtime = runtime_of(probe_db)
    started = asyncio.Event()
    taken_over = asyncio.Event()

    async def stuck(_: Runtime) -> None:
        started.set()
        await asyncio.sleep(3600)

    async def healthy(_: Runtime) -> None:
        taken_over.set()

    leader = asyncio.create_task(PeriodicJob("handover-probe", 0.2, stuck, budget_s=600, jitter=0)(runtime))
    await asyncio.wait_for(started.wait(), timeout=30)
    leader.cancel()  # a graceful shutdown
    await asyncio.gather(leader, return_exceptions=True)
    follower = asyncio.create_task(PeriodicJob("handover-probe", 0.2, healthy, budget_s=600, jitter=0)(runtime))
    try:
        await asyncio.wait_for(taken_over.wait(), timeout=30)  # long before the 600 s lease would have expired
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
