"""Inbound events -> use cases (the inbox row is written in the same transaction as the effects).

``projects-events``, on the projects service's stream: a completed project drafts its community's satisfaction
round (the seventh step, 评议反馈), once per project.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from renovation_common.app import Runtime
from renovation_common.contracts.projects import ProjectCompleted
from renovation_common.db import ConsumerUnitOfWork
from renovation_common.events import CloudEvent, EventData
from renovation_common.messaging import ConsumerSpec, PoisonMessage, subscription_for
from survey.service_layer.consultations.lifecycle import draft_satisfaction_round

PROJECTS_CONSUMER = "projects-events"
PROJECT_COMPLETED = "projects.project.completed.v1"


def consumers(runtime: Runtime) -> list[ConsumerSpec]:
    async def completed(session: AsyncSession, event: CloudEvent, data: EventData | None) -> None:
        if not isinstance(data, ProjectCompleted):  # parsed against its contract by the consumer runner
            raise PoisonMessage(f"{event.type} without valid data")
        await draft_satisfaction_round(ConsumerUnitOfWork(session, runtime.infra), data, now=runtime.clock())

    handlers = {PROJECT_COMPLETED: completed}
    return [ConsumerSpec(name=PROJECTS_CONSUMER, handlers=handlers, subscriptions=subscription_for(list(handlers)))]
