"""Background worker: the auto-closer closes open consultations whose answer window has ended."""

from __future__ import annotations

import structlog

from renovation_common.app import Runtime, Worker
from renovation_common.workers import WorkLoop
from survey.config import Settings
from survey.service_layer.consultations import lifecycle as uc

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
    """Every replica runs the scan (the close use case locks each due consultation, so two replicas never close one
    twice); a full batch means more may be due: scan again at once, otherwise wait for the interval."""
    settings = runtime.settings
    assert isinstance(settings, Settings)

    async def step() -> bool:
        return len(await scan_once(runtime)) >= settings.auto_close_batch_size

    await WorkLoop(
        "consultation-auto-close", step, service=settings.service_name, poll_interval_s=settings.auto_close_interval_s
    ).run()


def workers(runtime: Runtime) -> list[Worker]:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    return [auto_closer] if settings.auto_close_enabled else []
