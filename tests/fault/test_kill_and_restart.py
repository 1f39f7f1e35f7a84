"""Fault tests: with two replicas of every service (the ``system`` fixture), one replica of every service is killed
with SIGKILL in turn, then every replica of survey at once, then NATS and then Postgres are restarted, all while a
load of more than 20,000 events runs through the event paths. Afterwards every count reconciles exactly.

The load (community "FC" in district "fault-d"):

* survey: 10,000 households in 20 JSON batches of 500 → 10,000 ``survey.household.registered.v1`` (+ a
  ``community.registered`` re-send per batch) consumed by finance, smart-community and webhooks (fan-out copy);
* survey: 1,000 door-to-door responses (4 batches of 250) → 1,000 ``survey.response.recorded.v1`` → 1,000 webhooks;
* smart-community, MQTT path: 10,000 device messages published to the ``DEVICES`` stream on the subjects NATS's MQTT
  listener produces (``devices.<community>.<device>.<kind>``): 4,950 vehicle entries + 4,950 exits of a licence-plate
  camera (additive parking counters) and 5 gas alarms from each of 20 detectors (20 alarms, occurrence counters)
  → 20 ``smart_community.alarm.raised.v1`` → 20 webhooks;
* smart-community, HTTP path: 2,000 gate events in 20 gateway batches of 100;
* projects/finance: 3 menu rounds (prepared before the chaos) are closed during it → 3 projects
  (``survey.consultation.closed.v1``) → 3 project accounts in finance (``projects.project.created.v1``).

The load client behaves like a careful real client: on a connection error or a 5xx it retries the same request
(same ``submission_id`` / same household keys / same ``Nats-Msg-Id``); where the HTTP API has no natural idempotency
key (a gateway batch) it first asks the API whether the batch landed (see ``post_gateway_batch``).

Reconciliation uses the HTTP APIs where they expose the count and read-only SQL on the test's own Postgres otherwise
(read models and delivery tables have no counting endpoint). "Exactly" means, per count:

* survey ``household_count`` = 10,000 = households sent; finance and smart-community read models hold exactly the
  same 10,000 household ids; the webhooks event copy holds exactly 10,000 ``household.registered`` events of FC;
* survey result ``responses`` = 1,000; the webhooks event copy holds exactly 1,000 ``response.recorded`` events of the
  consultation (one per created response: replays of a retried batch publish nothing);
* ``device_events`` of FC: exactly 10,000 from ``mqtt`` and 2,000 from ``http`` (no loss, no duplicate row), no
  rejects; parking ``entries`` = 4,950 and ``exits`` = 4,950 (an additive effect applied once per event); 20 gas
  alarms with ``occurrences`` summing to exactly 100;
* projects: exactly 1 project per closed menu round (3), finance holds exactly those 3 projects, each with an account;
* webhooks: exactly one delivery row per (subscription, matching event) = 1,020, all ``succeeded``; the receiver got
  every one of the 1,020 webhook-ids, verified with ``standardwebhooks``, and nothing else. A webhook-id may arrive
  more than once only as an at-least-once redelivery (a process killed or Postgres restarted between the HTTP call
  and recording its result): such repeats are counted once, and bounded by the endpoint's concurrency limit (4)
  per such fault (kill of webhooks + Postgres restart → at most 8);
* every outbox is drained (no unpublished row) and no consumer dead-lettered anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest

pytestmark = pytest.mark.integration

DISTRICT, STREET = "fault-d", "fault-s"
HOUSEHOLD_BATCHES, HOUSEHOLD_BATCH = 20, 500
RESPONSES, RESPONSE_BATCH = 1000, 250
VEHICLES = 4950
GAS_DETECTORS, ALARMS_EACH = 20, 5
GATES, GATE_BATCHES, GATE_BATCH = 4, 20, 100  # 2,000 events, a batch every ~1.5 s
MENU_ROUNDS = 3
KILL_ORDER = ["survey", "finance", "smart-community", "projects", "webhooks"]
ENDPOINT_CONCURRENCY = 4  # webhooks' default per-endpoint limit


@dataclass
class Log:
    t0: float = field(default_factory=time.monotonic)
    lines: list[str] = field(default_factory=list)
    retries: dict[str, int] = field(default_factory=dict)

    def __call__(self, msg: str) -> None:
        self.lines.append(f"{time.monotonic() - self.t0:6.1f}s {msg}")

    def retry(self, what: str) -> None:
        self.retries[what] = self.retries.get(what, 0) + 1


def transient(r: httpx.Response | None) -> bool:
    return r is None or r.status_code >= 500


async def robust(api: Any, log: Log, what: str, method: str, service: str, path: str, headers: dict[str, str], **kw):
    """Send until the service answers with something other than a 5xx (connection errors and 5xx are retried)."""
    deadline = time.monotonic() + 180
    while True:
        r = None
        with contextlib.suppress(httpx.HTTPError):
            r = await api.call(method, service, path, headers, **kw)
        if not transient(r):
            return r
        log.retry(what)
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: no answer from {service} for 180 s")
        await asyncio.sleep(0.5)


def households(batch: int) -> list[dict[str, Any]]:
    rows = []
    for j in range(HOUSEHOLD_BATCH):
        i = batch * HOUSEHOLD_BATCH + j
        rows.append(
            {
                "building": f"B{i // 200 + 1}",
                "unit": str((i % 200) // 40 + 1),
                "room": str(101 + i % 40),
                "floor_area_m2": f"{45 + (i * 13) % 5000 / 100:.2f}",
                "residents": [{"birth_year": 1940 + i % 70, "lives_alone": i % 7 == 0}],
            }
        )
    return rows


@dataclass
class World:
    fc: str = ""
    consultation: str = ""
    menu_rounds: list[tuple[str, str]] = field(default_factory=list)  # (community, consultation)
    lpr: str = ""
    gas: list[str] = field(default_factory=list)
    gates: list[str] = field(default_factory=list)
    subscription: str = ""
    receiver: Any = None


async def prepare(api: Any, tokens: Any, make_receiver: Any) -> World:
    w = World()
    officer = tokens("district_admin", district_id=DISTRICT)

    async def community(name: str) -> str:
        r = await api.post(
            "survey",
            "/v1/communities",
            officer,
            json={
                "name": name,
                "district_id": DISTRICT,
                "street_id": STREET,
                "delivered_year": 1990,
                "maintenance_fund_established": False,
            },
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    w.fc = await community("故障演练社区")
    worker = tokens("community_worker", sub="fault-worker", district_id=DISTRICT, street_id=STREET, community_id=w.fc)
    w.receiver = make_receiver()
    gov = tokens("gov_system", sub="fault-gov", district_id=DISTRICT)
    # webhooks accepts the community filter once FC's registration has arrived, which can queue behind the backlog
    # a previous test left in survey's outbox
    r = await api.until(
        "POST",
        "webhooks",
        "/v1/subscriptions",
        {**gov, "Idempotency-Key": f"fault-subscription-{w.fc}"},
        ok=(201,),
        timeout_s=180,
        json={
            "url": w.receiver.url(),
            "event_types": ["survey.response.recorded.v1", "smart_community.alarm.raised.v1"],
            "community_id": w.fc,
        },
    )
    w.subscription, w.receiver.secret = r.json()["id"], r.json()["secret"]

    # devices of FC (smart-community learns the community from survey.community.registered.v1)
    async def device(kind: str, label: str) -> str:
        r = await api.until(
            "POST",
            "smart-community",
            "/v1/devices",
            worker,
            ok=(201,),
            json={"community_id": w.fc, "kind": kind, "placement": "community", "label": label},
        )
        return str(r.json()["id"])

    # the offline rule would add alarms of its own for devices whose last event is older than their heartbeat
    # (smart-community learns FC from its own consumer, on its own schedule: wait for it as for webhooks)
    await api.until(
        "PUT",
        "smart-community",
        f"/v1/communities/{w.fc}/rule-settings",
        worker,
        ok=(200,),
        timeout_s=180,
        json={"offline_enabled": False},
    )
    w.lpr = await device("lpr_camera", "north gate plates")
    w.gas = [await device("gas_detector", f"boiler room {k}") for k in range(GAS_DETECTORS)]
    w.gates = [await device("access_gate", f"gate {k}") for k in range(GATES)]

    # menu rounds of three small communities, open and answered; they are closed during the chaos
    for k in range(MENU_ROUNDS):
        cid = await community(f"菜单社区{k}")
        cw = tokens("community_worker", sub="fault-worker", district_id=DISTRICT, street_id=STREET, community_id=cid)
        rows = [
            {"building": "1", "unit": "1", "room": str(101 + n), "floor_area_m2": "60.00", "residents": []}
            for n in range(2)
        ]
        r = await api.post("survey", f"/v1/communities/{cid}/households", cw, json={"households": rows})
        assert r.status_code == 201, r.text
        homes = [h["id"] for h in r.json()["households"]]
        r = await api.post(
            "survey",
            "/v1/consultations",
            cw,
            json={
                "community_id": cid,
                "kind": "menu",
                "title": "菜单式改造",
                "questions": [
                    {
                        "id": "menu",
                        "kind": "multiple_choice",
                        "text": "选择",
                        "options": ["rain_sewage_separation", "greening"],
                    }
                ],
                "menu_question_id": "menu",
            },
        )
        assert r.status_code == 201, r.text
        mid = r.json()["id"]
        assert (await api.post("survey", f"/v1/consultations/{mid}/open", cw)).status_code == 200
        items = [
            {
                "submission_id": str(uuid.uuid4()),
                "household_id": h,
                "answers": {"menu": ["rain_sewage_separation"]},
                "channel": "meeting",
            }
            for h in homes
        ]
        r = await api.post("survey", f"/v1/consultations/{mid}/responses/batch", cw, json={"items": items})
        assert r.json()["accepted"] == 2, r.text
        w.menu_rounds.append((cid, mid))
    return w


# --------------------------------------------------------------------------------------------- load generators


async def load_households(api: Any, tokens: Any, w: World, log: Log, ready: asyncio.Event) -> None:
    worker = tokens("community_worker", sub="fault-worker", district_id=DISTRICT, street_id=STREET, community_id=w.fc)
    for b in range(HOUSEHOLD_BATCHES):
        body = {"households": households(b)}
        r = await robust(
            api, log, "households", "POST", "survey", f"/v1/communities/{w.fc}/households", worker, json=body
        )
        if r.status_code == 422:  # a retry of a batch that had committed before the process died
            errors = r.json().get("errors", [])
            assert errors and all(e["code"] == "household_exists" for e in errors), r.text[:1000]
            assert len(errors) == HOUSEHOLD_BATCH, r.text[:1000]
            log(f"household batch {b}: committed before the crash (all rows exist)")
        else:
            assert r.status_code == 201, r.text[:1000]
        if b == 1:
            ready.set()
        await asyncio.sleep(1.2)
    log("households: all batches sent")


async def load_responses(api: Any, tokens: Any, w: World, log: Log, ready: asyncio.Event) -> None:
    await ready.wait()
    worker = tokens("community_worker", sub="fault-worker", district_id=DISTRICT, street_id=STREET, community_id=w.fc)
    homes: list[str] = []
    cursor = None
    while len(homes) < RESPONSES:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        r = await robust(api, log, "list", "GET", "survey", f"/v1/communities/{w.fc}/households", worker, params=params)
        assert r.status_code == 200, r.text
        homes += [h["id"] for h in r.json()["items"]]
        cursor = r.json()["next_cursor"]
    homes = homes[:RESPONSES]
    items = [
        {
            "submission_id": str(uuid.uuid4()),
            "household_id": h,
            "answers": {"agree": "yes" if i % 10 else "no"},
            "channel": "door_to_door",
        }
        for i, h in enumerate(homes)
    ]
    for start in range(0, RESPONSES, RESPONSE_BATCH):
        chunk = items[start : start + RESPONSE_BATCH]
        path = f"/v1/consultations/{w.consultation}/responses/batch"
        r = await robust(api, log, "responses", "POST", "survey", path, worker, json={"items": chunk})
        assert r.status_code == 200, r.text[:1000]
        body = r.json()
        # every item is created, or replayed (same submission_id and body) when the batch is a retry
        assert body["rejected"] == 0 and body["accepted"] == len(chunk), r.text[:1000]
        await asyncio.sleep(2)
    log("responses: all batches sent")


async def load_devices_mqtt(system: Any, w: World, log: Log) -> tuple[int, int, int]:
    """10,000 messages into the DEVICES stream, as NATS's MQTT listener would store them (QoS 1: stored = acked)."""
    nc = await nats.connect(system.stack.nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.3)
    js = nc.jetstream()
    base = datetime.now(UTC) - timedelta(minutes=5)
    messages: list[tuple[str, bytes]] = []
    for i in range(2 * VEHICLES):
        kind = "vehicle_entry" if i % 2 == 0 else "vehicle_exit"
        at = (base + timedelta(milliseconds=i)).isoformat()
        messages.append(
            (f"devices.{w.fc}.{w.lpr}.lpr_camera", json.dumps({"type": kind, "time": at, "readings": {}}).encode())
        )
    for k, dev in enumerate(w.gas):
        for n in range(ALARMS_EACH):
            at = (base + timedelta(seconds=k * 10 + n)).isoformat()
            payload = {"type": "alarm", "time": at, "readings": {"lel": 20 + n}}
            messages.insert(
                (k * ALARMS_EACH + n) * 97 % len(messages),
                (f"devices.{w.fc}.{dev}.gas_detector", json.dumps(payload).encode()),
            )
    assert len(messages) == 10_000
    try:
        for start in range(0, len(messages), 250):
            for n, (subject, payload) in enumerate(messages[start : start + 250]):
                msg_id = f"fault-{start + n}"
                while True:
                    try:
                        await js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id}, timeout=2)
                        break
                    except Exception:  # NATS restarting: the same Nats-Msg-Id makes the retry harmless
                        log.retry("mqtt publish")
                        await asyncio.sleep(0.3)
            await asyncio.sleep(0.8)
    finally:
        await nc.close()
    log("devices (mqtt path): 10,000 published")
    return VEHICLES, VEHICLES, GAS_DETECTORS * ALARMS_EACH


