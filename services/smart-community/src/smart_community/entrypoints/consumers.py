"""Inbound messages -> use cases: the household care-flag read model from the survey service (no names), and the
device events of the DEVICES stream (an alarm consumer for the alarm-bearing kinds, a telemetry consumer for the
rest: a gas alarm never waits behind telemetry)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from renovation_common.app import Runtime
from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered
from renovation_common.db import ConsumerUnitOfWork
from renovation_common.events import CloudEvent, EventData
from renovation_common.messaging import ConsumerSpec, Delivery, Handler, PoisonMessage, Subscription, subscription_for
from smart_community.config import Settings
from smart_community.domain.model import HouseholdFlags
from smart_community.service_layer.ingestion import ALARM_SUBJECTS, ingest_deliveries
from smart_community.service_layer.read_model import apply_community, apply_household

DEVICES_STREAM = "DEVICES"
DEVICES_SUBJECTS = ["devices.>"]

COMMUNITY_EVENTS = ["survey.community.registered.v1"]
HOUSEHOLD_EVENTS = ["survey.household.registered.v1", "survey.household.updated.v1"]


def read_model_handlers(runtime: Runtime) -> dict[str, Handler]:
    async def on_community(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
        if not isinstance(data, CommunityRegistered):
            raise PoisonMessage("not a community event")
        uow = ConsumerUnitOfWork(session, runtime.infra)
        await apply_community(uow, data.community_id, data.district_id, data.street_id, version=data.version)

    async def on_household(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
        if not isinstance(data, HouseholdRegistered):  # HouseholdUpdated is a subclass
            raise PoisonMessage("not a household event")
        uow = ConsumerUnitOfWork(session, runtime.infra)
        flags = HouseholdFlags(
            household_id=data.household_id,
            community_id=data.community_id,
            building_id=data.building_id,
            elderly_living_alone=data.elderly_living_alone,
            needs_accompaniment=data.needs_accompaniment,
        )
        await apply_community(uow, data.community_id, data.district_id, data.street_id)
        await apply_household(uow, flags, data.district_id, at=event.time, version=data.version)

    return {**dict.fromkeys(COMMUNITY_EVENTS, on_community), **dict.fromkeys(HOUSEHOLD_EVENTS, on_household)}


def device_consumers(runtime: Runtime) -> list[ConsumerSpec]:
    settings = runtime.settings
    assert isinstance(settings, Settings)

    def batch_handler(skip_alarm_path: bool) -> object:
        async def handle(uow: ConsumerUnitOfWork, deliveries: list[Delivery]) -> None:
            await ingest_deliveries(
                uow, deliveries, source_uri=settings.event_source, now=runtime.clock(), skip_alarm_path=skip_alarm_path
            )

        return handle

    common = {
        "batch_size": settings.ingest_batch_size,
        "fetch_timeout_s": settings.ingest_fetch_timeout_s,
        "max_ack_pending": max(10_000, settings.ingest_batch_size * 4),
    }
    return [
        ConsumerSpec(
            name="device-alarms",
            subscriptions=[Subscription(stream=DEVICES_STREAM, filter_subjects=ALARM_SUBJECTS)],
            batch_handler=batch_handler(False),  # type: ignore[arg-type]
            **common,  # type: ignore[arg-type]
        ),
        ConsumerSpec(
            name="device-telemetry",
            subscriptions=[Subscription(stream=DEVICES_STREAM, filter_subjects=DEVICES_SUBJECTS)],
            batch_handler=batch_handler(True),  # type: ignore[arg-type]
            **common,  # type: ignore[arg-type]
        ),
    ]


def consumers(runtime: Runtime) -> list[ConsumerSpec]:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    specs = [
        ConsumerSpec(
            name="survey-read-model",
            handlers=read_model_handlers(runtime),
            subscriptions=subscription_for(COMMUNITY_EVENTS + HOUSEHOLD_EVENTS),
        )
    ]
    if settings.ingest_enabled:
        specs += device_consumers(runtime)
    return specs
