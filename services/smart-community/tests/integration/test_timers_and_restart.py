"""Persisted deadlines with an injected clock: a restart in the middle of the 24 h window keeps the timer and the
welfare-check alarm fires once; silent devices go offline; unacknowledged critical alarms escalate."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from renovation_common.contracts.survey import HouseholdUpdated
from renovation_common.testing.plugin import bearer, eventually, running_app
from smart_community.entrypoints.app import create_app

from .conftest import FakeClock, World, new_id, outbox_events, publish, rows, until_events


async def gateway_post(client, world: World, events: list[dict]) -> dict:
    token = bearer(world.make_token("device_gateway", community_id=world.community))
    response = await client.post("/v1/device-events/batch", json={"events": events}, headers=token)
    assert response.status_code == 200, response.text
    return response.json()


async def welfare_alarms(app, household: str) -> list:
    return await rows(
        app, "select id, status, occurrences from alarms where alarm_type = 'welfare_check' and household_id = :h",
        h=household,
    )  # fmt: skip


@pytest.mark.integration
async def test_restart_in_the_middle_of_the_window_keeps_the_timer_and_fires_once(
    database_factory, stack, jetstream, make_token
):
    clock = FakeClock()
    url = await database_factory("smart_community")

    def app_factory():
        return create_app(database_url=url, nats_url=stack.nats_url, log_json=False, clock=clock, scan_interval_s=0.05)

    home = new_id("h")
    app = app_factory()
    async with running_app(app) as client:
        world = World(jetstream, client, make_token)
        await world.register({home: {"elderly_living_alone": True}})
        door = await world.device("door_sensor", household=home)
        t0 = clock.now = datetime.now(UTC)  # after the registration (which armed a first deadline)
        result = await gateway_post(
            client, world, [{"device_id": door["id"], "type": "door_open", "time": t0.isoformat()}]
        )
        assert result["accepted"] == 1
        # heartbeats keep coming but do not move the deadline (keyed on door-open events only)
        clock.advance(hours=6)
        await gateway_post(
            client, world, [{"device_id": door["id"], "type": "heartbeat", "time": clock.now.isoformat()}]
        )
        [timer] = await rows(app, "select due_at, fired_at from welfare_timers where household_id = :h", h=home)
        assert timer.due_at == t0 + timedelta(hours=24) and timer.fired_at is None

    # the service is down for a while; it comes back 12 h into the window
    clock.now = t0 + timedelta(hours=12)
    app = app_factory()
    async with running_app(app):
        await asyncio.sleep(0.3)  # several scans
        assert await welfare_alarms(app, home) == []
    clock.now = t0 + timedelta(hours=24) - timedelta(seconds=1)
    app = app_factory()
    async with running_app(app):
        await asyncio.sleep(0.3)
        assert await welfare_alarms(app, home) == []
        clock.now = t0 + timedelta(hours=24, seconds=1)

        async def fired() -> bool:
            return len(await welfare_alarms(app, home)) == 1

        await eventually(fired, timeout_s=10)
        await asyncio.sleep(0.3)  # more scans, and a second app below: still one alarm, one event

    app = app_factory()
    async with running_app(app):
        clock.advance(hours=1)
        await asyncio.sleep(0.3)
        [alarm] = await welfare_alarms(app, home)
        assert alarm.status == "active" and alarm.occurrences == 1
        raised = [
            e
            for e in await outbox_events(app, "smart_community.alarm.raised.v1")
            if e["data"]["household_id"] == home and e["data"]["alarm_type"] == "welfare_check"
        ]
        assert len(raised) == 1
        assert raised[0]["data"]["raised_at"].startswith((t0 + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%S"))


@pytest.mark.integration
async def test_door_opening_rearms_and_a_household_that_is_no_longer_alone_has_no_timer(
    service_client, jetstream, make_token, clock
):
    app, client = await service_client(create_app, "smart_community", clock=clock, scan_interval_s=0.05)
    world = World(jetstream, client, make_token)
    home = new_id("h")
    await world.register({home: {"elderly_living_alone": True}})
    door = await world.device("door_sensor", household=home)
    now = clock.now = datetime.now(UTC)
    put = await world.client.put(
        f"/v1/communities/{world.community}/rule-settings", json={"welfare_check_hours": 2}, headers=world.token()
    )
    assert put.status_code == 200, put.text
    opened = [now - timedelta(hours=3), now - timedelta(hours=1)]
    # a later door opening sets the deadline; an older one arriving late does not move it back (the older one is
    # not sent first: its deadline would already have passed and the scanner may fire before the newer one lands)
    await gateway_post(client, world, [{"device_id": door["id"], "type": "door_open", "time": opened[1].isoformat()}])
    await gateway_post(client, world, [{"device_id": door["id"], "type": "door_open", "time": opened[0].isoformat()}])
    [timer] = await rows(app, "select due_at from welfare_timers where household_id = :h", h=home)
    assert timer.due_at == opened[1] + timedelta(hours=2)
    clock.advance(minutes=30)
    await asyncio.sleep(0.3)
    assert await welfare_alarms(app, home) == []

    await publish(
        jetstream,
        HouseholdUpdated(
            household_id=home, community_id=world.community, district_id=world.district, street_id=world.street,
            building_id=world.building, building_code="1", floor_area_m2=Decimal("56.2"),
            maintenance_fund_established=True, elderly_living_alone=False,
        ),
        home,
    )  # fmt: skip

    async def dropped() -> bool:
        return await rows(app, "select 1 from welfare_timers where household_id = :h", h=home) == []

    await eventually(dropped)
    clock.advance(hours=5)
    await asyncio.sleep(0.3)
    assert await welfare_alarms(app, home) == []


@pytest.mark.integration
async def test_silent_device_goes_offline_and_critical_alarm_escalates(service_client, jetstream, make_token, clock):
    app, client = await service_client(create_app, "smart_community", clock=clock, scan_interval_s=0.05)
    world = World(jetstream, client, make_token)
    home = new_id("h")
    await world.register({home: {"elderly_living_alone": True}})
    # registering the device waits until the survey events reached the read model (the community is known)
    smoke = await world.device("smoke_alarm", household=home, heartbeat_interval_s=60)
    put = await client.put(
        f"/v1/communities/{world.community}/rule-settings",
        json={"escalation_minutes": 5, "max_escalation_level": 2, "offline_grace_factor": 1.0},
        headers=world.token(),
    )
    assert put.status_code == 200, put.text

    # offline: silent for more than 60 s × 1.0
    clock.now = datetime.now(UTC)  # device clocks are checked against the real receiving clock
    await gateway_post(client, world, [{"device_id": smoke["id"], "type": "heartbeat", "time": clock.now.isoformat()}])
    clock.advance(seconds=60)
    await asyncio.sleep(0.3)
    assert (await client.get(f"/v1/devices/{smoke['id']}", headers=world.token())).json()["offline"] is False
    clock.advance(seconds=2)

    async def offline() -> bool:
        return (await client.get(f"/v1/devices/{smoke['id']}", headers=world.token())).json()["offline"] is True

    await eventually(offline)
    [went_offline] = await outbox_events(app, "smart_community.device.offline.v1")
    assert went_offline["data"]["device_id"] == smoke["id"] and went_offline["data"]["kind"] == "smoke_alarm"

    # the smoke alarm at an elderly resident's home: critical, escalated every 5 min until acknowledged (max 2)
    await gateway_post(client, world, [{"device_id": smoke["id"], "type": "alarm", "time": clock.now.isoformat()}])
    assert (await client.get(f"/v1/devices/{smoke['id']}", headers=world.token())).json()["offline"] is False
    clock.advance(minutes=5)

    await until_events(app, "smart_community.alarm.escalated.v1", 1)
    clock.advance(minutes=5)
    await until_events(app, "smart_community.alarm.escalated.v1", 2)
    clock.advance(minutes=30)
    await asyncio.sleep(0.3)
    events = await outbox_events(app, "smart_community.alarm.escalated.v1")
    assert [e["data"]["level"] for e in events] == [1, 2]
    assert all(e["data"]["severity"] == "critical" for e in events)
    # street offices subscribe to escalations of their street (webhooks: smart_community.alarm.escalated.v1)
    assert all(e["data"]["street_id"] == world.street and e["data"]["alarm_type"] == "smoke" for e in events)
