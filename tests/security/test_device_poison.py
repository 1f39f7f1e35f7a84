"""Issue 12, point 3: one bad message never holds up the others.

10,000 poison messages (NUL bytes raw and escaped, lone surrogates, non-UTF-8, oversized, deeply nested, NUL in the
event type, a wrong kind in the topic, unknown devices) are interleaved on the DEVICES stream with gas alarms from
elderly residents' homes and ordinary telemetry. Every alarm is raised, every good event stored exactly once, and
every poison message ends as a reject with its reason (the device ingestion's dead-letter store) — none is lost,
none stalls the consumers.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from renovation_common.testing import bearer, eventually
from smart_community.domain.model import HouseholdFlags
from smart_community.entrypoints.app import create_app
from smart_community.service_layer import read_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POISON = 10_000
ALARM_HOMES = 60
TELEMETRY_DEVICES = 20
TELEMETRY_EACH = 50


def poison_payloads(when: str) -> list[bytes]:
    ok = {"type": "alarm", "time": when, "readings": {}}
    nested = "[" * 5000 + "]" * 5000
    return [
        json.dumps({**ok, "readings": {"note": "a"}}).encode().replace(b'"a"', b'"a\x00b"'),  # a raw NUL byte
        json.dumps({**ok, "readings": {"note": "a\u0000b"}}).encode(),  # an escaped NUL
        b'{"type": "alarm", "time": "' + when.encode() + b'", "readings": {"note": "\\ud800"}}',  # lone surrogate
        b'{"type": "alarm", "time": "' + when.encode() + b'", "readings": {"\\udc80": 1}}',  # surrogate as a key
        b"\xff\xfe" + json.dumps(ok).encode(),  # not UTF-8
        json.dumps({**ok, "readings": {"blob": "x" * 20_000}}).encode(),  # oversized
        ('{"type": "alarm", "time": "' + when + '", "readings": ' + nested + "}").encode(),  # nested 5,000 deep
        json.dumps({**ok, "type": "al\u0000arm"}).encode(),  # NUL in the type
        json.dumps({**ok, "time": "2026-12-02T10:00:00\u0000+08:00"}).encode(),  # NUL in the time
        b"\x00" * 64,
    ]


async def test_ten_thousand_poison_messages_hold_up_no_alarm_and_no_event(service_client, jetstream, make_token):
    app, client = await service_client(create_app, "smart_community", ingest_batch_size=500, scan_interval_s=3600)
    district, street, community = "510105", "51010501", f"c-{uuid.uuid4().hex[:8]}"
    homes = [f"h-{uuid.uuid4().hex[:8]}" for _ in range(ALARM_HOMES)]
    runtime = app.state.runtime
    await read_model.apply_community(runtime.uow(), community, district, street)
    for home in homes:
        await read_model.apply_household(
            runtime.uow(),
            HouseholdFlags(home, community, "b-1", elderly_living_alone=True, needs_accompaniment=False),
            district,
            at=datetime.now(UTC),
        )
    admin = bearer(make_token("district_admin", district_id=district))

    async def register(body: dict) -> dict:
        r = await client.post("/v1/devices", json={"community_id": community, **body}, headers=admin)
        assert r.status_code == 201, r.text
        return r.json()

    detectors = [await register({"kind": "gas_detector", "placement": "household", "household_id": h}) for h in homes]
    cameras = [
        await register({"kind": "camera", "placement": "building", "building_id": "b-1"})
        for _ in range(TELEMETRY_DEVICES)
    ]

    when = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    good_alarm = json.dumps({"type": "alarm", "time": when, "readings": {"ppm": 900}}).encode()
    telemetry = json.dumps({"type": "motion", "time": when, "readings": {"zone": 1}}).encode()
    bad = poison_payloads(when)
    messages: list[tuple[str, bytes, str]] = []  # subject, payload, what
    for d in detectors:
        messages.append((d["topic"].replace("/", "."), good_alarm, "alarm"))
    for c in cameras:
        messages += [(c["topic"].replace("/", "."), telemetry, "telemetry")] * TELEMETRY_EACH
    rng = random.Random(12)
    targets = [d["topic"].replace("/", ".") for d in detectors] + [c["topic"].replace("/", ".") for c in cameras]
    for n in range(POISON):
        kind = n % (len(bad) + 2)
        if kind == len(bad):  # a gas detector's message on a camera topic
            subject = f"devices.{community}.{detectors[n % ALARM_HOMES]['id']}.camera"
            messages.append((subject, good_alarm, "poison"))
        elif kind == len(bad) + 1:  # a device nobody registered
            messages.append((f"devices.{community}.ghost-{n}.gas_detector", good_alarm, "poison"))
        else:
            messages.append((rng.choice(targets), bad[kind], "poison"))
    rng.shuffle(messages)

    await app.state.runtime.messaging_ready.wait()  # the DEVICES stream exists
    for subject, payload, _ in messages:
        await jetstream.publish_async(subject, payload)
    await jetstream.publish_async_completed()

    good = sum(1 for _, _, what in messages if what != "poison")

    async def counts() -> tuple[int, int, int, int]:
        async with app.state.sessionmaker() as s:
            stored = await s.scalar(
                sa.text("select count(*) from device_events where community_id = :c"), {"c": community}
            )
            distinct = await s.scalar(
                sa.text("select count(distinct stream_seq) from device_events where community_id = :c"),
                {"c": community},
            )
            rejected = await s.scalar(sa.text("select count(*) from device_rejects where source = 'mqtt'"))
            dead = await s.scalar(sa.text("select count(*) from dead_letters where consumer like 'device-%'"))
            return int(stored), int(distinct), int(rejected), int(dead)

    async def settled() -> bool:
        stored, _, rejected, dead = await counts()
        return stored == good and rejected + dead == POISON

    try:
        await eventually(settled, timeout_s=240, interval_s=1)
    finally:
        print("stored, distinct, rejected, dead letters:", await counts(), "of", good, "good and", POISON, "poison")
    stored, distinct, rejected, dead = await counts()
    assert stored == distinct == good  # each good event once
    assert rejected + dead == POISON
    async with app.state.sessionmaker() as s:
        alarms = (
            await s.execute(
                sa.text(
                    "select household_id, severity, occurrences from alarms"
                    " where community_id = :c and alarm_type = 'gas'"
                ),
                {"c": community},
            )
        ).all()
        reasons = set(
            (await s.scalars(sa.text("select distinct split_part(reason, ' ', 1) from device_rejects"))).all()
        )
    assert sorted(a.household_id for a in alarms) == sorted(homes)  # every alarm raised
    assert {a.severity for a in alarms} == {"critical"} and all(a.occurrences == 1 for a in alarms)
    assert len(reasons) >= 5  # the rejects say why, not one catch-all
