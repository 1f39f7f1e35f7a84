"""Background work for devices at the broker: the auth callout responder and the connection reconciliation.

Both open their own NATS connections in the background (retrying while the broker is away: start-up never waits
for them) and work at any number of replicas: the responder subscribes in a queue group, so each authorization
request is answered by one replica; closing stale connections is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import structlog

from renovation_common import nkeys
from renovation_common.app import Runtime, Worker
from smart_community.adapters.broker import (
    AUTH_CALLOUT_SUBJECT,
    BrokerAdmin,
    InvalidAuthRequest,
    NatsDeviceBroker,
    connect,
    decode_authorization_request,
    grant_response,
    mqtt_endpoint,
    refusal_response,
)
from smart_community.config import Settings
from smart_community.service_layer.broker_auth import (
    BROKER_AUTH,
    CredentialChecker,
    Grant,
    authorize,
    close_stale_connections,
)

log = structlog.get_logger("smart_community.broker")

RESPONDER_QUEUE = "smart_community_auth_callout"
RESPONDER_READY = "auth_callout_ready"  # runtime.extras flag: this replica answers the broker's callout


def device_broker(settings: Settings) -> NatsDeviceBroker:
    """Built in the lifespan (nothing at import time); routes and workers reach it through ``runtime.extras``."""
    endpoint = mqtt_endpoint(settings.mqtt_url, settings.mqtt_ca_file) if settings.mqtt_url else None
    return NatsDeviceBroker(mqtt=endpoint, probe_timeout_s=settings.credential_probe_timeout_s)


async def _connected(url: str, name: str) -> Any:
    """Connect, retrying with a growing delay while the broker is away."""
    delay = 0.5
    while True:
        try:
            return await connect(url, name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("broker_connect_failed", connection=name, error=type(exc).__name__)
            await asyncio.sleep(delay + random.random() * delay)
            delay = min(delay * 2, 10)


async def auth_callout_responder(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    signer = nkeys.KeyPair.from_seed(settings.device_account_seed.get_secret_value())
    checker = CredentialChecker(
        concurrency=settings.broker_auth_concurrency,
        max_pending=settings.broker_auth_max_pending,
        cache_size=settings.broker_auth_cache_size,
    )
    in_flight: set[asyncio.Task[None]] = set()

    async def answer(msg: Any) -> None:
        try:
            reply, attempt = decode_authorization_request(msg.data)
        except InvalidAuthRequest as exc:
            BROKER_AUTH.labels("invalid").inc()
            log.warning("auth_request_invalid", error=str(exc)[:200])
            await msg.respond(b"")  # an empty answer refuses, without anything signed for an unknown party
            return
        try:
            decision = await authorize(runtime.sessionmaker, checker, attempt)
        except Exception as exc:  # the registry is unreachable: refuse (the device retries)
            log.warning("auth_request_failed", device_id=attempt.username[:64], error=type(exc).__name__)
            await msg.respond(refusal_response(reply, signer))
            BROKER_AUTH.labels("refused").inc()
            return
        if isinstance(decision, Grant):
            BROKER_AUTH.labels("granted").inc()
            await msg.respond(
                grant_response(
                    reply,
                    signer,
                    connection_name=decision.connection_name,
                    permissions=decision.permissions,
                    session_max_s=settings.device_session_max_s,
                )
            )
            return
        BROKER_AUTH.labels("busy" if decision.busy else "refused").inc()
        log.info("device_login_refused", device_id=attempt.username[:64], reason=decision.reason, host=attempt.host)
        await msg.respond(refusal_response(reply, signer))

    async def on_request(msg: Any) -> None:
        if not msg.reply:
            return
        task = asyncio.create_task(answer(msg))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)

    nc = await _connected(settings.broker_auth_url.get_secret_value(), "smart_community-auth-callout")
    try:
        await nc.subscribe(AUTH_CALLOUT_SUBJECT, queue=RESPONDER_QUEUE, cb=on_request)
        await nc.flush()  # the server knows the subscription before we say we answer
        runtime.extras[RESPONDER_READY] = True
        log.info("auth_callout_responder_started")
        await asyncio.Event().wait()
    finally:
        runtime.extras[RESPONDER_READY] = False
        for task in list(in_flight):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), timeout=3)


async def connection_reconciler(runtime: Runtime) -> None:
    """Every ``broker_reconcile_interval_s`` (with jitter): close device connections whose credential is stale."""
    settings = runtime.settings
    assert isinstance(settings, Settings)
    broker = runtime.extras["device_broker"]
    assert isinstance(broker, NatsDeviceBroker)
    nc = await _connected(settings.broker_system_url.get_secret_value(), "smart_community-broker-admin")
    admin = BrokerAdmin(nc)
    broker.attach_admin(admin)
    try:
        while True:
            try:
                await close_stale_connections(runtime.uow(), admin)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("device_connection_reconcile_failed", error=str(exc)[:300])
            interval = settings.broker_reconcile_interval_s
            await asyncio.sleep(interval * (0.8 + 0.2 * random.random()))
    finally:
        broker.attach_admin(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), timeout=3)


def broker_workers(runtime: Runtime) -> list[Worker]:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    if not settings.broker_auth_enabled:
        return []
    chosen: list[Worker] = []
    if settings.broker_auth_url.get_secret_value() and settings.device_account_seed.get_secret_value():
        chosen.append(auth_callout_responder)
    else:
        log.warning("auth_callout_responder_not_started", reason="NATS_AUTH_URL or NATS_DEVICE_ACCOUNT_SEED unset")
    if settings.broker_system_url.get_secret_value():
        chosen.append(connection_reconciler)
    else:
        log.warning("connection_reconciler_not_started", reason="NATS_SYSTEM_URL unset")
    return chosen
