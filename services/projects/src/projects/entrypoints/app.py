"""Composition root of the projects service (``uvicorn --factory projects.entrypoints.app:create_app``).

The only entrypoint module that imports adapters: it builds the use cases' context from the settings and the
service's clock, and declares the consumer of the survey's events, the plan workers (a work loop on every replica
claiming queued plans with ``FOR UPDATE SKIP LOCKED``) and the daily delay check (a periodic job run once per tick
across replicas).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI

from projects.adapters.orm import infra
from projects.config import Settings
from projects.entrypoints.api import routers
from projects.entrypoints.api.dependencies import CONTEXT
from projects.entrypoints.consumers import build_consumers
from projects.service_layer.context import Context
from projects.service_layer.delays import check_delays
from projects.service_layer.planning import run_next_plan
from renovation_common.app import Runtime, ServiceDefinition, Worker
from renovation_common.app import create_app as build_app
from renovation_common.clock import Clock
from renovation_common.messaging import ConsumerSpec
from renovation_common.workers import PeriodicJob, WorkLoop

TAGS = [
    {"name": "catalog", "description": "Work-package catalog and the menu mapping"},
    {"name": "projects", "description": "Renovation projects, their work faces and packages"},
    {"name": "plans", "description": "CP-SAT plans (jobs), re-plans and the stateless solver"},
    {"name": "views", "description": "Schedule, handover chart, progress table, daily report (一图一表)"},
    {"name": "progress", "description": "Daily progress, handovers, inspections"},
    {"name": "lifecycle", "description": "The seven-step democratic decision method per community (七步工作法)"},
]
PLAN_LOOP = "plan-jobs"
DELAY_JOB = "project-delay-check"


def create_app(*, clock: Clock | None = None, **overrides: Any) -> FastAPI:
    """``clock`` can be injected by tests (today's date, report dates, the delay check); the rest are settings."""
    settings = Settings(**overrides)
    timezone = ZoneInfo(settings.timezone)  # an unknown zone fails here, at start

    async def on_startup(runtime: Runtime) -> None:
        runtime.extras[CONTEXT] = Context(
            source=settings.event_source,
            clock=runtime.clock,
            timezone=timezone,
            plan_sync_max_packages=settings.plan_sync_max_packages,
            plan_sync_max_time_limit_s=settings.plan_sync_max_time_limit_s,
            plan_sync_wait_s=settings.plan_sync_wait_s,
            max_time_limit_s=settings.max_time_limit_s,
            max_concurrent_solves=settings.max_concurrent_solves,
            plan_stale_after_s=settings.plan_stale_after_s,
        )

    def workers(runtime: Runtime) -> list[Worker]:
        ctx: Context = runtime.extras[CONTEXT]

        async def plan_jobs(rt: Runtime) -> None:
            async def step() -> bool:
                return await run_next_plan(rt.uow, rt.read, ctx)

            await WorkLoop(
                PLAN_LOOP, step, service=settings.service_name, poll_interval_s=settings.plan_poll_interval_s
            ).run()

        async def delays(rt: Runtime) -> None:
            await check_delays(rt.uow, ctx)

        jobs: list[Worker] = [PeriodicJob(DELAY_JOB, settings.delay_check_interval_s, delays)]
        if settings.plan_worker_enabled:
            jobs.append(plan_jobs)
        return jobs

    def consumers(runtime: Runtime) -> list[ConsumerSpec]:
        return build_consumers(runtime, runtime.extras[CONTEXT])

    return build_app(
        ServiceDefinition(
            settings=settings,
            infra=infra,
            title="Projects service",
            description="Scheduling of renovation works: projects laid out on the survey's buildings, lanes and "
            "courtyards, CP-SAT plans under the site rules, one chart and one table, daily progress.",
            routers=routers,
            openapi_tags=TAGS,
            consumers=consumers,
            workers=workers,
            on_startup=on_startup,
            clock=clock,
        )
    )
