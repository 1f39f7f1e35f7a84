"""A real MQTT client publishes through NATS's MQTT listener; the alarm event comes out on JetStream.

The broker is configured from deploy/nats/auth.conf: MQTT over TLS (the test stack's throwaway CA), every device
logs in as itself through the auth callout this service answers. Also: a device publishing to another device's
topic is refused by the broker, and a malformed payload is kept as a reject without stopping the ingestor.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiomqtt
import pytest
from nats.js.errors import NotFoundError

from renovation_common.testing.plugin import eventually
from smart_community.entrypoints.app import create_app

from .conftest import World, new_id, rows


def mqtt_client(username: str | None = None, password: str | None = None, **kw: object) -> aiomqtt.Client:
    """An MQTT client of the test broker's TLS listener, verifying its certificate against the stack's CA."""
    url = urlsplit(os.environ["MQTT_URL"])
    tls = ssl.create_default_context(cafile=os.environ["MQTT_CA_FILE"])
    return aiomqtt.Client(
        url.hostname or "127.0.0.1", url.port or 8883, username=username, password=password, tls_context=tls, **kw
    )


async def mqtt_publish(username: str, password: str, topic: str, payload: bytes, *, attempts: int = 3) -> None:
    """Connect with the device's credentials (client id = device id) and publish QoS 1."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            async with mqtt_client(username, password, identifier=username) as client:
                await client.publish(topic, payload, qos=1)
                return
        except aiomqtt.MqttError as exc:
            last = exc
            await asyncio.sleep(0.25)
    raise AssertionError(f"could not publish over MQTT: {last!r}")


def latency_count(metrics: str, severity: str) -> float:
    """The sample count of ``smart_community_alarm_latency_seconds`` for a severity in a /metrics text (0 if none)."""
    prefix = f'smart_community_alarm_latency_seconds_count{{severity="{severity}"}} '
    return next((float(line[len(prefix) :]) for line in metrics.splitlines() if line.startswith(prefix)), 0.0)


def payload(kind_type: str, **readings: object) -> bytes:
    return json.dumps({"type": kind_type, "time": datetime.now(UTC).isoformat(), "readings": readings}).encode()


@pytest.mark.integration
async def test_mqtt_gas_alarm_becomes_a_critical_alarm_event(service_client, jetstream, nats_client, make_token):
    app, client = await service_client(create_app, "smart_community")
    world = World(jetstream, client, make_token)
    home, other_home = new_id("h"), new_id("h")
    await world.register({home: {"elderly_living_alone": True}, other_home: {}})
    gas = await world.device("gas_detector", household=home)
    neighbour = await world.device("gas_detector", household=other_home)

    creds = await client.post(f"/v1/devices/{gas['id']}/credentials", headers=world.token())
    assert creds.status_code == 201, creds.text
    body = creds.json()
    assert body["mqtt_client_id"] == gas["id"] == body["username"]
    assert body["publish_subjects"] == [f"devices.{world.community}.{gas['id']}.>"]
    stored = await rows(app, "select credential_hash from devices where id = :i", i=gas["id"])
    assert stored[0].credential_hash.startswith("$2") and body["password"] not in stored[0].credential_hash

    critical_before = latency_count((await client.get("/metrics")).text, "critical")
    raised: list[dict] = []

    async def on_raised(msg) -> None:
        raised.append(json.loads(msg.data))

    sub = await nats_client.subscribe("renovation.smart_community.alarm.raised.v1", cb=on_raised)
    try:
        # own topic: accepted; the neighbour's topic: refused by the broker (publish permission violation)
        await mqtt_publish(
            body["username"],
            body["password"],
            f"devices/{world.community}/{neighbour['id']}/gas_detector",
            payload("alarm"),
        )
        await mqtt_publish(body["username"], body["password"], body["mqtt_topic"], b"{malformed")
        await mqtt_publish(body["username"], body["password"], body["mqtt_topic"], payload("alarm", lel_percent=25))

        async def alarm_out() -> bool:
            return any(e["data"].get("device_id") == gas["id"] for e in raised)

        await eventually(alarm_out, timeout_s=20)
    finally:
        await sub.unsubscribe()
    event = next(e for e in raised if e["data"]["device_id"] == gas["id"])
    assert event["data"]["severity"] == "critical"
    assert event["data"]["alarm_type"] == "gas"
    assert event["data"]["household_id"] == home

    # the refused message never reached the DEVICES stream nor the database
    with pytest.raises(NotFoundError):
        await jetstream.get_last_msg("DEVICES", f"devices.{world.community}.{neighbour['id']}.gas_detector")
    assert await rows(app, "select id from device_events where device_id = :i", i=neighbour["id"]) == []
    assert await rows(app, "select id from alarms where device_id = :i", i=neighbour["id"]) == []

    # the malformed payload is a reject with its reason; the ingestor went on to the valid event behind it
    rejects = await rows(app, "select reason, device_id from device_rejects where device_id = :i", i=gas["id"])
    assert [r.reason for r in rejects] == ["payload is not UTF-8 JSON"]
    stored_events = await rows(app, "select event_type, source from device_events where device_id = :i", i=gas["id"])
    assert [(e.event_type, e.source) for e in stored_events] == [("alarm", "mqtt")]
    metrics = (await client.get("/metrics")).text
    assert 'smart_community_device_events_total{outcome="rejected",source="mqtt"}' in metrics
    # the alarm's latency (stream arrival -> alarm committed with alarm.raised in the outbox) was observed once
    # (``>=``: the registry is the process's, other tests of this process may raise critical alarms too)
    assert latency_count(metrics, "critical") >= critical_before + 1
    assert 'smart_community_alarm_latency_seconds_bucket{le="300.0",severity="critical"}' in metrics


@pytest.mark.integration
async def test_wrong_password_and_unauthenticated_mqtt_clients_are_refused(service_client, jetstream, make_token):
    _, client = await service_client(create_app, "smart_community")
    world = World(jetstream, client, make_token)
    home = new_id("h")
    await world.register({home: {}})
    door = await world.device("door_sensor", household=home)
    creds = (await client.post(f"/v1/devices/{door['id']}/credentials", headers=world.token())).json()
    with pytest.raises(AssertionError):
        await mqtt_publish(creds["username"], "not-the-password", creds["mqtt_topic"], payload("door_open"), attempts=2)
    with pytest.raises(aiomqtt.MqttError):
        async with mqtt_client() as anonymous:
            await anonymous.publish(creds["mqtt_topic"], payload("door_open"), qos=1)
