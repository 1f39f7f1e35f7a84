"""A building group's own consultation (一院一策: a scheme round's final vote, ``building_codes``) counts its
electorate — the households of its buildings and their exclusive floor area — in its own ``GET /result``, its
close (frozen result, ``survey.consultation.closed.v1``), its export and the round's group result, never the whole
community's registry. At the exact boundaries (``Fraction``): one household or 0.01 m² more or less flips it."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from survey.adapters.orm import infra
from survey.adapters.repositories import ConsultationRepository
from survey.service_layer.consultations.access import load_consultation
from survey.service_layer.consultations.results import compute_from_answers, result_document

CLOSED = "survey.consultation.closed.v1"
RECORDED = "survey.response.recorded.v1"


async def group_votes(world: Any, rule: str, groups: dict[str, list[str]]) -> dict[str, str]:
    """A scheme round with one proposal (P1) whose groups go to the final vote under ``rule``: group code ->
    its consultation (opened)."""
    body = {
        "community_id": world.community_id,
        "title": "车棚改造方案评选",
        "groups": [{"code": code, "name": f"{code}院", "building_codes": b} for code, b in groups.items()],
    }
    r = await world.client.post("/v1/scheme-rounds", json=body, headers=world.worker())
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    r = await world.client.post(
        f"/v1/scheme-rounds/{rid}/proposals",
        json={"source_kind": "firm", "proposer": "某公司", "title": "立体车棚", "summary": "提高停车效率"},
        headers=world.worker(),
    )
    assert r.status_code == 201, r.text
    assert (await world.client.post(f"/v1/scheme-rounds/{rid}/send-down", headers=world.worker())).status_code == 200
    r = await world.client.post(f"/v1/scheme-rounds/{rid}/final-vote", json={"rule": rule}, headers=world.worker())
    assert r.status_code == 200, r.text
    out = {"round": rid}
    for g in r.json()["groups"]:
        cid = g["final_vote"]["consultation_id"]
        assert (await world.client.post(f"/v1/consultations/{cid}/open", headers=world.worker())).status_code == 200
        out[g["code"]] = cid
    return out


async def add(world: Any, building: str, areas: list[str], unit: str = "1") -> list[str]:
    """Households of ``building`` (unit ``unit``: another unit for each later batch of one building)."""
    body = {
        "households": [
            {"building": building, "unit": unit, "room": str(100 + i), "floor_area_m2": a, "residents": []}
            for i, a in enumerate(areas)
        ]
    }
    r = await world.client.post(f"/v1/communities/{world.community_id}/households", json=body, headers=world.worker())
    assert r.status_code == 201, r.text
    return [h["id"] for h in r.json()["households"]]


async def area(world: Any, household_id: str, m2: str) -> None:
    r = await world.client.patch(f"/v1/households/{household_id}", json={"floor_area_m2": m2}, headers=world.worker())
    assert r.status_code == 200, r.text


class Vote:
    def __init__(self, world: Any, cid: str) -> None:
        self.world, self.cid, self.t = world, cid, datetime.now(UTC)

    async def __call__(self, household_id: str, choice: str) -> None:
        self.t += timedelta(seconds=1)  # each answer later than the last: a change overwrites
        r = await self.world.answer(self.cid, household_id, {"scheme": choice}, answered_at=self.t.isoformat())
        assert r.status_code in (200, 201), r.text

    async def result(self) -> dict[str, Any]:
        r = await self.world.client.get(f"/v1/consultations/{self.cid}/result", headers=self.world.worker())
        assert r.status_code == 200, r.text
        doc = r.json()
        # the verification path (every household of the group and every answer) agrees
        app = self.world.app
        async with app.state.runtime.uow() as uow:
            row = await load_consultation(ConsultationRepository(uow.session), uuid.UUID(self.cid))
            now = datetime.now(UTC)
            full = result_document(row, await compute_from_answers(uow.session, row, final=False, year=now.year), now)
        full = json.loads(json.dumps(full))
        for key in ("totals", "participation", "approval", "conditions", "provisional_outcome", "by_building"):
            assert doc[key] == full[key], key
        return doc


def verdict(doc: dict[str, Any]) -> tuple[str, str]:
    return doc["provisional_outcome"], doc["decided_by"]


async def test_civil_code_278_counts_the_groups_households_and_area_at_the_exact_boundary(world):
    """Group A = building 7 (12 households × 10.00 m²); the community also holds building 1 (5) and building 8
    (12, group B). 8 of A's 12 take part (exactly 2/3 of owners and of area), 6 of the 8 approve (exactly 3/4):
    passed — over the whole community's 29 households it would be 8/29."""
    a_households = await add(world, "7", ["10.00"] * 12)
    b_households = await add(world, "8", ["10.00"] * 12)
    votes = await group_votes(world, "civil_code_278_major", {"A": ["7"], "B": ["8"]})
    vote = Vote(world, votes["A"])
    for hid in a_households[:6]:
        await vote(hid, "P1")
    for hid in a_households[6:8]:
        await vote(hid, "none")
    doc = await vote.result()
    assert doc["totals"] == {"households": 12, "area_m2": "120.00"}
    assert doc["participation"]["households_of_all"] == {"ratio": "2/3", "percent": "66.67"}
    assert doc["approval"]["households_of_participating"]["ratio"] == "3/4"
    assert doc["approval"]["area_of_participating"]["ratio"] == "3/4"
    assert list(doc["by_building"]) == ["7"] and doc["by_building"]["7"] == {
        "households": 12,
        "responses": 8,
        "approving": 6,
    }
    assert doc["provisional_outcome"] == "passed"

    # one approving household less: 5/8 < 3/4 (area first, in legal order); back again
    await vote(a_households[5], "none")
    assert verdict(await vote.result()) == ("rejected", "approval_area")
    await vote(a_households[5], "P1")
    assert verdict(await vote.result())[0] == "passed"
    # 0.01 m² less of a participant's area: 79.99 / 119.99 < 2/3 of the group's area; back again
    r = await world.client.patch(
        f"/v1/households/{a_households[0]}", json={"floor_area_m2": "9.99"}, headers=world.worker()
    )
    assert r.status_code == 200, r.text
    doc = await vote.result()
    assert doc["totals"]["area_m2"] == "119.99" and verdict(doc) == ("rejected", "participation_area")
    r = await world.client.patch(
        f"/v1/households/{a_households[0]}", json={"floor_area_m2": "10.00"}, headers=world.worker()
    )
    assert r.status_code == 200, r.text
    assert verdict(await vote.result())[0] == "passed"
    # a household registered outside the group changes nothing; one more inside the group: 8/13 < 2/3
    await add(world, "8", ["10.00"], unit="2")
    doc = await vote.result()
    assert doc["totals"] == {"households": 12, "area_m2": "120.00"} and doc["provisional_outcome"] == "passed"
    await add(world, "7", ["10.00"], unit="2")
    doc = await vote.result()
    assert doc["totals"] == {"households": 13, "area_m2": "130.00"}
    assert verdict(doc) == ("rejected", "participation_area")

    # group B's vote counts B's households only: 10 of 13 approve (participation 10/13 ≥ 2/3)
    vote_b = Vote(world, votes["B"])
    for hid in b_households[:10]:
        await vote_b(hid, "P1")
    doc_b = await vote_b.result()
    assert doc_b["totals"] == {"households": 13, "area_m2": "130.00"} and doc_b["provisional_outcome"] == "passed"
    # each answer's event counts the group's electorate too: new answers (one statement) and a changed one
    await vote_b(b_households[0], "none")
    async with world.app.state.runtime.sessionmaker() as s:
        rows = (await s.execute(sa.select(infra.outbox.c.payload).where(infra.outbox.c.event_type == RECORDED))).all()
    recorded = [p["data"] if isinstance(p, dict) else json.loads(p)["data"] for (p,) in rows]
    of_b = [(e["responses_count"], e["households_total"]) for e in recorded if e["consultation_id"] == votes["B"]]
    assert sorted(of_b) == [(n, 13) for n in range(1, 11)] + [(10, 13)]

    # the close freezes the same electorate: result, event, the round's group result, the export
    closed = await world.client.post(f"/v1/consultations/{votes['A']}/close", headers=world.worker())
    assert closed.status_code == 200, closed.text
    final = closed.json()
    assert final["totals"] == doc["totals"] and (final["outcome"], final["decided_by"]) == verdict(doc)
    assert (await world.client.get(f"/v1/consultations/{votes['A']}/result", headers=world.worker())).json() == final
    async with world.app.state.runtime.sessionmaker() as s:
        rows = (await s.execute(sa.select(infra.outbox.c.payload).where(infra.outbox.c.event_type == CLOSED))).all()
    events = [p["data"] if isinstance(p, dict) else json.loads(p)["data"] for (p,) in rows]
    event = next(e for e in events if e["consultation_id"] == votes["A"])
    assert (event["total_households"], event["participating_households"], event["approving_households"]) == (13, 8, 6)
    assert event["approval_ratio"] == "3/4"  # Civil Code rules: over the participating owners
    rnd = (await world.client.get(f"/v1/scheme-rounds/{votes['round']}", headers=world.worker())).json()
    group = next(g for g in rnd["groups"] if g["code"] == "A")["final_vote"]["result"]
    for key in ("totals", "participation", "approval", "conditions", "outcome", "decided_by"):
        assert group[key] == final[key], key
    r = await world.client.get(
        f"/v1/consultations/{votes['A']}/export", params={"format": "csv", "header": "machine"}, headers=world.worker()
    )
    assert r.status_code == 200, r.text
    rows_out = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows_out) == 8 and {row["building"] for row in rows_out} == {"7"}


