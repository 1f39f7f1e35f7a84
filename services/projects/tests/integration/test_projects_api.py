"""End to end on real Postgres and NATS: projects, plans (inline and as jobs), views, progress, events."""

from __future__ import annotations

import io
import uuid
import xml.etree.ElementTree as ET
from datetime import date, timedelta

from openpyxl import load_workbook

from projects.domain.catalog import Kind, Layer, package_type
from projects.entrypoints.app import create_app
from renovation_common.testing.plugin import bearer, eventually

from .conftest import seed_community

D, S, C = "d-qingyang", "s-shaoling", "c-guidong"
START = date(2025, 3, 3)


def tokens(make_token):
    return {
        "admin": bearer(make_token("district_admin", district_id=D)),
        "officer": bearer(make_token("street_officer", district_id=D, street_id=S)),
        "other": bearer(make_token("district_admin", district_id="d-elsewhere")),
        "contractor": bearer(make_token("contractor", district_id=D)),
        "supervisor": bearer(make_token("quality_supervisor", district_id=D, community_id=C)),
        "resident": bearer(make_token("resident", community_id=C, household_id="h1")),
    }


def assert_face_rules(schedule: dict, project: dict) -> None:
    """Independent check of the face rules on what the API returns (the service checks every rule too)."""
    by_face: dict[str, list[dict]] = {}
    for p in schedule["packages"]:
        by_face.setdefault(p["work_face_id"], []).append(p)
    for items in by_face.values():
        under = [p for p in items if package_type(p["code"]).layer is Layer.UNDERGROUND]
        above = [p for p in items if package_type(p["code"]).layer is Layer.ABOVE_GROUND]
        if under and above:
            assert max(p["end_idx"] for p in under) <= min(p["start_idx"] for p in above)
        for layer in Layer:
            same = [p for p in items if package_type(p["code"]).layer is layer]
            sp = [p for p in same if package_type(p["code"]).kind is Kind.SPECIAL_UTILITY]
            hw = [p for p in same if package_type(p["code"]).kind is Kind.HARDWARE]
            if sp and hw:
                assert max(p["end_idx"] for p in sp) <= min(p["start_idx"] for p in hw)
        dig = [p for p in items if package_type(p["code"]).excavates]
        if dig:
            ws, we = min(p["start_idx"] for p in dig), max(p["end_idx"] for p in dig)
            for p in items:
                if not package_type(p["code"]).excavates:
                    assert p["end_idx"] <= ws or p["start_idx"] >= we
    assert len(schedule["packages"]) == len(project["packages"])


