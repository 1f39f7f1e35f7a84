"""Inbound events -> use cases: the fan-out into deliveries, and the communities read model.

* ``event-fanout``: a durable pull consumer on every producer's stream with a set-based handler for every event
  type (``default_event_batch_handler``: a fetched batch is kept and fanned out in three statements). The streams
  are ensured here too, so start-up order does not matter. The service's own stream (WEBHOOKS) is consumed as well,
  but ``webhooks.*`` events are matched only by patterns that name ``webhooks`` explicitly (a catch-all ``*`` never
  feeds them back to receivers).
* ``community-registry``: ``survey.community.registered.v1`` only, into the communities read model that community
  filters are checked against (a batch in one upsert; the newest version wins). A consumer of its own, so that a
  backlog of the fan-out (every event of the platform) never delays what the subscription API needs to accept a
  new community.
"""

from __future__ import annotations

from collections.abc import Sequence

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
from webhooks.service_layer.communities import record_communities
from webhooks.service_layer.context import Context
from webhooks.service_layer.fanout import fan_out_many

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
    async def on_events(session: AsyncSession, events: Sequence[tuple[CloudEvent, EventData | None]]) -> None:
        await fan_out_many(ConsumerUnitOfWork(session, runtime.infra), [e for e, _ in events], now=ctx.clock())

    async def on_communities(session: AsyncSession, events: Sequence[tuple[CloudEvent, EventData | None]]) -> None:
        registered = [(data, event.time) for event, data in events if isinstance(data, CommunityRegistered)]
        await record_communities(ConsumerUnitOfWork(session, runtime.infra), registered)

    def after_commit() -> None:
        runtime.wake_relay()
        ctx.deliveries_due()

    return [
        ConsumerSpec(
            name=CONSUMER_NAME,
            default_event_batch_handler=on_events,
            subscriptions=event_subscriptions(),
            after_commit=after_commit,
        ),
        ConsumerSpec(
            name=REGISTRY_CONSUMER,
            event_batch_handlers={COMMUNITY_REGISTERED: on_communities},
            subscriptions=subscription_for([COMMUNITY_REGISTERED]),
        ),
    ]
