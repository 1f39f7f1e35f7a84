"""Local read models fed by other services' events (survey communities and households, projects)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters import repos
from finance.adapters.orm import communities, households, projects
from finance.service_layer import accounts
from renovation_common.contracts.projects import ProjectCreated
from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered
from renovation_common.db import upsert_newest


async def record_community(session: AsyncSession, data: CommunityRegistered) -> None:
    """Keep the newest community state (an older event arriving late is ignored)."""
    await upsert_newest(
        session,
        communities,
        "community_id",
        {
            "community_id": data.community_id,
            "district_id": data.district_id,
            "street_id": data.street_id,
            "name": data.name[:200],
            "delivered_year": data.delivered_year,
            "maintenance_fund_established": data.maintenance_fund_established,
            "source_version": data.version,
        },
    )


async def record_household(session: AsyncSession, data: HouseholdRegistered) -> None:
    """Keep the newest household state: a stale floor area never wins in the repair split."""
    await upsert_newest(
        session,
        households,
        "household_id",
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
        },
    )


async def record_project(session: AsyncSession, data: ProjectCreated) -> None:
    await repos.upsert(
        session,
        projects,
        "project_id",
        {
            "project_id": data.project_id,
            "community_id": data.community_id,
            "district_id": data.district_id,
            "street_id": data.street_id,
            "name": data.name[:200],
        },
    )
    account_id = await accounts.project(session, data.district_id, data.street_id, data.community_id, data.project_id)
    await repos.set_project_account(session, data.project_id, account_id)
