"""The whole renovation story through the public HTTP APIs of the five running services.

One community of 3,605 households (Jinsong's figure) goes through: registration (survey) → a willingness round
passed with 82% consent and ranked → a menu round whose selection becomes a project (projects, via
``survey.consultation.closed.v1``) → a plan that keeps underground works before above-ground ones on every face
and one dig window → a funding plan approved (finance, which learnt the project from ``projects.project.created.v1``)
→ daily progress → completion (``projects.project.completed.v1``). Then the smart community: a gas alarm in the home
of an elderly resident living alone becomes a critical alarm delivered to a government receiver (verified with
``standardwebhooks``), and a burst pipe in a building's common parts becomes an emergency repair request in finance
(delivered 1985, no maintenance fund), approved and paid 80/20, announced by webhook too. Finally the households of
that building pay a contribution — only on proof: a provider's signed callback or a worker's receipt.

The tests of this module run in order and share the community (module fixture ``story``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ..conftest import PAYMENT_PROVIDER_SECRETS

pytestmark = pytest.mark.integration

DISTRICT, STREET = "510105", "51010501"
HOUSEHOLDS = 3605
APPROVING = 2957  # 2957 / 3605 = 82.02 % ≥ 80 %
OPPOSING = 400
BATCH = "2026-E2E"
MENU = [
    "rain_sewage_separation",  # underground, on the lane
    "water_pipe_renewal",  # water main (underground) + risers in the buildings
    "power_cable_undergrounding",
    "road_paving",  # above ground on the lane, after the pipes
    "greening",
    "elevator_installation",  # elevator pit (underground) then the shaft, on every building
    "facade_renovation",
    "community_canteen",
    "parking",
]
SELECTED = MENU[:7]
SUBSCRIBED = [
    "smart_community.alarm.raised.v1",
    "finance.funding_plan.approved.v1",
    "finance.emergency_repair.paid.v1",
    "projects.project.completed.v1",
]


def household_rows(n: int) -> list[dict[str, Any]]:
    """Buildings of 100 homes (5 units × 20 rooms); home 0 (building 1) is an elderly resident living alone."""
    rows = []
    for i in range(n):
        residents: list[dict[str, Any]]
        if i == 0:
            residents = [{"birth_year": 1938, "lives_alone": True}]
        else:
            residents = [{"birth_year": 1950 + i % 60}, {"birth_year": 1980 + i % 30}][: 1 + i % 2]
        rows.append(
            {
                "building": str(i // 100 + 1),
                "unit": str((i % 100) // 20 + 1),
                "room": str(101 + i % 20),
                "floor_area_m2": f"{50 + (i * 37) % 4000 / 100:.2f}",
                "residents": residents,
            }
        )
    return rows


@dataclass
class Story:
    community_id: str = ""
    households: list[dict[str, Any]] = field(default_factory=list)
    receiver: Any = None
    subscription_id: str = ""
    project_id: str = ""
    elderly_household: str = ""
    building_id: str = ""  # the survey building of the elderly household (from smart-community's device record)


@pytest.fixture(scope="module")
async def story(system, api, make_receiver, tokens) -> Story:
    s = Story()
    officer = tokens("district_admin", district_id=DISTRICT)
    r = await api.post(
        "survey",
        "/v1/communities",
        officer,
        json={
            "name": "劲松北社区",
            "district_id": DISTRICT,
            "street_id": STREET,
            "address": "劲松路1号",
            "built_year": 1978,
            "delivered_year": 1985,
            "maintenance_fund_established": False,
        },
    )
    assert r.status_code == 201, r.text
    s.community_id = r.json()["id"]

    # the government system subscribes before anything happens (deliveries are made for events after that); the
    # community filter is accepted once webhooks has learnt from survey.community.registered.v1 where it lies
    s.receiver = make_receiver()
    gov = tokens("gov_system", sub="city-grid-platform", district_id=DISTRICT)
    r = await api.until(
        "POST",
        "webhooks",
        "/v1/subscriptions",
        {**gov, "Idempotency-Key": f"story-subscription-{s.community_id}"},
        ok=(201,),
        json={"url": s.receiver.url(), "event_types": SUBSCRIBED, "community_id": s.community_id},
    )
    s.subscription_id, s.receiver.secret = r.json()["id"], r.json()["secret"]

    worker = worker_token(tokens, s.community_id)
    rows = household_rows(HOUSEHOLDS)
    for start in range(0, HOUSEHOLDS, 1000):
        r = await api.post(
            "survey",
            f"/v1/communities/{s.community_id}/households",
            worker,
            json={"households": rows[start : start + 1000]},
        )
        assert r.status_code == 201, r.text
        s.households += r.json()["households"]
    s.elderly_household = s.households[0]["id"]
    return s


def worker_token(tokens: Any, community_id: str, sub: str = "grid-worker-7") -> dict[str, str]:
    return tokens("community_worker", sub=sub, district_id=DISTRICT, street_id=STREET, community_id=community_id)


async def sync(api: Any, worker: dict[str, str], consultation_id: str, items: list[dict[str, Any]]) -> None:
    """Door-to-door interviews synced in batches of up to 500 submissions (a few devices syncing at once)."""
    gate = asyncio.Semaphore(4)

    async def one(chunk: list[dict[str, Any]]) -> None:
        async with gate:
            r = await api.post(
                "survey", f"/v1/consultations/{consultation_id}/responses/batch", worker, json={"items": chunk}
            )
        assert r.status_code == 200, r.text
        assert (r.json()["accepted"], r.json()["rejected"]) == (len(chunk), 0), r.text[:2000]

    await asyncio.gather(*(one(items[i : i + 500]) for i in range(0, len(items), 500)))


async def test_community_registered_with_3605_households(story, api, tokens):
    officer = tokens("district_admin", district_id=DISTRICT)
    community = (await api.get("survey", f"/v1/communities/{story.community_id}", officer)).json()
    assert community["household_count"] == HOUSEHOLDS == len({h["id"] for h in story.households})


async def test_willingness_round_passes_with_82_percent_and_is_ranked(story, api, tokens):
    worker = worker_token(tokens, story.community_id)
    r = await api.post(
        "survey",
        "/v1/consultations",
        worker,
        json={
            "community_id": story.community_id,
            "kind": "willingness",
            "title": "第一轮意愿征询",
            "batch": BATCH,
            "questions": [{"id": "agree", "kind": "single_choice", "text": "同意改造吗?", "options": ["yes", "no"]}],
            "rule": {"kind": "household_share", "threshold": "4/5"},
            "decision_question_id": "agree",
            "approve_options": ["yes"],
        },
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert (await api.post("survey", f"/v1/consultations/{cid}/open", worker)).status_code == 200
    items = [
        {
            "submission_id": str(uuid.uuid4()),
            "household_id": h["id"],
            "answers": {"agree": "yes" if i < APPROVING else "no"},
            "channel": "door_to_door",
        }
        for i, h in enumerate(story.households[: APPROVING + OPPOSING])
    ]
    await sync(api, worker, cid, items)

    r = await api.post("survey", f"/v1/consultations/{cid}/close", worker)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["outcome"] == "passed"
    assert result["approval"]["households_of_all"] == {"ratio": "2957/3605", "percent": "82.02"}
    assert result["totals"]["households"] == HOUSEHOLDS
    assert result["responses"] == APPROVING + OPPOSING
    assert result["by_channel"] == {"door_to_door": APPROVING + OPPOSING}

    officer = tokens("district_admin", district_id=DISTRICT)
    r = await api.post("survey", "/v1/rankings", officer, json={"district_id": DISTRICT, "batch": BATCH})
    assert r.status_code == 201, r.text
    entries = r.json()["entries"]
    assert [(e["rank"], e["community_id"], e["approval_ratio"]) for e in entries] == [
        (1, story.community_id, "2957/3605")
    ]


async def test_menu_round_becomes_a_planned_funded_and_completed_project(story, api, tokens, eventually_true):
    worker = worker_token(tokens, story.community_id)
    r = await api.post(
        "survey",
        "/v1/consultations",
        worker,
        json={
            "community_id": story.community_id,
            "kind": "menu",
            "title": "第二轮: 菜单式改造内容",
            "questions": [
                {"id": "menu", "kind": "multiple_choice", "text": "选择改造项目", "options": MENU, "min_picks": 1}
            ],
            "menu_question_id": "menu",
            "menu_threshold": "1/2",
        },
    )
    assert r.status_code == 201, r.text
    menu_id = r.json()["id"]
    assert (await api.post("survey", f"/v1/consultations/{menu_id}/open", worker)).status_code == 200
    picks = []
    for k, h in enumerate(story.households[:20]):
        chosen = SELECTED if k < 14 else ["rain_sewage_separation", "greening", "community_canteen"]
        chosen = chosen + (["parking"] if k < 3 else [])
        picks.append(
            {"submission_id": str(uuid.uuid4()), "household_id": h["id"], "answers": {"menu": chosen}, "channel": "app"}
        )
    # a resident answers in the app for their own household; the worker syncs the rest
    await sync(api, worker, menu_id, picks[1:])
    resident = tokens("resident", household_id=story.households[0]["id"], community_id=story.community_id)
    mine = {k: v for k, v in picks[0].items() if k != "household_id"}
    r = await api.post("survey", f"/v1/consultations/{menu_id}/responses", resident, json=mine)
    assert r.status_code == 201, r.text
    r = await api.post("survey", f"/v1/consultations/{menu_id}/close", worker)
    assert r.status_code == 200, r.text
    selected = sorted(m["code"] for m in r.json()["menu"] if m["selected"])
    assert selected == sorted(SELECTED)

    # projects: the closed menu round becomes a project with the work packages of the selected items
    officer = tokens("district_admin", district_id=DISTRICT)
    catalog = (await api.get("projects", "/v1/catalog/work-packages", officer)).json()
    expected_codes = {c for item in SELECTED for c in catalog["menu_to_packages"][item]}

    async def project() -> dict[str, Any] | None:
        items = (await api.get("projects", "/v1/projects", officer, params={"limit": 100})).json()["items"]
        for p in items:
            if p["community_id"] == story.community_id:
                return p
        return None

    found: dict[str, Any] | None = None

    async def created() -> bool:
        nonlocal found
        found = await project()
        return found is not None

    await eventually_true(created, timeout_s=60, what="project from the menu round")
    assert found is not None
    story.project_id = found["id"]
    detail: dict[str, Any] = {}

    async def ranked() -> bool:
        # the rank comes from survey.ranking.published.v1, a different stream from the closed round: it may arrive
        # after the project was created from the round
        nonlocal detail
        detail = (await api.get("projects", f"/v1/projects/{story.project_id}", officer)).json()
        return detail["priority_rank"] is not None

    await eventually_true(ranked, timeout_s=60, what="the community's rank from the published ranking")
    assert detail["source_consultation_id"] == menu_id
    assert {p["type_code"] for p in detail["packages"]} == expected_codes
    assert detail["priority_rank"] == 1
    # the work faces are the community's buildings as the survey registered its households (100 homes each), and
    # its open ground (the survey lists no lane or courtyard of this community)
    buildings = [f for f in detail["faces"] if f["source"] == "survey_building"]
    assert len(buildings) == -(-HOUSEHOLDS // 100) and {f["size"] for f in buildings} <= {1, 2, 3, 4, 5}
    assert [f["source"] for f in detail["faces"] if f not in buildings] == ["community_grounds"]

    # plan it: underground works end before above-ground works start on every face, one dig window per face. The
    # plan starts in the past so that the whole of it can be reported below (a report dated after today is refused)
    start = date.today() - timedelta(days=2500)
    r = await api.post(
        "projects",
        "/v1/plans",
        officer,
        json={"project_ids": [story.project_id], "start_date": start.isoformat(), "time_limit_s": 1},
    )
    assert r.status_code in (201, 202), r.text
    plan = (await api.until("GET", "projects", f"/v1/plans/{r.json()['id']}", officer, timeout_s=120)).json()

    async def solved() -> bool:
        nonlocal plan
        plan = (await api.get("projects", f"/v1/plans/{plan['id']}", officer)).json()
        return plan["status"] not in ("queued", "running")

    await eventually_true(solved, timeout_s=120, what="plan solved")
    assert plan["status"] == "done", plan
    assert date.fromisoformat(plan["result"]["finish_date"]) <= date.today(), plan["result"]
    schedule = (await api.get("projects", f"/v1/projects/{story.project_id}/schedule", officer)).json()
    packages = {p["id"]: p for p in detail["packages"]}
    by_face: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for sp in schedule["packages"]:
        by_face.setdefault(sp["work_face_id"], []).append((sp, packages[sp["package_id"]]))
    assert len(schedule["packages"]) == len(packages)
    faces_with_both = dig_faces = 0
    for face_id, rows in by_face.items():
        under = [sp for sp, pk in rows if pk["layer"] == "underground"]
        above = [sp for sp, pk in rows if pk["layer"] != "underground"]
        if under and above:
            faces_with_both += 1
            assert max(sp["end_idx"] for sp in under) <= min(sp["start_idx"] for sp in above), face_id
            assert max(sp["finish_date"] for sp in under) < min(sp["start_date"] for sp in above), face_id
        digs = [sp for sp, pk in rows if pk["excavates"]]
        if digs:
            lo, hi = min(sp["start_idx"] for sp in digs), max(sp["end_idx"] for sp in digs)
            others = [sp for sp, pk in rows if not pk["excavates"]]
            # one window: nothing else happens on the face while it is dug up, so it is opened and backfilled once
            assert all(sp["end_idx"] <= lo or sp["start_idx"] >= hi for sp in others), face_id
            reach = lo  # and contiguous: the excavating packages follow each other without an idle open trench
            for sp in sorted(digs, key=lambda x: x["start_idx"]):
                assert sp["start_idx"] <= reach, (face_id, sp["code"], sp["start_idx"], reach)
                reach = max(reach, sp["end_idx"])
            dig_faces += 1
    assert faces_with_both >= 1 and dig_faces >= 1

    # finance knows the project (projects.project.created.v1) → a funding plan from the "four a little" sources
    street = tokens("street_officer", district_id=DISTRICT, street_id=STREET)
    r = await api.until(
        "POST",
        "finance",
        "/v1/funding-plans",
        street,
        ok=(201,),
        json={
            "project_id": story.project_id,
            "sources": [
                {"source": "government_subsidy", "planned_fen": 159_000_000},
                {"source": "special_bonds", "planned_fen": 160_000_000},
                {"source": "resident_contributions", "planned_fen": 12_000_000},
                {"source": "donations", "planned_fen": 2_400_000},
            ],
            "milestones": [{"code": "underground", "name": "地下管网", "amount_fen": 200_000_000}],
        },
    )
    funding_id = r.json()["id"]
    assert r.json()["status"] == "draft" and r.json()["total_planned_fen"] == 333_400_000
    assert (await api.post("finance", f"/v1/funding-plans/{funding_id}/approve", street)).status_code == 403
    r = await api.post("finance", f"/v1/funding-plans/{funding_id}/approve", officer)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved"

    # daily progress from the contractor: half-way at the middle of each package, done on its finish date
    contractor = tokens(
        "contractor", sub="contractor-1", district_id=DISTRICT, street_id=STREET, community_id=story.community_id
    )
    reports = []
    for sp in schedule["packages"]:
        s0, f0 = date.fromisoformat(sp["start_date"]), date.fromisoformat(sp["finish_date"])
        mid = s0 + (f0 - s0) / 2
        reports += [(mid, sp["package_id"], "50.00"), (f0, sp["package_id"], "100.00")]
    reports.sort()
    for day, package_id, pct in reports:
        r = await api.post(
            "projects",
            f"/v1/projects/{story.project_id}/progress",
            contractor,
            json={"package_id": package_id, "report_date": day.isoformat(), "percent_complete": pct},
        )
        assert r.status_code == 201, r.text
    last_day = reports[-1][0]
    table = (
        await api.get(
            "projects",
            f"/v1/projects/{story.project_id}/progress-table",
            officer,
            params={"date": last_day.isoformat()},
        )
    ).json()
    assert table["actual_percent"] == table["planned_percent"] and float(table["actual_percent"]) == 100
    done = (await api.get("projects", f"/v1/projects/{story.project_id}", officer)).json()
    assert done["status"] == "completed"

    # the government receiver got the approval and the completion, each verified with standardwebhooks
    async def delivered() -> bool:
        return bool(
            story.receiver.of_type("projects.project.completed.v1", project_id=story.project_id)
            and story.receiver.of_type("finance.funding_plan.approved.v1", funding_plan_id=funding_id)
        )

    await eventually_true(delivered, timeout_s=60, what="completion and funding webhooks")
    completed = story.receiver.of_type("projects.project.completed.v1", project_id=story.project_id)[0].event
    assert completed["data"]["completed_on"] == last_day.isoformat()
    assert completed["data"]["community_id"] == story.community_id

    # the seventh step: the survey service drafts the community's satisfaction round from the completion event
    async def satisfaction_drafted() -> bool:
        r = await api.get("survey", "/v1/consultations", worker, params={"kind": "satisfaction", "state": "draft"})
        return r.status_code == 200 and any(c["community_id"] == story.community_id for c in r.json()["items"])

    await eventually_true(satisfaction_drafted, timeout_s=60, what="the satisfaction round drafted on completion")


async def test_gas_alarm_of_elderly_resident_living_alone_reaches_the_government(story, api, tokens, eventually_true):
    worker = worker_token(tokens, story.community_id)
    # smart-community knows the household (and its care flags) from survey.household.registered.v1
    r = await api.until(
        "POST",
        "smart-community",
        "/v1/devices",
        worker,
        ok=(201,),
        json={
            "community_id": story.community_id,
            "kind": "gas_detector",
            "placement": "household",
            "household_id": story.elderly_household,
            "label": "kitchen",
        },
    )
    device = r.json()
    assert device["building_id"], device
    story.building_id = device["building_id"]

    gateway = tokens("device_gateway", sub="gateway-1", district_id=DISTRICT, community_id=story.community_id)
    event = {"device_id": device["id"], "type": "alarm", "time": datetime.now(UTC).isoformat(), "readings": {"lel": 35}}
    r = await api.post("smart-community", "/v1/device-events/batch", gateway, json={"events": [event]})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 1, "duplicates": 0, "rejected": [], "alarms_raised": 1}

    alarms = (
        await api.get(
            "smart-community", "/v1/alarms", worker, params={"community_id": story.community_id, "alarm_type": "gas"}
        )
    ).json()["items"]
    assert len(alarms) == 1
    alarm = alarms[0]
    assert (alarm["severity"], alarm["status"], alarm["household_id"]) == (
        "critical",
        "active",
        story.elderly_household,
    )

    async def delivered() -> bool:
        return bool(story.receiver.of_type("smart_community.alarm.raised.v1", alarm_id=alarm["id"]))

    await eventually_true(delivered, timeout_s=30, what="alarm webhook")
    got = story.receiver.of_type("smart_community.alarm.raised.v1", alarm_id=alarm["id"])[0]
    assert got.verified and got.webhook_id == got.event["id"]
    assert got.event["data"]["severity"] == "critical" and got.event["data"]["alarm_type"] == "gas"
    assert got.event["data"]["household_id"] == story.elderly_household
    # every request the receiver got was signed correctly
    assert all(d.verified for d in story.receiver.snapshot()), [d.error for d in story.receiver.snapshot()]


async def test_burst_pipe_in_common_parts_is_repaired_from_the_emergency_fund(story, api, tokens, eventually_true):
    assert story.building_id, "needs the building from the gas-alarm test"
    worker = worker_token(tokens, story.community_id)
    officer = tokens("district_admin", sub="district-renovation-office", district_id=DISTRICT)
    r = await api.post(
        "finance",
        "/v1/emergency-fund/deposits",
        officer,
        json={"deposit_id": str(uuid.uuid4()), "amount_fen": 50_000_000},
    )
    assert r.status_code == 201, r.text
    r = await api.post(
        "smart-community",
        "/v1/devices",
        worker,
        json={
            "community_id": story.community_id,
            "kind": "water_leak_sensor",
            "placement": "building",
            "building_id": story.building_id,
            "label": "1号楼地下室",
        },
    )
    assert r.status_code == 201, r.text
    sensor = r.json()
    gateway = tokens("device_gateway", sub="gateway-1", district_id=DISTRICT, community_id=story.community_id)
    leak = {"device_id": sensor["id"], "type": "leak", "time": datetime.now(UTC).isoformat(), "readings": {"wet": True}}
    r = await api.post("smart-community", "/v1/device-events/batch", gateway, json={"events": [leak]})
    assert r.json()["alarms_raised"] == 1, r.text

    # smart_community.repair.requested.v1 → an emergency repair request in finance, origin alarm
    async def requested() -> list[dict[str, Any]]:
        r = await api.get("finance", "/v1/emergency-repairs", officer, params={"limit": 100})
        return [x for x in r.json()["items"] if x["community_id"] == story.community_id and x["origin"] == "alarm"]

    async def has_request() -> bool:
        return bool(await requested())

    await eventually_true(has_request, timeout_s=30, what="emergency repair request from the alarm")
    (repair,) = await requested()
    assert repair["eligible"] is True and repair["status"] == "requested"
    assert repair["building_ids"] == [story.building_id] and repair["alarm_id"]

    cost = 1_234_567
    r = await api.post(
        "finance",
        f"/v1/emergency-repairs/{repair['id']}/approve",
        officer,
        json={"approved_cost_fen": cost, "use_public_income": False},
    )
    assert r.status_code == 200, r.text
    split = r.json()
    owners = cost * 20 // 100  # floor(20 %): the odd fen falls to the government
    assert (split["government_fen"], split["owners_fen"]) == (cost - owners, owners) == (987_654, 246_913)
    assert split["households_fen"] == owners and split["public_income_fen"] == 0
    shares = {s["household_id"]: s["amount_fen"] for s in split["household_shares"]}
    building_1 = {h["id"] for h in story.households if h["building"] == "1"}
    assert set(shares) == building_1 and len(shares) == 100  # the building of the burst pipe shares the 20 %
    assert sum(shares.values()) == owners

    r = await api.post("finance", f"/v1/emergency-repairs/{repair['id']}/pay", officer)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "paid" and r.json()["transfer_group_id"]
    stats = (await api.get("finance", "/v1/emergency-repairs/stats", officer)).json()
    assert stats["uses"] == 1 and stats["total_fen"] == cost and stats["summary_zh"] == "共计1笔、1.23万元"

    async def delivered() -> bool:
        return bool(story.receiver.of_type("finance.emergency_repair.paid.v1", request_id=repair["id"]))

    await eventually_true(delivered, timeout_s=30, what="emergency repair paid webhook")
    paid = story.receiver.of_type("finance.emergency_repair.paid.v1", request_id=repair["id"])[0].event
    assert paid["data"]["approved_cost_fen"] == cost
    assert paid["data"]["transfer_group_id"] == r.json()["transfer_group_id"]
    # the water-leak alarm (major, common part) reached the receiver as well; no request failed verification
    assert story.receiver.of_type("smart_community.alarm.raised.v1", device_id=sensor["id"], severity="major")
    assert all(d.verified for d in story.receiver.snapshot())


async def test_contributions_are_posted_on_proof_only(story, api, tokens, eventually_true):
    """The households of building 1 owe a maintenance-fund contribution (5 yuan/m²). The elderly resident pays in the
    app: an intent, then the provider's signed callback posts it (a replay posts nothing, a forgery is 401); a
    neighbour pays cash to the grid worker, who records the receipt. Nobody declares a payment posted."""
    elderly = story.households[0]
    worker = worker_token(tokens, story.community_id)
    building = (await api.get("survey", f"/v1/households/{elderly['id']}", worker)).json()["building_id"]

    async def finance_knows_the_building() -> bool:  # survey.household.registered.v1 → finance's read model
        count = "select count(*) from households where community_id = $1 and building_id = $2"
        return await api.system.sql_value("finance", count, story.community_id, building) == 100

    await eventually_true(finance_knows_the_building, timeout_s=120, what="finance read model of building 1")
    r = await api.post(
        "finance",
        "/v1/contribution-schemes",
        worker,
        json={
            "community_id": story.community_id,
            "kind": "maintenance_fund",
            "title": "1号楼维修资金",
            "rate_fen_per_m2": 500,
            "building_ids": [building],
        },
    )
    assert r.status_code == 201, r.text
    scheme = r.json()
    assert scheme["dues_count"] == 100

    resident = tokens("resident", household_id=elderly["id"], community_id=story.community_id, district_id=DISTRICT)
    (due,) = [
        d for d in (await api.get("finance", "/v1/dues", resident)).json()["items"] if d["scheme_id"] == scheme["id"]
    ]
    r = await api.post(
        "finance",
        f"/v1/dues/{due['id']}/payment-intents",
        resident,
        json={"amount_fen": due["amount_fen"], "method": "wechat_pay", "provider": "wechat_pay"},
    )
    assert r.status_code == 201, r.text
    order = r.json()["provider_order"]
    assert (await api.get("finance", f"/v1/dues/{due['id']}", resident)).json()["paid_fen"] == 0  # no money yet

    # the provider calls back (docs/payments.md): HMAC-SHA256 over "{timestamp}.{raw body}"
    raw = json.dumps(
        {
            "event": "payment.succeeded",
            "provider_txn_id": "4200002026E2E00000001",
            "intent_id": order["merchant_order_id"],
            "amount_fen": order["amount_fen"],
            "currency": "CNY",
            "paid_at": datetime.now(UTC).isoformat(),
        }
    ).encode()
    ts = str(int(time.time()))
    secret = PAYMENT_PROVIDER_SECRETS["wechat_pay"][0].encode()
    headers = {"Content-Type": "application/json", "Payment-Timestamp": ts}

    def signature_header(key: bytes, stamp: str, body: bytes) -> str:  # what the provider computes, stdlib only
        return "v1=" + base64.b64encode(hmac.new(key, stamp.encode() + b"." + body, hashlib.sha256).digest()).decode()

    forged = await api.post(
        "finance",
        order["notify_path"],
        {**headers, "Payment-Signature": signature_header(b"x" * 32, ts, raw)},
        content=raw,
    )
    assert forged.status_code == 401 and forged.json()["code"] == "callback_signature_invalid"
    signed = {**headers, "Payment-Signature": signature_header(secret, ts, raw)}
    first = await api.post("finance", order["notify_path"], signed, content=raw)
    assert first.status_code == 200 and first.json()["replayed"] is False, first.text
    replay = await api.post("finance", order["notify_path"], signed, content=raw)
    assert replay.json() == {**first.json(), "replayed": True}
    paid = (await api.get("finance", f"/v1/dues/{due['id']}", resident)).json()
    assert paid["outstanding_fen"] == 0 and [p["source"] for p in paid["payments"]] == ["provider"]

    # a neighbour pays cash at the community office; the grid worker records the receipt
    neighbour = next(h for h in story.households[1:] if h["building"] == "1")
    dues = (await api.get("finance", "/v1/dues", worker, params={"household_id": neighbour["id"]})).json()["items"]
    (cash_due,) = [d for d in dues if d["scheme_id"] == scheme["id"]]
    receipt = {
        "receipt_number": "JS-E2E-0001",
        "amount_fen": cash_due["amount_fen"],
        "method": "cash",
        "received_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
    }
    own = tokens("resident", household_id=neighbour["id"], community_id=story.community_id, district_id=DISTRICT)
    assert (await api.post("finance", f"/v1/dues/{cash_due['id']}/receipts", own, json=receipt)).status_code == 403
    r = await api.post("finance", f"/v1/dues/{cash_due['id']}/receipts", worker, json=receipt)
    assert r.status_code == 201 and r.json()["outstanding_fen"] == 0, r.text

    collection = (
        await api.get(
            "finance", f"/v1/communities/{story.community_id}/collection", worker, params={"scheme_id": scheme["id"]}
        )
    ).json()
    assert collection["total"]["households_paid_in_full"] == 2
    assert collection["total"]["paid_fen"] == due["amount_fen"] + cash_due["amount_fen"]
    # the books balance, and every payment carries its proof
    system = api.system
    proofs = await system.sql(
        "finance",
        "select source, count(*) from payments where due_id = any($1::uuid[]) group by source",
        [uuid.UUID(due["id"]), uuid.UUID(cash_due["id"])],
    )
    assert sorted(tuple(r) for r in proofs) == [("provider", 1), ("receipt", 1)]
    assert await system.sql_value("finance", "select sum(debits_posted) = sum(credits_posted) from accounts") is True
