"""An unacknowledged critical alarm escalates, and the escalation reaches a street office's webhook: the webhooks
service (real, in this process) delivers ``smart_community.alarm.escalated.v1`` to a subscription filtered to the
community, signed, to a receiver that verifies it with ``standardwebhooks``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from renovation_common.testing.plugin import bearer, eventually
from renovation_common.testing.receiver import WebhookReceiver
from smart_community.entrypoints.app import create_app

from .conftest import World, new_id


@pytest.mark.integration
async def test_escalation_reaches_the_street_offices_webhook(service_client, jetstream, make_token, clock):
    from webhooks.entrypoints.app import create_app as webhooks_app

    _, client = await service_client(create_app, "smart_community", clock=clock, scan_interval_s=0.05)
    _, hooks = await service_client(
        webhooks_app, "webhooks", allowed_target_networks=["127.0.0.0/8"], dispatcher_poll_interval_s=0.2
    )
    world = World(jetstream, client, make_token)
    home = new_id("h")
    await world.register({home: {"elderly_living_alone": True}})
    smoke = await world.device("smoke_alarm", household=home)
    put = await client.put(
        f"/v1/communities/{world.community}/rule-settings", json={"escalation_minutes": 5}, headers=world.token()
    )
    assert put.status_code == 200, put.text

    async with WebhookReceiver() as receiver:
        # the street office's system subscribes to escalations in its community (accepted once webhooks has learnt
        # where the community lies from survey.community.registered.v1)
        office = bearer(make_token("gov_system", sub="street-office-system", district_id=world.district))
        created: dict[str, Any] = {}

        async def subscribed() -> bool:
            r = await hooks.post(
                "/v1/subscriptions",
                headers=office,
                json={
                    "url": f"http://127.0.0.1:{receiver.port}/escalations",
                    "event_types": ["smart_community.alarm.escalated.v1"],
                    "community_id": world.community,
                },
            )
            if r.status_code == 201:
                created.update(r.json())
            return r.status_code == 201

        await eventually(subscribed, timeout_s=20)
        receiver.secret = created["secret"]

        clock.now = datetime.now(UTC)
        gateway = bearer(make_token("device_gateway", community_id=world.community))
        events = [{"device_id": smoke["id"], "type": "alarm", "time": clock.now.isoformat()}]
        r = await client.post("/v1/device-events/batch", json={"events": events}, headers=gateway)
        assert r.status_code == 200 and r.json()["alarms_raised"] == 1, r.text
        clock.advance(minutes=5, seconds=1)

        async def delivered() -> bool:
            return any(e["type"] == "smart_community.alarm.escalated.v1" for e in receiver.events())

        await eventually(delivered, timeout_s=30)
    [escalated] = receiver.events()
    assert escalated["data"]["community_id"] == world.community and escalated["data"]["street_id"] == world.street
    assert escalated["data"]["level"] == 1 and escalated["data"]["severity"] == "critical"
    assert escalated["data"]["alarm_type"] == "smoke"
    assert datetime.fromisoformat(escalated["data"]["escalated_at"]) == clock.now  # the scanner's (injected) clock
