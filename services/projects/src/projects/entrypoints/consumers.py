"""Inbound events -> use cases (the inbox row is written in the same transaction as the effects)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from projects.service_layer import projects as uc
from renovation_common.app import Runtime
from renovation_common.contracts.survey import CommunityRegistered, ConsultationClosed, RankingPublished
from renovation_common.db import ConsumerUnitOfWork, UnitOfWork
from renovation_common.events import CloudEvent, EventData
from renovation_common.messaging import ConsumerSpec, PoisonMessage, subscription_for

CONSULTATION_CLOSED = "survey.consultation.closed.v1"
COMMUNITY_REGISTERED = "survey.community.registered.v1"
RANKING_PUBLISHED = "survey.ranking.published.v1"


def _handler(
    runtime: Runtime, model: type[EventData], apply: Callable[[UnitOfWork, Any], Awaitable[Any]]
) -> Callable[[AsyncSession, CloudEvent, EventData | None], Awaitable[None]]:
    async def handle(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
        if not isinstance(data, model):
            raise PoisonMessage(f"{event.type} without valid data")
        uow = ConsumerUnitOfWork(session, runtime.infra)
        await apply(uow, data)
        await uow.flush_events()

    return handle


def consumers(runtime: Runtime) -> list[ConsumerSpec]:
    source = runtime.settings.event_source

    async def closed(uow: UnitOfWork, data: ConsultationClosed) -> None:
        await uc.on_consultation_closed(uow, data, source=source)

    return [
        ConsumerSpec(
            name="survey-events",
            handlers={
                COMMUNITY_REGISTERED: _handler(runtime, CommunityRegistered, uc.on_community_registered),
                CONSULTATION_CLOSED: _handler(runtime, ConsultationClosed, closed),
                RANKING_PUBLISHED: _handler(runtime, RankingPublished, uc.on_ranking_published),
            },
            subscriptions=subscription_for([COMMUNITY_REGISTERED, CONSULTATION_CLOSED, RANKING_PUBLISHED]),
        )
    ]
