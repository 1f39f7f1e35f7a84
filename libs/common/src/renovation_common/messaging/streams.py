"""NATS JetStream plumbing: the connection and the streams (created when missing, limits kept up to date)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import nats
import structlog
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NotFoundError

from renovation_common import metrics
from renovation_common.events import SUBJECT_PREFIX

log = structlog.get_logger("renovation.messaging")

DUPLICATE_WINDOW_S = 2 * 60 * 60  # 2 h: the relay's retry of a row always falls inside it
PRODUCERS = ("survey", "projects", "finance", "smart_community", "webhooks")


def stream_name(producer: str) -> str:
    return producer.upper().replace("-", "_")


def stream_subject(producer: str) -> str:
    return f"{SUBJECT_PREFIX}.{producer}.>"


async def connect_nats(url: str, *, name: str) -> NatsClient:
    async def _disconnected() -> None:
        metrics.NATS_CONNECTED.labels(name).set(0)
        log.warning("nats_disconnected")

    async def _reconnected() -> None:
        metrics.NATS_CONNECTED.labels(name).set(1)
        log.info("nats_reconnected")

    async def _error(exc: Exception) -> None:
        log.warning("nats_error", error=str(exc))

    return await nats.connect(
        servers=[s.strip() for s in url.split(",")],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        disconnected_cb=_disconnected,
        reconnected_cb=_reconnected,
        error_cb=_error,
    )


async def ensure_stream(
    js: JetStreamContext,
    name: str,
    subjects: Sequence[str],
    *,
    max_age_s: float | None = None,
    max_bytes: int | None = None,
    replicas: int = 1,
) -> None:
    """Create the stream when missing, or bring its limits (``max_age``, ``max_bytes``) to the given ones
    (idempotent; safe from every replica of every service)."""
    config = api.StreamConfig(
        name=name,
        subjects=list(subjects),
        storage=api.StorageType.FILE,
        retention=api.RetentionPolicy.LIMITS,
        duplicate_window=DUPLICATE_WINDOW_S,
        max_age=max_age_s,
        max_bytes=max_bytes,
        num_replicas=replicas,
    )
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        try:
            await js.add_stream(config)
        except BadRequestError:
            await js.stream_info(name)  # created concurrently by another replica
        return
    current = info.config
    wanted_age = max_age_s or 0
    if (max_age_s is not None and abs((current.max_age or 0) - wanted_age) > 1) or (
        max_bytes is not None and (current.max_bytes or -1) != max_bytes
    ):
        current.max_age = max_age_s if max_age_s is not None else current.max_age
        current.max_bytes = max_bytes if max_bytes is not None else current.max_bytes
        with contextlib.suppress(BadRequestError):  # another replica changed it first
            await js.update_stream(current)


async def ensure_event_stream(
    js: JetStreamContext,
    producer: str,
    *,
    replicas: int = 1,
    max_age_s: float | None = None,
    max_bytes: int | None = None,
) -> str:
    name = stream_name(producer)
    await ensure_stream(
        js, name, [stream_subject(producer)], replicas=replicas, max_age_s=max_age_s, max_bytes=max_bytes
    )
    return name
