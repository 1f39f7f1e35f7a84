"""CloudEvents 1.0 envelope (structured JSON) and the registry of event contracts.

Every event type is ``<service>.<aggregate>.<event>.v<N>`` and travels on the NATS subject
``renovation.<type>``. Each producer declares its contracts (pydantic models) in
``renovation_common.contracts.<producer>`` with :func:`event_contract`; producers and consumers import the same
models, and the AsyncAPI document is generated from the registry.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from renovation_common.tracing import current_traceparent

EVENT_TYPE_RE = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*\.[a-z][a-z_]*\.v[1-9][0-9]*$")
SUBJECT_PREFIX = "renovation"


class CloudEvent(BaseModel):
    """CloudEvents 1.0 structured-mode envelope with the W3C ``traceparent`` extension."""

    model_config = ConfigDict(extra="allow")

    specversion: str = "1.0"
    id: str
    source: str
    type: str
    time: datetime
    subject: str | None = None
    datacontenttype: str = "application/json"
    dataschema: str | None = None
    traceparent: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def nats_subject(self) -> str:
        return f"{SUBJECT_PREFIX}.{self.type}"

    @property
    def producer(self) -> str:
        return self.type.split(".", 1)[0]


class EventData(BaseModel):
    """Base for event payloads: strict about unknown fields on the producer side, never carries personal data."""

    model_config = ConfigDict(extra="ignore", frozen=True)


@dataclass(frozen=True)
class Contract:
    event_type: str
    model: type[EventData]
    description: str

    @property
    def producer(self) -> str:
        return self.event_type.split(".", 1)[0]

    @property
    def subject(self) -> str:
        return f"{SUBJECT_PREFIX}.{self.event_type}"


REGISTRY: dict[str, Contract] = {}

DataT = TypeVar("DataT", bound=type[EventData])


def event_contract(event_type: str, description: str = "") -> Any:
    """Class decorator registering an :class:`EventData` model as the contract of ``event_type``."""
    if not EVENT_TYPE_RE.match(event_type):
        raise ValueError(f"event type {event_type!r} is not <service>.<aggregate>.<event>.v<N>")

    def register(model: DataT) -> DataT:
        existing = REGISTRY.get(event_type)
        if existing is not None and existing.model is not model:
            raise ValueError(f"event type {event_type} registered twice")
        REGISTRY[event_type] = Contract(event_type, model, description or (model.__doc__ or "").strip())
        model.event_type = event_type  # type: ignore[attr-defined]
        return model

    return register


def contract_for(event_type: str) -> Contract:
    try:
        return REGISTRY[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


class UnknownEventType(Exception):
    pass


class InvalidEvent(Exception):
    """The message is not a valid CloudEvent or its data breaks the contract: retrying cannot help."""


def new_event(
    data: EventData,
    *,
    source: str,
    subject: str | None = None,
    event_id: uuid.UUID | str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    """Wrap a contract payload in an envelope (service layer: it owns the clock and the ids)."""
    event_type = getattr(type(data), "event_type", None)
    if event_type is None:
        raise ValueError(f"{type(data).__name__} is not a registered event contract")
    return CloudEvent(
        id=str(event_id or uuid.uuid4()),
        source=source,
        type=event_type,
        time=time or datetime.now(UTC),
        subject=subject,
        traceparent=current_traceparent(),
        data=data.model_dump(mode="json"),
    )


def parse_event(raw: bytes) -> tuple[CloudEvent, EventData | None]:
    """Parse an envelope and, when its type is registered, validate its data against the contract."""
    try:
        event = CloudEvent.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidEvent(f"not a CloudEvent: {exc.error_count()} error(s)") from exc
    contract = REGISTRY.get(event.type)
    if contract is None:
        return event, None
    try:
        return event, contract.model.model_validate(event.data)
    except ValidationError as exc:
        raise InvalidEvent(f"data breaks contract {event.type}: {exc.errors()[:3]}") from exc


def load_all_contracts() -> dict[str, Contract]:
    """Import every producer's contract module and return the published contracts: those defined in
    ``renovation_common.contracts`` (a contract a test registers for itself is not part of what the platform
    publishes, and never lands in the AsyncAPI document or the event catalog)."""
    from renovation_common import contracts  # noqa: F401  (imports every producer module)

    return {t: c for t, c in REGISTRY.items() if c.model.__module__.startswith("renovation_common.contracts.")}
