"""Inbound events -> fan-out into deliveries.

One consumer identity (``event-fanout``) with a durable pull consumer on every producer's stream and a
``default_handler`` for every event type. The streams are ensured here too, so start-up order does not matter.
The service's own stream (WEBHOOKS) is consumed as well, but ``webhooks.*`` events are matched only by patterns
that name ``webhooks`` explicitly (a catch-all ``*`` never feeds them back to receivers).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from renovation_common.app import Runtime
from renovation_common.events import CloudEvent, EventData
from renovation_common.messaging import PRODUCERS, ConsumerSpec, Subscription, stream_name, stream_subject
from webhooks.service_layer.context import Clock, system_clock
from webhooks.service_layer.fanout import fan_out

CONSUMER_NAME = "event-fanout"


def event_subscriptions() -> list[Subscription]:
    return [
        Subscription(
            stream=stream_name(producer),
            filter_subjects=[stream_subject(producer)],
            ensure_stream_subjects=[stream_subject(producer)],
        )
        for producer in PRODUCERS
    ]


def build_consumers(runtime: Runtime, clock: Clock = system_clock) -> list[ConsumerSpec]:
    async def on_event(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
        await fan_out(session, event, now=clock())

    def after_commit() -> None:
        runtime.wake_relay()
        dispatcher = runtime.extras.get("dispatcher")
        if dispatcher is not None:
            dispatcher.wake()

    return [
        ConsumerSpec(
            name=CONSUMER_NAME,
            handlers={},
            default_handler=on_event,
            subscriptions=event_subscriptions(),
            after_commit=after_commit,
        )
    ]


def consumers(runtime: Runtime) -> list[ConsumerSpec]:
    return build_consumers(runtime)


def consumers_with_clock(clock: Clock) -> Callable[[Runtime], list[ConsumerSpec]]:
    return lambda runtime: build_consumers(runtime, clock)
