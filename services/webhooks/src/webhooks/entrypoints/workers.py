"""Background work of the webhooks service: the delivery dispatcher."""

from __future__ import annotations

from renovation_common.app import Runtime
from webhooks.adapters.http import Resolver, TargetPolicy, WebhookSender, system_resolver
from webhooks.adapters.secrets import SecretBox
from webhooks.config import Settings
from webhooks.domain.targets import parse_networks
from webhooks.service_layer.context import Clock, Context, system_clock
from webhooks.service_layer.dispatcher import Dispatcher


def build_context(settings: Settings, clock: Clock = system_clock, resolver: Resolver = system_resolver) -> Context:
    return Context(
        box=SecretBox(settings.secret_encryption_key),
        policy=TargetPolicy(
            allow_private=settings.allow_private_targets,
            allowed_networks=parse_networks(settings.allowed_target_networks),
        ),
        clock=clock,
        resolver=resolver,
        default_concurrency=settings.default_endpoint_concurrency,
        replay_max_events=settings.replay_max_events,
    )


def build_dispatcher(runtime: Runtime, ctx: Context, settings: Settings) -> Dispatcher:
    sender = WebhookSender(
        ctx.policy,
        timeout_s=settings.delivery_timeout_s,
        body_limit=settings.response_body_limit,
        resolver=ctx.resolver,
    )
    return Dispatcher(
        runtime.sessionmaker,
        runtime.uow,
        ctx,
        sender,
        lease_s=settings.lease_s,
        max_in_flight=settings.dispatcher_max_in_flight,
        poll_interval_s=settings.dispatcher_poll_interval_s,
    )


async def dispatcher_worker(runtime: Runtime) -> None:
    dispatcher: Dispatcher = runtime.extras["dispatcher"]
    try:
        await dispatcher.run()
    finally:
        await dispatcher.sender.aclose()
