"""Incremental tallies under concurrency: two app instances on one database take new answers, changed answers,
offline batches with replays and out-of-order answers, and registry changes (floor areas, residents) at once;
afterwards the tallies equal a full recount of the stored answers and the live result read from them equals the
result computed from every answer. A repair puts a damaged tally right."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from renovation_common.auth import Principal, Role
from renovation_common.testing.plugin import running_app
from survey.adapters.repositories import ConsultationRepository
from survey.entrypoints.app import create_app
from survey.service_layer.consultations.access import load_consultation
from survey.service_layer.consultations.results import compute_from_answers, recount_consultation, result_document

ITEMS = ["parking", "greening", "lighting", "elevator_installation"]


def _answers(rng: random.Random) -> dict[str, Any]:
    a: dict[str, Any] = {"agree": rng.choice(["yes", "yes", "no"])}
    if rng.random() < 0.7:
        a["items"] = rng.sample(ITEMS, rng.randint(1, 3))
    if rng.random() < 0.5:
        a["rate"] = rng.randint(1, 5)
    return a


async def _db(world) -> str:
    return str(world.client._transport.app.state.settings.database_url)


async def _recount(app, world, cid: str, *, repair: bool = False):
    principal = Principal(
        sub="verifier",
        role=Role.COMMUNITY_WORKER,
        district_id=world.district,
        street_id=world.street,
        community_id=world.community_id,
    )
    return await recount_consultation(app.state.runtime.uow(), principal, uuid.UUID(cid), repair=repair)


async def _full_result(app, cid: str) -> dict[str, Any]:
    async with app.state.runtime.uow() as uow:
        row = await load_consultation(ConsultationRepository(uow.session), uuid.UUID(cid))
        now = datetime.now(UTC)
        return result_document(row, await compute_from_answers(uow.session, row, final=False, year=now.year), now)


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    doc = {k: v for k, v in doc.items() if k != "computed_at"}
    doc["questions"] = sorted(doc["questions"], key=lambda q: q["question_id"])
    return doc


async def test_concurrent_writes_from_two_instances_keep_the_tallies_equal_to_a_recount(world, stack):
    rng = random.Random(13)
    more = await world.add_households(world.community_id, [f"{40 + i}.{i % 100:02d}" for i in range(35)], building="2")
    households = [h["id"] for h in world.households + more]
    cid = await world.consultation(
        questions=[
            {"id": "agree", "kind": "single_choice", "text": "同意?", "options": ["yes", "no"]},
            {"id": "items", "kind": "multiple_choice", "text": "项目", "required": False, "options": ITEMS},
            {"id": "rate", "kind": "rating", "text": "满意度", "required": False},
        ],
        rule={"kind": "civil_code_278_major"},
    )
    other_app = create_app(database_url=await _db(world), nats_url=stack.nats_url, log_json=False)
    async with running_app(other_app) as other:
        clients = [world.client, other]
        worker = world.worker()
        t0 = datetime.now(UTC)

        async def single(i: int) -> None:
            body = {
                "submission_id": str(uuid.uuid4()),
                "household_id": rng.choice(households),  # repeats: changed answers, racing first answers
                "answers": _answers(rng),
                "channel": rng.choice(["door_to_door", "paper", "meeting"]),
                "answered_at": (t0 + timedelta(seconds=rng.randint(0, 120))).isoformat(),
            }
            if rng.random() < 0.3:
                body["suggestion"] = f"建议 {i}"
            r = await clients[i % 2].post(f"/v1/consultations/{cid}/responses", json=body, headers=worker)
            assert r.status_code in (200, 201), r.text
            if rng.random() < 0.2:  # a replay of the same submission changes nothing
                again = await clients[(i + 1) % 2].post(f"/v1/consultations/{cid}/responses", json=body, headers=worker)
                assert again.status_code == 200 and again.json() == r.json()  # a replay answers 200
                assert again.headers["idempotent-replayed"] == "true"

        async def batch(i: int) -> None:
            items = [
                {
                    "submission_id": str(uuid.uuid4()),
                    "household_id": rng.choice(households),
                    "answers": _answers(rng),
                    "channel": "paper",
                    "answered_at": (t0 + timedelta(seconds=rng.randint(0, 120))).isoformat(),
                }
                for _ in range(25)
            ]
            items += items[:5]  # replays inside the batch
            for attempt in range(2):  # the whole batch again: an offline client that never saw the answer
                r = await clients[(i + attempt) % 2].post(
                    f"/v1/consultations/{cid}/responses/batch", json={"items": items}, headers=worker
                )
                assert r.status_code == 200, r.text
                assert r.json()["rejected"] == 0, r.text

        async def registry(i: int) -> None:
            hid = rng.choice(households)
            body: dict[str, Any] = {"floor_area_m2": f"{50 + rng.randint(0, 40)}.{rng.randint(0, 99):02d}"}
            if i % 2:
                body["add_residents"] = [{"birth_year": rng.randint(1930, 2005)}]
            r = await clients[i % 2].patch(f"/v1/households/{hid}", json=body, headers=worker)
            assert r.status_code == 200, r.text

        work = [single(i) for i in range(120)] + [batch(i) for i in range(6)] + [registry(i) for i in range(12)]
        rng.shuffle(work)
        await asyncio.gather(*work)

        report = await _recount(world.client._transport.app, world, cid)
        assert report.consistent, report.differences
        live = (await other.get(f"/v1/consultations/{cid}/result", headers=worker)).json()
        full = await _full_result(world.client._transport.app, cid)
        assert _comparable(live) == _comparable(full)
        assert live["responses"] > 20 and live["participation"]["households"] == live["responses"]

        # a damaged tally is found, and a repair puts it right
        conn = await asyncpg.connect((await _db(world)).replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(
                "update consultation_tallies set n = n + 7, amount = amount + 1.25 "
                "where consultation_id = $1 and metric = 'approving'",
                uuid.UUID(cid),
            )
        finally:
            await conn.close()
        damaged = await _recount(world.client._transport.app, world, cid)
        assert not damaged.consistent and "approving:" in damaged.differences
        repaired = await _recount(world.client._transport.app, world, cid, repair=True)
        assert repaired.repaired
        assert (await _recount(world.client._transport.app, world, cid)).consistent
        closed = (await world.client.post(f"/v1/consultations/{cid}/close", headers=worker)).json()
        for k in ("participation", "approval", "responses", "menu", "by_building", "by_channel"):
            assert closed[k] == full[k], k


async def test_per_resident_survey_counts_each_household_once(world):
    cid = await world.consultation(
        kind="demand",
        title="需求调查",
        questions=[{"id": "want", "kind": "multiple_choice", "text": "需要?", "options": ["gym", "canteen", "cafe"]}],
        rule={"kind": "none"},
        decision_question_id=None,
        approve_options=[],
    )
    worker = world.worker()
    hids = [h["id"] for h in world.households]
    for hid in hids[:3]:
        r = await world.client.patch(
            f"/v1/households/{hid}",
            json={"add_residents": [{"birth_year": 1960}, {"birth_year": 2001}]},
            headers=worker,
        )
        assert r.status_code == 200, r.text
    residents = {
        hid: [x["id"] for x in (await world.client.get(f"/v1/households/{hid}", headers=worker)).json()["residents"]]
        for hid in hids[:3]
    }
    answers = [
        world.answer(cid, hid, {"want": [w]}, resident_id=rid)
        for hid, rids in residents.items()
        for rid, w in zip(rids, ["gym", "canteen", "cafe"], strict=False)
    ]
    assert all(r.status_code == 201 for r in await asyncio.gather(*answers))
    # an area change of a participating household moves its area in the tallies
    r = await world.client.patch(f"/v1/households/{hids[0]}", json={"floor_area_m2": "99.99"}, headers=worker)
    assert r.status_code == 200
    result = (await world.client.get(f"/v1/consultations/{cid}/result", headers=worker)).json()
    assert result["responses"] == 9 and result["participation"]["households"] == 3
    full = await _full_result(world.client._transport.app, cid)
    assert _comparable(result) == _comparable(full)
    assert (await _recount(world.client._transport.app, world, cid)).consistent