async def post_gateway_batch(api: Any, tokens: Any, w: World, log: Log, gate: str, events: list[dict]) -> None:
    """A gateway batch has no idempotency key: after an unknown outcome, ask the API whether it landed."""
    gateway = tokens("device_gateway", sub="fault-gateway", district_id=DISTRICT, community_id=w.fc)
    reader = tokens("community_worker", sub="fault-worker", district_id=DISTRICT, street_id=STREET, community_id=w.fc)
    times = [e["time"] for e in events]
    window = {"from": min(times), "to": (datetime.fromisoformat(max(times)) + timedelta(seconds=1)).isoformat()}
    while True:
        r = None
        with contextlib.suppress(httpx.HTTPError):
            r = await api.post("smart-community", "/v1/device-events/batch", gateway, json={"events": events})
        if r is not None and r.status_code == 200:
            assert r.json()["accepted"] == len(events) and not r.json()["rejected"], r.text[:500]
            return
        assert transient(r), r.text[:500] if r is not None else ""
        log.retry("gateway batch")
        seen = await robust(
            api, log, "gateway check", "GET", "smart-community", f"/v1/devices/{gate}/events", reader,
            params={**window, "limit": 1},
        )  # fmt: skip
        assert seen.status_code == 200, seen.text
        if seen.json()["items"]:  # one transaction per batch: any event of it means all of it
            log(f"gateway batch for {gate[:8]}: committed before the failure")
            return
        await asyncio.sleep(0.5)


