"""Background workers: the device-event ingestor (DEVICES stream → Postgres), the deadline scanner, the purge."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from nats.js import api

from renovation_common.app import Runtime, Worker
from renovation_common.messaging import ensure_stream
from smart_community.config import Settings
from smart_community.service_layer import use_cases
from smart_community.service_layer.ingestion import Incoming, ingest

log = structlog.get_logger("smart_community.workers")

DEVICES_STREAM = "DEVICES"
DEVICES_SUBJECTS = ["devices.>"]
INGESTOR_DURABLE = "smart_community__device_ingestor"


async def ensure_devices_stream(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings) and runtime.js is not None
    await ensure_stream(
        runtime.js, DEVICES_STREAM, DEVICES_SUBJECTS, max_age_s=settings.devices_stream_max_age_h * 3600
    )


async def device_ingestor(runtime: Runtime) -> None:
    """Pull batches from the DEVICES stream, write each batch in one transaction, then ack it.

    A database failure leaves the batch unacked (redelivered after ``ack_wait``; the stream sequence makes the
    insert idempotent). A malformed payload becomes a reject row: it never stops the consumer.
    """
    settings = runtime.settings
    assert isinstance(settings, Settings)
    clock = runtime.clock
    psub: Any = None
    await runtime.messaging_ready.wait()
    try:
        while True:
            try:
                if psub is None:
                    assert runtime.js is not None
                    await ensure_devices_stream(runtime)
                    psub = await runtime.js.pull_subscribe(
                        DEVICES_SUBJECTS[0],
                        durable=INGESTOR_DURABLE,
                        stream=DEVICES_STREAM,
                        config=api.ConsumerConfig(
                            ack_policy=api.AckPolicy.EXPLICIT,
                            ack_wait=30,
                            max_ack_pending=max(10_000, settings.ingest_batch_size * 4),
                        ),
                    )
                try:
                    msgs = await psub.fetch(settings.ingest_batch_size, timeout=settings.ingest_fetch_timeout_s)
                except TimeoutError:
                    continue
                received_at = datetime.now(UTC)
                items = [
                    Incoming(
                        source="mqtt",
                        received_at=received_at,
                        subject=m.subject,
                        raw=m.data,
                        stream_seq=m.metadata.sequence.stream if m.metadata else None,
                    )
                    for m in msgs
                ]
                await ingest(runtime.uow(), items, source_uri=settings.event_source, now=clock())
                await asyncio.gather(*(m.ack() for m in msgs))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("device_ingestor_error", error=str(exc)[:300])
                old, psub = psub, None
                if old is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(old.unsubscribe(), timeout=2)
                await asyncio.sleep(1.0)
    finally:
        if psub is not None:  # leave nothing for the connection's drain to wait on
            with contextlib.suppress(Exception):
                await asyncio.wait_for(psub.unsubscribe(), timeout=2)


async def deadline_scanner(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    clock = runtime.clock
    while True:
        try:
            await use_cases.scan_deadlines(runtime.uow, now=clock(), source=settings.event_source)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("deadline_scanner_error", error=str(exc)[:300])
        await asyncio.sleep(settings.scan_interval_s)


async def retention_purge(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    clock = runtime.clock
    retention = timedelta(days=settings.event_retention_days)
    while True:
        with contextlib.suppress(Exception):
            for _ in range(1000):  # bounded: 1000 chunks per round
                if await use_cases.purge_expired(runtime.uow(), now=clock(), retention=retention) == 0:
                    break
        await asyncio.sleep(settings.purge_interval_s)


def workers(runtime: Runtime) -> list[Worker]:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    if not settings.workers_enabled:
        return []
    chosen: list[Worker] = [deadline_scanner, retention_purge]
    if settings.ingest_enabled:
        chosen.insert(0, device_ingestor)
    return chosen
