"""Delivery end to end: events published to JetStream reach a real receiver that verifies every request with
the official ``standardwebhooks`` package; retries follow the (injected) clock; SSRF, redirects, 410, replay."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa

from renovation_common.testing.plugin import eventually
from webhooks.adapters.orm import deliveries, delivery_attempts
from webhooks.domain.signing import webhook_headers

from .conftest import dispatcher_of, subscribe


def district() -> str:
    return f"d-{uuid.uuid4().hex[:8]}"


async def attempts_of(client, headers, delivery_id):
    return (await client.get(f"/v1/deliveries/{delivery_id}/attempts", headers=headers)).json()


async def test_signed_delivery_verifies_and_tampering_or_stale_timestamp_fails(start_app, receiver, gov, publish):
    app, client = await start_app()
    h, d = gov(), district()
    sub = await subscribe(client, h, receiver, d)
    event_id = await publish(d)
    await publish(district())  # another district: filtered out
    await eventually(lambda: _has(receiver, event_id))
    got = receiver.received[0]
    assert got.verified and got.headers["webhook-id"] == event_id
    assert got.headers["content-type"] == "application/json"
    body = json.loads(got.body)
    assert body["type"] == "finance.contribution.paid.v1" and body["data"]["district_id"] == d
    assert abs(int(got.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 30

    # the receiver refuses a tampered body and a stale timestamp (checked by the official package)
    async with httpx.AsyncClient() as raw:
        tampered = got.body.replace(b'"amount_fen":100', b'"amount_fen":999')
        assert tampered != got.body
        r = await raw.post(receiver.url("/replayed"), content=tampered, headers=got.headers)
        assert r.status_code == 401
        stale = webhook_headers(receiver.secrets, event_id, datetime.now(UTC) - timedelta(minutes=6), got.body.decode())
        r = await raw.post(receiver.url("/replayed"), content=got.body, headers=stale)
        assert r.status_code == 401
    assert len(receiver.ids("/replayed", verified=False)) == 2

    # a stale timestamp from the dispatcher itself is refused too, and the delivery is retried
    dispatcher = dispatcher_of(app)
    dispatcher.signing_clock = lambda: datetime.now(UTC) - timedelta(minutes=10)
    stale_id = await publish(d)
    await eventually(lambda: _async(stale_id in receiver.ids(verified=False)))
    [failing] = await listed_eventually(client, h, f"status=failing&subscription_id={sub['id']}")
    assert failing["event_id"] == stale_id and failing["last_status_code"] == 401
    [attempt] = await attempts_of(client, h, failing["id"])
    assert attempt["status_code"] == 401 and attempt["outcome"] == "retry" and attempt["latency_ms"] >= 0
    assert attempt["response_body"].startswith("nope") and len(attempt["response_body"]) <= 2048
    dispatcher.signing_clock = lambda: datetime.now(UTC)
    retried = await client.post(f"/v1/deliveries/{failing['id']}/retry", headers=h)
    assert retried.status_code == 202
    await eventually(lambda: _has(receiver, stale_id))
    assert receiver.ids().count(stale_id) == 1

    # rotation: while the receiver still knows only the old secret, requests verify (both signatures are sent)
    old_secret = receiver.secrets[0]
    rotated = (await client.post(f"/v1/subscriptions/{sub['id']}/rotate-secret", json={}, headers=h)).json()
    receiver.secrets = [old_secret]
    e_old = await publish(d)
    await eventually(lambda: _has(receiver, e_old))
    last = next(r for r in receiver.received if r.headers["webhook-id"] == e_old)
    assert len(last.headers["webhook-signature"].split(" ")) == 2
    receiver.secrets = [rotated["secret"]]
    e_new = await publish(d)
    await eventually(lambda: _has(receiver, e_new))

    # test ping
    ping = await client.post(f"/v1/subscriptions/{sub['id']}/test", headers=h)
    assert ping.status_code == 202
    await eventually(lambda: _has(receiver, ping.json()["event_id"]))
    pinged = next(r for r in receiver.received if r.headers["webhook-id"] == ping.json()["event_id"])
    assert json.loads(pinged.body)["type"] == "webhooks.endpoint.ping.v1"


async def listed_eventually(client, h, query: str) -> list[dict]:
    """The delivery log once it lists something (the receiver sees a request before its attempt is recorded)."""
    found: list[dict] = []

    async def check() -> bool:
        found[:] = (await client.get(f"/v1/deliveries?{query}", headers=h)).json()["items"]
        return bool(found)

    await eventually(check)
    return found


async def _async(value: bool) -> bool:
    return value


def _has(receiver, event_id):
    return _async(event_id in receiver.ids())


async def test_receiver_down_then_back_every_event_once(start_app, receiver, gov, publish, clock):
    app, client = await start_app(clock=clock)
    h, d = gov(), district()
    await subscribe(client, h, receiver, d)
    receiver.stop()
    sent = [await publish(d) for _ in range(5)]
    dispatcher = dispatcher_of(app)
    sessionmaker = app.state.runtime.sessionmaker

    async def rounds_failed(n: int) -> bool:
        async with sessionmaker() as s:
            rows = (await s.execute(sa.select(deliveries.c.round_failures, deliveries.c.lease_expires_at))).all()
        return len(rows) == 5 and all(r.round_failures >= n and r.lease_expires_at is None for r in rows)

    async def delays_after(n: int) -> list[timedelta]:
        """Per delivery: how long after its n-th attempt the next one is scheduled (both from the injected clock)."""
        a = delivery_attempts.c
        async with sessionmaker() as s:
            rows = await s.execute(
                sa.select(deliveries.c.next_attempt_at, a.attempted_at)
                .join(delivery_attempts, a.delivery_id == deliveries.c.id)
                .where(a.attempt_no == n, deliveries.c.round_failures == n)
            )
            return [r.next_attempt_at - r.attempted_at for r in rows]

    await eventually(lambda: rounds_failed(1))
    first_retry = await delays_after(1)
    assert len(first_retry) == 5 and all(timedelta(seconds=4.5) <= t <= timedelta(seconds=5.5) for t in first_retry)
    clock.advance(timedelta(seconds=6))  # the 5 s retry: still down
    dispatcher.wake()
    await eventually(lambda: rounds_failed(2))
    second = await delays_after(2)
    assert len(second) == 5 and all(timedelta(minutes=4.5) <= t <= timedelta(minutes=5.5) for t in second), second
    await asyncio.sleep(0.5)
    assert receiver.received == []

    receiver.start()  # same port
    clock.advance(timedelta(minutes=6))
    dispatcher.wake()
    await eventually(lambda: _async(sorted(receiver.ids()) == sorted(sent)))
    await asyncio.sleep(0.5)  # nothing more arrives
    assert sorted(receiver.ids()) == sorted(sent) and len(receiver.received) == len(sent)
    log = (await client.get("/v1/deliveries?status=succeeded", headers=h)).json()["items"]
    assert {x["event_id"] for x in log} == set(sent) and all(x["attempts"] == 3 for x in log)
    outcomes = [a["outcome"] for a in await attempts_of(client, h, log[0]["id"])]
    assert outcomes == ["retry", "retry", "succeeded"]


async def test_redirect_not_followed_and_410_disables(start_app, receiver, gov, publish):
    app, client = await start_app()
    h, d = gov(), district()
    receiver.routes["/redirect"] = (302, {"location": receiver.url("/target")}, 0.0)
    receiver.routes["/gone"] = (410, {}, 0.0)
    redirected = await subscribe(client, h, receiver, d, path="/redirect")
    gone = await subscribe(client, h, receiver, d, path="/gone", event_types=["finance.contribution.*"])
    receiver.secrets = [redirected["secret"], gone["secret"]]
    event_id = await publish(d)
    await eventually(lambda: _async(len(receiver.received) == 2))
    await asyncio.sleep(0.3)
    assert [r.path for r in receiver.received if r.path == "/target"] == []

    async def deliveries_of(sub_id):
        return (await client.get(f"/v1/deliveries?subscription_id={sub_id}", headers=h)).json()["items"]

    await eventually(lambda: _attempted(client, h, redirected["id"]))
    [d_redirect] = await deliveries_of(redirected["id"])
    assert d_redirect["status"] == "pending" and d_redirect["last_status_code"] == 302
    [attempt] = await attempts_of(client, h, d_redirect["id"])
    assert attempt["status_code"] == 302 and attempt["outcome"] == "retry"

    await eventually(lambda: _disabled(client, h, gone["id"]))
    sub = (await client.get(f"/v1/subscriptions/{gone['id']}", headers=h)).json()
    assert sub["enabled"] is False and sub["disabled_reason"] == "gone_410"
    [d_gone] = await deliveries_of(gone["id"])
    assert d_gone["status"] == "failed" and d_gone["event_id"] == event_id
    failed = (await client.get("/v1/deliveries?status=failed", headers=h)).json()["items"]
    assert [x["id"] for x in failed] == [d_gone["id"]]
    retry = await client.post(f"/v1/deliveries/{d_gone['id']}/retry", headers=h)
    assert retry.status_code == 409 and retry.json()["code"] == "subscription_disabled"
    async with app.state.runtime.sessionmaker() as s:
        outbox = (await s.execute(sa.select(app.state.runtime.infra.outbox.c.payload))).scalars().all()
    assert [(e["type"], e["data"]["reason"]) for e in outbox] == [("webhooks.endpoint.disabled.v1", "gone_410")]


async def _attempted(client, h, sid) -> bool:
    items = (await client.get(f"/v1/deliveries?subscription_id={sid}", headers=h)).json()["items"]
    return bool(items) and items[0]["attempts"] > 0 and items[0]["last_status_code"] is not None


async def _disabled(client, h, sid) -> bool:
    return (await client.get(f"/v1/subscriptions/{sid}", headers=h)).json()["enabled"] is False


async def test_replay_after_disable_and_enable_delivers_what_was_missed(start_app, receiver, gov, publish):
    app, client = await start_app()
    h, d = gov(), district()
    sub = await subscribe(client, h, receiver, d)
    since = datetime.now(UTC) - timedelta(seconds=1)
    first = await publish(d)
    await eventually(lambda: _has(receiver, first))
    patched = await client.patch(f"/v1/subscriptions/{sub['id']}", json={"enabled": False}, headers=h)
    assert patched.json()["enabled"] is False and patched.json()["disabled_reason"] == "manual"
    missed = [await publish(d) for _ in range(3)]
    elsewhere = await publish(district())  # other district: never replayed to this subscription

    async def consumed() -> bool:  # the consumer saw them while the endpoint was disabled
        async with app.state.sessionmaker() as s:
            inbox = app.state.infra.inbox.c
            ids = [uuid.UUID(e) for e in (*missed, elsewhere)]
            n = await s.scalar(
                sa.select(sa.func.count()).where(inbox.consumer == "event-fanout", inbox.event_id.in_(ids))
            )
        return n == 4

    await eventually(consumed)
    assert receiver.ids() == [first]
    refused = await client.post(f"/v1/subscriptions/{sub['id']}/replay", json={"since": since.isoformat()}, headers=h)
    assert refused.status_code == 409
    await client.patch(f"/v1/subscriptions/{sub['id']}", json={"enabled": True}, headers=h)
    replay = await client.post(f"/v1/subscriptions/{sub['id']}/replay", json={"since": since.isoformat()}, headers=h)
    assert replay.status_code == 202, replay.text
    assert replay.json() == {"matched_events": 4, "scheduled": 3, "truncated": False}
    await eventually(lambda: _async(sorted(receiver.ids()) == sorted([first, *missed])))
    again = await client.post(f"/v1/subscriptions/{sub['id']}/replay", json={"since": since.isoformat()}, headers=h)
    assert again.json()["scheduled"] == 0
    await asyncio.sleep(0.3)
    assert len(receiver.ids()) == 4


async def test_failing_for_five_days_disables_endpoint(start_app, receiver, gov, publish, clock):
    app, client = await start_app(clock=clock)
    h, d = gov(), district()
    receiver.routes["/hook"] = (503, {"retry-after": "60"}, 0.0)
    sub = await subscribe(client, h, receiver, d)
    dispatcher = dispatcher_of(app)
    first = await publish(d)
    await eventually(lambda: _async(len(receiver.received) == 1))
    items = await listed_eventually(client, h, "status=failing")
    assert items[0]["event_id"] == first
    # Retry-After (60 s) is longer than the 5 s step: it wins
    assert datetime.fromisoformat(items[0]["next_attempt_at"]) - clock() > timedelta(seconds=50)
    # walk the whole schedule: 8 attempts, then the delivery is failed
    sessionmaker = app.state.runtime.sessionmaker

    async def recorded(n: int) -> bool:  # the attempt is recorded and its lease released
        async with sessionmaker() as s:
            row = (await s.execute(sa.select(deliveries.c.attempts, deliveries.c.lease_expires_at))).one()
        return row.attempts == n and row.lease_expires_at is None

    await eventually(lambda: recorded(1))
    for n in range(2, 9):
        clock.advance(timedelta(hours=11))
        dispatcher.wake()
        await eventually(lambda n=n: recorded(n))
    assert len(receiver.received) == 8
    await eventually(lambda: _failed_count(client, h, 1))
    assert (await client.get(f"/v1/subscriptions/{sub['id']}", headers=h)).json()["enabled"] is True  # 77 h < 5 days
    clock.advance(timedelta(days=3))
    await publish(d)
    await eventually(lambda: _disabled(client, h, sub["id"]))
    got = (await client.get(f"/v1/subscriptions/{sub['id']}", headers=h)).json()
    assert got["disabled_reason"] == "failing_5_days"
    async with app.state.runtime.sessionmaker() as s:
        outbox = (await s.execute(sa.select(app.state.runtime.infra.outbox.c.payload))).scalars().all()
    assert [e["data"]["reason"] for e in outbox] == ["failing_5_days"]
    # the operator fixes the endpoint, enables it, retries the failed delivery
    receiver.routes.pop("/hook")
    await client.patch(f"/v1/subscriptions/{sub['id']}", json={"enabled": True}, headers=h)
    failed = (await client.get("/v1/deliveries?status=failed", headers=h)).json()["items"]
    assert (await client.post(f"/v1/deliveries/{failed[0]['id']}/retry", headers=h)).status_code == 202
    await eventually(lambda: _has(receiver, first))


async def _failed_count(client, h, n) -> bool:
    return len((await client.get("/v1/deliveries?status=failed", headers=h)).json()["items"]) == n


async def test_slow_endpoint_does_not_hold_up_others(start_app, receiver, gov, publish):
    _, client = await start_app()
    h, d = gov(), district()
    receiver.routes["/slow"] = (200, {}, 0.6)
    slow = await subscribe(client, h, receiver, d, path="/slow", max_concurrency=1)
    fast = await subscribe(client, h, receiver, d, path="/fast")
    receiver.secrets = [slow["secret"], fast["secret"]]
    sent = [await publish(d) for _ in range(4)]
    await eventually(lambda: _async(sorted(receiver.ids("/fast")) == sorted(sent)), timeout_s=10)
    assert len(receiver.ids("/slow")) <= 2  # the fast endpoint finished while the slow one was still busy
    await eventually(lambda: _async(sorted(receiver.ids("/slow")) == sorted(sent)), timeout_s=10)
    assert receiver.max_in_flight["/slow"] == 1
    assert receiver.max_in_flight["/fast"] >= 1


async def test_dns_rebinding_is_checked_at_delivery_time(start_app, receiver, gov, publish):
    answers = {"hooks.example.test": ["93.184.216.34"]}

    async def resolver(host: str, port: int) -> list[str]:
        return answers.get(host, [host])

    _, client = await start_app(resolver=resolver, allowed_target_networks=[])
    h, d = gov(), district()
    resp = await client.post(
        "/v1/subscriptions",
        json={"url": f"http://hooks.example.test:{receiver.port}/hook", "event_types": ["*"], "district_id": d},
        headers=h,
    )
    assert resp.status_code == 201, resp.text
    answers["hooks.example.test"] = ["127.0.0.1"]  # the name now points inside
    await publish(d)

    async def refused() -> bool:
        items = (await client.get("/v1/deliveries", headers=h)).json()["items"]
        return bool(items) and (items[0]["last_error"] or "").startswith("target_not_allowed")

    await eventually(refused)
    assert receiver.received == []
