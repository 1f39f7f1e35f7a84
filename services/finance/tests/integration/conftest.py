"""Helpers: start the finance app on a fresh database, seed its read models as the consumers would."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from finance.entrypoints.app import create_app
from finance.service_layer import readmodels
from renovation_common.contracts.projects import ProjectCreated
from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered
from renovation_common.testing.plugin import bearer


@pytest.fixture
async def finance(service_client):
    app, client = await service_client(create_app, "finance")
    return app, client


async def seed_community(app, community_id, *, district="D1", street="S1", delivered=1995, fund=False, homes=()):
    """homes: (household_id, building_id, area) tuples."""
    async with app.state.sessionmaker() as session, session.begin():
        await readmodels.record_community(
            session,
            CommunityRegistered(
                community_id=community_id,
                district_id=district,
                street_id=street,
                name="test",
                delivered_year=delivered,
                maintenance_fund_established=fund,
            ),
        )
        for hid, building, area in homes:
            await readmodels.record_household(
                session,
                HouseholdRegistered(
                    household_id=hid,
                    community_id=community_id,
                    district_id=district,
                    street_id=street,
                    building_id=building,
                    building_code=building,
                    floor_area_m2=Decimal(area),
                    delivered_year=delivered,
                    maintenance_fund_established=fund,
                ),
            )


async def seed_project(app, project_id, community_id, *, district="D1", street="S1"):
    async with app.state.sessionmaker() as session, session.begin():
        await readmodels.record_project(
            session,
            ProjectCreated(
                project_id=project_id,
                community_id=community_id,
                district_id=district,
                street_id=street,
                name="p",
                package_codes=["water_pipe_renewal"],
            ),
        )


def new_id() -> str:
    return str(uuid.uuid4())


def auth(make_token, role, **scope):
    return bearer(make_token(role, **scope))