async def test_household_share_of_a_group_at_four_fifths(world):
    """Group C = building 5 (5 households): 4 approve = exactly 4/5 of the group's households → passed (over the
    community's 10 it would be 2/5); a sixth household in building 5 → 4/6 < 4/5 → postponed."""
    c_households = await add(world, "5", ["50.00"] * 5)
    votes = await group_votes(world, "household_share", {"C": ["5"]})
    vote = Vote(world, votes["C"])
    for hid in c_households[:4]:
        await vote(hid, "P1")
    doc = await vote.result()
    assert doc["totals"] == {"households": 5, "area_m2": "250.00"}
    assert doc["approval"]["households_of_all"] == {"ratio": "4/5", "percent": "80.00"}
    assert doc["provisional_outcome"] == "passed"
    await add(world, "5", ["50.00"], unit="2")
    doc = await vote.result()
    assert doc["approval"]["households_of_all"]["ratio"] == "2/3" and doc["provisional_outcome"] == "postponed"
    await vote(c_households[4], "P1")  # 5 of 6 ≥ 4/5
    closed = (await world.client.post(f"/v1/consultations/{votes['C']}/close", headers=world.worker())).json()
    assert (closed["outcome"], closed["totals"]["households"], closed["approval"]["households_of_all"]["ratio"]) == (
        "passed",
        6,
        "5/6",
    )
