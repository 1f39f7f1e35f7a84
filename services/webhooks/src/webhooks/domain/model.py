"""What the webhooks service keeps, as plain records: subscriptions, deliveries, attempts, known communities.

Repositories build these from rows; use cases and the API read them. The encrypted secrets travel with a
subscription (the dispatcher needs them) but are never shown (``repr=False``) and never rendered by the API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from webhooks.domain.subscriptions import EventFilter
from webhooks.domain.targets import receiver_of


@dataclass(frozen=True)
class Subscription:
    id: uuid.UUID
    owner_sub: str
    owner_role: str
    url: str
    event_types: tuple[str, ...]
    district_id: str | None
    community_id: str | None
    description: str
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    max_concurrency: int
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    secret_encrypted: str = field(repr=False)
    previous_secret_encrypted: str | None = field(repr=False)
    secret_key_id: str | None = None
    previous_secret_key_id: str | None = None

    @property
    def event_filter(self) -> EventFilter:
        return EventFilter(self.event_types, self.district_id, self.community_id)


@dataclass(frozen=True)
class Delivery:
    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: str  # pending | succeeded | failed
    attempts: int
    round_failures: int
    next_attempt_at: datetime | None
    lease_expires_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # of its subscription (who may see it, whether it may be sent)
    owner_sub: str
    subscription_district_id: str | None
    subscription_enabled: bool


@dataclass(frozen=True)
class Attempt:
    attempt_no: int
    attempted_at: datetime
    url: str  # the URL called, without its query string
    status_code: int | None
    latency_ms: int
    outcome: str  # succeeded | retry | failed | gone
    response_body: str | None
    error: str | None


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery leased for one attempt, with what sending it needs."""

    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    attempt_no: int
    url: str
    secret_encrypted: str = field(repr=False)
    previous_secret_encrypted: str | None = field(repr=False)
    previous_secret_expires_at: datetime | None
    payload: dict[str, Any] = field(repr=False)

    @property
    def receiver(self) -> str:
        """Scheme, host and port of the endpoint: all that logs show of it."""
        return receiver_of(self.url)


@dataclass(frozen=True)
class Community:
    """Where a community lies, as the survey service registered it (``survey.community.registered.v1``)."""

    community_id: str
    district_id: str
    street_id: str | None


@dataclass(frozen=True)
class SealedSecrets:
    """A subscription's signing secrets as stored (encrypted), with the key each was sealed under."""

    subscription_id: uuid.UUID
    secret_encrypted: str = field(repr=False)
    secret_key_id: str | None
    previous_secret_encrypted: str | None = field(repr=False)
    previous_secret_key_id: str | None
