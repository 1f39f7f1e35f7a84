"""Inbound events -> use cases: the fan-out into deliveries, and the communities read model.

* ``event-fanout``: a durable pull consumer on every producer's stream with a ``default_handler`` for every event
  type. The streams are ensured here too, so start-up order does not matter. The service's own stream (WEBHOOKS) is
  consumed as well, but ``webhooks.*`` events are matched only by patterns that name ``webhooks`` explicitly (a
  catch-all ``*`` never feeds them back to receivers).
* ``community-registry``: ``survey.community.registered.v1`` only, into the communities read model that community
  filters are checked against. A consumer of its own, so that a backlog of the fan-out (every event of the platform)
  never delays what the subscription API needs to accept a new community.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from renovation_common.app import Runtime
from renovation_common.contracts.survey import CommunityRegistered
from renovation_common.db import ConsumerUnitOfWork
from renovation_common.events import CloudEvent, EventData
from renovation_common.messaging import (
    PRODUCERS,
    ConsumerSpec,
    Subscription,
    stream_name,
    stream_subject,
    subscription_for,
)
from webhooks.service_layer.communities import record_community
from webhooks.service_layer.context import Context
from webhooks.service_layer.fanout import fan_out

CONSUMER_NAME = "event-fanout"
REGISTRY_CONSUMER = "community-registry"
COMMUNITY_REGISTERED = "survey.community.registered.v1"


def event_subscriptions() -> list[Subscription]:
    return [
        Subscription(
            stream=stream_name(producer),
            filter_subjects=[stream_subject(producer)],
            ensure_stream_subjects=[stream_subject(producer)],
        )
        for producer in PRODUCERS
    ]


def build_consumers(runtime: Runtime, ctx: Context) -> list[ConsumerSpec]:
    async def on_event(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
        await fan_out(ConsumerUnitOfWork(session, runtime.infra), event, now=ctx.clock())

    async def on_community(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
        if isinstance(data, CommunityRegistered):  # parsed against its contract by the consumer runner
            await record_community(ConsumerUnitOfWork(session, runtime.infra), data, at=event.time)

    def after_commit() -> None:
        runtime.wake_relay()
        ctx.deliveries_due()

    return [
        ConsumerSpec(
            name=CONSUMER_NAME,
            handlers={},
            default_handler=on_event,
            subscriptions=event_subscriptions(),
            after_commit=after_commit,
        ),
        ConsumerSpec(
            name=REGISTRY_CONSUMER,
            handlers={COMMUNITY_REGISTERED: on_community},
            subscriptions=subscription_for([COMMUNITY_REGISTERED]),
        ),
    ]