async def load_devices_http(api: Any, tokens: Any, w: World, log: Log) -> None:
    base = datetime.now(UTC) - timedelta(minutes=5)
    for b in range(GATE_BATCHES):
        gate = w.gates[b % GATES]
        events = [
            {
                "device_id": gate,
                "type": "pass",
                "time": (base + timedelta(seconds=b, milliseconds=j)).isoformat(),
                "readings": {"direction": "in"},
            }
            for j in range(GATE_BATCH)
        ]
        await post_gateway_batch(api, tokens, w, log, gate, events)
        await asyncio.sleep(1.5)
    log("devices (http path): 2,000 sent")


async def close_menu_rounds(api: Any, tokens: Any, w: World, log: Log) -> None:
    for cid, mid in w.menu_rounds:
        await asyncio.sleep(9)
        cw = tokens("community_worker", sub="fault-worker", district_id=DISTRICT, street_id=STREET, community_id=cid)
        r = await robust(api, log, "close", "POST", "survey", f"/v1/consultations/{mid}/close", cw)
        if r.status_code != 200:  # a retry after a close that committed
            state = await robust(api, log, "get", "GET", "survey", f"/v1/consultations/{mid}", cw)
            assert state.json()["state"] == "closed", r.text
        log(f"menu round {mid[:8]} closed")


