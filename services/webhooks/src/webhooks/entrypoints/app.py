"""Composition root of the webhooks service (``uvicorn --factory webhooks.entrypoints.app:create_app``).

The only entrypoint module that imports adapters: it builds the secret box, the SSRF target check and the HTTP
sender from the settings, hands them to the use cases (``service_layer.context.Context``) and the dispatcher, and
declares the consumers, the dispatcher's work loop and the periodic re-seal job.
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import FastAPI

from renovation_common.app import Runtime, ServiceDefinition, Worker
from renovation_common.app import create_app as build_app
from renovation_common.clock import Clock, system_clock
from renovation_common.messaging import ConsumerSpec
from renovation_common.workers import PeriodicJob
from webhooks.adapters.http import Resolver, TargetPolicy, WebhookSender, check_target, system_resolver
from webhooks.adapters.orm import infra
from webhooks.adapters.secrets import SecretBox
from webhooks.config import Settings
from webhooks.domain.targets import parse_networks
from webhooks.entrypoints.api import routers
from webhooks.entrypoints.api.dependencies import CONTEXT
from webhooks.entrypoints.consumers import build_consumers
from webhooks.service_layer.context import Context
from webhooks.service_layer.dispatcher import Dispatcher
from webhooks.service_layer.secret_keys import reseal_signing_secrets

TAGS = [
    {"name": "subscriptions", "description": "Endpoints of government systems and the events they receive"},
    {"name": "deliveries", "description": "Delivery log: attempts, failures, retries"},
]
DISPATCHER = "dispatcher"
RESEAL_JOB = "webhook-secret-reseal"


def create_app(
    *,
    clock: Clock | None = None,
    signing_clock: Clock = system_clock,
    resolver: Resolver = system_resolver,
    **overrides: Any,
) -> FastAPI:
    """``clock`` (schedule, leases, the log), ``signing_clock`` (``webhook-timestamp``) and ``resolver`` (DNS) can be
    injected by tests; everything else is a setting."""
    settings = Settings(**overrides)
    box = SecretBox(settings.secret_encryption_key)  # a bad key list fails here, at start
    policy = TargetPolicy(
        allow_private=settings.allow_private_targets,
        allowed_networks=parse_networks(settings.allowed_target_networks),
    )

    async def check(url: str) -> object:
        return await check_target(url, policy, resolver)

    async def on_startup(runtime: Runtime) -> None:
        dispatcher: Dispatcher | None = None

        def deliveries_due() -> None:
            if dispatcher is not None:
                dispatcher.wake()

        ctx = Context(
            box=box,
            check_target=check,
            clock=runtime.clock,
            default_concurrency=settings.default_endpoint_concurrency,
            replay_max_events=settings.replay_max_events,
            deliveries_due=deliveries_due,
        )
        runtime.extras[CONTEXT] = ctx
        if settings.dispatcher_enabled and settings.workers_enabled:
            sender = WebhookSender(
                policy,
                timeout_s=settings.delivery_timeout_s,
                body_limit=settings.response_body_limit,
                resolver=resolver,
            )
            dispatcher = Dispatcher(
                runtime.uow,
                ctx,
                sender,
                lease_s=settings.lease_s,
                max_in_flight=settings.dispatcher_max_in_flight,
                poll_interval_s=settings.dispatcher_poll_interval_s,
                signing_clock=signing_clock,
            )
            runtime.extras[DISPATCHER] = dispatcher

    async def run_dispatcher(runtime: Runtime) -> None:
        dispatcher: Dispatcher = runtime.extras[DISPATCHER]
        try:
            await dispatcher.run()
        finally:
            with contextlib.suppress(Exception):
                await dispatcher.sender.aclose()

    async def reseal(runtime: Runtime) -> None:
        await reseal_signing_secrets(runtime.uow, runtime.read, box, chunk=settings.secret_reseal_chunk)

    def workers(runtime: Runtime) -> list[Worker]:
        jobs: list[Worker] = [PeriodicJob(RESEAL_JOB, settings.secret_reseal_interval_s, reseal)]
        if DISPATCHER in runtime.extras:
            jobs.append(run_dispatcher)
        return jobs

    def consumers(runtime: Runtime) -> list[ConsumerSpec]:
        ctx: Context = runtime.extras[CONTEXT]
        return build_consumers(runtime, ctx)

    return build_app(
        ServiceDefinition(
            settings=settings,
            infra=infra,
            title="Webhooks service",
            description="Signed, retried, replayable delivery of domain events to government systems.",
            routers=routers,
            openapi_tags=TAGS,
            consumers=consumers,
            workers=workers,
            on_startup=on_startup,
            clock=clock,
        )
    )
