"""Plans built from the real community (issue 16.4), on real Postgres and NATS: work faces from the survey's events,
packages placed per face, the daily delay check across replicas, reports dated after today refused, re-plans that
only see reports up to their data date."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from projects.entrypoints.app import create_app
from renovation_common.contracts.survey import ConsultationClosed
from renovation_common.testing.plugin import bearer, eventually, running_app

from .conftest import (
    Clock,
    community_event,
    household_events,
    seed_community,
    site_event,
)


def ids() -> tuple[str, str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"d-{tag}", f"s-{tag}", f"c-{tag}"


def menu_closed(consultation_id: str, community: str, district: str, street: str, codes: list[str]) -> Any:
    return ConsultationClosed(
        consultation_id=consultation_id, community_id=community, district_id=district, street_id=street,
        kind="menu", rule="none", outcome="not_applicable", decided_by="none", total_households=60,
        participating_households=50, approving_households=50, approval_ratio="50/60", approval_percent="83.33",
        selected_items=[{"code": c, "category": "basic", "support_count": 40, "support_ratio": "40/60",
                         "support_percent": "66.67"} for c in codes],
        closed_at=datetime.now(UTC),
    )  # fmt: skip


def placed(project: dict[str, Any]) -> dict[str, list[str]]:
    code_of = {f["id"]: f["code"] for f in project["faces"]}
    out: dict[str, list[str]] = {}
    for p in project["packages"]:
        out.setdefault(p["type_code"], []).append(code_of[p["work_face_id"]])
    return {k: sorted(v) for k, v in out.items()}


async def test_faces_come_from_the_survey_events_and_a_second_lane_gets_its_packages(
    service_client, publish, make_token
):
    _, client = await service_client(create_app, "projects")
    d, s, c = ids()
    token = bearer(make_token("district_admin", district_id=d))
    await publish(community_event(c, d, s, households=60, version=2), c)
    await publish(community_event(c, "d-stale", s, version=1), c)  # an older registration arriving late
    for h in household_events(c, d, s, {"1": 40, "2": 20}):
        await publish(h, h.household_id)
    await publish(site_event(c, d, s, "L1", "lane", length_m=250, name="主巷道"))
    await publish(site_event(c, d, s, "L2", "lane", name="东巷"))
    await publish(site_event(c, d, s, "C1", "courtyard", name="中心院落"))
    await publish(site_event(c, d, s, "L3", "lane", version=2, retired=True))
    await publish(site_event(c, d, s, "L3", "lane", version=1))  # older than the retirement: ignored
    cid = f"menu-{uuid.uuid4().hex[:8]}"
    await publish(menu_closed(cid, c, d, s, ["rain_sewage_separation", "greening", "elevator_installation"]), cid)

    async def listed() -> bool:
        return len((await client.get("/v1/projects", headers=token)).json()["items"]) == 1

    await eventually(listed, timeout_s=30)
    item = (await client.get("/v1/projects", headers=token)).json()["items"][0]
    project = (await client.get(f"/v1/projects/{item['id']}", headers=token)).json()
    assert project["district_id"] == d  # the newest registration decides where the community lies
    faces = {f["code"]: f for f in project["faces"]}
    assert set(faces) == {"L1", "L2", "C1", "B1", "B2"}
    assert {f["source"] for f in faces.values()} == {"survey_site", "survey_building"}
    assert (faces["L1"]["size"], faces["L2"]["size"], faces["B1"]["size"], faces["B2"]["size"]) == (3, 1, 2, 1)
    assert placed(project) == {
        "rain_sewage_separation": ["L1", "L2"],  # the second lane gets its own
        "greening": ["C1"],
        "elevator_pit": ["B1", "B2"],
        "elevator_installation": ["B1", "B2"],
    }
    rain = {
        p["work_face_id"]: p["duration_days"] for p in project["packages"] if p["type_code"] == "rain_sewage_separation"
    }
    assert rain[faces["L1"]["id"]] > rain[faces["L2"]["id"]]  # a longer lane takes longer


async def test_a_project_says_which_packages_go_on_which_face(service_client, make_token):
    app, client = await service_client(create_app, "projects")
    d, s, c = ids()
    await seed_community(app, c, d, s, buildings={"1": 10}, lanes=["L1", "L2"])
    token = bearer(make_token("street_officer", district_id=d, street_id=s))
    body = {
        "community_id": c,
        "name": "巷道改造",
        "package_codes": ["rain_sewage_separation", "road_paving", "water_riser_renewal"],
        "assignments": [{"package_code": "rain_sewage_separation", "face_codes": ["L2"]}],
    }
    r = await client.post("/v1/projects", json=body, headers=token)
    assert r.status_code == 201, r.text
    assert placed(r.json()) == {
        "rain_sewage_separation": ["L2"],
        "road_paving": ["L1", "L2"],
        "water_riser_renewal": ["B1"],
    }
    wrong_kind = {**body, "assignments": [{"package_code": "water_riser_renewal", "face_codes": ["L1"]}]}
    r = await client.post("/v1/projects", json=wrong_kind, headers=token)
    assert r.status_code == 400 and r.json()["code"] == "package_face_kind_mismatch", r.text
    r = await client.post(
        "/v1/projects", json={**body, "assignments": [{"package_code": "road_paving", "face_codes": ["L9"]}]},
        headers=token,
    )  # fmt: skip
    assert r.status_code == 400 and r.json()["code"] == "unknown_work_face", r.text


async def _planned_project(client: Any, token: dict[str, str], community: str, start: date) -> dict[str, Any]:
    """A one-lane project (gas pipes, then paving: underground first) planned from ``start``."""
    r = await client.post(
        "/v1/projects",
        json={"community_id": community, "name": "燃气改造", "package_codes": ["gas_pipe_renewal", "road_paving"],
              "faces": [{"code": "L1", "name": "主巷道", "kind": "lane"}]},
        headers=token,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    project = r.json()
    r = await client.post(
        "/v1/plans",
        json={"project_ids": [project["id"]], "start_date": start.isoformat(), "time_limit_s": 1},
        headers=token,
    )
    assert r.status_code == 201 and r.json()["status"] == "done", r.text
    return project


async def test_reports_dated_after_today_in_beijing_are_refused(service_client, make_token):
    clock = Clock()
    now = datetime.now(UTC)
    # 01:00 tomorrow in Beijing while it is still today in UTC
    target = datetime(now.year, now.month, now.day, 17, 0, tzinfo=UTC) + timedelta(days=1)
    clock.advance(target - datetime.now(UTC))
    beijing_today = (target + timedelta(hours=8)).date()
    assert beijing_today != target.date()
    app, client = await service_client(create_app, "projects", clock=clock)
    d, s, c = ids()
    await seed_community(app, c, d, s)
    admin = bearer(make_token("district_admin", district_id=d))
    contractor = bearer(make_token("contractor", district_id=d))
    project = await _planned_project(client, admin, c, beijing_today - timedelta(days=20))
    gas = next(p for p in project["packages"] if p["type_code"] == "gas_pipe_renewal")
    path = f"/v1/projects/{project['id']}/progress"
    report = {"package_id": gas["id"], "percent_complete": "10"}
    r = await client.post(path, json={**report, "report_date": beijing_today.isoformat()}, headers=contractor)
    assert r.status_code == 201, r.text  # today in Beijing, although tomorrow in UTC
    tomorrow = (beijing_today + timedelta(days=1)).isoformat()
    r = await client.post(path, json={**report, "report_date": tomorrow, "percent_complete": "20"}, headers=contractor)
    assert r.status_code == 422 and r.json()["code"] == "report_date_in_future", r.text
    assert r.headers["content-type"] == "application/problem+json"


async def test_the_daily_delay_check_announces_each_late_day_once_across_replicas(service_client, make_token, stack):
    clock = Clock()
    settings = {"clock": clock, "delay_check_interval_s": 0.3, "relay_enabled": False}
    app, client = await service_client(create_app, "projects", **settings)
    d, s, c = ids()
    await seed_community(app, c, d, s)
    admin = bearer(make_token("district_admin", district_id=d))
    today = (clock() + timedelta(hours=8)).date()
    project = await _planned_project(client, admin, c, today - timedelta(days=30))  # long due, nothing reported
    url = app.state.settings.database_url
    second = create_app(database_url=url, nats_url=stack.nats_url, log_json=False, **settings)

    async def delayed() -> list[dict[str, Any]]:
        async with app.state.sessionmaker() as session:
            rows = (
                await session.execute(
                    sa.select(app.state.infra.outbox.c.payload).where(
                        app.state.infra.outbox.c.event_type == "projects.project.delayed.v1"
                    )
                )
            ).scalars()
            return [p["data"] for p in rows if p["data"]["project_id"] == project["id"]]

    async def job_runs() -> int:
        async with app.state.sessionmaker() as session:
            table = app.state.infra.periodic_jobs
            runs = (
                await session.execute(sa.select(table.c.runs).where(table.c.name == "project-delay-check"))
            ).scalar()
            return int(runs or 0)

    before = await job_runs()  # the first replica's ticks so far (some ran before the project was planned)
    async with running_app(second):  # a second replica on the same database

        async def ticks(n: int) -> bool:
            return await job_runs() >= n

        await eventually(lambda: ticks(before + 4), timeout_s=30)
        events = await delayed()
        assert [e["as_of"] for e in events] == [today.isoformat()], events  # once, not once per replica or tick
        assert events[0]["late_packages"] >= 1 and events[0]["delay_days"] >= 1
        clock.advance(timedelta(days=1))
        runs = await job_runs()
        await eventually(lambda: ticks(runs + 3), timeout_s=30)
        assert sorted(e["as_of"] for e in await delayed()) == [
            today.isoformat(),
            (today + timedelta(days=1)).isoformat(),
        ]


async def test_a_replan_only_sees_reports_up_to_its_data_date(service_client, make_token):
    app, client = await service_client(create_app, "projects")
    d, s, c = ids()
    await seed_community(app, c, d, s)
    admin = bearer(make_token("district_admin", district_id=d))
    contractor = bearer(make_token("contractor", district_id=d))
    start = date.today() - timedelta(days=40)
    project = await _planned_project(client, admin, c, start)
    gas = next(p for p in project["packages"] if p["type_code"] == "gas_pipe_renewal")
    assert gas["duration_days"] == 7
    for day, pct in ((2, "50"), (5, "100")):
        r = await client.post(
            f"/v1/projects/{project['id']}/progress",
            json={"package_id": gas["id"], "report_date": (start + timedelta(days=day)).isoformat(),
                  "percent_complete": pct},
            headers=contractor,
        )  # fmt: skip
        assert r.status_code == 201, r.text
    future = await client.post(
        f"/v1/projects/{project['id']}/replan",
        json={"data_date": (date.today() + timedelta(days=2)).isoformat()},
        headers=admin,
    )
    assert future.status_code == 422 and future.json()["code"] == "data_date_in_future", future.text
    r = await client.post(
        f"/v1/projects/{project['id']}/replan",
        json={"data_date": (start + timedelta(days=3)).isoformat(), "time_limit_s": 1},
        headers=admin,
    )
    assert r.status_code == 201 and r.json()["status"] == "done", r.text
    schedule = (await client.get(f"/v1/projects/{project['id']}/schedule", headers=admin)).json()
    by_code = {p["code"]: p for p in schedule["packages"]}
    # as of day 3 the gas works were half done since day 2: 4 more days, ending at 7 — the 100 % of day 5 is not
    # known yet (it would end them at 6)
    assert (by_code["gas_pipe_renewal"]["start_idx"], by_code["gas_pipe_renewal"]["end_idx"]) == (2, 7)
    assert by_code["road_paving"]["start_idx"] >= 7
    later = await client.post(
        f"/v1/projects/{project['id']}/replan",
        json={"data_date": (start + timedelta(days=6)).isoformat(), "time_limit_s": 1},
        headers=admin,
    )
    assert later.status_code == 201, later.text
    schedule = (await client.get(f"/v1/projects/{project['id']}/schedule", headers=admin)).json()
    gas_now = next(p for p in schedule["packages"] if p["code"] == "gas_pipe_renewal")
    assert (gas_now["start_idx"], gas_now["end_idx"]) == (2, 6)  # finished on day 5, as reported by day 6
