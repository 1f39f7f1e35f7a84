"""Local read models fed by other services' events (survey communities and households, projects).

Consumer use cases: each takes the consumer's unit of work (``db.ConsumerUnitOfWork``: the inbox's transaction) and
keeps the newest state of the record (an older event arriving late changes nothing).
"""

from __future__ import annotations

from datetime import datetime

from finance.adapters.repositories import (
    AccountRepository,
    CommunityRepository,
    HouseholdRepository,
    ProjectRepository,
)
from finance.service_layer import well_known_accounts
from renovation_common.contracts.projects import ProjectCreated
from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered
from renovation_common.db import UnitOfWork


async def record_community(uow: UnitOfWork, data: CommunityRegistered) -> None:
    await CommunityRepository(uow.session).upsert_newest(
        {
            "community_id": data.community_id,
            "district_id": data.district_id,
            "street_id": data.street_id,
            "name": data.name[:200],
            "delivered_year": data.delivered_year,
            "maintenance_fund_established": data.maintenance_fund_established,
            "source_version": data.version,
        }
    )
    await uow.commit()


async def record_household(uow: UnitOfWork, data: HouseholdRegistered) -> None:
    """A stale floor area never wins in the repair split."""
    await HouseholdRepository(uow.session).upsert_newest(
        {
            "household_id": data.household_id,
            "community_id": data.community_id,
            "district_id": data.district_id,
            "street_id": data.street_id,
            "building_id": data.building_id,
            "building_code": data.building_code[:64],
            "floor_area_m2": data.floor_area_m2,
            "delivered_year": data.delivered_year,
            "maintenance_fund_established": data.maintenance_fund_established,
            "source_version": data.version,
        }
    )
    await uow.commit()


async def record_project(uow: UnitOfWork, data: ProjectCreated, *, now: datetime) -> None:
    """The project and its ledger account (``project:<id>``)."""
    projects = ProjectRepository(uow.session)
    await projects.upsert(
        {
            "project_id": data.project_id,
            "community_id": data.community_id,
            "district_id": data.district_id,
            "street_id": data.street_id,
            "name": data.name[:200],
        }
    )
    account_id = await well_known_accounts.project(AccountRepository(uow.session), data, data.project_id, now)
    await projects.set_account(data.project_id, account_id)
    await uow.commit()
