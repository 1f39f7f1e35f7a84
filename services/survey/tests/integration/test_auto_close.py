"""The auto-closer: open consultations whose ``closes_at`` has passed close through the same use case as a manual
close (same outcome, one ``closed`` event in the outbox), once, even with several closers racing."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from renovation_common.testing.plugin import eventually
from survey.adapters.orm import infra
from survey.entrypoints.app import create_app
from survey.entrypoints.workers import scan_once
from survey.service_layer.consultations import lifecycle as uc

from .conftest import World

CLOSED = "survey.consultation.closed.v1"


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def make_world(service_client, make_token, clock: FakeClock, **overrides) -> tuple[World, object]:
    app, client = await service_client(create_app, "survey", clock=clock, outbox_poll_interval_s=0.05, **overrides)
    w = World(client, make_token)
    w.community_id = await w.community()
    w.households = await w.add_households(w.community_id, ["60.00", "70.50", "80.25", "90.00", "55.55"])
    return w, app.state.runtime


async def closed_events(runtime, consultation_id: str) -> list[dict]:
    async with runtime.sessionmaker() as s:
        rows = await s.execute(
            sa.select(infra.outbox.c.payload).where(
                infra.outbox.c.event_type == CLOSED,
                infra.outbox.c.payload["data"]["consultation_id"].astext == consultation_id,
            )
        )
        return [r[0] for r in rows]


async def closed_by(runtime, consultation_id: str) -> str | None:
    async with runtime.sessionmaker() as s:
        value = await s.scalar(
            sa.text("select closed_by from consultations where id = :id"), {"id": uuid.UUID(consultation_id)}
        )
        return str(value) if value is not None else None


async def vote(w: World, cid: str, yes: int) -> None:
    for i, h in enumerate(w.households):
        r = await w.answer(cid, h["id"], {"agree": "yes"} if i < yes else {"agree": "no", "why": "费用"})
        assert r.status_code == 201, r.text


def window(clock: FakeClock, hours: float) -> str:
    return (clock.now + timedelta(hours=hours)).isoformat()


async def test_worker_closes_due_consultation_with_its_outcome_once(service_client, make_token, nats_client):
    clock = FakeClock()
    w, runtime = await make_world(service_client, make_token, clock, auto_close_interval_s=0.05)
    events: list[dict] = []

    async def handler(msg) -> None:
        events.append(json.loads(msg.data))

    await nats_client.subscribe("renovation.survey.>", cb=handler)
    due = await w.consultation(closes_at=window(clock, 1))
    later = await w.consultation(title="第二轮", closes_at=window(clock, 3))
    endless = await w.consultation(title="不设截止")
    await vote(w, due, yes=4)  # 4 of 5 households = exactly the default 4/5 → passed
    await vote(w, later, yes=4)

    await asyncio.sleep(0.3)  # several scans before the window ends: nothing closes
    for cid in (due, later, endless):
        assert (await w.client.get(f"/v1/consultations/{cid}", headers=w.worker())).json()["state"] == "open"

    clock.advance(hours=1)  # exactly closes_at: the window accepts answers only while now < closes_at

    async def is_closed() -> bool:
        r = await w.client.get(f"/v1/consultations/{due}", headers=w.worker())
        return bool(r.json()["state"] == "closed")

    await eventually(is_closed, timeout_s=5)
    body = (await w.client.get(f"/v1/consultations/{due}", headers=w.worker())).json()
    assert body["outcome"] == "passed" and body["decided_by"] is not None and body["auto_closed"] is True
    assert await closed_by(runtime, due) == uc.AUTO_CLOSER
    result = (await w.client.get(f"/v1/consultations/{due}/result", headers=w.worker())).json()
    assert result["outcome"] == "passed" and result["approval"]["households"] == 4

    # the window of `later` has not passed, `endless` has none: both stay open and keep taking answers
    for cid in (later, endless):
        body = (await w.client.get(f"/v1/consultations/{cid}", headers=w.worker())).json()
        assert body["state"] == "open" and body["outcome"] is None and body["auto_closed"] is False
        assert await closed_events(runtime, cid) == []
    r = await w.answer(later, w.households[4]["id"], {"agree": "yes"})
    assert r.status_code == 200, r.text

    # more scans, then a manual close: still exactly one closed event for `due`
    await asyncio.sleep(0.3)
    again = await w.client.post(f"/v1/consultations/{due}/close", headers=w.worker())
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    stored = await closed_events(runtime, due)
    assert len(stored) == 1
    data = stored[0]["data"]
    assert data["outcome"] == "passed" and data["approval_ratio"] == "4/5" and data["approving_households"] == 4
    assert data["community_id"] == w.community_id and data["district_id"] == w.district

    async def published() -> bool:
        return any(e["type"] == CLOSED and e["data"]["consultation_id"] == due for e in events)

    await eventually(published, timeout_s=5)
    late = await w.answer(due, w.households[4]["id"], {"agree": "yes"})
    assert late.status_code == 409 and late.json()["code"] == "consultation_not_open"


async def test_racing_closers_write_one_closed_event(service_client, make_token):
    clock = FakeClock()
    w, runtime = await make_world(service_client, make_token, clock, auto_close_enabled=False)
    cid = await w.consultation(closes_at=window(clock, 1))
    yes = 2
    await vote(w, cid, yes=yes)  # 2 of 5 < 4/5 → postponed

    assert await scan_once(runtime) == []  # not due yet
    clock.advance(hours=1, seconds=1)
    first, second, manual = await asyncio.gather(
        scan_once(runtime),
        scan_once(runtime),
        w.client.post(f"/v1/consultations/{cid}/close", headers=w.worker()),
    )
    winners = first.count(cid) + second.count(cid) + (manual.status_code == 200)
    assert winners == 1, (first, second, manual.status_code, manual.text)
    if manual.status_code != 200:
        assert manual.status_code == 409 and manual.json()["code"] == "invalid_transition"
    # a closer that saw the row as due but gets the locks after the close does nothing
    assert await uc.auto_close_consultation(runtime.uow(), uuid.UUID(cid), now=clock(), source="test") is None
    assert await scan_once(runtime) == []

    stored = await closed_events(runtime, cid)
    assert len(stored) == 1
    assert stored[0]["data"]["outcome"] == "postponed" and stored[0]["data"]["approving_households"] == yes
    body = (await w.client.get(f"/v1/consultations/{cid}", headers=w.worker())).json()
    assert body["state"] == "closed" and body["outcome"] == "postponed"
    assert body["auto_closed"] is (manual.status_code != 200)
