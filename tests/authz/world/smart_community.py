"""The smart-community service in the authorisation matrix: its rows and its seeded world."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from renovation_common.auth import Role

from . import HOME, Seeds, headers_for, ok

# fmt: off
MATRIX = """
service          operation                      res  cw  so  da con  qs  op gov  dg  fo
smart-community  healthz                          Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
smart-community  createSignedLink                 Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
smart-community  readyz                           Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
smart-community  metrics                          Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
smart-community  registerDevice                   .   Y   Y   Y   .   .   Y   .   .   .
smart-community  listDevices                      .   Y   Y   Y   .   .   Y   Y   Y   .
smart-community  getDevice                        .   Y   Y   Y   .   .   Y   Y   Y   .
smart-community  listDeviceRejects                .   Y   Y   Y   .   .   Y   .   .   .
smart-community  issueDeviceCredentials           .   Y   Y   Y   .   .   Y   .   .   .
smart-community  revokeDeviceCredentials          .   Y   Y   Y   .   .   Y   .   .   .
smart-community  listDeviceEvents                 .   Y   Y   Y   .   .   Y   Y   .   .
smart-community  ingestDeviceEventBatch           .   .   .   .   .   .   .   .   Y   .
smart-community  listAlarms                       Y   Y   Y   Y   .   .   Y   Y   .   .
smart-community  acknowledgeAlarm                 .   Y   Y   Y   .   .   Y   .   .   .
smart-community  clearAlarm                       .   Y   Y   Y   .   .   Y   .   .   .
smart-community  putRuleSettings                  .   Y   Y   Y   .   .   .   .   .   .
smart-community  getParking                       .   Y   Y   Y   .   .   Y   Y   .   .
"""
# fmt: on

# Settings of the app under test (besides COMMON_SETTINGS).
APP_SETTINGS: dict[str, Any] = {}


async def seed(app: Any, client: Any, make_token: Any) -> Seeds:
    from renovation_common.testing.plugin import eventually
    from smart_community.domain.model import HouseholdFlags
    from smart_community.entrypoints.broker_workers import RESPONDER_READY
    from smart_community.service_layer import read_model

    async def answering() -> bool:  # issueDeviceCredentials proves enforcement through this app's responder
        return bool(app.state.runtime.extras.get(RESPONDER_READY))

    await eventually(answering, timeout_s=30)

    district, street, cid, hid = HOME["district_id"], HOME["street_id"], HOME["community_id"], HOME["household_id"]
    runtime = app.state.runtime
    await read_model.apply_community(runtime.uow(), cid, district, street)
    await read_model.apply_household(
        runtime.uow(),
        HouseholdFlags(
            household_id=hid,
            community_id=cid,
            building_id="b-1",
            elderly_living_alone=False,
            needs_accompaniment=False,
        ),
        district,
        at=datetime.now(UTC),
    )
    admin = headers_for(make_token, Role.DISTRICT_ADMIN, HOME)
    device = ok(
        await client.post(
            "/v1/devices",
            json={"community_id": cid, "kind": "water_leak_sensor", "placement": "building", "building_id": "b-1"},
            headers=admin,
        ),
        "device",
    )
    gateway = headers_for(make_token, Role.DEVICE_GATEWAY, HOME)
    now = datetime.now(UTC) - timedelta(seconds=5)
    leak = {"device_id": device["id"], "type": "leak", "time": now.isoformat(), "readings": {}}
    ok(await client.post("/v1/device-events/batch", json={"events": [leak]}, headers=gateway), "leak")
    alarms = ok(await client.get("/v1/alarms", headers=admin), "alarms")
    assert alarms["items"], "the leak raised no alarm"
    return Seeds(
        home=HOME,
        params={"device_id": device["id"], "alarm_id": alarms["items"][0]["id"], "community_id": cid},
        bodies={"ingestDeviceEventBatch": {"events": [leak]}},
        queries={
            "listDeviceEvents": {
                "from": (now - timedelta(hours=1)).isoformat(),
                "to": (now + timedelta(hours=1)).isoformat(),
            }
        },
    )
