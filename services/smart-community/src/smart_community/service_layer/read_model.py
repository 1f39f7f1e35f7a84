"""Read model of the survey service's communities and households (care flags only, no names).

Consumer use cases: called by the ``survey-read-model`` consumer with the inbox's unit of work (or by tests and
benchmarks with ``runtime.uow()``); each enters the unit of work and commits it.
"""

from __future__ import annotations

from datetime import datetime

from renovation_common.db import UnitOfWork
from smart_community.adapters.repositories import (
    CommunityRepository,
    HouseholdRepository,
    RuleSettingsRepository,
    WelfareTimerRepository,
)
from smart_community.domain import rules
from smart_community.domain.model import HouseholdFlags


async def apply_community(
    uow: UnitOfWork, community_id: str, district_id: str, street_id: str, *, version: int | None = None
) -> None:
    """A community's scope, from its own events (``version``) or learnt from a household event (``None``)."""
    async with uow:
        await CommunityRepository(uow.session).upsert(community_id, district_id, street_id, version=version)
        await uow.commit()


async def apply_household(
    uow: UnitOfWork, flags: HouseholdFlags, district_id: str, *, at: datetime, version: int = 0
) -> None:
    """Keep the newest flags (an older event arriving late changes nothing); a household newly flagged as elderly
    living alone gets a welfare deadline from ``at``, one no longer flagged loses it."""
    async with uow:
        written, previous = await HouseholdRepository(uow.session).upsert(flags, district_id, version=version)
        if written:
            timers = WelfareTimerRepository(uow.session)
            if flags.elderly_living_alone and not previous:
                settings = await RuleSettingsRepository(uow.session).of(flags.community_id)
                if settings.welfare_check_enabled:
                    await timers.arm_if_absent(
                        flags.household_id, flags.community_id, rules.welfare_deadline(at, settings)
                    )
            elif not flags.elderly_living_alone and previous:
                await timers.drop(flags.household_id)
        await uow.commit()