async def test_project_plan_views_progress_and_events(service_client, make_token, jetstream):
    app, client = await service_client(create_app, "projects")
    await seed_community(app, C, D, S, buildings={"1": 20, "2": 20})
    t = tokens(make_token)
    body = {
        "community_id": C, "district_id": D, "street_id": S, "name": "桂东社区综合改造",
        "menu_items": ["rain_sewage_separation", "water_pipe_renewal", "elevator_installation", "greening",
                       "road_paving", "lighting"],
    }  # fmt: skip
    unknown = await client.post("/v1/projects", json={**body, "community_id": "c-nowhere"}, headers=t["admin"])
    assert unknown.status_code == 404 and unknown.json()["code"] == "community_not_found"
    assert (await client.post("/v1/projects", json=body, headers=t["contractor"])).status_code == 403
    assert (await client.post("/v1/projects", json=body, headers=t["other"])).json()["code"] == "out_of_scope"
    bad = await client.post("/v1/projects", json={**body, "menu_items": ["swimming_pool"]}, headers=t["admin"])
    assert bad.status_code == 400 and bad.json()["code"] == "unknown_work_package"
    created = await client.post("/v1/projects", json=body, headers=t["officer"])
    assert created.status_code == 201, created.text
    project = created.json()
    pid = project["id"]
    codes = {p["type_code"] for p in project["packages"]}
    faces = {f["code"]: f for f in project["faces"]}
    assert set(faces) == {"B1", "B2", "G"} and faces["B1"]["source"] == "survey_building"
    assert faces["G"]["source"] == "community_grounds"  # the survey lists no lane: the open ground is the face
    assert {"rain_sewage_separation", "water_main_renewal", "water_riser_renewal", "elevator_pit",
            "elevator_installation", "greening", "road_paving", "lighting"} == codes  # fmt: skip
    assert (await client.get(f"/v1/projects/{pid}", headers=t["other"])).status_code == 403
    assert (await client.get(f"/v1/projects/{pid}", headers=t["resident"])).status_code == 200

    holidays = [(START + timedelta(days=k)).isoformat() for k in (5, 6)]
    plan_body = {"project_ids": [pid], "start_date": START.isoformat(), "non_working_dates": holidays,
                 "crews": {"civil": 1}, "default_crews": 1, "max_faces_per_community": 2,
                 "time_limit_s": 1.0}  # fmt: skip
    assert (await client.post("/v1/plans", json=plan_body, headers=t["contractor"])).status_code == 403
    planned = await client.post("/v1/plans", json=plan_body, headers=t["admin"])
    assert planned.status_code == 201, planned.text
    plan = planned.json()
    assert plan["status"] == "done" and plan["solver_status"] in ("optimal", "feasible")
    assert plan["result"]["rules_checked"] is True and plan["result"]["gap"] >= 0
    again = (await client.get(f"/v1/plans/{plan['id']}", headers=t["officer"])).json()
    assert again["status"] == "done"

    schedule = (await client.get(f"/v1/projects/{pid}/schedule", headers=t["contractor"])).json()
    assert schedule["plan_id"] == plan["id"]
    assert_face_rules(schedule, project)
    assert all(date.fromisoformat(p["start_date"]).isoformat() not in holidays for p in schedule["packages"])

    chart = (await client.get(f"/v1/projects/{pid}/handover-chart", headers=t["contractor"])).json()
    assert chart["faces"] and any(f["handovers"] for f in chart["faces"])
    svg = await client.get(f"/v1/projects/{pid}/handover-chart?format=svg", headers=t["contractor"])
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert ET.fromstring(svg.text).tag.endswith("svg")  # noqa: S314

    first = schedule["packages"][0]
    report = {"package_id": first["package_id"], "report_date": first["start_date"], "percent_complete": "10",
              "note": "开挖"}  # fmt: skip
    assert (await client.post(f"/v1/projects/{pid}/progress", json=report, headers=t["officer"])).status_code == 403
    r1 = await client.post(f"/v1/projects/{pid}/progress", json=report, headers=t["contractor"])
    assert r1.status_code == 201, r1.text
    r2 = await client.post(f"/v1/projects/{pid}/progress", json=report, headers=t["contractor"])
    assert r2.status_code == 200 and r2.json()["id"] == r1.json()["id"]
    assert r2.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in r1.headers
    r3 = await client.post(
        f"/v1/projects/{pid}/progress", json={**report, "percent_complete": "20"}, headers=t["contractor"]
    )
    assert r3.status_code == 409 and r3.json()["code"] == "progress_already_reported"

    late_day = date.fromisoformat(first["finish_date"])
    table = await client.get(f"/v1/projects/{pid}/progress-table?date={late_day}", headers=t["resident"])
    assert table.status_code == 200, table.text
    row = next(r for r in table.json()["rows"] if r["package_id"] == first["package_id"])
    assert row["planned_percent"] == "100.00" and row["status"] == "late"
    xlsx = await client.get(f"/v1/projects/{pid}/progress-table?date={late_day}&format=xlsx", headers=t["admin"])
    book = load_workbook(io.BytesIO(xlsx.content))
    ws = book["工程日进度一栏表"]
    assert ws["A3"].value == "作业面" and ws.max_row == 3 + len(schedule["packages"])
    assert [c.value for c in ws[3]][3] == "工种" and ws["H2"].value.endswith("UTC+08:00（北京时间）")
    trades = {r[3] for r in ws.iter_rows(min_row=4, values_only=True)}
    statuses = {r[9] for r in ws.iter_rows(min_row=4, values_only=True)}
    assert trades and trades <= {"给水", "燃气", "道路", "排水", "电梯", "绿化", "电力", "通信", "土建", "外立面"}
    assert statuses <= {"未开始", "正常", "超前", "滞后", "已完成"} and "滞后" in statuses
    data = book["data"]
    assert [c.value for c in data[1]] == [
        "face_name",
        "package_code",
        "package_name",
        "trade",
        "start_date",
        "finish_date",
        "planned_percent",
        "actual_percent",
        "variance",
        "status",
    ]
    assert data.max_row == 1 + len(schedule["packages"])
    assert {r[9] for r in data.iter_rows(min_row=2, values_only=True)} <= {"not_started", "on_track", "ahead", "late",
                                                                         "completed"}  # fmt: skip

    daily = (await client.get(f"/v1/projects/{pid}/daily-report?date={late_day}", headers=t["officer"])).json()
    assert first["package_id"] in [r["package_id"] for r in daily["late_packages"]]
    assert daily["delay_days"] >= 1
    # a date decades after the plan's start is refused (found by fuzzing: it used to be a 500)
    for view in ("daily-report", "progress-table"):
        far = await client.get(f"/v1/projects/{pid}/{view}?date=2999-01-01", headers=t["officer"])
        assert far.status_code == 422 and far.json()["code"] == "date_out_of_range", far.text

    hand_face = next(f for f in chart["faces"] if f["handovers"])
    h = hand_face["handovers"][0]
    hand = {"work_face_id": hand_face["work_face_id"], "from_trade": h["from_trade"], "to_trade": h["to_trade"],
            "handed_over_at": f"{h['planned_on']}T08:00:00+08:00"}  # fmt: skip
    assert (await client.post(f"/v1/projects/{pid}/handovers", json=hand, headers=t["contractor"])).status_code == 201
    dup = await client.post(f"/v1/projects/{pid}/handovers", json=hand, headers=t["contractor"])
    assert dup.status_code == 409 and dup.json()["code"] == "handover_already_recorded"

    insp = {"package_id": first["package_id"], "result": "failed", "inspected_on": first["start_date"],
            "defects": [{"description": "回填不密实", "severity": "major"}]}  # fmt: skip
    assert (await client.post(f"/v1/projects/{pid}/inspections", json=insp, headers=t["contractor"])).status_code == 403
    filed = await client.post(f"/v1/projects/{pid}/inspections", json=insp, headers=t["supervisor"])
    assert filed.status_code == 201, filed.text
    nodefects = await client.post(
        f"/v1/projects/{pid}/inspections", json={**insp, "defects": []}, headers=t["supervisor"]
    )
    assert nodefects.json()["code"] == "defects_required"
    listed = (await client.get(f"/v1/projects/{pid}/inspections?limit=1", headers=t["resident"])).json()
    assert [i["id"] for i in listed["items"]] == [filed.json()["id"]] and listed["next_cursor"] is None

    # re-plan from the late day: the started package keeps its start, the rest follows with small changes
    rp = await client.post(
        f"/v1/projects/{pid}/replan", json={"data_date": late_day.isoformat(), "time_limit_s": 1.0}, headers=t["admin"]
    )
    assert rp.status_code == 201, rp.text
    assert rp.json()["status"] == "done", rp.json()
    new_schedule = (await client.get(f"/v1/projects/{pid}/schedule", headers=t["admin"])).json()
    assert new_schedule["plan_id"] == rp.json()["id"]
    assert_face_rules(new_schedule, project)
    moved_first = next(p for p in new_schedule["packages"] if p["package_id"] == first["package_id"])
    assert moved_first["start_idx"] == first["start_idx"] and moved_first["end_idx"] > first["end_idx"]
    late_idx = daily["late_packages"] and next(
        p["start_idx"] for p in new_schedule["packages"] if p["package_id"] == first["package_id"]
    )
    assert late_idx is not None
    for p in new_schedule["packages"]:
        if p["package_id"] != first["package_id"]:
            assert date.fromisoformat(p["start_date"]) >= late_day

    # events went out through the outbox
    sub = await jetstream.subscribe("renovation.projects.>", stream="PROJECTS", ordered_consumer=True)
    seen: set[str] = set()

    async def all_types() -> bool:
        try:
            while True:
                msg = await sub.next_msg(timeout=0.2)
                if pid.encode() in msg.data:
                    seen.add(msg.subject)
        except TimeoutError:
            pass  # drained for now
        return {
            "renovation.projects.project.created.v1",
            "renovation.projects.project.scheduled.v1",
            "renovation.projects.progress.reported.v1",
            "renovation.projects.workface.handed_over.v1",
        } <= seen

    await eventually(all_types, timeout_s=15)
    await sub.unsubscribe()


