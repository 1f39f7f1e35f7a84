"""Inbound events -> use cases (the inbox row is written in the same transaction as the effects).

Two durable consumers. ``survey-events``, on the survey's stream: the registry's communities, households (which
building each home is in) and lanes/courtyards feed the read models; a closed menu round becomes a project; a
published ranking sets the communities' priority; closed rounds and rankings back the seven-step lifecycle; a
decided scheme round records the scheme each courtyard chose (the design basis).
``finance-events``, on finance's stream: an approved funding plan backs the lifecycle's hearing-and-review step.
Every read model keeps the newest version of its aggregate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from projects.service_layer import lifecycle, readmodels
from projects.service_layer.context import Context
from projects.service_layer.projects import project_from_consultation
from renovation_common.app import Runtime
from renovation_common.contracts.finance import FundingPlanApproved
from renovation_common.contracts.survey import (
    CommunityRegistered,
    ConsultationClosed,
    HouseholdRegistered,
    HouseholdUpdated,
    RankingPublished,
    SchemeRoundDecided,
    SiteRegistered,
)
from renovation_common.db import ConsumerUnitOfWork, UnitOfWork
from renovation_common.events import CloudEvent, EventData
from renovation_common.messaging import ConsumerSpec, PoisonMessage, subscription_for

CONSUMER = "survey-events"
FINANCE_CONSUMER = "finance-events"
COMMUNITY_REGISTERED = "survey.community.registered.v1"
HOUSEHOLD_REGISTERED = "survey.household.registered.v1"
HOUSEHOLD_UPDATED = "survey.household.updated.v1"
SITE_REGISTERED = "survey.site.registered.v1"
CONSULTATION_CLOSED = "survey.consultation.closed.v1"
RANKING_PUBLISHED = "survey.ranking.published.v1"
SCHEME_ROUND_DECIDED = "survey.scheme_round.decided.v1"
FUNDING_PLAN_APPROVED = "finance.funding_plan.approved.v1"

Handler = Callable[[AsyncSession, CloudEvent, EventData | None], Awaitable[None]]


def build_consumers(runtime: Runtime, ctx: Context) -> list[ConsumerSpec]:
    def on(model: type[EventData], apply: Callable[[UnitOfWork, Any], Awaitable[Any]]) -> Handler:
        async def handle(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
            if not isinstance(data, model):  # parsed against its contract by the consumer runner
                raise PoisonMessage(f"{event.type} without valid data")
            await apply(ConsumerUnitOfWork(session, runtime.infra), data)

        return handle

    async def closed(uow: UnitOfWork, data: ConsultationClosed) -> None:
        await project_from_consultation(uow, ctx, data)
        await lifecycle.record_consultation(uow, ctx, data)

    async def ranked(uow: UnitOfWork, data: RankingPublished) -> None:
        await readmodels.record_ranking(uow, data)
        await lifecycle.record_ranking(uow, ctx, data)

    async def funding_approved(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
        if not isinstance(data, FundingPlanApproved):
            raise PoisonMessage(f"{event.type} without valid data")
        await lifecycle.record_funding_plan(ConsumerUnitOfWork(session, runtime.infra), ctx, data, event.time)

    handlers: dict[str, Handler] = {
        COMMUNITY_REGISTERED: on(CommunityRegistered, readmodels.record_community),
        HOUSEHOLD_REGISTERED: on(HouseholdRegistered, readmodels.record_household),
        HOUSEHOLD_UPDATED: on(HouseholdUpdated, readmodels.record_household),
        SITE_REGISTERED: on(SiteRegistered, readmodels.record_site),
        CONSULTATION_CLOSED: on(ConsultationClosed, closed),
        RANKING_PUBLISHED: on(RankingPublished, ranked),
        SCHEME_ROUND_DECIDED: on(
            SchemeRoundDecided, lambda uow, data: lifecycle.record_scheme_decision(uow, ctx, data)
        ),
    }
    finance: dict[str, Handler] = {FUNDING_PLAN_APPROVED: funding_approved}
    return [
        ConsumerSpec(name=CONSUMER, handlers=handlers, subscriptions=subscription_for(list(handlers))),
        ConsumerSpec(name=FINANCE_CONSUMER, handlers=finance, subscriptions=subscription_for(list(finance))),
    ]
