"""Lists of devices and of device rejects (issue 15.1): each within the caller's scope, with filters and a cursor; a
reject (once visible only as a metric) names its device, its reason and an escaped preview of what came in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from renovation_common.testing.plugin import all_pages, bearer
from smart_community.entrypoints.app import create_app

from .conftest import World, new_id


@pytest.mark.integration
async def test_devices_and_rejects_are_listed_in_scope(service_client, jetstream, make_token):
    _app, client = await service_client(create_app, "smart_community")
    home, away = World(jetstream, client, make_token), World(jetstream, client, make_token)
    for world in (home, away):
        await world.register({new_id("h"): {}})
    mine = [await home.device(kind, placement="community") for kind in ("access_gate", "lpr_camera", "access_gate")]
    theirs = await away.device("access_gate", placement="community")

    listed = await all_pages(client, "/v1/devices", home.token())
    assert sorted(d["id"] for d in listed) == sorted(d["id"] for d in mine)  # never the other community's
    gates = await all_pages(client, "/v1/devices", home.token(), kind="access_gate")
    assert {d["kind"] for d in gates} == {"access_gate"} and len(gates) == 2
    assert await all_pages(client, "/v1/devices", home.token(), offline="true") == []
    assert await all_pages(client, "/v1/devices", home.token(), community_id=away.community) == []
    district = bearer(make_token("district_admin", district_id=home.district))
    both = {d["id"] for d in await all_pages(client, "/v1/devices", district)}
    assert {d["id"] for d in mine} | {theirs["id"]} <= both
    assert {d["id"] for d in await all_pages(client, "/v1/devices", district, community_id=away.community)} == {
        theirs["id"]
    }
    other_district = bearer(make_token("district_admin", district_id="999999"))
    assert await all_pages(client, "/v1/devices", other_district) == []

    # rejects: a gateway batch with a poison event and a wrong type, for a device of each community
    now = datetime.now(UTC).isoformat()
    for world, device in ((home, mine[0]), (away, theirs)):
        gateway = bearer(make_token("device_gateway", community_id=world.community))
        batch = [
            {"device_id": device["id"], "type": "door_open", "time": now},  # not a gate's event type
            {"device_id": device["id"], "type": "pass", "time": now, "readings": {"note": "a\\u0000b"}},
        ]
        r = await client.post("/v1/device-events/batch", json={"events": batch}, headers=gateway)
        assert r.status_code == 200 and len(r.json()["rejected"]) >= 1, r.text
    rejects = await all_pages(client, "/v1/device-rejects", home.token())
    assert rejects and {r["device_id"] for r in rejects} == {mine[0]["id"]}
    assert all(r["community_id"] == home.community and r["reason"] and r["source"] for r in rejects)
    assert all(r["payload_preview"].isascii() for r in rejects)
    ids = [r["id"] for r in rejects]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert {r["device_id"] for r in await all_pages(client, "/v1/device-rejects", district)} >= {
        mine[0]["id"],
        theirs["id"],
    }
    resident = bearer(make_token("resident", district_id=home.district, community_id=home.community, household_id="h"))
    assert (await client.get("/v1/device-rejects", headers=resident)).status_code == 403
    bad = await client.get("/v1/devices", headers=home.token(), params={"cursor": "bm90LWpzb24"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"