async def test_an_inline_plan_that_outlasts_the_wait_is_answered_as_a_job_and_finishes(service_client, make_token):
    # small enough to be solved by the request's replica, but the request waits no time for it: the caller gets the
    # running job (202 + Location) and the same replica finishes it
    app, client = await service_client(create_app, "projects", plan_sync_wait_s=0, plan_worker_enabled=False)
    t = tokens(make_token)
    await seed_community(app, C, D, S, buildings={"1": 10})
    body = {
        "community_id": C,
        "district_id": D,
        "name": "燃气改造",
        "package_codes": ["gas_pipe_renewal", "road_paving"],
    }
    r = await client.post("/v1/projects", json=body, headers=t["admin"])
    assert r.status_code == 201, r.text
    job = await client.post(
        "/v1/plans", json={"project_ids": [r.json()["id"]], "start_date": START.isoformat(), "time_limit_s": 1.0},
        headers=t["admin"],
    )  # fmt: skip
    assert job.status_code == 202, job.text
    assert job.json()["status"] == "running"
    location = job.headers["location"]

    async def done() -> bool:
        return (await client.get(location, headers=t["admin"])).json()["status"] == "done"

    await eventually(done, timeout_s=60)  # no plan worker runs here: the request's own solve finished it


async def test_large_plans_run_as_jobs_and_the_stateless_solver(service_client, make_token):
    app, client = await service_client(create_app, "projects", plan_sync_max_packages=0, plan_poll_interval_s=0.2)
    t = tokens(make_token)
    ids = []
    for k in range(3):
        await seed_community(app, f"{C}-{k}", D, S, buildings={"1": 10})
        r = await client.post(
            "/v1/projects",
            json={"community_id": f"{C}-{k}", "district_id": D, "name": f"片区 {k}",
                  "package_codes": ["gas_pipe_renewal", "telecom_undergrounding", "road_paving", "security_cameras"]},
            headers=t["admin"],
        )  # fmt: skip
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    job = await client.post(
        "/v1/plans",
        json={"project_ids": ids, "start_date": START.isoformat(), "default_crews": 1, "time_limit_s": 1.0},
        headers=t["admin"],
    )
    assert job.status_code == 202, job.text
    location = job.headers["location"]

    async def done() -> bool:
        return (await client.get(location, headers=t["admin"])).json()["status"] == "done"

    await eventually(done, timeout_s=20)
    result = (await client.get(location, headers=t["admin"])).json()
    assert result["kind"] == "batch" and len(result["result"]["projects"]) == 3
    assert (await client.get(location, headers=t["other"])).status_code == 403
    missing = await client.get(f"/v1/plans/{uuid.uuid4()}", headers=t["admin"])
    assert missing.status_code == 404 and missing.json()["code"] == "plan_not_found"

    network = {
        "tasks": [
            {"id": "a", "duration": 3, "demands": {"crew": 1}},
            {"id": "b", "duration": 2, "demands": {"crew": 1}},
            {"id": "c", "duration": 4, "demands": {"crew": 1}, "predecessors": ["a", {"id": "b", "lag": 2}]},
        ],
        "capacities": {"crew": 2},
        "time_limit_s": 1.0,
    }
    solved = await client.post("/v1/solve", json=network, headers=t["officer"])
    assert solved.status_code == 200, solved.text
    out = solved.json()
    assert out["status"] == "optimal" and out["makespan"] == 8 and out["precedence_lower_bound"] == 8
    cyc = {
        "tasks": [{"id": "a", "duration": 1, "predecessors": ["b"]}, {"id": "b", "duration": 1, "predecessors": ["a"]}]
    }
    bad = await client.post("/v1/solve", json=cyc, headers=t["officer"])
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_network"
    assert (await client.post("/v1/solve", json=network, headers=t["resident"])).status_code == 403
    catalog = (await client.get("/v1/catalog/work-packages", headers=t["resident"])).json()
    assert len(catalog["packages"]) >= 25
