"""Background worker: the auto-closer closes open consultations whose answer window has ended."""

from __future__ import annotations

import asyncio

import structlog

from renovation_common.app import Runtime, Worker
from survey.config import Settings
from survey.service_layer import consultations as uc

log = structlog.get_logger("survey.workers")


async def scan_once(runtime: Runtime) -> list[str]:
    """One scan: close every due consultation (through the same close use case as the API). Returns their ids."""
    settings = runtime.settings
    assert isinstance(settings, Settings)
    closed = await uc.close_due_consultations(
        runtime.uow, now=runtime.clock(), source=settings.event_source, limit=settings.auto_close_batch_size
    )
    for consultation_id in closed:
        log.info("consultation_auto_closed", consultation_id=str(consultation_id))
    return [str(c) for c in closed]


async def auto_closer(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    while True:
        try:
            closed = await scan_once(runtime)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("auto_closer_error", error=type(exc).__name__, detail=str(exc)[:300])
            closed = []
        if len(closed) < settings.auto_close_batch_size:  # a full batch: more may be due, scan again at once
            await asyncio.sleep(settings.auto_close_interval_s)


def workers(runtime: Runtime) -> list[Worker]:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    return [auto_closer] if settings.auto_close_enabled else []
