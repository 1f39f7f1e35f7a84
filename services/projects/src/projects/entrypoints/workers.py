"""Background worker: runs queued plan jobs (any replica; claims with FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from projects.service_layer.planning import claim_and_run_next
from renovation_common.app import Runtime, Worker

log = structlog.get_logger("projects.worker")


async def plan_worker(runtime: Runtime) -> None:
    settings: Any = runtime.settings
    while True:
        try:
            ran = await claim_and_run_next(
                runtime.uow,
                source=settings.event_source,
                stale_after_s=settings.plan_stale_after_s,
                max_concurrent=settings.max_concurrent_solves,
            )
            if ran:
                continue
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database down: keep trying
            log.warning("plan_worker_error", error=type(exc).__name__)
        await asyncio.sleep(settings.plan_poll_interval_s)


def workers(runtime: Runtime) -> list[Worker]:
    settings: Any = runtime.settings
    return [plan_worker] if settings.plan_worker_enabled else []
