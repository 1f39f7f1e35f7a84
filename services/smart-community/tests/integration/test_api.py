"""Gateway batches, event queries with cursors, alarm lifecycle and dedup, water leak → repair request, parking,
and authorisation by role and scope (problem+json with stable codes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from renovation_common.testing.plugin import bearer
from smart_community.entrypoints.app import create_app

from .conftest import World, new_id, outbox_events, rows


@pytest.mark.integration
async def test_gateway_batch_queries_alarms_parking_and_scopes(service_client, jetstream, make_token):
    app, client = await service_client(create_app, "smart_community")
    world = World(jetstream, client, make_token)
    home = new_id("h")
    await world.register({home: {"needs_accompaniment": True}})
    leak = await world.device("water_leak_sensor", placement="building")
    gate = await world.device("access_gate", placement="community")
    lpr = await world.device("lpr_camera", placement="community")
    gateway = bearer(make_token("device_gateway", community_id=world.community))
    now = datetime.now(UTC)

    def ev(device: dict, kind_type: str, at: datetime, **readings) -> dict:
        return {"device_id": device["id"], "type": kind_type, "time": at.isoformat(), "readings": readings}

    batch = [
        ev(leak, "leak", now - timedelta(minutes=3), moisture=1),
        ev(leak, "leak", now - timedelta(minutes=2)),  # a repeat: same alarm, occurrences 2
        ev(gate, "pass", now - timedelta(minutes=1), household_id=home, direction="out", accompanied=False),
        ev(leak, "door_open", now),  # wrong type for the kind
        {"device_id": "no-such-device", "type": "heartbeat", "time": now.isoformat()},
        ev(lpr, "vehicle_entry", now),
        ev(lpr, "vehicle_entry", now),
        ev(lpr, "vehicle_exit", now),
        ev(leak, "heartbeat", now + timedelta(hours=1)),  # device clock in the future
    ]
    result = (await client.post("/v1/device-events/batch", json={"events": batch}, headers=gateway)).json()
    assert result["accepted"] == 6
    assert [r["index"] for r in result["rejected"]] == [3, 4, 8]
    assert "unknown device" in result["rejected"][1]["reason"]
    assert result["alarms_raised"] == 2
    assert len(await rows(app, "select id from device_rejects")) == 3

    # batch bounds and roles
    too_many = {"events": [ev(lpr, "heartbeat", now)] * 1001}
    response = await client.post("/v1/device-events/batch", json=too_many, headers=gateway)
    assert response.status_code == 422 and response.json()["code"] == "validation_error"
    response = await client.post("/v1/device-events/batch", json={"events": batch[:1]}, headers=world.token())
    assert response.status_code == 403 and response.json()["code"] == "role_not_allowed"
    other_gateway = bearer(make_token("device_gateway", community_id=new_id("c")))
    foreign = (await client.post("/v1/device-events/batch", json={"events": batch[:1]}, headers=other_gateway)).json()
    assert foreign["accepted"] == 0 and "outside the gateway's community" in foreign["rejected"][0]["reason"]

    # events of a device, by time range, with a cursor
    params = {
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": (now + timedelta(minutes=1)).isoformat(),
        "limit": 1,
    }
    first = (await client.get(f"/v1/devices/{leak['id']}/events", params=params, headers=world.token())).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = await client.get(
        f"/v1/devices/{leak['id']}/events", params={**params, "cursor": first["next_cursor"]}, headers=world.token()
    )
    assert [e["event_type"] for e in first["items"] + second.json()["items"]] == ["leak", "leak"]
    assert second.json()["next_cursor"] is None
    bad_range = {"from": now.isoformat(), "to": (now + timedelta(days=40)).isoformat()}
    response = await client.get(f"/v1/devices/{leak['id']}/events", params=bad_range, headers=world.token())
    assert response.status_code == 422 and response.json()["code"] == "invalid_range"

    # water leak in common parts: one alarm (repeat counted) and an emergency repair request for finance
    listed = (await client.get("/v1/alarms", params={"status": "open"}, headers=world.token())).json()["items"]
    by_type = {a["alarm_type"]: a for a in listed}
    assert by_type["water_leak"]["occurrences"] == 2 and by_type["water_leak"]["severity"] == "major"
    assert by_type["unaccompanied_exit"]["severity"] == "warning"
    assert by_type["unaccompanied_exit"]["household_id"] == home
    [repair] = await outbox_events(app, "smart_community.repair.requested.v1")
    assert repair["data"]["alarm_id"] == by_type["water_leak"]["id"]
    assert repair["data"]["building_id"] == world.building

    # lifecycle: acknowledge → clear, who and when; wrong steps are 409 with stable codes
    alarm_id = by_type["water_leak"]["id"]
    acked = await client.post(f"/v1/alarms/{alarm_id}/acknowledge", headers=world.token(sub="grid-worker-7"))
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "grid-worker-7"
    again = await client.post(f"/v1/alarms/{alarm_id}/acknowledge", headers=world.token())
    assert again.status_code == 409 and again.json()["code"] == "alarm_already_acknowledged"
    assert again.headers["content-type"].startswith("application/problem+json")
    cleared = (await client.post(f"/v1/alarms/{alarm_id}/clear", headers=world.token(sub="grid-worker-7"))).json()
    assert cleared["status"] == "cleared" and cleared["cleared_by"] == "grid-worker-7" and cleared["cleared_at"]
    assert (await client.post(f"/v1/alarms/{alarm_id}/clear", headers=world.token())).json()["code"] == "alarm_cleared"
    assert len(await outbox_events(app, "smart_community.alarm.acknowledged.v1")) == 1
    assert len(await outbox_events(app, "smart_community.alarm.cleared.v1")) == 1
    # after clearing, a new leak opens a new alarm
    await client.post(
        "/v1/device-events/batch", json={"events": [ev(leak, "leak", datetime.now(UTC))]}, headers=gateway
    )
    open_leaks = await rows(app, "select id from alarms where alarm_type = 'water_leak' and status = 'active'")
    assert len(open_leaks) == 1 and str(open_leaks[0].id) != alarm_id

    # scope: another community's worker sees nothing and may not act; a resident sees only their household
    stranger = bearer(make_token("community_worker", district_id=world.district, community_id=new_id("c")))
    assert (await client.get("/v1/alarms", headers=stranger)).json()["items"] == []
    response = await client.post(f"/v1/alarms/{by_type['unaccompanied_exit']['id']}/acknowledge", headers=stranger)
    assert response.status_code == 403 and response.json()["code"] == "out_of_scope"
    response = await client.get(f"/v1/devices/{leak['id']}", headers=stranger)
    assert response.status_code == 403
    resident = bearer(make_token("resident", household_id=home))
    mine = (await client.get("/v1/alarms", headers=resident)).json()["items"]
    assert [a["alarm_type"] for a in mine] == ["unaccompanied_exit"]
    response = await client.post(f"/v1/alarms/{mine[0]['id']}/clear", headers=resident)
    assert response.status_code == 403 and response.json()["code"] == "role_not_allowed"

    # parking occupancy from licence-plate events, against the capacity in the rule settings
    put = await client.put(
        f"/v1/communities/{world.community}/rule-settings", json={"parking_capacity": 40}, headers=world.token()
    )
    assert put.status_code == 200
    parking = (await client.get(f"/v1/communities/{world.community}/parking", headers=world.token())).json()
    assert (parking["occupied"], parking["capacity"], parking["available"]) == (1, 40, 39)
    assert (parking["entries"], parking["exits"]) == (2, 1)
    bad = await client.put(
        f"/v1/communities/{world.community}/rule-settings", json={"escalation_minutes": 0}, headers=world.token()
    )
    assert bad.status_code == 422
    unknown = await client.put(f"/v1/communities/{new_id('c')}/rule-settings", json={}, headers=world.token())
    assert unknown.status_code == 404 and unknown.json()["code"] == "community_unknown"


@pytest.mark.integration
async def test_device_registration_validation(service_client, jetstream, make_token):
    _, client = await service_client(create_app, "smart_community")
    world = World(jetstream, client, make_token)
    home = new_id("h")
    await world.register({home: {}})
    await world.device("door_sensor", household=home)
    cases = [
        ({"kind": "toaster", "placement": "community"}, 422, "validation_error"),
        ({"kind": "door_sensor", "placement": "household"}, 422, "invalid_placement"),
        ({"kind": "door_sensor", "placement": "household", "household_id": "h-unknown"}, 422, "household_unknown"),
        ({"kind": "camera", "placement": "community", "heartbeat_interval_s": 5}, 422, "validation_error"),
        ({"kind": "camera", "placement": "community", "label": "x" * 121}, 422, "validation_error"),
    ]
    for extra, status, code in cases:
        response = await client.post(
            "/v1/devices", json={"community_id": world.community, **extra}, headers=world.token()
        )
        assert (response.status_code, response.json()["code"]) == (status, code), extra
    response = await client.post(
        "/v1/devices", json={"community_id": world.community, "kind": "camera", "placement": "community"},
        headers=bearer(make_token("resident", household_id=home)),
    )  # fmt: skip
    assert response.status_code == 403
    response = await client.get("/v1/devices/nope", headers=world.token())
    assert response.status_code == 404 and response.json()["code"] == "device_not_found"
    response = await client.post("/v1/devices/nope/credentials")
    assert response.status_code == 401


@pytest.mark.integration
async def test_a_resent_gateway_batch_with_event_ids_is_stored_once(service_client, jetstream, make_token):
    """A gateway that timed out and resends its batch: events with its own ids are stored once per device and id."""
    app, client = await service_client(create_app, "smart_community")
    world = World(jetstream, client, make_token)
    home = new_id("h")
    await world.register({home: {}})
    door = await world.device("door_sensor", household=home)
    gateway = bearer(make_token("device_gateway", community_id=world.community))
    now = datetime.now(UTC)
    batch = [
        {
            "device_id": door["id"],
            "type": "door_open",
            "time": (now - timedelta(seconds=i)).isoformat(),
            "event_id": f"gw1-{i}",
        }
        for i in range(5)
    ] + [{"device_id": door["id"], "type": "heartbeat", "time": now.isoformat()}]  # no id: stored every time
    first = (await client.post("/v1/device-events/batch", json={"events": batch}, headers=gateway)).json()
    again = (await client.post("/v1/device-events/batch", json={"events": batch}, headers=gateway)).json()
    assert (first["accepted"], first["duplicates"]) == (6, 0)
    assert (again["accepted"], again["duplicates"]) == (1, 5)
    stored = await rows(app, "select client_event_id from device_events where device_id = :d", d=door["id"])
    assert sorted(r.client_event_id for r in stored if r.client_event_id) == [f"gw1-{i}" for i in range(5)]
    assert len(stored) == 7
