"""Inbound events -> use cases (each applied once through the inbox, in the inbox's transaction)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from finance.domain.emergency import Origin
from finance.service_layer import readmodels
from finance.service_layer.emergency import CommunityUnknown, RepairRequest, record_request
from renovation_common.app import Runtime
from renovation_common.contracts.projects import ProjectCreated
from renovation_common.contracts.smart_community import RepairRequested
from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered
from renovation_common.db import ConsumerUnitOfWork
from renovation_common.events import CloudEvent, EventData
from renovation_common.messaging import ConsumerSpec, PoisonMessage, TransientError, subscription_for

READ_MODEL_EVENTS = {
    "survey.community.registered.v1": CommunityRegistered,
    "survey.household.registered.v1": HouseholdRegistered,
    "survey.household.updated.v1": HouseholdRegistered,
    "projects.project.created.v1": ProjectCreated,
}
ALARM_NAMESPACE = uuid.UUID("0b8f3e4a-9a57-4a53-bb3e-6c0f0c6f7e21")


def _require(data: EventData | None, model: type[EventData]) -> EventData:
    if not isinstance(data, model):
        raise PoisonMessage(f"expected {model.__name__}")
    return data


async def on_community(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
    d = _require(data, CommunityRegistered)
    assert isinstance(d, CommunityRegistered)
    await readmodels.record_community(session, d)


async def on_household(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
    d = _require(data, HouseholdRegistered)
    assert isinstance(d, HouseholdRegistered)
    await readmodels.record_household(session, d)


async def on_project(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
    d = _require(data, ProjectCreated)
    assert isinstance(d, ProjectCreated)
    await readmodels.record_project(session, d)


def repair_request_id(source_request_id: str) -> uuid.UUID:
    """The finance request id of an alarm's repair request: its own id when a UUID, else a stable uuid5."""
    try:
        return uuid.UUID(source_request_id)
    except ValueError:
        return uuid.uuid5(ALARM_NAMESPACE, source_request_id)


def on_repair_requested(runtime: Runtime):  # type: ignore[no-untyped-def]
    async def handle(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
        d = _require(data, RepairRequested)
        assert isinstance(d, RepairRequested)
        uow = ConsumerUnitOfWork(session, runtime.infra)
        try:
            await record_request(
                session,
                uow.publish,
                RepairRequest(
                    request_id=repair_request_id(d.request_id),
                    origin=Origin.ALARM,
                    community_id=d.community_id,
                    requested_by=f"alarm:{d.alarm_id}"[:120],
                    building_ids=(d.building_id,) if d.building_id else (),
                    location=d.location,
                    description=d.description,
                    alarm_id=d.alarm_id[:64],
                ),
                source=runtime.settings.event_source,
                event_id=uuid.uuid5(ALARM_NAMESPACE, f"requested:{event.id}"),
                now=datetime.now(UTC),
            )
        except CommunityUnknown:
            raise TransientError("community not yet in the read model") from None
        await uow.flush_events()

    return handle


def consumers(runtime: Runtime) -> list[ConsumerSpec]:
    return [
        ConsumerSpec(
            name="finance-read-models",
            handlers={
                "survey.community.registered.v1": on_community,
                "survey.household.registered.v1": on_household,
                "survey.household.updated.v1": on_household,
                "projects.project.created.v1": on_project,
            },
            subscriptions=subscription_for(list(READ_MODEL_EVENTS)),
        ),
        ConsumerSpec(
            name="finance-alarm-repairs",
            handlers={"smart_community.repair.requested.v1": on_repair_requested(runtime)},
            subscriptions=subscription_for(["smart_community.repair.requested.v1"]),
        ),
    ]
