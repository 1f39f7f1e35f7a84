"""NATS JetStream: the connection and streams (:mod:`.streams`), the outbox relay (:mod:`.outbox`) and the one
consumer runner with its inbox (:mod:`.consumers`).

Delivery guarantees, end to end: a use case writes its state change and its events in one transaction; the relay
publishes them with ``Nats-Msg-Id`` = event id (JetStream drops a repeat inside its duplicate window); a consumer
records ``(consumer, event id)`` in the transaction of its effects (a redelivery is skipped); a message that can
never be applied is dead-lettered with its reason and never holds up the others.
"""

from renovation_common.messaging.consumers import (
    BatchHandler,
    ConsumerRunner,
    ConsumerSpec,
    Delivery,
    EventBatchHandler,
    Handler,
    PoisonMessage,
    Subscription,
    TransientError,
    is_data_error,
    subscription_for,
)
from renovation_common.messaging.outbox import OutboxRelay
from renovation_common.messaging.streams import (
    DUPLICATE_WINDOW_S,
    PRODUCERS,
    connect_nats,
    ensure_event_stream,
    ensure_stream,
    stream_name,
    stream_subject,
)

__all__ = [
    "DUPLICATE_WINDOW_S",
    "PRODUCERS",
    "BatchHandler",
    "ConsumerRunner",
    "ConsumerSpec",
    "Delivery",
    "EventBatchHandler",
    "Handler",
    "OutboxRelay",
    "PoisonMessage",
    "Subscription",
    "TransientError",
    "connect_nats",
    "ensure_event_stream",
    "ensure_stream",
    "is_data_error",
    "stream_name",
    "stream_subject",
    "subscription_for",
]
