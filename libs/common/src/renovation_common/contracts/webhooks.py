"""Operational events produced by the webhooks service."""

from __future__ import annotations

from datetime import datetime

from renovation_common.events import EventData, event_contract


@event_contract("webhooks.endpoint.disabled.v1", "A subscription's endpoint was disabled (410, or failing for days).")
class EndpointDisabled(EventData):
    subscription_id: str
    owner_sub: str
    district_id: str | None = None
    reason: str  # gone_410 | failing_5_days | manual
    disabled_at: datetime
