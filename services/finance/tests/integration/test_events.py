"""Events in and out on real NATS: survey and projects feed the read models, an alarm's repair request becomes an
emergency repair request (origin alarm, once per request id), and finance's own events reach JetStream."""

import asyncio
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from finance.adapters.orm import communities, emergency_repairs, households, projects
from renovation_common.contracts.projects import ProjectCreated
from renovation_common.contracts.smart_community import RepairRequested
from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered, HouseholdUpdated
from renovation_common.events import new_event
from renovation_common.messaging import ensure_event_stream
from renovation_common.testing.plugin import eventually


async def _publish(js, data, source):
    event = new_event(data, source=source)
    await js.publish(event.nats_subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": event.id})
    return event


async def test_events_in_and_out(finance, jetstream, nats_client):
    app, _client = finance
    seen: list[dict] = []

    async def collect(msg):
        seen.append(json.loads(msg.data))

    sub = await nats_client.subscribe("renovation.finance.>", cb=collect)
    for producer in ("survey", "projects", "smart_community"):
        await ensure_event_stream(jetstream, producer)
    community_id = f"c-{uuid.uuid4().hex[:8]}"
    await _publish(
        jetstream,
        CommunityRegistered(
            community_id=community_id,
            district_id="D9",
            street_id="S9",
            name="老小区",
            delivered_year=1996,
            maintenance_fund_established=False,
        ),
        "/renovation/survey",
    )
    for hid, area in (("hx1", "50.00"), ("hx2", "70.00")):
        await _publish(
            jetstream,
            HouseholdRegistered(
                household_id=f"{community_id}-{hid}",
                community_id=community_id,
                district_id="D9",
                street_id="S9",
                building_id="b1",
                building_code="1",
                floor_area_m2=Decimal(area),
                delivered_year=1996,
                maintenance_fund_established=False,
            ),
            "/renovation/survey",
        )
    await _publish(
        jetstream,
        HouseholdUpdated(
            household_id=f"{community_id}-hx2",
            community_id=community_id,
            district_id="D9",
            street_id="S9",
            building_id="b1",
            building_code="1",
            floor_area_m2=Decimal("71.50"),
            delivered_year=1996,
            maintenance_fund_established=False,
        ),
        "/renovation/survey",
    )
    await _publish(
        jetstream,
        ProjectCreated(
            project_id=f"p-{community_id}",
            community_id=community_id,
            district_id="D9",
            name="改造",
            package_codes=["water_pipe_renewal"],
        ),
        "/renovation/projects",
    )
    repair = RepairRequested(
        request_id=f"rr-{community_id}",
        alarm_id="a-1",
        community_id=community_id,
        building_id="b1",
        location="1号楼地下室",
        description="水管爆裂",
        requested_at=datetime.now(UTC),
    )
    await _publish(jetstream, repair, "/renovation/smart-community")
    await _publish(jetstream, repair, "/renovation/smart-community")  # a second event for the same request

    async def read(stmt):
        async with app.state.sessionmaker() as session:
            return (await session.execute(stmt)).all()

    async def applied():
        rows = await read(sa.select(emergency_repairs).where(emergency_repairs.c.community_id == community_id))
        area = await read(
            sa.select(households.c.floor_area_m2).where(households.c.household_id == f"{community_id}-hx2")
        )
        project = await read(sa.select(projects).where(projects.c.project_id == f"p-{community_id}"))
        return len(rows) == 1 and bool(area) and area[0][0] == Decimal("71.50") and bool(project)

    await eventually(applied, timeout_s=20)
    (row,) = await read(sa.select(emergency_repairs).where(emergency_repairs.c.community_id == community_id))
    assert row.origin == "alarm" and row.eligible and row.status == "requested" and row.building_ids == ["b1"]
    (community,) = await read(sa.select(communities).where(communities.c.community_id == community_id))
    assert community.delivered_year == 1996

    async def announced():
        return any(
            e["type"] == "finance.emergency_repair.requested.v1" and e["data"]["community_id"] == community_id
            for e in seen
        )

    await eventually(announced, timeout_s=10)
    await asyncio.sleep(0.5)
    requested = [
        e
        for e in seen
        if e["type"] == "finance.emergency_repair.requested.v1" and e["data"]["community_id"] == community_id
    ]
    assert len(requested) == 1 and requested[0]["data"]["origin"] == "alarm"
    await sub.unsubscribe()
