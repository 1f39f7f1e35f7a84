"""Run-offs (决选) of design-scheme votes against real Postgres: a courtyard whose final vote ties is not decided;
staff open a run-off among the tied schemes (its own ballots, the courtyard's households only); a run-off below the
rule's threshold asks for another among the leading schemes; the second run-off decides — with a winner, or, when
it ties again, without a scheme (the limit). The decision event is published per group once it is decided, and
never twice; the round's view and the lineage export show the run-offs. Thresholds at their exact boundary."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import sqlalchemy as sa

from survey.adapters.orm import infra

from .test_scheme_deliberation import DECIDED, propose, setup_round, step, vote


async def _close(world, cid: str) -> None:
    r = await world.client.post(f"/v1/consultations/{cid}/close", headers=world.worker())
    assert r.status_code == 200, r.text


async def _open(world, cid: str) -> None:
    r = await world.client.post(f"/v1/consultations/{cid}/open", headers=world.worker())
    assert r.status_code == 200, r.text


async def _ballots(world, cid: str, households: list[str], choices: list[str]) -> None:
    await _open(world, cid)
    for h, choice in zip(households, choices, strict=True):
        await vote(world, cid, h, choice)
    await _close(world, cid)


def _group(rnd: dict, code: str) -> dict:
    return next(g for g in rnd["groups"] if g["code"] == code)


async def _decided_events(world) -> list[dict]:
    async with world.app.state.runtime.sessionmaker() as s:
        rows = (
            await s.execute(
                sa.select(infra.outbox.c.payload)
                .where(infra.outbox.c.event_type == DECIDED)
                .order_by(infra.outbox.c.seq)
            )
        ).all()
    return [row[0] if isinstance(row[0], dict) else json.loads(row[0]) for row in rows]


async def _voted_round(world, a_choices: list[str], b_choices: list[str]) -> tuple[str, list[str], list[str]]:
    """Courtyard A (5 households) and B (7), schemes P1 and P2 for both, household share 4/5; voted and decided."""
    rnd, b2, b3 = await setup_round(world)
    rid = rnd["id"]
    await propose(world, rid, source_kind="university", proposer="某大学", title="立体车棚")
    await propose(world, rid, source_kind="firm", proposer="某公司", title="车棚+便民服务")
    await step(world, rid, "down")
    body = {"rule": "household_share", "threshold": "4/5"}
    r = await world.client.post(f"/v1/scheme-rounds/{rid}/final-vote", json=body, headers=world.worker())
    assert r.status_code == 200, r.text
    a, b = ([h["id"] for h in world.households], [h["id"] for h in b2 + b3])
    await _ballots(world, _group(r.json(), "A")["final_vote"]["consultation_id"], a, a_choices)
    await _ballots(world, _group(r.json(), "B")["final_vote"]["consultation_id"], b, b_choices)
    r = await world.client.post(f"/v1/scheme-rounds/{rid}/decide", headers=world.worker())
    assert r.status_code == 200, r.text
    return rid, a, b


async def test_a_tie_goes_to_runoffs_until_a_scheme_wins_and_each_group_is_published_once(world):
    # A: 4 of 5 households chose a scheme (exactly 4/5: passed), P1 and P2 tied 2–2; B: P1 4 to P2 2, 6/7 passed
    rid, a, b = await _voted_round(world, ["P1", "P1", "P2", "P2", "none"], ["P1"] * 4 + ["P2"] * 2 + ["none"])
    rnd = (await world.client.get(f"/v1/scheme-rounds/{rid}", headers=world.worker())).json()
    ga, gb = _group(rnd, "A"), _group(rnd, "B")
    assert ga["final_vote"]["result"]["outcome"] == "passed"
    assert ga["final_vote"]["result"]["approval"]["households_of_all"]["ratio"] == "4/5"
    assert ga["final_vote"]["result"]["winner"]["tied"] == ["P1", "P2"]
    assert (ga["decision"]["status"], ga["decision"]["next_runoff_candidates"]) == ("awaiting_runoff", ["P1", "P2"])
    assert ga["winner_version_id"] is None and ga["decision"]["winner"] is None
    assert (gb["decision"]["status"], gb["decision"]["decided_by"], gb["decision"]["winner"]["proposal_code"]) == (
        "decided",
        "final_vote",
        "P1",
    )
    events = await _decided_events(world)
    assert len(events) == 1  # the round's final vote: B only, A pending
    assert [g["group_code"] for g in events[0]["data"]["groups"]] == ["B"]
    assert events[0]["data"]["pending_group_codes"] == ["A"]
    assert events[0]["data"]["groups"][0]["winning_title"] == "立体车棚"

    base = f"/v1/scheme-rounds/{rid}/groups"
    refusals = (
        (f"{base}/B/runoffs", {}, 409, "runoff_not_needed"),  # B has its winner
        (f"{base}/Z/runoffs", {}, 404, "scheme_group_not_found"),
        (f"{base}/A/runoffs/count", None, 409, "no_runoff_open"),
    )
    for path, body, status, code in refusals:
        r = await world.client.post(path, json=body, headers=world.worker())
        assert (r.status_code, r.json()["code"]) == (status, code), (path, r.text)
    elsewhere = await world.community("桂东社区")
    r = await world.client.post(f"{base}/A/runoffs", json={}, headers=world.worker(community_id=elsewhere))
    assert (r.status_code, r.json()["code"]) == (403, "out_of_scope")
    r = await world.client.post(f"{base}/A/runoffs", json={}, headers=world.resident(a[0]))
    assert (r.status_code, r.json()["code"]) == (403, "role_not_allowed")

    # run-off 1 among the tied P1 and P2: its own ballots; 3 of 5 chose a scheme (below 4/5): not passed
    r = await world.client.post(f"{base}/A/runoffs", json={}, headers=world.worker())
    assert r.status_code == 201, r.text
    first = _group(r.json(), "A")["runoffs"][0]
    assert (first["number"], first["candidates"], _group(r.json(), "A")["decision"]["status"]) == (
        1,
        ["P1", "P2"],
        "runoff_open",
    )
    again = await world.client.post(f"{base}/A/runoffs", json={}, headers=world.worker())
    assert (again.status_code, again.json()["code"]) == (409, "runoff_in_progress")
    c = (await world.client.get(f"/v1/consultations/{first['consultation_id']}", headers=world.worker())).json()
    assert (c["kind"], c["questions"][0]["options"], c["building_codes"]) == (
        "scheme_vote",
        ["P1", "P2", "none"],
        ["1"],
    )
    assert (c["rule"], c["threshold"]) == ("household_share", "4/5")
    await _open(world, first["consultation_id"])
    for h, choice in zip(a, ["P1", "P1", "P2", "none", "none"], strict=True):
        await vote(world, first["consultation_id"], h, choice)
    outside = await world.answer(first["consultation_id"], b[0], {"scheme": "P2"})
    assert (outside.status_code, outside.json()["code"]) == (403, "household_outside_consultation")
    early = await world.client.post(f"{base}/A/runoffs/count", headers=world.worker())
    assert (early.status_code, early.json()["code"]) == (409, "runoff_not_closed")
    await _close(world, first["consultation_id"])
    r = await world.client.post(f"{base}/A/runoffs/count", headers=world.worker())
    assert r.status_code == 200, r.text
    ga = _group(r.json(), "A")
    counted = ga["runoffs"][0]["result"]
    assert (counted["outcome"], counted["winner"]["status"], counted["votes"]) == (
        "postponed",
        "not_passed",
        {"P1": 2, "P2": 1, "none": 2},
    )
    assert counted["approval"]["households_of_all"]["ratio"] == "3/5"
    assert (ga["decision"]["status"], ga["decision"]["next_runoff_candidates"]) == ("awaiting_runoff", ["P1", "P2"])
    assert len(await _decided_events(world)) == 1  # A still undecided: nothing published

    # run-off 2: exactly 4/5 chose a scheme, P1 ahead: A is decided by its second run-off
    r = await world.client.post(f"{base}/A/runoffs", json={}, headers=world.worker())
    assert r.status_code == 201, r.text
    second = _group(r.json(), "A")["runoffs"][1]
    assert (second["number"], second["candidates"]) == (2, ["P1", "P2"])
    await _ballots(world, second["consultation_id"], a, ["P1", "P1", "P1", "P2", "none"])
    r = await world.client.post(f"{base}/A/runoffs/count", headers=world.worker())
    assert r.status_code == 200, r.text
    ga = _group(r.json(), "A")
    decision = ga["decision"]
    assert (decision["status"], decision["decided_by"], decision["runoff_number"], decision["runoffs_held"]) == (
        "decided",
        "runoff",
        2,
        2,
    )
    assert (decision["winner"]["proposal_code"], decision["winner"]["version"]) == ("P1", 1)
    assert ga["winner_version_id"] == decision["winner"]["version_id"]
    assert ga["runoffs"][1]["result"]["approval"]["households_of_all"]["ratio"] == "4/5"
    for path, body, code in (
        (f"{base}/A/runoffs", {}, "runoff_not_needed"),
        (f"{base}/A/runoffs/count", None, "no_runoff_open"),
    ):
        r = await world.client.post(path, json=body, headers=world.worker())
        assert (r.status_code, r.json()["code"]) == (409, code), r.text

    events = await _decided_events(world)
    assert len(events) == 2  # one per decision, A's once
    data = events[1]["data"]
    assert data["pending_group_codes"] == []
    (g,) = data["groups"]
    assert (g["group_code"], g["status"], g["decided_by"], g["runoff_number"], g["winning_proposal_code"]) == (
        "A",
        "won",
        "runoff",
        2,
        "P1",
    )
    assert g["consultation_id"] == second["consultation_id"] and g["winning_title"] == "立体车棚"

    # the round read by a resident: run-off results hidden until the run-off is published
    mine = (await world.client.get(f"/v1/scheme-rounds/{rid}", headers=world.resident(a[0]))).json()
    assert _group(mine, "A")["runoffs"][1]["result"] is None and _group(mine, "A")["decision"]["winner"] is None
    await world.client.post(f"/v1/consultations/{second['consultation_id']}/publish", headers=world.worker())
    mine = (await world.client.get(f"/v1/scheme-rounds/{rid}", headers=world.resident(a[0]))).json()
    assert _group(mine, "A")["decision"]["winner"]["proposal_code"] == "P1"

    # the lineage export: the groups each version won, a run-off win marked, the run-offs each scheme was in
    r = await world.client.get(f"/v1/scheme-rounds/{rid}/lineage/export?format=csv", headers=world.worker())
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    head, body = table[0], {row[0]: row for row in table[1:]}
    assert body["P1"][head.index("中选院落")] == "A（决选2）、B"
    assert body["P1"][head.index("进入决选")] == "A（决选1）、A（决选2）"
    assert body["P2"][head.index("中选院落")] == ""


async def test_the_last_runoff_tied_again_decides_the_group_without_a_scheme(world):
    # A: 2–2 tie (4/5 exactly); B: only "none" — nothing to run off, decided without a scheme at once
    rid, a, _ = await _voted_round(world, ["P1", "P2", "P1", "P2", "none"], ["none"] * 7)
    events = await _decided_events(world)
    assert [(g["group_code"], g["status"]) for g in events[0]["data"]["groups"]] == [("B", "not_passed")]
    base = f"/v1/scheme-rounds/{rid}/groups"
    r = await world.client.post(f"{base}/B/runoffs", json={}, headers=world.worker())
    assert (r.status_code, r.json()["code"]) == (409, "runoff_not_needed")
    for number in (1, 2):
        r = await world.client.post(f"{base}/A/runoffs", json={}, headers=world.worker())
        assert r.status_code == 201, r.text
        runoff = _group(r.json(), "A")["runoffs"][number - 1]
        await _ballots(world, runoff["consultation_id"], a, ["P1", "P2", "P2", "P1", "none"])
        # staff on two replicas counting at once: one counts, the others find nothing left to count
        racing = await asyncio.gather(
            *(world.client.post(f"{base}/A/runoffs/count", headers=world.worker()) for _ in range(5))
        )
        assert sorted(x.status_code for x in racing) == [200, 409, 409, 409, 409], [x.text for x in racing]
        assert {x.json()["code"] for x in racing if x.status_code == 409} == {"no_runoff_open"}
        r = next(x for x in racing if x.status_code == 200)
    decision = _group(r.json(), "A")["decision"]
    assert (decision["status"], decision["decided_by"], decision["winner"]["status"], decision["runoffs_held"]) == (
        "decided",
        "runoff",
        "tied",
        2,
    )
    assert _group(r.json(), "A")["winner_version_id"] is None
    r = await world.client.post(f"{base}/A/runoffs", json={}, headers=world.worker())
    assert (r.status_code, r.json()["code"]) == (409, "runoff_limit_reached")
    events = await _decided_events(world)
    assert len(events) == 2
    (g,) = events[1]["data"]["groups"]
    assert (g["group_code"], g["status"], g["runoff_number"], g["winning_proposal_id"]) == ("A", "tied", 2, None)
