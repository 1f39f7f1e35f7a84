"""Background work for devices at the broker: the auth callout responder and the connection reconciliation.

* ``auth-callout-responder`` (every replica): a work loop that keeps one NATS connection (account AUTH) subscribed
  to ``$SYS.REQ.USER.AUTH`` in a queue group, so each authorization request is answered by one replica
  (``service_layer.broker_auth.answer_callout``). It connects in the background, retrying with backoff while the
  broker is away: start-up never waits for it.
* ``broker-admin-connection`` (every replica): a work loop that keeps the system-account connection the credential
  use cases close connections through.
* ``device-connection-reconcile`` (one replica per tick, ``PeriodicJob``): closes device connections whose
  credential is stale; closing is idempotent.

The adapters (NATS connections, the system-account client) come from the composition root (``entrypoints.app``)
as a :class:`BrokerWiring`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from renovation_common import nkeys
from renovation_common.app import Runtime, Worker
from renovation_common.workers import PeriodicJob, WorkLoop
from smart_community.config import Settings
from smart_community.service_layer.broker_auth import (
    ConnectionAdmin,
    CredentialChecker,
    answer_callout,
    close_stale_connections,
)

log = structlog.get_logger("smart_community.broker")

RESPONDER_QUEUE = "smart_community_auth_callout"
RESPONDER_READY = "auth_callout_ready"  # runtime.extras flag: this replica answers the broker's callout
RECONCILE_JOB = "device-connection-reconcile"
KEEPER_POLL_S = 5.0  # how often a connection keeper checks its connection is still there


class AdminHolder(Protocol):
    """The device broker (``adapters.broker.NatsDeviceBroker``) as the keeper sees it."""

    def admin(self) -> ConnectionAdmin | None: ...

    def attach_admin(self, admin: Any) -> None: ...


@dataclass(frozen=True)
class BrokerWiring:
    """Adapters the composition root hands to the broker workers."""

    connect: Callable[[str, str], Awaitable[Any]]  # (url, connection name) -> a NATS client that reconnects
    system_admin: Callable[[Any], ConnectionAdmin]  # NATS client -> the system-account client
    callout_subject: str


class _Keeper:
    """One NATS connection kept open by a work loop: (re)connect when there is none, then set it up."""

    def __init__(self, url: str, name: str, wiring: BrokerWiring, on_connected: Callable[[Any], Awaitable[None]]):
        self.url, self.name, self.wiring, self.on_connected = url, name, wiring, on_connected
        self.nc: Any = None

    async def step(self) -> bool:
        if self.nc is not None and not self.nc.is_closed:
            return False  # connected, or reconnecting by itself (the client retries for ever)
        nc = await self.wiring.connect(self.url, self.name)  # raises while the broker is away: backoff, retry
        try:
            await self.on_connected(nc)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), timeout=3)
            raise
        self.nc = nc
        return False

    async def close(self) -> None:
        nc, self.nc = self.nc, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), timeout=3)


def _loop(name: str, keeper: _Keeper, runtime: Runtime) -> WorkLoop:
    return WorkLoop(
        name,
        keeper.step,
        service=runtime.settings.service_name,
        poll_interval_s=KEEPER_POLL_S,
        max_backoff_s=10.0,
    )


def auth_callout_responder(wiring: BrokerWiring) -> Worker:
    async def run(runtime: Runtime) -> None:
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
            await msg.respond(
                await answer_callout(
                    msg.data,
                    read=runtime.read,
                    checker=checker,
                    signer=signer,
                    session_max_s=settings.device_session_max_s,
                )
            )

        async def on_request(msg: Any) -> None:
            if not msg.reply:
                return
            task = asyncio.create_task(answer(msg))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)

        async def subscribed(nc: Any) -> None:
            await nc.subscribe(wiring.callout_subject, queue=RESPONDER_QUEUE, cb=on_request)
            await nc.flush()  # the server knows the subscription before we say we answer
            runtime.extras[RESPONDER_READY] = True
            log.info("auth_callout_responder_started")

        keeper = _Keeper(
            settings.broker_auth_url.get_secret_value(), "smart_community-auth-callout", wiring, subscribed
        )
        try:
            await _loop("auth-callout-responder", keeper, runtime).run()
        finally:
            runtime.extras[RESPONDER_READY] = False
            for task in list(in_flight):
                task.cancel()
            await keeper.close()

    run.__name__ = "auth-callout-responder"
    return run


def admin_connection(wiring: BrokerWiring, broker: AdminHolder) -> Worker:
    async def run(runtime: Runtime) -> None:
        settings = runtime.settings
        assert isinstance(settings, Settings)

        async def attached(nc: Any) -> None:
            broker.attach_admin(wiring.system_admin(nc))

        keeper = _Keeper(
            settings.broker_system_url.get_secret_value(), "smart_community-broker-admin", wiring, attached
        )
        try:
            await _loop("broker-admin-connection", keeper, runtime).run()
        finally:
            broker.attach_admin(None)
            await keeper.close()

    run.__name__ = "broker-admin-connection"
    return run


def reconcile_job(broker: AdminHolder, interval_s: float) -> PeriodicJob:
    """Every ``broker_reconcile_interval_s``, one replica closes device connections whose credential is stale."""

    async def reconcile(runtime: Runtime) -> None:
        admin = broker.admin()
        if admin is None:
            log.info("device_connection_reconcile_skipped", reason="system account not connected on this replica")
            return
        await close_stale_connections(runtime.read, admin)

    return PeriodicJob(RECONCILE_JOB, interval_s, reconcile, budget_s=max(30.0, 2 * interval_s))


def broker_workers(runtime: Runtime, wiring: BrokerWiring, broker: AdminHolder) -> list[Worker]:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    if not settings.broker_auth_enabled:
        return []
    chosen: list[Worker] = []
    if settings.broker_auth_url.get_secret_value() and settings.device_account_seed.get_secret_value():
        chosen.append(auth_callout_responder(wiring))
    else:
        log.warning("auth_callout_responder_not_started", reason="NATS_AUTH_URL or NATS_DEVICE_ACCOUNT_SEED unset")
    if settings.broker_system_url.get_secret_value():
        chosen += [admin_connection(wiring, broker), reconcile_job(broker, settings.broker_reconcile_interval_s)]
    else:
        log.warning("connection_reconciler_not_started", reason="NATS_SYSTEM_URL unset")
    return chosen
