"""The seven-step democratic decision method as a lifecycle (real Postgres and JetStream): survey and finance events
and the projects API walk a community through the steps; the timeline says where it stands at each stage."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from projects.entrypoints.app import create_app
from renovation_common.contracts.finance import FundingPlanApproved
from renovation_common.contracts.survey import ConsultationClosed, RankingPublished
from renovation_common.events import EventData, new_event
from renovation_common.messaging import ensure_event_stream
from renovation_common.testing.plugin import bearer, eventually

from .conftest import seed_community

GREENING = [{"code": "greening", "category": "improvement", "support_count": 60, "support_ratio": "3/5",
             "support_percent": "60.00"}]  # fmt: skip


def ids() -> tuple[str, str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"d-{tag}", f"s-{tag}", f"c-{tag}"


def closed(community: str, district: str, street: str, kind: str, **over: Any) -> ConsultationClosed:
    base: dict[str, Any] = dict(
        consultation_id=f"{kind}-{uuid.uuid4().hex[:8]}", community_id=community, district_id=district,
        street_id=street, kind=kind, rule="household_share", outcome="passed", decided_by="approval",
        total_households=100, participating_households=90, approving_households=85, approval_ratio="17/20",
        approval_percent="85.00", selected_items=[], closed_at=datetime.now(UTC),
    )  # fmt: skip
    base.update(over)
    return ConsultationClosed(**base)


async def publish(js: Any, data: EventData, producer: str = "survey") -> None:
    await ensure_event_stream(js, producer)
    event = new_event(data, source=f"/renovation/{producer}", subject=str(uuid.uuid4()))
    await js.publish(event.nats_subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": event.id})


def bj_today() -> Any:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


class Timeline:
    def __init__(self, client: Any, community: str, headers: dict[str, str]) -> None:
        self.client, self.community, self.headers = client, community, headers

    async def get(self) -> dict[str, Any]:
        r = await self.client.get(f"/v1/communities/{self.community}/lifecycle", headers=self.headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def step(self, name: str) -> dict[str, Any]:
        return next(s for s in (await self.get())["steps"] if s["step"] == name)

    async def until(self, name: str, status: str, *, timeout_s: float = 20) -> dict[str, Any]:
        async def reached() -> bool:
            return (await self.step(name))["status"] == status

        await eventually(reached, timeout_s=timeout_s)
        return await self.get()


def statuses(timeline: dict[str, Any]) -> list[str]:
    return [s["status"] for s in timeline["steps"]]


async def test_a_community_walks_the_seven_steps(service_client, jetstream, make_token):
    app, client = await service_client(create_app, "projects")
    district, street, community = ids()
    await seed_community(app, community, district, street, buildings={"1": 10}, name="桂东社区")
    admin = bearer(make_token("district_admin", district_id=district))
    resident = bearer(make_token("resident", district_id=district, street_id=street, community_id=community,
                                 household_id=f"{community}-b1-h0"))  # fmt: skip
    supervisor = bearer(make_token("quality_supervisor", district_id=district, community_id=community))
    contractor = bearer(make_token("contractor", district_id=district))
    tl = Timeline(client, community, resident)  # a resident of the community reads its timeline

    start = await tl.get()
    assert [s["step"] for s in start["steps"]] == [
        "collect_opinions", "deliberate", "decide_by_vote", "hearing_and_review", "implement", "supervise", "evaluate",
    ]  # fmt: skip
    assert statuses(start) == ["not_started"] * 7
    assert start["current_step"] == "collect_opinions" and start["steps"][0]["missing"]
    assert start["support"] == {"before": None, "after": None}

    # 1 征求意见: the willingness round passed
    willingness = closed(community, district, street, "willingness")
    await publish(jetstream, willingness)
    t = await tl.until("collect_opinions", "done")
    assert t["current_step"] == "deliberate"
    assert t["steps"][0]["evidence"][0]["id"] == willingness.consultation_id and t["steps"][0]["missing"] == []
    assert t["support"]["before"]["approval_ratio"] == "17/20" and t["support"]["before"]["approval_percent"] == "85.00"

    # 2 协商讨论: the menu round selected greening (and became the project)
    menu = closed(community, district, street, "menu", rule="none", outcome="not_applicable", selected_items=GREENING)
    await publish(jetstream, menu)
    t = await tl.until("deliberate", "done")
    assert t["current_step"] == "decide_by_vote"
    review = t["steps"][3]
    assert review["status"] == "in_progress" and [e["kind"] for e in review["evidence"]] == ["project"]
    project_id = review["evidence"][0]["id"]

    # 3 表决决定: a Civil Code Art. 278 vote passed
    vote = closed(community, district, street, "scheme_vote", rule="civil_code_278_major", approving_households=80)
    await publish(jetstream, vote)
    t = await tl.until("decide_by_vote", "done")
    assert t["current_step"] == "hearing_and_review" and t["current_status"] == "in_progress"
    assert any("ranking" in m for m in t["steps"][3]["missing"])

    # 4 听证审查: ranked, then the funding plan approved by finance
    await publish(jetstream, RankingPublished(ranking_id=f"r-{community}", district_id=district, entries=[
        {"rank": 1, "community_id": community, "consultation_id": willingness.consultation_id,
         "approval_ratio": "17/20", "approval_percent": "85.00"}], published_at=datetime.now(UTC)))  # fmt: skip

    async def ranked() -> bool:
        return "ranking" in [e["kind"] for e in (await tl.step("hearing_and_review"))["evidence"]]

    await eventually(ranked, timeout_s=20)
    assert (await tl.step("hearing_and_review"))["status"] == "in_progress"
    await publish(
        jetstream,
        FundingPlanApproved(funding_plan_id=f"fp-{community}", project_id=project_id, community_id=community,
                            district_id=district, total_fen=12_000_000,
                            sources=[{"source": "government_subsidy", "amount_fen": 12_000_000}]),
        "finance",
    )  # fmt: skip
    t = await tl.until("hearing_and_review", "done")
    assert t["current_step"] == "implement" and t["current_status"] == "not_started"
    assert any("plan" in m for m in t["steps"][4]["missing"])

    # 5 组织实施: planned, then every package reported complete
    today = bj_today()
    plan = await client.post(
        "/v1/plans",
        json={"project_ids": [project_id], "start_date": (today - timedelta(days=20)).isoformat(), "time_limit_s": 1},
        headers=admin,
    )
    assert plan.status_code in (200, 201, 202), plan.text
    t = await tl.until("implement", "in_progress", timeout_s=60)
    assert t["current_step"] == "implement" and t["current_status"] == "in_progress"
    listed = (await client.get("/v1/lifecycle", params={"step": "implement"}, headers=admin)).json()
    assert [i["community_id"] for i in listed["items"]] == [community]
    assert listed["items"][0]["current_status"] == "in_progress"

    # 6 全程监督: a resident quality supervisor inspects while the works go on
    project = (await client.get(f"/v1/projects/{project_id}", headers=admin)).json()
    package_ids = [p["id"] for p in project["packages"]]
    inspected = await client.post(
        f"/v1/projects/{project_id}/inspections",
        json={"package_id": package_ids[0], "result": "passed", "inspected_on": str(today - timedelta(days=2))},
        headers=supervisor,
    )
    assert inspected.status_code == 201, inspected.text
    t = await tl.get()
    assert t["steps"][5]["status"] == "in_progress" and t["steps"][5]["evidence"][0]["id"] == inspected.json()["id"]
    for pkg in package_ids:
        r = await client.post(f"/v1/projects/{project_id}/progress", headers=contractor,
                              json={"package_id": pkg, "report_date": (today - timedelta(days=1)).isoformat(),
                                    "percent_complete": "100"})  # fmt: skip
        assert r.status_code == 201, r.text
    t = await tl.get()
    assert statuses(t)[:6] == ["done"] * 6
    assert t["current_step"] == "evaluate" and t["current_status"] == "not_started"

    # 7 评议反馈: the satisfaction round after completion
    satisfaction = closed(community, district, street, "satisfaction", rule="none", outcome="not_applicable",
                          approving_households=95, approval_ratio="19/20", approval_percent="95.00")  # fmt: skip
    await publish(jetstream, satisfaction)
    t = await tl.until("evaluate", "done")
    assert statuses(t) == ["done"] * 7 and t["current_step"] == "evaluate" and t["current_status"] == "done"
    assert t["support"]["before"]["approval_ratio"] == "17/20"
    assert t["support"]["after"] == {
        "consultation_id": satisfaction.consultation_id,
        "approving_households": 95,
        "total_households": 100,
        "approval_ratio": "19/20",
        "approval_percent": "95.00",
    }

    page = (await client.get("/v1/lifecycle", params={"district_id": district}, headers=admin)).json()
    assert [(i["community_id"], i["current_step"], i["current_status"]) for i in page["items"]] == [
        (community, "evaluate", "done")
    ]
    summary = page["summary"]
    assert summary["communities"] == 1 and summary["per_step"]["evaluate"] == 1
    assert summary["support_before"] == {"communities": 1, "approving_households": 85, "total_households": 100,
                                         "approval_ratio": "17/20", "approval_percent": "85.00"}  # fmt: skip
    assert summary["satisfaction_after"]["approval_ratio"] == "19/20"
    assert (await client.get("/v1/lifecycle", params={"step": "implement"}, headers=admin)).json()["items"] == []


async def test_postponed_blocks_and_late_events_do_not_move_steps_back(service_client, jetstream, make_token):
    app, client = await service_client(create_app, "projects")
    district, street, community = ids()
    await seed_community(app, community, district, street, buildings={"1": 10})
    await seed_community(app, f"{community}-2", district, street, buildings={"1": 5})
    admin = bearer(make_token("district_admin", district_id=district))
    tl = Timeline(client, community, admin)
    now = datetime.now(UTC)

    # a postponed willingness round blocks step 1 (暂缓改造) and says what is missing
    postponed = closed(community, district, street, "willingness", outcome="postponed", approving_households=70,
                       approval_ratio="7/10", approval_percent="70.00", closed_at=now - timedelta(hours=2))  # fmt: skip
    await publish(jetstream, postponed)
    t = await tl.until("collect_opinions", "blocked")
    assert t["current_step"] == "collect_opinions" and t["current_status"] == "blocked"
    assert "暂缓改造" in t["steps"][0]["missing"][0] and "7/10" in t["steps"][0]["missing"][0]
    listed = (await client.get("/v1/lifecycle", params={"street_id": street, "limit": 1}, headers=admin)).json()
    assert [(i["community_id"], i["current_status"]) for i in listed["items"]] == [(community, "blocked")]
    assert listed["next_cursor"] is not None and listed["summary"]["communities"] == 2
    rest = (await client.get("/v1/lifecycle", params={"cursor": listed["next_cursor"]}, headers=admin)).json()
    assert [i["community_id"] for i in rest["items"]] == [f"{community}-2"] and rest["next_cursor"] is None

    # a newer round passes; an older one arriving late does not move the step back
    passed = closed(community, district, street, "willingness", closed_at=now - timedelta(hours=1))
    await publish(jetstream, passed)
    await tl.until("collect_opinions", "done")
    older = closed(community, district, street, "willingness", outcome="postponed", approving_households=10,
                   approval_ratio="1/10", approval_percent="10.00", closed_at=now - timedelta(days=3))  # fmt: skip
    await publish(jetstream, older)
    marker = closed(community, district, street, "menu", rule="none", outcome="not_applicable", selected_items=GREENING)
    await publish(jetstream, marker)  # published after the late round: once it shows, the late one was applied
    t = await tl.until("deliberate", "done")
    assert t["steps"][0]["status"] == "done" and t["steps"][0]["evidence"][0]["id"] == passed.consultation_id
    assert t["support"]["before"]["approval_ratio"] == "17/20"

    # a satisfaction round arriving before the completion is kept, and counts once the project completes
    satisfaction = closed(community, district, street, "satisfaction", rule="none", outcome="not_applicable",
                          approving_households=90, approval_ratio="9/10", approval_percent="90.00")  # fmt: skip
    await publish(jetstream, satisfaction)
    t = await tl.until("evaluate", "in_progress")
    assert t["steps"][6]["missing"] == ["the project's completion"]
    assert t["support"]["after"]["approval_ratio"] == "9/10"
    project_id = next(e["id"] for e in t["steps"][3]["evidence"] if e["kind"] == "project")
    today = bj_today()
    plan = await client.post(
        "/v1/plans",
        json={"project_ids": [project_id], "start_date": (today - timedelta(days=10)).isoformat(), "time_limit_s": 1},
        headers=admin,
    )
    assert plan.status_code in (200, 201, 202), plan.text
    await tl.until("implement", "in_progress", timeout_s=60)
    contractor = bearer(make_token("contractor", district_id=district))
    project = (await client.get(f"/v1/projects/{project_id}", headers=admin)).json()
    for pkg in project["packages"]:
        r = await client.post(f"/v1/projects/{project_id}/progress", headers=contractor,
                              json={"package_id": pkg["id"], "report_date": (today - timedelta(days=1)).isoformat(),
                                    "percent_complete": "100"})  # fmt: skip
        assert r.status_code == 201, r.text
    t = await tl.get()
    assert t["steps"][4]["status"] == "done" and t["steps"][6]["status"] == "done"
    assert t["steps"][6]["evidence"][0]["id"] == satisfaction.consultation_id
    assert t["current_step"] == "decide_by_vote"  # steps are judged on their own records; the vote is still missing

    # scope: another district's admin is refused, residents read only their own community
    other = bearer(make_token("district_admin", district_id="d-elsewhere"))
    refused = await client.get(f"/v1/communities/{community}/lifecycle", headers=other)
    assert refused.status_code == 403 and refused.json()["code"] == "out_of_scope"
    elsewhere = (await client.get("/v1/lifecycle", params={"district_id": district}, headers=other)).json()
    assert elsewhere["items"] == [] and elsewhere["summary"]["communities"] == 0
    neighbour = bearer(make_token("resident", district_id=district, street_id=street, community_id=f"{community}-2",
                                  household_id="h-n"))  # fmt: skip
    r = await client.get(f"/v1/communities/{community}/lifecycle", headers=neighbour)
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    mine = (await client.get("/v1/lifecycle", headers=neighbour)).json()
    assert [i["community_id"] for i in mine["items"]] == [f"{community}-2"]
    unknown = await client.get("/v1/communities/c-nowhere/lifecycle", headers=admin)
    assert unknown.status_code == 404 and unknown.json()["code"] == "community_not_found"


async def test_concurrent_writers_of_one_community_leave_the_right_current_step(service_client, make_token):
    """Two transactions (two replicas' consumers) record different steps of one community at once: the second
    waits on the community's lifecycle row and sees the first's record, so the stored current step counts both."""
    import asyncio

    import sqlalchemy as sa

    from projects.entrypoints.api.dependencies import CONTEXT
    from projects.service_layer import lifecycle
    from renovation_common.db import ConsumerUnitOfWork

    app, client = await service_client(create_app, "projects", consumers_enabled=False)
    district, street, community = ids()
    await seed_community(app, community, district, street, buildings={"1": 4})
    ctx = app.state.runtime.extras[CONTEXT]
    willingness = closed(community, district, street, "willingness")
    menu = closed(community, district, street, "demand", rule="none", outcome="not_applicable", selected_items=GREENING)
    first_done = asyncio.Event()

    async with app.state.sessionmaker() as first:
        await first.begin()
        await lifecycle.record_consultation(ConsumerUnitOfWork(first, app.state.infra), ctx, willingness)

        async def second() -> None:
            async with app.state.sessionmaker() as session, session.begin():
                await lifecycle.record_consultation(ConsumerUnitOfWork(session, app.state.infra), ctx, menu)
                assert first_done.is_set()  # it could only recompute after the first committed

        task = asyncio.create_task(second())

        async def second_waits_on_a_lock() -> bool:
            assert not task.done(), "the second writer did not wait for the first"
            async with app.state.sessionmaker() as probe:
                waiting = await probe.scalar(sa.text(
                    "select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                    "and datname = current_database()"
                ))  # fmt: skip
            return bool(waiting)

        await eventually(second_waits_on_a_lock, timeout_s=20)
        first_done.set()
        await first.commit()
    await asyncio.wait_for(task, timeout=20)
    admin = bearer(make_token("district_admin", district_id=district))
    page = (await client.get("/v1/lifecycle", params={"district_id": district}, headers=admin)).json()
    assert [(i["current_step"], i["current_status"]) for i in page["items"]] == [("decide_by_vote", "not_started")]
