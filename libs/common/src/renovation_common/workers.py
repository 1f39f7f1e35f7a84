"""Background work, written once: periodic jobs that run once per tick across every replica, and work loops.

* :class:`PeriodicJob` — a job run every ``interval_s`` by exactly one replica at a time. Leadership is a row lease in
  the service's ``periodic_jobs`` table: a replica claims the tick with one atomic upsert when the job is due and no
  live lease exists, runs it within ``budget_s``, and hands the lease back with the next due time. A replica killed
  mid-run leaves a lease that expires after ``budget_s``; another replica takes the job over at its next poll. The
  lease times come from the database's clock (the one clock all replicas share); the job itself gets the service's
  clock (``runtime.clock``). Pass ``singleton=False`` for per-replica housekeeping that may run everywhere.
* :class:`WorkLoop` — a continuous worker (the outbox relay, a dispatcher): calls ``step()`` until it reports no
  more work, then waits for a wake-up or the poll interval; errors are logged, counted and retried with backoff.

Both log failures and export metrics: ``periodic_job_runs_total{service,job,outcome}``,
``periodic_job_duration_seconds{service,job}``, ``periodic_job_last_success_timestamp_seconds{service,job}``,
``work_loop_errors_total{service,loop}``. No service writes its own ``while True``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

if TYPE_CHECKING:
    from renovation_common.app import Runtime

log = structlog.get_logger("renovation.workers")

JOB_RUNS = Counter("periodic_job_runs_total", "Periodic job runs by outcome", ["service", "job", "outcome"])
JOB_DURATION = Histogram("periodic_job_duration_seconds", "Duration of periodic job runs", ["service", "job"])
JOB_LAST_SUCCESS = Gauge(
    "periodic_job_last_success_timestamp_seconds", "Unix time of the last successful run", ["service", "job"]
)
LOOP_ERRORS = Counter("work_loop_errors_total", "Errors in continuous work loops", ["service", "loop"])

PROCESS = f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class PeriodicJob:
    """``run(runtime)`` every ``interval_s`` seconds, once per tick across replicas (unless ``singleton=False``)."""

    name: str
    interval_s: float
    run: Callable[[Runtime], Awaitable[Any]]
    budget_s: float | None = None  # default: max(30 s, 2 × interval)
    jitter: float = 0.1  # each poll waits interval × (1 ± jitter), so replicas do not poll in lockstep
    singleton: bool = True
    _stopping: bool = field(default=False, init=False, repr=False)
    # who holds the lease: host, process and this job object (two replicas in one test process stay distinct)
    owner: str = field(default_factory=lambda: f"{PROCESS}:{uuid.uuid4().hex[:8]}", init=False)

    @property
    def budget(self) -> float:
        return self.budget_s if self.budget_s is not None else max(30.0, 2 * self.interval_s)

    def __call__(self, runtime: Runtime) -> Coroutine[Any, Any, None]:
        """A :data:`~renovation_common.app.Worker`: the app factory starts it as a background task."""
        return self.serve(runtime)

    @property
    def __name__(self) -> str:  # task names in logs
        return f"job:{self.name}"

    async def serve(self, runtime: Runtime) -> None:
        service = runtime.settings.service_name
        table: sa.Table = runtime.infra.periodic_jobs
        try:
            while not self._stopping:
                try:
                    claimed = not self.singleton or await claim_tick(
                        runtime.sessionmaker, table, self.name, self.budget, self.owner
                    )
                    if claimed:
                        await self._run_once(runtime, service, table)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database is away: try again next tick
                    JOB_RUNS.labels(service, self.name, "claim_failed").inc()
                    log.warning("periodic_job_claim_failed", job=self.name, error=str(exc)[:300])
                await asyncio.sleep(self.interval_s * (1 + self.jitter * (2 * random.random() - 1)))
        except asyncio.CancelledError:
            # shutting down: hand back a lease this replica may hold, so another need not wait it out (a process
            # killed outright cannot: its lease expires after the budget)
            if self.singleton:
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(
                        release_tick(runtime.sessionmaker, table, self.name, 0, None, self.owner, finished=False), 2
                    )
            raise

    async def _run_once(self, runtime: Runtime, service: str, table: sa.Table) -> None:
        started = time.perf_counter()
        error: str | None = None
        try:
            await asyncio.wait_for(self.run(runtime), timeout=self.budget)
            outcome = "ok"
        except TimeoutError:
            outcome, error = "timed_out", f"did not finish within {self.budget:.0f} s"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outcome, error = "failed", f"{type(exc).__name__}: {exc}"[:500]
        elapsed = time.perf_counter() - started
        JOB_RUNS.labels(service, self.name, outcome).inc()
        JOB_DURATION.labels(service, self.name).observe(elapsed)
        if outcome == "ok":
            JOB_LAST_SUCCESS.labels(service, self.name).set(time.time())
        else:
            log.error("periodic_job_failed", job=self.name, outcome=outcome, error=error)
        if self.singleton:
            with contextlib.suppress(Exception):
                await release_tick(runtime.sessionmaker, table, self.name, self.interval_s, error, self.owner)

    def stop(self) -> None:
        self._stopping = True


async def claim_tick(
    sessionmaker: async_sessionmaker[AsyncSession], table: sa.Table, name: str, budget_s: float, owner: str
) -> bool:
    """Claim this tick of job ``name`` when it is due and nobody holds a live lease on it (one atomic statement)."""
    lease_until = sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, budget_s)
    insert = pg_insert(table).values(
        name=name, lease_owner=owner, lease_until=lease_until, next_run_at=sa.func.now(), last_started_at=sa.func.now()
    )
    stmt = insert.on_conflict_do_update(
        index_elements=[table.c.name],
        set_={"lease_owner": owner, "lease_until": lease_until, "last_started_at": sa.func.now()},
        where=sa.and_(
            table.c.next_run_at <= sa.func.now(),
            sa.or_(table.c.lease_until.is_(None), table.c.lease_until < sa.func.now()),
        ),
    ).returning(table.c.name)
    async with sessionmaker() as session, session.begin():
        return (await session.execute(stmt)).first() is not None


async def release_tick(
    sessionmaker: async_sessionmaker[AsyncSession],
    table: sa.Table,
    name: str,
    interval_s: float,
    error: str | None,
    owner: str,
    *,
    finished: bool = True,
) -> None:
    """Hand the lease back. ``finished``: a run ended, the next is due ``interval_s`` after it started; otherwise the
    holder stops without finishing and the job is due at once for the other replicas."""
    values: dict[str, object] = {"lease_owner": None, "lease_until": None}
    if finished:
        values |= {
            "last_finished_at": sa.func.now(),
            "next_run_at": table.c.last_started_at + sa.func.make_interval(0, 0, 0, 0, 0, 0, interval_s),
            "last_error": error,
            "runs": table.c.runs + 1,
        }
    else:
        values["next_run_at"] = sa.func.now()
    async with sessionmaker() as session, session.begin():
        await session.execute(
            sa.update(table).where(table.c.name == name, table.c.lease_owner == owner).values(**values)
        )


class WorkLoop:
    """Call ``step()`` while it returns a truthy amount of work; then wait for :meth:`wake` or ``poll_interval_s``.

    A failing step is logged and counted, and retried after a growing pause (capped at ``max_backoff_s``).
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[Any]],
        *,
        service: str,
        poll_interval_s: float,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.name = name
        self._step = step
        self.service = service
        self.poll_interval_s = poll_interval_s
        self.max_backoff_s = max_backoff_s
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def run(self) -> None:
        failures = 0
        while not self._stopping:
            # cleared before the step, not after: a wake-up during the step starts the next one at once
            self._wake.clear()
            try:
                more = await self._step()
                failures = 0
                if more:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                LOOP_ERRORS.labels(self.service, self.name).inc()
                log.warning("work_loop_error", loop=self.name, error=str(exc)[:300], failures=failures)
                await asyncio.sleep(min(self.max_backoff_s, 0.1 * 2**failures))
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s)
