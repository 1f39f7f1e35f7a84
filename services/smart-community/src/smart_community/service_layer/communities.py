"""Per-community use cases: the alarm rule settings and the parking occupancy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from renovation_common.auth import Principal, Scope
from renovation_common.db import ReadOnlyUnitOfWork, UnitOfWork
from renovation_common.errors import NotFound
from smart_community.adapters.repositories import CommunityRepository, ParkingRepository, RuleSettingsRepository
from smart_community.domain import rules
from smart_community.domain.model import RuleSettings


async def _community_checked(uow: UnitOfWork | ReadOnlyUnitOfWork, community_id: str, principal: Principal) -> None:
    """The community is registered and the caller's scope covers it (from the read model, never the request)."""
    scope = await CommunityRepository(uow.session).scope(community_id)
    if scope is None:
        raise NotFound("the community is not registered", code="community_unknown")
    principal.ensure_covers(Scope(scope[0], scope[1], community_id), "community")


async def put_rule_settings(
    uow: UnitOfWork, community_id: str, settings: RuleSettings, principal: Principal, *, now: datetime
) -> RuleSettings:
    async with uow:
        await _community_checked(uow, community_id, principal)
        await RuleSettingsRepository(uow.session).put(community_id, settings, principal.sub, now)
        await uow.commit()
    return settings


@dataclass(frozen=True)
class Parking:
    community_id: str
    occupied: int
    capacity: int | None
    available: int | None
    entries: int
    exits: int
    updated_at: datetime | None


async def get_parking(read: ReadOnlyUnitOfWork, community_id: str, principal: Principal) -> Parking:
    async with read:
        await _community_checked(read, community_id, principal)
        counts = await ParkingRepository(read.session).get(community_id)
        capacity = (await RuleSettingsRepository(read.session).of(community_id)).parking_capacity
    return Parking(
        community_id=community_id,
        occupied=counts.occupied,
        capacity=capacity,
        available=rules.available_spaces(counts.occupied, capacity),
        entries=counts.entries,
        exits=counts.exits,
        updated_at=counts.updated_at,
    )
