"""Inbound events -> use cases: the household care-flag read model from the survey service (no names)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from renovation_common.app import Runtime
from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered
from renovation_common.events import CloudEvent, EventData
from renovation_common.messaging import ConsumerSpec, PoisonMessage, subscription_for
from smart_community.domain.model import HouseholdFlags
from smart_community.service_layer import use_cases

COMMUNITY_EVENTS = ["survey.community.registered.v1"]
HOUSEHOLD_EVENTS = ["survey.household.registered.v1", "survey.household.updated.v1"]


async def on_community(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
    if not isinstance(data, CommunityRegistered):
        raise PoisonMessage("not a community event")
    await use_cases.apply_community(session, data.community_id, data.district_id, data.street_id)


async def on_household(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
    if not isinstance(data, HouseholdRegistered):  # HouseholdUpdated is a subclass
        raise PoisonMessage("not a household event")
    flags = HouseholdFlags(
        household_id=data.household_id,
        community_id=data.community_id,
        building_id=data.building_id,
        elderly_living_alone=data.elderly_living_alone,
        needs_accompaniment=data.needs_accompaniment,
    )
    await use_cases.apply_community(session, data.community_id, data.district_id, data.street_id)
    await use_cases.apply_household(session, flags, data.district_id, at=event.time)


def consumers(runtime: Runtime) -> list[ConsumerSpec]:
    return [
        ConsumerSpec(
            name="survey-read-model",
            handlers={
                **dict.fromkeys(COMMUNITY_EVENTS, on_community),
                **dict.fromkeys(HOUSEHOLD_EVENTS, on_household),
            },
            subscriptions=subscription_for(COMMUNITY_EVENTS + HOUSEHOLD_EVENTS),
        )
    ]
