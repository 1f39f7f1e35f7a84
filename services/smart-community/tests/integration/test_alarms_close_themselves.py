"""Alarms that close themselves (issue 16 point 6), on real Postgres and NATS with an injected clock: a sensor
reporting normal for its kind's quiet time clears its alarm (``cleared_by = auto:normal_for_<s>s``), a repeat in
between starts the quiet time over, a kind set to 0 waits for a person; a device back from offline publishes
``device.online`` once and its offline alarm clears (``auto:device_online``); every step is in the audit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from renovation_common.testing.plugin import bearer, eventually, running_app
from smart_community.entrypoints.app import create_app

from .conftest import World, new_id, outbox_events, rows, until_events


async def send(world: World, device: dict, kind_type: str, at: datetime) -> None:
    token = bearer(world.make_token("device_gateway", community_id=world.community))
    events = [{"device_id": device["id"], "type": kind_type, "time": at.isoformat()}]
    response = await world.client.post("/v1/device-events/batch", json={"events": events}, headers=token)
    assert response.status_code == 200 and response.json()["accepted"] == 1, response.text


async def alarm_of(app, device: dict, alarm_type: str):
    [alarm] = await rows(
        app,
        "select id, status, cleared_by, normal_since from alarms where device_id = :d and alarm_type = :t",
        d=device["id"],
        t=alarm_type,
    )
    return alarm


async def transitions(app, alarm_id) -> list[tuple[str, str, str]]:
    found = await rows(
        app, "select from_status, to_status, by from alarm_transitions where alarm_id = :a order by id", a=alarm_id
    )
    return [(t.from_status, t.to_status, t.by) for t in found]


@pytest.mark.integration
async def test_sensor_alarms_clear_after_their_quiet_time_per_kind(service_client, jetstream, make_token, clock):
    app, client = await service_client(create_app, "smart_community", clock=clock, scan_interval_s=0.05)
    world = World(jetstream, client, make_token)
    home = new_id("h")
    await world.register({home: {}})
    gas = await world.device("gas_detector", household=home)
    smoke = await world.device("smoke_alarm", household=home)
    leak = await world.device("water_leak_sensor", household=home)
    put = await client.put(
        f"/v1/communities/{world.community}/rule-settings",
        json={"gas_auto_clear_s": 120, "smoke_auto_clear_s": 0, "water_leak_auto_clear_s": 60},
        headers=world.token(),
    )
    assert put.status_code == 200, put.text
    # an event's time is the device's, capped at its (real) receipt: the story starts 5 minutes ago, so every device
    # time below is in the real past; the service's clock follows the story
    t0 = clock.now = datetime.now(UTC) - timedelta(minutes=5)
    for device, alarm in ((gas, "alarm"), (smoke, "alarm"), (leak, "leak")):
        await send(world, device, alarm, t0)
    gas_alarm = await alarm_of(app, gas, "gas")
    leak_alarm = await alarm_of(app, leak, "water_leak")
    # a person takes charge of the leak: an acknowledged alarm clears itself too
    ack = await client.post(f"/v1/alarms/{leak_alarm.id}/acknowledge", headers=world.token(sub="grid-worker-3"))
    assert ack.status_code == 200, ack.text

    clock.advance(seconds=10)
    for device, normal in ((gas, "clear"), (smoke, "clear"), (leak, "dry")):
        await send(world, device, normal, clock.now)
    assert (await alarm_of(app, gas, "gas")).normal_since == t0 + timedelta(seconds=10)

    # the gas detector alarms again before its 120 s are up: the quiet time starts over at its next "clear"
    clock.advance(seconds=100)
    await send(world, gas, "alarm", clock.now)
    assert (await alarm_of(app, gas, "gas")).normal_since is None
    clock.advance(seconds=30)  # 140 s after the first "clear": it would have cleared without the repeat
    await asyncio.sleep(0.3)  # several scans
    assert (await alarm_of(app, gas, "gas")).status == "active"
    cleared_again = clock.now
    await send(world, gas, "clear", cleared_again)

    async def leak_cleared() -> bool:
        return (await alarm_of(app, leak, "water_leak")).status == "cleared"

    await eventually(leak_cleared)  # 60 s after its "dry" (the clock is 130 s past it)
    assert (await alarm_of(app, leak, "water_leak")).cleared_by == "auto:normal_for_60s"
    assert await transitions(app, leak_alarm.id) == [
        ("active", "acknowledged", "grid-worker-3"),
        ("acknowledged", "cleared", "auto:normal_for_60s"),
    ]

    clock.now = cleared_again + timedelta(seconds=119)
    await asyncio.sleep(0.3)
    assert (await alarm_of(app, gas, "gas")).status == "active"
    clock.now = cleared_again + timedelta(seconds=120)

    async def gas_cleared() -> bool:
        return (await alarm_of(app, gas, "gas")).status == "cleared"

    await eventually(gas_cleared)
    after = await alarm_of(app, gas, "gas")
    assert after.cleared_by == "auto:normal_for_120s" and after.normal_since is None
    assert await transitions(app, gas_alarm.id) == [("active", "cleared", "auto:normal_for_120s")]
    [event] = [
        e
        for e in await outbox_events(app, "smart_community.alarm.cleared.v1")
        if e["data"]["alarm_id"] == str(gas_alarm.id)
    ]
    assert event["data"]["cleared_by"] == "auto:normal_for_120s"
    listed = await client.get(f"/v1/alarms?community_id={world.community}&alarm_type=gas", headers=world.token())
    assert listed.json()["items"][0]["cleared_by"] == "auto:normal_for_120s"

    # smoke set to 0: only a person clears it, however long the detector reports normal
    clock.advance(seconds=200)
    await asyncio.sleep(0.3)
    smoke_alarm = await alarm_of(app, smoke, "smoke")
    assert smoke_alarm.status == "active" and smoke_alarm.normal_since == t0 + timedelta(seconds=10)
    cleared = await client.post(f"/v1/alarms/{smoke_alarm.id}/clear", headers=world.token(sub="grid-worker-3"))
    assert cleared.status_code == 200 and cleared.json()["cleared_by"] == "grid-worker-3"
    again = await client.post(f"/v1/alarms/{smoke_alarm.id}/clear", headers=world.token(sub="grid-worker-3"))
    assert again.status_code == 409 and again.json()["code"] == "alarm_cleared"
    assert await transitions(app, smoke_alarm.id) == [("active", "cleared", "grid-worker-3")]


@pytest.mark.integration
async def test_device_back_from_offline_is_announced_once_and_its_offline_alarm_clears(
    service_client, jetstream, make_token, clock
):
    app, client = await service_client(create_app, "smart_community", clock=clock, scan_interval_s=0.05)
    world = World(jetstream, client, make_token)
    home = new_id("h")
    await world.register({home: {}})
    door = await world.device("door_sensor", household=home, heartbeat_interval_s=60)
    put = await client.put(
        f"/v1/communities/{world.community}/rule-settings", json={"offline_grace_factor": 1.0}, headers=world.token()
    )
    assert put.status_code == 200, put.text
    # last seen = device time capped at its real receipt: the service's clock stays behind the wall so that the
    # device times it reports are the ones stored
    clock.now = datetime.now(UTC) - timedelta(minutes=5)
    await send(world, door, "heartbeat", clock.now)
    clock.advance(seconds=61)
    await until_events(app, "smart_community.device.offline.v1", 1)
    alarm = await alarm_of(app, door, "offline")
    assert alarm.status == "active"

    # heard again: online once (a second event of the same device changes nothing), its offline alarm cleared
    await send(world, door, "heartbeat", clock.now)
    await send(world, door, "door_open", clock.now)
    [online] = await outbox_events(app, "smart_community.device.online.v1")
    assert online["data"]["device_id"] == door["id"] and online["data"]["kind"] == "door_sensor"
    assert online["data"]["community_id"] == world.community
    assert (await client.get(f"/v1/devices/{door['id']}", headers=world.token())).json()["offline"] is False
    after = await alarm_of(app, door, "offline")
    assert after.status == "cleared" and after.cleared_by == "auto:device_online"
    assert await transitions(app, alarm.id) == [("active", "cleared", "auto:device_online")]

    # silent again: a second offline/online pair (the first offline alarm is closed, a new one opens)
    clock.advance(seconds=61)
    assert len(await until_events(app, "smart_community.device.offline.v1", 2)) == 2
    await send(world, door, "heartbeat", clock.now)
    assert len(await outbox_events(app, "smart_community.device.online.v1")) == 2
    statuses = await rows(
        app, "select status from alarms where device_id = :d and alarm_type = 'offline'", d=door["id"]
    )
    assert sorted(s.status for s in statuses) == ["cleared", "cleared"]


@pytest.mark.integration
async def test_two_replicas_announce_a_silent_device_once(database_factory, stack, jetstream, make_token, clock):
    url = await database_factory("smart_community")

    def replica():
        return create_app(database_url=url, nats_url=stack.nats_url, log_json=False, clock=clock, scan_interval_s=0.05)

    first, second = replica(), replica()
    async with running_app(first) as client, running_app(second):
        world = World(jetstream, client, make_token)
        home = new_id("h")
        await world.register({home: {}})
        devices = [await world.device("gas_detector", household=home, heartbeat_interval_s=60) for _ in range(5)]
        clock.now = datetime.now(UTC)
        for device in devices:
            await send(world, device, "heartbeat", clock.now)
        clock.advance(seconds=91)  # past 60 s × the default grace 1.5
        await until_events(first, "smart_community.device.offline.v1", len(devices))
        await asyncio.sleep(0.3)  # both replicas keep scanning
        offline = await outbox_events(first, "smart_community.device.offline.v1")
        assert sorted(e["data"]["device_id"] for e in offline) == sorted(d["id"] for d in devices)
        alarms = await rows(first, "select device_id from alarms where alarm_type = 'offline'")
        assert len(alarms) == len(devices)
