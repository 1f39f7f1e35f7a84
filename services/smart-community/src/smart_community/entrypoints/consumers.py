"""Inbound messages -> use cases: the household care-flag read model from the survey service (no names), and the
device events of the DEVICES stream (an alarm consumer for the alarm-bearing kinds, a telemetry consumer for the
rest: a gas alarm never waits behind telemetry)."""

from __future__ import annotations

import asyncio

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


class AlarmsFirst:
    """The alarm consumer goes first on the event loop: while it has a batch in hand (and for ``grace_s`` after,
    while the relay publishes its ``alarm.raised``), telemetry batches wait at their next pause point (between
    their steps, every few dozen messages of their parsing). One per process, shared by the two consumers."""

    def __init__(self, grace_s: float = 0.2) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._busy = 0
        self._grace_s = grace_s
        self._reopen: asyncio.TimerHandle | None = None

    def enter(self) -> None:
        self._busy += 1
        self._open.clear()
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None

    def leave(self) -> None:
        self._busy -= 1
        if self._busy == 0:
            self._reopen = asyncio.get_running_loop().call_later(self._grace_s, self._open.set)

    async def pause(self) -> None:
        """Telemetry's pause point: returns at once unless an alarm batch is being handled."""
        if not self._open.is_set():
            await self._open.wait()


def device_consumers(runtime: Runtime) -> list[ConsumerSpec]:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    first = AlarmsFirst()

    def batch_handler(skip_alarm_path: bool) -> object:
        async def handle(uow: ConsumerUnitOfWork, deliveries: list[Delivery]) -> None:
            if skip_alarm_path:  # telemetry: gives way to alarm batches
                await ingest_deliveries(
                    uow,
                    deliveries,
                    source_uri=settings.event_source,
                    now=runtime.clock(),
                    skip_alarm_path=True,
                    pause=first.pause,
                )
                return
            first.enter()
            try:
                await ingest_deliveries(uow, deliveries, source_uri=settings.event_source, now=runtime.clock())
            finally:
                first.leave()

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
            # telemetry batches are independent of each other's order (rows deduplicated by stream sequence,
            # last-seen times only move forward): several in flight, so fetch, parse, COPY and commit overlap
            batches_in_flight=settings.ingest_batches_in_flight,
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
