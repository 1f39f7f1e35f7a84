"""The design basis (real Postgres and JetStream): ``survey.scheme_round.decided.v1`` published as the survey does
— the round's final vote deciding courtyard B while courtyard A awaits its run-off, then A's run-off — records the
scheme each courtyard chose; the lifecycle's deliberate and decide steps show the decisions and what is missing;
the project read shows the design basis. Redeliveries and a late stale event change nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from projects.entrypoints.app import create_app
from renovation_common.contracts.survey import CommunityRegistered, SchemeGroupDecision, SchemeRoundDecided
from renovation_common.events import new_event
from renovation_common.messaging import ensure_event_stream
from renovation_common.testing.plugin import bearer, eventually

from .test_lifecycle import GREENING, closed, ids, publish


def decided(round_id: str, community: str, district: str, street: str, groups: list[dict[str, Any]],
            pending: list[str], title: str = "自行车棚改造方案评选") -> SchemeRoundDecided:  # fmt: skip
    return SchemeRoundDecided(
        round_id=round_id, community_id=community, district_id=district, street_id=street, title=title,
        rounds_held=3, groups=[SchemeGroupDecision(**g) for g in groups], pending_group_codes=pending,
        decided_at=datetime.now(UTC),
    )  # fmt: skip


def won(code: str, buildings: list[str], proposal: str, version: int, title: str, **over: Any) -> dict[str, Any]:
    return {
        "group_code": code, "building_codes": buildings, "consultation_id": str(uuid.uuid4()), "outcome": "passed",
        "status": "won", "winning_proposal_id": f"p-{proposal}", "winning_proposal_code": proposal,
        "winning_version_id": f"v-{proposal}-{version}", "winning_version": version, "winning_title": title,
        "votes": 4, **over,
    }  # fmt: skip


async def publish_as_survey(js: Any, data: SchemeRoundDecided, key: str, *, msg_id: str | None = None) -> None:
    """As survey's outbox does: the event id derived from the round and what decided, ``Nats-Msg-Id`` = the id
    (``msg_id`` overrides the latter to send a redelivery past the stream's duplicate window)."""
    await ensure_event_stream(js, "survey")
    event = new_event(
        data,
        source="/renovation/survey",
        subject=data.round_id,
        event_id=uuid5(NAMESPACE_URL, f"survey:scheme-round:{data.round_id}:decided:{key}"),
    )
    await js.publish(event.nats_subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": msg_id or event.id})


async def test_scheme_decisions_become_the_design_basis_and_show_in_the_lifecycle(
    service_client, jetstream, make_token
):
    _, client = await service_client(create_app, "projects")
    district, street, community = ids()
    admin = bearer(make_token("district_admin", district_id=district))
    await publish(jetstream, CommunityRegistered(community_id=community, district_id=district, street_id=street,
                                                 name="劲松北社区", maintenance_fund_established=False))  # fmt: skip
    await publish(jetstream, closed(community, district, street, "menu", selected_items=GREENING))

    async def project() -> dict[str, Any] | None:
        items = (await client.get(f"/v1/projects?community_id={community}", headers=admin)).json()["items"]
        if not items:
            return None
        return (await client.get(f"/v1/projects/{items[0]['id']}", headers=admin)).json()  # type: ignore[no-any-return]

    async def basis() -> dict[str, dict[str, Any]]:
        p = await project()
        return {b["group_code"]: b for b in p["design_basis"]} if p else {}

    async def step(name: str) -> dict[str, Any]:
        r = await client.get(f"/v1/communities/{community}/lifecycle", headers=admin)
        assert r.status_code == 200, r.text
        return next(s for s in r.json()["steps"] if s["step"] == name)

    await eventually(project, timeout_s=20)
    assert (await project())["design_basis"] == []  # type: ignore[index]

    # the final vote: courtyard B chose P2 v2; courtyard A tied and awaits its run-off
    rid = str(uuid.uuid4())
    first = decided(rid, community, district, street, [won("B", ["2", "3"], "P2", 2, "车棚+便民服务")], ["A"])
    await publish_as_survey(jetstream, first, "final-vote")
    await publish_as_survey(jetstream, first, "final-vote", msg_id=str(uuid.uuid4()))  # a redelivery

    async def recorded() -> bool:
        return set(await basis()) == {"A", "B"}

    await eventually(recorded, timeout_s=20)
    groups = await basis()
    assert (groups["A"]["status"], groups["A"]["proposal_code"], groups["A"]["decided_at"]) == ("pending", None, None)
    b = groups["B"]
    assert (b["status"], b["proposal_code"], b["version"], b["title"], b["building_codes"]) == (
        "won",
        "P2",
        2,
        "车棚+便民服务",
        ["2", "3"],
    )
    assert (b["decided_by"], b["runoff_number"], b["round_title"], b["rounds_held"]) == (
        "final_vote",
        0,
        "自行车棚改造方案评选",
        3,
    )
    deliberate, vote = await step("deliberate"), await step("decide_by_vote")
    assert deliberate["status"] == "done"
    assert any(e["kind"] == "scheme_decision" and e["id"] == rid for e in deliberate["evidence"])
    assert vote["status"] == "in_progress"
    assert [e["id"] for e in vote["evidence"] if e["kind"] == "scheme_decision"] == [f"{rid}/B"]
    assert any("group A" in m and "run-off" in m for m in vote["missing"]), vote["missing"]

    # A's second run-off decides it (P1 v3); then a stale copy of the first decision, then a marker round
    runoff = won("A", ["1"], "P1", 3, "立体车棚+便民服务", decided_by="runoff", runoff_number=2)
    await publish_as_survey(jetstream, decided(rid, community, district, street, [runoff], []), "group:A")
    stale = decided(rid, community, district, street, [won("B", ["2", "3"], "P3", 1, "别的方案")], ["A"])
    await publish_as_survey(jetstream, stale, "stale", msg_id=str(uuid.uuid4()))
    marker = str(uuid.uuid4())
    nothing = {**won("A", ["9"], "P1", 1, "x"), "status": "not_passed", "winning_proposal_id": None,
               "winning_proposal_code": None, "winning_version_id": None, "winning_version": None,
               "winning_title": None}  # fmt: skip
    await publish_as_survey(
        jetstream, decided(marker, community, district, street, [nothing], [], "外立面"), "final-vote"
    )

    async def marker_arrived() -> bool:
        return any(b["round_id"] == marker for b in (await project())["design_basis"])  # type: ignore[index]

    await eventually(marker_arrived, timeout_s=20)
    p = await project()
    assert p is not None
    mine = {b["group_code"]: b for b in p["design_basis"] if b["round_id"] == rid}
    a, b = mine["A"], mine["B"]
    assert (a["status"], a["proposal_code"], a["version"], a["title"], a["decided_by"], a["runoff_number"]) == (
        "won",
        "P1",
        3,
        "立体车棚+便民服务",
        "runoff",
        2,
    )
    assert (b["proposal_code"], b["version"]) == ("P2", 2)  # a decided group is final: the stale copy changed nothing
    vote = await step("decide_by_vote")
    scheme_evidence = {e["id"]: e["detail"] for e in vote["evidence"] if e["kind"] == "scheme_decision"}
    assert {f"{rid}/A", f"{rid}/B", f"{marker}/A"} <= set(scheme_evidence)
    assert "P1 v3" in scheme_evidence[f"{rid}/A"] and "run-off 2" in scheme_evidence[f"{rid}/A"]
    assert not any("run-off (决选)" in m for m in vote["missing"])
    assert any("外立面" in m and "no scheme" in m for m in vote["missing"]), vote["missing"]
    # no personal data: the design basis names schemes, never proposers or households
    assert "proposer" not in a and "household" not in str(p["design_basis"])
