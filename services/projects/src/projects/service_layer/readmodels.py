"""Read models fed by the survey's events (consumer use cases): where communities lie, their buildings (from the
households registered in them), their lanes and courtyards, and their published priority.

Every event of one survey aggregate carries its version; the newest state wins whatever the arrival order (replicas
of a consumer, redeliveries, replays). Rankings carry their publication time instead: a later ranking that lists a
community replaces its rank.
"""

from __future__ import annotations

from projects.adapters.repositories import CommunityRepository
from projects.domain.model import Community
from renovation_common.contracts.survey import (
    CommunityRegistered,
    HouseholdRegistered,
    RankingPublished,
    SiteRegistered,
)
from renovation_common.db import UnitOfWork


async def record_community(uow: UnitOfWork, data: CommunityRegistered) -> None:
    async with uow:
        await CommunityRepository(uow.session).record(
            Community(data.community_id, data.district_id, data.street_id, data.name, data.household_count),
            version=data.version,
        )
        await uow.commit()


async def record_household(uow: UnitOfWork, data: HouseholdRegistered) -> None:
    """Registered or updated (the full state): which building the home is in."""
    async with uow:
        await CommunityRepository(uow.session).record_household(
            data.household_id, data.community_id, data.building_id, data.building_code, version=data.version
        )
        await uow.commit()


async def record_site(uow: UnitOfWork, data: SiteRegistered) -> None:
    async with uow:
        await CommunityRepository(uow.session).record_site(
            site_id=data.site_id,
            community_id=data.community_id,
            code=data.code,
            name=data.name,
            kind=data.kind,
            length_m=data.length_m,
            area_m2=data.area_m2,
            retired=data.retired,
            version=data.version,
        )
        await uow.commit()


async def record_ranking(uow: UnitOfWork, data: RankingPublished) -> None:
    async with uow:
        repo = CommunityRepository(uow.session)
        for entry in data.entries:
            await repo.record_rank(entry.community_id, data.district_id, entry.rank, data.ranking_id, data.published_at)
        await uow.commit()
