"""Design-scheme deliberation end to end against real Postgres: three rounds up and down (三上三下), feedback once
per household and version, revised versions v1 → v2 → v3, the final vote per courtyard through scheme_vote
consultations, a second courtyard choosing another scheme (一院一策), the decision event, the lineage export and
scope refusals."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import sqlalchemy as sa
from openpyxl import load_workbook

from renovation_common.testing.plugin import bearer, eventually
from survey.adapters.orm import infra

DECIDED = "survey.scheme_round.decided.v1"


async def setup_round(world) -> tuple[dict, list[dict], list[dict]]:
    """Courtyard A = building 1 (the world's 5 households); courtyard B = buildings 2 and 3 (4 + 3 households)."""
    b2 = await world.add_households(world.community_id, ["50.00"] * 4, building="2")
    b3 = await world.add_households(world.community_id, ["50.00"] * 3, building="3")
    body = {
        "community_id": world.community_id,
        "title": "自行车棚改造方案评选",
        "groups": [
            {"code": "A", "name": "一号院", "building_codes": ["1"]},
            {"code": "B", "name": "二号院", "building_codes": ["2", "3"]},
        ],
    }
    r = await world.client.post("/v1/scheme-rounds", json=body, headers=world.worker())
    assert r.status_code == 201, r.text
    rnd = r.json()
    assert (rnd["state"], rnd["round_no"], rnd["phase"], rnd["stage_label"]) == ("deliberating", 1, "up", "一上")
    assert [g["building_codes"] for g in rnd["groups"]] == [["1"], ["2", "3"]]
    return rnd, b2, b3


async def propose(world, round_id: str, **body) -> dict:
    payload = {"summary": "方案说明", **body}
    r = await world.client.post(f"/v1/scheme-rounds/{round_id}/proposals", json=payload, headers=world.worker())
    assert r.status_code == 201, r.text
    return r.json()


async def step(world, round_id: str, direction: str, expect: int = 200) -> dict:
    r = await world.client.post(f"/v1/scheme-rounds/{round_id}/send-{direction}", headers=world.worker())
    assert r.status_code == expect, r.text
    return r.json()


async def feedback(world, version_id: str, household_id: str, stance: str, text: str | None = None, **kw):
    body = {"household_id": household_id, "stance": stance, "text": text, "channel": "door_to_door", **kw}
    return await world.client.post(f"/v1/scheme-versions/{version_id}/feedback", json=body, headers=world.worker())


async def revise(world, proposal_id: str, parent: str, changes: str, answers: list[str] = ()):
    body = {"parent_version_id": parent, "summary": f"修改：{changes}", "changes": changes, "answers_feedback": answers}
    return await world.client.post(f"/v1/scheme-proposals/{proposal_id}/versions", json=body, headers=world.worker())


def proposal(rnd: dict, code: str) -> dict:
    return next(p for p in rnd["proposals"] if p["code"] == code)


async def vote(world, consultation_id: str, household_id: str, choice: str) -> None:
    r = await world.answer(consultation_id, household_id, {"scheme": choice})
    assert r.status_code == 201, r.text


async def test_three_rounds_feedback_revisions_and_a_plan_per_courtyard(world):
    rnd, b2, b3 = await setup_round(world)
    rid = rnd["id"]
    a_households = [h["id"] for h in world.households]
    b_households = [h["id"] for h in b2 + b3]
    await propose(world, rid, source_kind="university", proposer="某大学建筑学院", title="立体车棚+便民服务")
    await propose(world, rid, source_kind="firm", proposer="某设计公司", title="车棚翻新", document_ref="docs/p2.pdf")
    rnd = await propose(world, rid, source_kind="resident", proposer="二号院居民", title="车棚+花园", group_codes=["B"])
    p1, p2, p3 = (proposal(rnd, c) for c in ("P1", "P2", "P3"))
    assert (p1["group_codes"], p3["group_codes"]) == (["A", "B"], ["B"])
    p1v1, p2v1, p3v1 = (p["versions"][0]["id"] for p in (p1, p2, p3))

    # 一上: feedback, once per household per version
    own = await world.client.post(
        f"/v1/scheme-versions/{p1v1}/feedback", json={"stance": "support"}, headers=world.resident(a_households[0])
    )
    assert own.status_code == 201 and own.json()["channel"] == "app", own.text
    concern = await feedback(world, p1v1, a_households[1], "concerns", "保留晾晒区")
    assert concern.status_code == 201, concern.text
    again = await feedback(world, p1v1, a_households[1], "concerns", "保留晾晒区")
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == concern.json()["id"]
    other = await feedback(world, p1v1, a_households[1], "support")
    assert (other.status_code, other.json()["code"]) == (409, "feedback_already_given")
    # ten identical submissions racing: one stored
    racing = await asyncio.gather(*(feedback(world, p2v1, a_households[2], "concerns", "太贵") for _ in range(10)))
    assert sorted(r.status_code for r in racing) == [200] * 9 + [201]
    assert len({r.json()["id"] for r in racing}) == 1
    # P3 is for courtyard B only: a household of courtyard A has no say on it
    outside = await feedback(world, p3v1, a_households[0], "support")
    assert (outside.status_code, outside.json()["code"]) == (422, "household_not_in_group")
    assert (await feedback(world, p3v1, b_households[0], "support")).status_code == 201
    early = await revise(world, p1["id"], p1v1, "提前修改")
    assert (early.status_code, early.json()["code"]) == (409, "revision_not_open")

    # 一下: feedback closes, v2 answers the concern
    assert (await step(world, rid, "down"))["stage_label"] == "一下"
    closed = await feedback(world, p1v1, a_households[3], "support")
    assert (closed.status_code, closed.json()["code"]) == (409, "feedback_closed")
    late = await propose_refused(world, rid)
    assert late == "proposals_closed"
    wrong = await revise(world, p1["id"], p1v1, "回应", [own.json()["id"], racing[0].json()["id"]])
    assert (wrong.status_code, wrong.json()["code"]) == (422, "feedback_not_on_parent")  # that one is on P2
    r = await revise(world, p1["id"], p1v1, "保留晾晒区，增加无障碍坡道", [concern.json()["id"]])
    assert r.status_code == 201, r.text
    p1v2 = proposal(r.json(), "P1")["versions"][1]
    assert (p1v2["number"], p1v2["parent_id"], p1v2["answers_feedback"]) == (2, p1v1, [concern.json()["id"]])
    twice = await revise(world, p1["id"], p1v2["id"], "再改")
    assert (twice.status_code, twice.json()["code"]) == (409, "already_revised")
    stale = await revise(world, p1["id"], p1v1, "旧版本上再改")
    assert (stale.status_code, stale.json()["code"]) == (409, "stale_parent_version")

    # 二上: the v1 of P1 is superseded; feedback on v2
    assert (await step(world, rid, "up"))["stage_label"] == "二上"
    superseded = await feedback(world, p1v1, a_households[3], "support")
    assert (superseded.status_code, superseded.json()["code"]) == (409, "version_superseded")
    assert (await feedback(world, p1v2["id"], a_households[3], "support")).status_code == 201
    assert (await feedback(world, p1v2["id"], a_households[1], "support")).status_code == 201

    # 二下: v3 of P1, v2 of P2
    await step(world, rid, "down")
    assert (await revise(world, p1["id"], p1v2["id"], "车棚屋顶加光伏")).status_code == 201
    r = await revise(world, p2["id"], p2v1, "降低造价", [racing[0].json()["id"]])
    assert r.status_code == 201, r.text

    # 三上, 三下, and no fourth round
    assert (await step(world, rid, "up"))["stage_label"] == "三上"
    assert (await step(world, rid, "down"))["stage_label"] == "三下"
    limit = await step(world, rid, "up", expect=409)
    assert limit["code"] == "round_limit_reached"
    r = await revise(world, p1["id"], proposal(r.json(), "P1")["versions"][2]["id"], "第四版")
    assert (r.status_code, r.json()["code"]) == (409, "round_limit_reached")

    # the lineage as the round shows it
    rnd = (await world.client.get(f"/v1/scheme-rounds/{rid}", headers=world.worker())).json()
    chain = proposal(rnd, "P1")["versions"]
    assert [v["label"] for v in chain] == ["v1", "v2", "v3"]
    assert [v["parent_id"] for v in chain] == [None, chain[0]["id"], chain[1]["id"]]
    assert [v["feedback"] for v in chain] == [
        {"support": 1, "concerns": 1, "total": 2},
        {"support": 2, "concerns": 0, "total": 2},
        {"support": 0, "concerns": 0, "total": 0},
    ]
    assert [v["changes"] for v in chain] == [None, "保留晾晒区，增加无障碍坡道", "车棚屋顶加光伏"]
    assert [v["published_in_round"] for v in chain] == [1, 2, 3]
    assert [p["current_version"] for p in rnd["proposals"]] == [3, 2, 1]
    page = await world.client.get(f"/v1/scheme-versions/{p1v1}/feedback?limit=1", headers=world.worker())
    assert page.status_code == 200 and len(page.json()["items"]) == 1 and page.json()["next_cursor"]

    # the final vote: one scheme_vote consultation per courtyard (Civil Code Art. 278 major by default)
    r = await world.client.post(f"/v1/scheme-rounds/{rid}/final-vote", json={}, headers=world.worker())
    assert r.status_code == 200, r.text
    rnd = r.json()
    assert rnd["state"] == "voting"
    votes = {g["code"]: g["final_vote"]["consultation_id"] for g in rnd["groups"]}
    for cid in votes.values():
        c = (await world.client.get(f"/v1/consultations/{cid}", headers=world.worker())).json()
        assert (c["kind"], c["rule"]["kind"] if isinstance(c["rule"], dict) else c["rule"]) == (
            "scheme_vote",
            "civil_code_278_major",
        )
        r = await world.client.post(f"/v1/consultations/{cid}/open", headers=world.worker())
        assert r.status_code == 200, r.text
    a_options = (await world.client.get(f"/v1/consultations/{votes['A']}", headers=world.worker())).json()
    assert a_options["questions"][0]["options"] == ["P1", "P2", "none"]  # P3 is not for courtyard A
    for h, choice in zip(a_households, ["P1", "P1", "P1", "P1", "P2"], strict=True):
        await vote(world, votes["A"], h, choice)
    for h, choice in zip(b_households, ["P2", "P2", "P2", "P2", "P3", "P3", "none"], strict=True):
        await vote(world, votes["B"], h, choice)
    # a courtyard-A household in B's vote: not B's to decide, refused (the consultation is courtyard B's own)
    outside = await world.answer(votes["B"], a_households[0], {"scheme": "P3"})
    assert (outside.status_code, outside.json()["code"]) == (403, "household_outside_consultation"), outside.text
    b_vote = (await world.client.get(f"/v1/consultations/{votes['B']}", headers=world.worker())).json()
    assert b_vote["building_codes"] == ["2", "3"]
    # a resident's list shows their own courtyard's vote, not the other's
    for household, own, other in ((a_households[0], "A", "B"), (b_households[0], "B", "A")):
        listed = await world.client.get(
            f"/v1/consultations?community_id={world.community_id}&kind=scheme_vote", headers=world.resident(household)
        )
        ids = {c["id"] for c in listed.json()["items"]}
        assert votes[own] in ids and votes[other] not in ids, listed.text

    live = (await world.client.get(f"/v1/scheme-rounds/{rid}", headers=world.worker())).json()
    assert live["groups"][0]["final_vote"]["result"]["winner"]["status"] == "pending"
    early = await world.client.post(f"/v1/scheme-rounds/{rid}/decide", headers=world.worker())
    assert (early.status_code, early.json()["code"]) == (409, "final_vote_not_closed")
    for cid in votes.values():
        assert (await world.client.post(f"/v1/consultations/{cid}/close", headers=world.worker())).status_code == 200

    r = await world.client.post(f"/v1/scheme-rounds/{rid}/decide", headers=world.worker())
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["state"] == "decided"
    a, b = (g["final_vote"]["result"] for g in decided["groups"])
    assert a["votes"] == {"P1": 4, "P2": 1, "none": 0}
    assert (a["outcome"], a["winner"]["status"], a["winner"]["proposal_code"], a["winner"]["version"]) == (
        "passed",
        "won",
        "P1",
        3,
    )
    assert a["totals"]["households"] == 5
    # courtyard B: its own 7 households only, 6 of 7 chose a scheme
    assert b["votes"] == {"P1": 0, "P2": 4, "P3": 2, "none": 1}
    assert b["totals"]["households"] == 7 and b["approval"]["households"] == 6
    assert (b["outcome"], b["winner"]["proposal_code"], b["winner"]["version"]) == ("passed", "P2", 2)
    assert decided["groups"][1]["winner_version_id"] == b["winner"]["version_id"]
    again = await world.client.post(f"/v1/scheme-rounds/{rid}/decide", headers=world.worker())
    assert (again.status_code, again.json()["code"]) == (409, "scheme_round_not_voting")

    # the decision event, through the outbox
    runtime = world.app.state.runtime
    async with runtime.sessionmaker() as s:
        rows = (await s.execute(sa.select(infra.outbox.c.payload).where(infra.outbox.c.event_type == DECIDED))).all()
    assert len(rows) == 1
    data = rows[0][0]["data"] if isinstance(rows[0][0], dict) else json.loads(rows[0][0])["data"]
    assert data["round_id"] == rid and data["rounds_held"] == 3
    assert [(g["group_code"], g["status"], g["winning_version"]) for g in data["groups"]] == [
        ("A", "won", 3),
        ("B", "won", 2),
    ]

    # the lineage export: one row per version, Chinese headers, the courtyards each version won
    r = await world.client.get(f"/v1/scheme-rounds/{rid}/lineage/export?format=csv", headers=world.worker())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    head, body = table[0], table[1:]
    assert head[:5] == ["方案编号", "方案来源", "提交单位", "适用院落", "版本"]
    assert [(row[0], row[4]) for row in body] == [
        ("P1", "v1"),
        ("P1", "v2"),
        ("P1", "v3"),
        ("P2", "v1"),
        ("P2", "v2"),
        ("P3", "v1"),
    ]
    won = {(row[0], row[4]): row[head.index("中选院落")] for row in body}
    assert won[("P1", "v3")] == "A" and won[("P2", "v2")] == "B" and won[("P1", "v1")] == ""
    assert body[1][head.index("回应意见数")] == "1" and body[1][head.index("上一版本")] == "v1"
    r = await world.client.get(f"/v1/scheme-rounds/{rid}/lineage/export?format=xlsx", headers=world.worker())
    sheet = load_workbook(io.BytesIO(r.content)).worksheets[0]
    assert [c.value for c in next(sheet.iter_rows())][:2] == ["方案编号", "方案来源"]
    assert sheet.max_row == 7


async def propose_refused(world, round_id: str) -> str:
    body = {"source_kind": "firm", "proposer": "迟到公司", "title": "迟到方案", "summary": "x"}
    r = await world.client.post(f"/v1/scheme-rounds/{round_id}/proposals", json=body, headers=world.worker())
    assert r.status_code == 409, r.text
    return str(r.json()["code"])


async def test_scope_refusals_and_bounded_inputs(world):
    rnd, b2, _ = await setup_round(world)
    rid = rnd["id"]
    rnd = await propose(world, rid, source_kind="firm", proposer="某公司", title="方案一")
    vid = rnd["proposals"][0]["versions"][0]["id"]
    elsewhere = await world.community("桂东社区")
    others = await world.add_households(elsewhere, ["66.00"], building="1")
    foreign_worker = world.worker(community_id=elsewhere)
    foreign_resident = bearer(world.make_token("resident", household_id=others[0]["id"], community_id=elsewhere))

    # another community's staff and residents: refused on every route of this round
    for method, path, body in (
        ("get", f"/v1/scheme-rounds/{rid}", None),
        (
            "post",
            f"/v1/scheme-rounds/{rid}/proposals",
            {"source_kind": "firm", "proposer": "x", "title": "x", "summary": "x"},
        ),
        ("post", f"/v1/scheme-rounds/{rid}/send-down", None),
        ("post", f"/v1/scheme-rounds/{rid}/final-vote", {}),
        ("post", f"/v1/scheme-rounds/{rid}/decide", None),
        ("get", f"/v1/scheme-rounds/{rid}/lineage/export", None),
        ("get", f"/v1/scheme-versions/{vid}/feedback", None),
        (
            "post",
            f"/v1/scheme-versions/{vid}/feedback",
            {"household_id": world.households[0]["id"], "stance": "support", "channel": "paper"},
        ),
    ):
        r = await world.client.request(method, path, json=body, headers=foreign_worker)
        assert (r.status_code, r.json()["code"]) == (403, "out_of_scope"), (path, r.text)
    r = await world.client.get(f"/v1/scheme-rounds/{rid}", headers=foreign_resident)
    assert (r.status_code, r.json()["code"]) == (403, "out_of_scope")
    # a resident gives feedback for their own household only; a worker of this community not for another's
    r = await world.client.post(
        f"/v1/scheme-versions/{vid}/feedback", json={"stance": "support"}, headers=foreign_resident
    )
    assert (r.status_code, r.json()["code"]) == (403, "out_of_scope")
    r = await world.client.post(
        f"/v1/scheme-versions/{vid}/feedback",
        json={"household_id": b2[0]["id"], "stance": "support"},
        headers=world.resident(world.households[0]["id"]),
    )
    assert (r.status_code, r.json()["code"]) == (403, "out_of_scope")
    r = await feedback(world, vid, others[0]["id"], "support")
    assert (r.status_code, r.json()["code"]) == (403, "out_of_scope")
    # the community's rounds, listed for its staff and residents, refused to another community's
    listed = await world.client.get(f"/v1/scheme-rounds?community_id={world.community_id}", headers=world.worker())
    assert [r["id"] for r in listed.json()["items"]] == [rid] and listed.json()["items"][0]["stage_label"] == "一上"
    mine = await world.client.get(
        f"/v1/scheme-rounds?community_id={world.community_id}", headers=world.resident(b2[0]["id"])
    )
    assert mine.status_code == 200 and len(mine.json()["items"]) == 1
    for headers in (foreign_worker, foreign_resident):
        r = await world.client.get(f"/v1/scheme-rounds?community_id={world.community_id}", headers=headers)
        assert (r.status_code, r.json()["code"]) == (403, "out_of_scope")
    # residents of the community read the round (not the vote's result before it is published)
    r = await world.client.get(f"/v1/scheme-rounds/{rid}", headers=world.resident(world.households[0]["id"]))
    assert r.status_code == 200 and r.json()["proposals"][0]["code"] == "P1"

    # groups: buildings of this community only, each in one group, a proposal's groups of this round
    def round_body(*groups: dict) -> dict:
        return {"community_id": world.community_id, "title": "x", "groups": list(groups)}

    for groups, code in (
        ([{"code": "A", "name": "a", "building_codes": ["9"]}], "building_not_in_community"),
        (
            [{"code": "A", "name": "a", "building_codes": ["1"]}, {"code": "B", "name": "b", "building_codes": ["1"]}],
            "building_in_two_groups",
        ),
    ):
        r = await world.client.post("/v1/scheme-rounds", json=round_body(*groups), headers=world.worker())
        assert (r.status_code, r.json()["code"]) == (422, code)
    r = await world.client.post(
        "/v1/scheme-rounds",
        json={"community_id": elsewhere, "title": "x", "groups": [{"code": "A", "name": "a", "building_codes": ["1"]}]},
        headers=world.worker(),
    )
    assert (r.status_code, r.json()["code"]) == (403, "out_of_scope")
    r = await world.client.post(
        f"/v1/scheme-rounds/{rid}/proposals",
        json={"source_kind": "firm", "proposer": "x", "title": "x", "summary": "x", "group_codes": ["Z"]},
        headers=world.worker(),
    )
    assert (r.status_code, r.json()["code"]) == (422, "unknown_scheme_group")
    # bounded inputs
    r = await feedback(world, vid, world.households[0]["id"], "support", "长" * 1001)
    assert r.status_code == 422
    r = await world.client.post(
        f"/v1/scheme-rounds/{rid}/proposals",
        json={"source_kind": "government", "proposer": "x", "title": "x", "summary": "x"},
        headers=world.worker(),
    )
    assert r.status_code == 422
    r = await world.client.post(f"/v1/scheme-rounds/{rid}/final-vote", json={}, headers=world.worker())
    assert (r.status_code, r.json()["code"]) == (409, "invalid_round_transition")  # a round must go down first


async def test_a_round_may_go_to_the_vote_after_one_round_and_a_failed_vote_has_no_winner(world):
    rnd, _, _ = await setup_round(world)
    rid = rnd["id"]
    await propose(world, rid, source_kind="firm", proposer="某公司", title="方案一")
    await step(world, rid, "down")
    r = await world.client.post(
        f"/v1/scheme-rounds/{rid}/final-vote", json={"rule": "household_share"}, headers=world.worker()
    )
    assert r.status_code == 200, r.text
    cid = r.json()["groups"][0]["final_vote"]["consultation_id"]
    assert (await world.client.post(f"/v1/consultations/{cid}/open", headers=world.worker())).status_code == 200
    for h in world.households[:3]:  # 3 of 5 households: below the 4/5 household share
        await vote(world, cid, h["id"], "P1")
    for g in r.json()["groups"]:
        c = g["final_vote"]["consultation_id"]
        if c != cid:
            assert (await world.client.post(f"/v1/consultations/{c}/open", headers=world.worker())).status_code == 200
        assert (await world.client.post(f"/v1/consultations/{c}/close", headers=world.worker())).status_code == 200

    async def decided() -> bool:
        r = await world.client.post(f"/v1/scheme-rounds/{rid}/decide", headers=world.worker())
        return r.status_code == 200

    await eventually(decided, timeout_s=10)
    body = (await world.client.get(f"/v1/scheme-rounds/{rid}", headers=world.worker())).json()
    a = body["groups"][0]["final_vote"]["result"]
    assert (a["outcome"], a["winner"]["status"], a["winner"]["proposal_code"]) == ("postponed", "not_passed", None)
    assert a["votes"]["P1"] == 3
    assert body["groups"][0]["winner_version_id"] is None
