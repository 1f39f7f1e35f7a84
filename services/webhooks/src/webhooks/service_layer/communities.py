"""Read model of where communities lie (consumer use case of ``survey.community.registered.v1``).

Community filters of subscriptions are checked against it. The event is sent on registration and again whenever
the community's registry data changes, with the community's version: the newest version wins (``db``'s
``upsert_newest_many``), so an older event arriving late — from another relay replica, a redelivery, a replay —
changes nothing. Between equal versions (a producer that does not count versions yet sends 0) the newer event time
wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from renovation_common.contracts.survey import CommunityRegistered
from renovation_common.db import UnitOfWork
from webhooks.adapters.repositories import CommunityRepository
from webhooks.adapters.repositories.communities import CommunityState
from webhooks.domain.model import Community


async def record_communities(uow: UnitOfWork, registered: Sequence[tuple[CommunityRegistered, datetime]]) -> int:
    """``registered``: each event's data and time, in stream order. Returns how many rows were written."""
    written = await CommunityRepository(uow.session).upsert_newest(
        [
            CommunityState(
                Community(community_id=data.community_id, district_id=data.district_id, street_id=data.street_id),
                version=data.version,
                at=at,
            )
            for data, at in registered
        ]
    )
    await uow.commit()
    return written


async def record_community(uow: UnitOfWork, data: CommunityRegistered, *, at: datetime) -> None:
    """One event (``at``: its time)."""
    await record_communities(uow, [(data, at)])
