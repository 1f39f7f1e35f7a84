"""Events produced by the webhooks service (contracts shared by producer and consumers)."""

from __future__ import annotations

from renovation_common.events import EventData, event_contract  # noqa: F401
