"""A passed menu round in the survey service becomes a project with the selected packages (real JetStream)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from projects.entrypoints.app import create_app
from renovation_common.contracts.survey import CommunityRegistered, ConsultationClosed, RankingPublished
from renovation_common.events import new_event
from renovation_common.messaging import ensure_event_stream
from renovation_common.testing.plugin import bearer, eventually


async def publish(js, data, subject_id: str) -> str:
    event = new_event(data, source="/renovation/survey", subject=subject_id)
    await js.publish(event.nats_subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": event.id})
    return event.id


def closed(consultation_id: str, community: str, district: str, **over) -> ConsultationClosed:
    base = dict(
        consultation_id=consultation_id, community_id=community, district_id=district, street_id="s-1",
        kind="menu", rule="household_share", outcome="passed", decided_by="approval", total_households=100,
        participating_households=90, approving_households=85, approval_ratio="85/100", approval_percent="85.00",
        selected_items=[
            {"code": "rain_sewage_separation", "category": "basic", "support_count": 80, "support_ratio": "80/100",
             "support_percent": "80.00"},
            {"code": "greening", "category": "improvement", "support_count": 60, "support_ratio": "60/100",
             "support_percent": "60.00"},
        ],
        closed_at=datetime.now(UTC),
    )  # fmt: skip
    base.update(over)
    return ConsultationClosed(**base)


async def test_passed_menu_round_becomes_a_project_once(service_client, jetstream, make_token):
    await ensure_event_stream(jetstream, "survey")
    _, client = await service_client(create_app, "projects")
    district = f"d-{uuid.uuid4().hex[:8]}"
    community = f"c-{uuid.uuid4().hex[:8]}"
    token = bearer(make_token("district_admin", district_id=district))
    await publish(
        jetstream,
        CommunityRegistered(community_id=community, district_id=district, street_id="s-1", name="劲松北社区",
                            maintenance_fund_established=False),
        community,
    )  # fmt: skip
    cid = f"cons-{uuid.uuid4().hex[:8]}"
    await publish(jetstream, closed(cid, community, district), cid)
    await publish(jetstream, closed(cid, community, district), cid)  # a second delivery of the same close
    await publish(jetstream, closed(f"w-{cid}", community, district, kind="willingness"), cid)
    await publish(jetstream, closed(f"p-{cid}", community, district, outcome="postponed"), cid)
    await publish(jetstream, closed(f"e-{cid}", community, district, selected_items=[]), cid)  # nothing selected
    await publish(
        jetstream,
        RankingPublished(ranking_id="r1", district_id=district, entries=[
            {"rank": 1, "community_id": community, "consultation_id": cid, "approval_ratio": "85/100",
             "approval_percent": "85.00"}], published_at=datetime.now(UTC)),
        district,
    )  # fmt: skip

    async def project_listed() -> bool:
        items = (await client.get("/v1/projects", headers=token)).json()["items"]
        return len(items) >= 1

    await eventually(project_listed, timeout_s=20)

    async def ranked() -> bool:
        items = (await client.get("/v1/projects", headers=token)).json()["items"]
        detail = (await client.get(f"/v1/projects/{items[0]['id']}", headers=token)).json()
        return detail["priority_rank"] == 1

    await eventually(ranked, timeout_s=20)
    items = (await client.get("/v1/projects", headers=token)).json()["items"]
    assert len(items) == 1  # one project per consultation; other kinds and outcomes create none
    detail = (await client.get(f"/v1/projects/{items[0]['id']}", headers=token)).json()
    assert detail["source_consultation_id"] == cid
    assert detail["name"].startswith("劲松北社区")
    assert {p["type_code"] for p in detail["packages"]} == {"rain_sewage_separation", "greening"}


async def test_menu_round_without_a_rule_becomes_a_project(service_client, jetstream, make_token):
    """The survey service closes a rule-less menu round with outcome ``not_applicable``: its selection decides."""
    await ensure_event_stream(jetstream, "survey")
    _, client = await service_client(create_app, "projects")
    district = f"d-{uuid.uuid4().hex[:8]}"
    community = f"c-{uuid.uuid4().hex[:8]}"
    token = bearer(make_token("district_admin", district_id=district))
    cid = f"menu-{uuid.uuid4().hex[:8]}"
    await publish(
        jetstream, closed(cid, community, district, rule="none", outcome="not_applicable", decided_by="none"), cid
    )

    async def listed() -> bool:
        return len((await client.get("/v1/projects", headers=token)).json()["items"]) == 1

    await eventually(listed, timeout_s=20)
    item = (await client.get("/v1/projects", headers=token)).json()["items"][0]
    detail = (await client.get(f"/v1/projects/{item['id']}", headers=token)).json()
    assert detail["source_consultation_id"] == cid
    assert {p["type_code"] for p in detail["packages"]} == {"rain_sewage_separation", "greening"}
