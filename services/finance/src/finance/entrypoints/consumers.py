"""Inbound events -> use cases (each applied once through the inbox, in the inbox's transaction).

* ``finance-read-models``: survey communities and households, projects → the local read models.
* ``finance-alarm-repairs``: ``smart_community.repair.requested.v1`` → an emergency repair request with origin
  ``alarm``, once per ``request_id``; retried while the community is not in the read model yet.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from finance.domain.emergency import Origin
from finance.service_layer import readmodels
from finance.service_layer.context import Context
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
REPAIR_REQUESTED = "smart_community.repair.requested.v1"
ALARM_NAMESPACE = uuid.UUID("0b8f3e4a-9a57-4a53-bb3e-6c0f0c6f7e21")


def repair_request_id(source_request_id: str) -> uuid.UUID:
    """The finance request id of an alarm's repair request: its own id when a UUID, else a stable uuid5."""
    try:
        return uuid.UUID(source_request_id)
    except ValueError:
        return uuid.uuid5(ALARM_NAMESPACE, source_request_id)


def build_consumers(runtime: Runtime, ctx: Context) -> list[ConsumerSpec]:
    def uow(session: AsyncSession) -> ConsumerUnitOfWork:
        return ConsumerUnitOfWork(session, runtime.infra)

    async def on_community(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
        if not isinstance(data, CommunityRegistered):
            raise PoisonMessage("expected CommunityRegistered")
        await readmodels.record_community(uow(session), data)

    async def on_household(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
        if not isinstance(data, HouseholdRegistered):
            raise PoisonMessage("expected HouseholdRegistered")
        await readmodels.record_household(uow(session), data)

    async def on_project(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
        if not isinstance(data, ProjectCreated):
            raise PoisonMessage("expected ProjectCreated")
        await readmodels.record_project(uow(session), data, now=ctx.clock())

    async def on_repair_requested(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
        if not isinstance(data, RepairRequested):
            raise PoisonMessage("expected RepairRequested")
        consumer_uow = uow(session)
        try:
            await record_request(
                consumer_uow,
                ctx,
                RepairRequest(
                    request_id=repair_request_id(data.request_id),
                    origin=Origin.ALARM,
                    community_id=data.community_id,
                    requested_by=f"alarm:{data.alarm_id}"[:120],
                    building_ids=(data.building_id,) if data.building_id else (),
                    location=data.location,
                    description=data.description,
                    alarm_id=data.alarm_id[:64],
                ),
                event_id=uuid.uuid5(ALARM_NAMESPACE, f"requested:{event.id}"),
                now=ctx.clock(),
            )
        except CommunityUnknown:
            raise TransientError("community not yet in the read model") from None
        await consumer_uow.commit()

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
            handlers={REPAIR_REQUESTED: on_repair_requested},
            subscriptions=subscription_for([REPAIR_REQUESTED]),
        ),
    ]