async def chaos(system: Any, log: Log) -> None:
    """kill -9 one replica of each service in turn (the others keep serving, as behind a load balancer), then every
    replica of survey at once, then restart NATS and Postgres."""
    await asyncio.sleep(3)
    for turn, name in enumerate(KILL_ORDER):
        replica = turn % system.replicas
        system.kill(name, replica)  # SIGKILL
        log(f"kill -9 {name}#{replica}")
        await asyncio.sleep(0.5)
        system.start(name, replica)
        await system.wait_ready(name, timeout_s=120)
        log(f"{name}#{replica} ready again")
        await asyncio.sleep(2.5)
    for replica in range(system.replicas):
        system.kill("survey", replica)
    log("kill -9 every survey replica")
    for replica in range(system.replicas):
        system.start("survey", replica)
    await system.wait_ready("survey", timeout_s=120)
    log("survey ready again")
    await asyncio.to_thread(system.restart_nats)
    log("nats restarted")
    await asyncio.sleep(3)
    await asyncio.to_thread(system.restart_postgres)
    log("postgres restarted")


# --------------------------------------------------------------------------------------------- the test


async def test_kill_each_service_restart_nats_and_postgres_under_load(system, api, tokens, make_receiver):
    w = await prepare(api, tokens, make_receiver)
    worker = tokens("community_worker", sub="fault-worker", district_id=DISTRICT, street_id=STREET, community_id=w.fc)
    r = await api.post(
        "survey",
        "/v1/consultations",
        worker,
        json={
            "community_id": w.fc,
            "kind": "willingness",
            "title": "意愿征询",
            "questions": [{"id": "agree", "kind": "single_choice", "text": "同意?", "options": ["yes", "no"]}],
            "rule": {"kind": "household_share"},
            "decision_question_id": "agree",
            "approve_options": ["yes"],
        },
    )
    assert r.status_code == 201, r.text
    w.consultation = r.json()["id"]
    assert (await api.post("survey", f"/v1/consultations/{w.consultation}/open", worker)).status_code == 200

    log = Log()
    ready = asyncio.Event()
    started = time.monotonic()
    results = await asyncio.gather(
        load_households(api, tokens, w, log, ready),
        load_responses(api, tokens, w, log, ready),
        load_devices_mqtt(system, w, log),
        load_devices_http(api, tokens, w, log),
        close_menu_rounds(api, tokens, w, log),
        chaos(system, log),
    )
    entries, exits, gas_alarms = results[2]
    log(f"load and chaos done in {time.monotonic() - started:.1f}s; retries {log.retries}")
    await system.wait_ready(timeout_s=90)  # every service still runs after NATS and Postgres came back

    checks = Reconciliation(system, api, tokens, w, entries, exits, gas_alarms)
    deadline = time.monotonic() + 150
    pending: list[str] = []
    while True:
        failures = await checks.run()
        names = [f.split(":")[0] for f in failures]
        if names != pending:
            log(f"still converging: {names}")
            pending = names
        if not failures:
            break
        if time.monotonic() > deadline:
            raise AssertionError("not reconciled:\n" + "\n".join(failures) + "\n\n" + "\n".join(log.lines))
        await asyncio.sleep(2)
    log(f"reconciled {time.monotonic() - started:.1f}s after the start of the load")
    await asyncio.sleep(3)  # and nothing arrives twice later (redeliveries after ack_wait, expired leases)
    failures = await checks.run()
    assert not failures, "\n".join(failures)
    dupes = sum(n - 1 for n in w.receiver.counts().values())
    assert dupes <= ENDPOINT_CONCURRENCY * 2, f"{dupes} repeated webhook-ids"
    print("\n".join(log.lines) + f"\nreceiver: {len(w.receiver.counts())} webhook-ids, {dupes} redelivered")


