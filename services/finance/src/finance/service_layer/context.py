"""What every use case needs, built once by the composition root (``entrypoints/app.py``).

``uow`` opens a transaction (one per use case; the ledger's and the payments' use cases open another one to retry
or to answer a replay), ``read`` a read-only one for queries; the clock is the service's (``runtime.clock``: the wall
clock, or the one a test injects).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from finance.domain.payments import PaymentRules
from renovation_common.clock import Clock, system_clock
from renovation_common.db import ReaderFactory, UowFactory
from renovation_common.events import CloudEvent, EventData, new_event

EVENT_SOURCE = "/renovation/finance"
NAMESPACE = uuid.UUID("6f1d0c2e-52c4-4bb8-9d0b-3f6a1b7e9a10")


def derived_id(*parts: object) -> uuid.UUID:
    """A deterministic id (uuid5) for a transfer derived from a business id: retries map to the same transfer."""
    return uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts))


@dataclass
class Context:
    uow: UowFactory
    read: ReaderFactory
    source: str = EVENT_SOURCE
    clock: Clock = system_clock
    payment_rules: PaymentRules = field(default_factory=PaymentRules)
    new_id: Callable[[], uuid.UUID] = field(default=uuid.uuid4)

    def event(self, data: EventData, *, subject: str, now: datetime, event_id: uuid.UUID | None = None) -> CloudEvent:
        """A finance event for the outbox (``uow.publish``): this service's source, a new id unless one is derived
        from the business id, the use case's time."""
        return new_event(data, source=self.source, subject=subject, event_id=event_id or self.new_id(), time=now)
