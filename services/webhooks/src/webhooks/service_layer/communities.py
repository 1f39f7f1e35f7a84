"""Read model of where communities lie (consumer use case of ``survey.community.registered.v1``).

Community filters of subscriptions are checked against it. The event is sent on registration and again whenever
the community's registry data changes; the state with the newest event time wins (an older event arriving late
changes nothing).
"""

from __future__ import annotations

from datetime import datetime

from renovation_common.contracts.survey import CommunityRegistered
from renovation_common.db import UnitOfWork
from webhooks.adapters.repositories import CommunityRepository
from webhooks.domain.model import Community


async def record_community(uow: UnitOfWork, data: CommunityRegistered, *, at: datetime) -> None:
    """``at``: the event's time (when the survey service recorded this state)."""
    await CommunityRepository(uow.session).upsert(
        Community(community_id=data.community_id, district_id=data.district_id, street_id=data.street_id), at=at
    )
    await uow.commit()