@dataclass
class Reconciliation:
    system: Any
    api: Any
    tokens: Any
    w: World
    entries: int
    exits: int
    gas_alarms: int

    async def run(self) -> list[str]:
        s, w, fc = self.system, self.w, self.w.fc
        out: list[str] = []

        def expect(name: str, actual: Any, wanted: Any) -> None:
            if actual != wanted:
                out.append(f"{name}: {actual!r} != {wanted!r}")

        officer = self.tokens("district_admin", district_id=DISTRICT)
        worker = self.tokens(
            "community_worker", sub="fault-worker", district_id=DISTRICT, street_id=STREET, community_id=fc
        )
        try:
            community = (await self.api.get("survey", f"/v1/communities/{fc}", officer)).json()
            result = (await self.api.get("survey", f"/v1/consultations/{w.consultation}/result", worker)).json()
            parking = (await self.api.get("smart-community", f"/v1/communities/{fc}/parking", worker)).json()
            alarms = (
                await self.api.get(
                    "smart-community",
                    "/v1/alarms",
                    worker,
                    params={"community_id": fc, "alarm_type": "gas", "limit": 100},
                )
            ).json()["items"]
            projects = (await self.api.get("projects", "/v1/projects", officer, params={"limit": 100})).json()["items"]
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            return [f"api not answering yet: {exc!r}"]
        total = HOUSEHOLD_BATCHES * HOUSEHOLD_BATCH
        expect("survey household_count", community.get("household_count"), total)
        expect("survey responses", result.get("responses"), RESPONSES)
        expect("parking entries/exits", (parking.get("entries"), parking.get("exits")), (self.entries, self.exits))
        expect("gas alarms", len(alarms), GAS_DETECTORS)
        expect("gas alarm occurrences", sum(a["occurrences"] for a in alarms), self.gas_alarms)

        survey_ids = {
            str(r[0]) for r in await s.sql("survey", "select id from households where community_id = $1", uuid.UUID(fc))
        }
        expect("survey household ids", len(survey_ids), total)
        finance_ids = {
            r[0] for r in await s.sql("finance", "select household_id from households where community_id = $1", fc)
        }
        expect("finance read model = survey households", finance_ids == survey_ids, True)
        smart_ids = {
            r[0] for r in await s.sql("smart_community", "select id from households where community_id = $1", fc)
        }
        expect("smart-community read model = survey households", smart_ids == survey_ids, True)
        copies = await s.sql(
            "webhooks",
            "select type, count(*) from events where community_id = $1 group by type",
            fc,
        )
        by_type = {r[0]: r[1] for r in copies}
        expect("webhooks copies of household.registered", by_type.get("survey.household.registered.v1"), total)
        expect("webhooks copies of response.recorded", by_type.get("survey.response.recorded.v1"), RESPONSES)
        expect("webhooks copies of alarm.raised", by_type.get("smart_community.alarm.raised.v1"), GAS_DETECTORS)

        events = await s.sql(
            "smart_community",
            "select source, count(*) from device_events where community_id = $1 group by source",
            fc,
        )
        expect(
            "device_events by source",
            {r[0]: r[1] for r in events},
            {"mqtt": 2 * VEHICLES + self.gas_alarms, "http": GATE_BATCHES * GATE_BATCH},
        )
        ids = [w.lpr, *w.gas, *w.gates]
        expect(
            "device rejects",
            await s.sql_value("smart_community", "select count(*) from device_rejects where device_id = any($1)", ids),
            0,
        )

        menu = {m for _, m in w.menu_rounds}
        ours = [p for p in projects if p["community_id"] in {c for c, _ in w.menu_rounds}]
        expect("projects of the menu rounds", len(ours), MENU_ROUNDS)
        project_ids = [p["id"] for p in ours]
        sources = await s.sql(
            "projects",
            "select source_consultation_id from projects where id = any($1)",
            [uuid.UUID(p) for p in project_ids],
        )
        expect("one project per consultation", {r[0] for r in sources}, menu)
        fin = await s.sql(
            "finance", "select project_id, account_id from projects where project_id = any($1)", project_ids
        )
        expect("finance projects", len(fin), MENU_ROUNDS)
        expect("finance project accounts", all(r[1] is not None for r in fin), True)

        wanted = {
            str(r[0])
            for r in await s.sql(
                "webhooks",
                "select id from events where community_id = $1 and type = any($2)",
                fc,
                ["survey.response.recorded.v1", "smart_community.alarm.raised.v1"],
            )
        }
        deliveries = await s.sql(
            "webhooks", "select event_id, status from deliveries where subscription_id = $1", uuid.UUID(w.subscription)
        )
        expect("deliveries", len(deliveries), RESPONSES + GAS_DETECTORS)
        expect("deliveries = matching events", {str(r[0]) for r in deliveries} == wanted, True)
        expect("deliveries succeeded", sum(r[1] == "succeeded" for r in deliveries), len(deliveries))
        got = w.receiver.counts()
        expect("receiver webhook-ids = deliveries", set(got) == wanted, True)
        expect("receiver: all verified", all(d.verified for d in w.receiver.snapshot()), True)

        for db in ("survey", "projects", "finance", "smart_community", "webhooks"):
            expect(
                f"{db} outbox pending",
                await s.sql_value(db, "select count(*) from outbox where published_at is null"),
                0,
            )
            expect(f"{db} dead letters", await s.sql_value(db, "select count(*) from dead_letters"), 0)
        return out
