"""Consultation lifecycle, results, menu selection, events on real NATS, rankings, imports, exports, charts."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid

from openpyxl import Workbook, load_workbook

from renovation_common.testing.plugin import bearer, eventually


class Events:
    def __init__(self) -> None:
        self.items: list[dict] = []

    async def handler(self, msg) -> None:
        self.items.append(json.loads(msg.data))

    def of(self, type_: str, **match) -> list[dict]:
        return [e for e in self.items if e["type"] == type_ and all(e["data"].get(k) == v for k, v in match.items())]


async def listen(nats_client) -> Events:
    ev = Events()
    await nats_client.subscribe("renovation.survey.>", cb=ev.handler)
    return ev


PERSONAL = ("业主", "13800000000", "owner_name", "owner_phone")


async def stream_events(js, subject: str, *, idle_s: float = 0.5) -> list[dict]:
    """Everything the stream holds on ``subject`` (an ordered ephemeral consumer from the start)."""
    sub = await js.subscribe(subject, ordered_consumer=True)
    out = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=idle_s)
            except Exception:
                return out
            out.append(json.loads(msg.data))
    finally:
        await sub.unsubscribe()


async def test_willingness_close_publish_events_and_ranking(world, nats_client, jetstream):
    ev = await listen(nats_client)
    cid = await world.consultation(batch="2026-A")
    for h, vote in zip(world.households, ["yes", "yes", "yes", "yes", "no"], strict=True):
        r = await world.answer(
            cid,
            h["id"],
            {"agree": vote} | ({"why": "cost"} if vote == "no" else {}),
            suggestion="加装电梯" if vote == "no" else None,
        )
        assert r.status_code == 201, r.text
    live = (await world.client.get(f"/v1/consultations/{cid}/result", headers=world.worker())).json()
    assert live["outcome"] == "pending" and live["provisional_outcome"] == "passed"
    closed = await world.client.post(f"/v1/consultations/{cid}/close", headers=world.worker())
    assert closed.status_code == 200, closed.text
    res = closed.json()
    assert res["outcome"] == "passed" and res["decided_by"] == "consent_of_all_households"
    assert res["approval"]["households_of_all"] == {"ratio": "4/5", "percent": "80.00"}  # exactly the threshold
    assert res["conditions"][0]["required"] == "4/5" and res["conditions"][0]["met"] is True
    assert res["totals"] == {"households": 5, "area_m2": "356.30"}
    assert res["suggestions"] == ["加装电梯"]
    assert res["by_building"]["1"]["approving"] == 4

    me = world.resident(world.households[0]["id"])
    assert (await world.client.get(f"/v1/consultations/{cid}/result", headers=me)).status_code == 403
    assert (await world.client.post(f"/v1/consultations/{cid}/publish", headers=world.worker())).status_code == 200
    assert (await world.client.get(f"/v1/consultations/{cid}/result", headers=me)).json()["outcome"] == "passed"

    # a second community in the same district and batch with a lower ratio, and one postponed
    c2 = await world.community("桂东社区")
    h2 = await world.add_households(c2, ["50.00"] * 10, building="A")
    cid2 = await world.consultation(c2, batch="2026-A")
    for i, h in enumerate(h2):
        await world.answer(
            cid2,
            h["id"],
            {"agree": "yes" if i < 9 else "no"} | ({"why": "x"} if i >= 9 else {}),
            headers=world.worker(c2),
        )
    assert (await world.client.post(f"/v1/consultations/{cid2}/close", headers=world.worker(c2))).json()[
        "outcome"
    ] == "passed"
    c3 = await world.community("青羊小区")
    h3 = await world.add_households(c3, ["50.00"] * 5, building="B")
    cid3 = await world.consultation(c3, batch="2026-A")
    await world.answer(cid3, h3[0]["id"], {"agree": "yes"}, headers=world.worker(c3))
    r3 = (await world.client.post(f"/v1/consultations/{cid3}/close", headers=world.worker(c3))).json()
    assert r3["outcome"] == "postponed"

    ranking = await world.client.post(
        "/v1/rankings", json={"district_id": world.district, "batch": "2026-A"}, headers=world.officer()
    )
    assert ranking.status_code == 201, ranking.text
    entries = ranking.json()["entries"]
    assert [(e["rank"], e["community_id"], e["approval_ratio"]) for e in entries] == [
        (1, c2, "9/10"),
        (2, world.community_id, "4/5"),
    ]
    other = bearer(world.make_token("district_admin", district_id="d-other"))
    assert (
        await world.client.post("/v1/rankings", json={"district_id": world.district}, headers=other)
    ).status_code == 403
    # a street officer of the district may rank too (their token also names their street)
    street_officer = bearer(world.make_token("street_officer", district_id=world.district, street_id="s-any"))
    by_street = await world.client.post(
        "/v1/rankings", json={"district_id": world.district, "batch": "2026-A"}, headers=street_officer
    )
    assert by_street.status_code == 201, by_street.text
    foreign_officer = bearer(world.make_token("street_officer", district_id="d-other", street_id="s-any"))
    assert (
        await world.client.post("/v1/rankings", json={"district_id": world.district}, headers=foreign_officer)
    ).status_code == 403

    await eventually(lambda: _has(ev, "survey.ranking.published.v1", district_id=world.district))
    opened = ev.of("survey.consultation.opened.v1", consultation_id=cid)
    assert opened and opened[0]["data"]["district_id"] == world.district
    closed_ev = ev.of("survey.consultation.closed.v1", consultation_id=cid)[0]["data"]
    assert closed_ev["outcome"] == "passed" and closed_ev["approval_ratio"] == "4/5"
    assert closed_ev["community_id"] == world.community_id and closed_ev["district_id"] == world.district
    recorded = ev.of("survey.response.recorded.v1", consultation_id=cid)
    assert max(e["data"]["responses_count"] for e in recorded) == 5
    assert all(set(e["data"]) >= {"community_id", "district_id"} for e in recorded)
    ranked = ev.of("survey.ranking.published.v1", district_id=world.district)[0]["data"]
    assert ranked["community_ids"] == [c2, world.community_id]
    hh = [
        e
        for e in await stream_events(jetstream, "renovation.survey.household.registered.v1")
        if e["data"]["community_id"] == world.community_id
    ]
    assert len(hh) == 5 and {e["data"]["floor_area_m2"] for e in hh} >= {"60.00", "55.55"}
    assert sum(e["data"]["elderly_living_alone"] for e in hh) == 1  # room 101: born 1950, lives alone
    everything = json.dumps([e for e in ev.items if world.community_id in json.dumps(e)], ensure_ascii=False)
    assert not any(p in everything for p in PERSONAL)


async def _has(ev: Events, type_: str, **match) -> bool:
    await asyncio.sleep(0)
    return bool(ev.of(type_, **match))


async def test_civil_code_major_through_the_api(world):
    """Areas decide: 3 of 5 households take part (area ≥ 2/3?), approval measured on participants."""
    cid = await world.consultation(rule={"kind": "civil_code_278_major"})
    hs = world.households  # areas 60.00, 70.50, 80.25, 90.00, 55.55 → total 356.30
    for h in hs[1:4]:
        await world.answer(cid, h["id"], {"agree": "yes"})
    res = (await world.client.post(f"/v1/consultations/{cid}/close", headers=world.worker())).json()
    # participation: 240.75 / 356.30 ≥ 2/3 and 3/5 < 2/3 → rejected on owners
    assert res["outcome"] == "rejected" and res["decided_by"] == "participation_owners"
    assert res["participation"]["area_of_all"]["ratio"] == "4815/7126"  # 240.75 / 356.30, exact
    assert res["participation"]["households_of_all"] == {"ratio": "3/5", "percent": "60.00"}


async def test_menu_round_selects_items_and_closed_event_carries_them(world, nats_client):
    ev = await listen(nats_client)
    items = ["rain_sewage_separation", "elevator_installation", "community_canteen", "parking"]
    cid = await world.consultation(
        kind="menu",
        title="第二轮: 菜单式改造内容",
        questions=[
            {
                "id": "menu",
                "kind": "multiple_choice",
                "text": "选择改造项目",
                "options": items,
                "min_picks": 1,
                "max_picks": 3,
            }
        ],
        rule={"kind": "none"},
        decision_question_id=None,
        approve_options=[],
        menu_question_id="menu",
        menu_threshold="3/5",
    )
    picks = [
        ["rain_sewage_separation", "parking"],
        ["rain_sewage_separation"],
        ["parking", "elevator_installation"],
        ["rain_sewage_separation", "parking"],
        ["community_canteen"],
    ]
    for h, p in zip(world.households, picks, strict=True):
        assert (await world.answer(cid, h["id"], {"menu": p})).status_code == 201
    res = (await world.client.post(f"/v1/consultations/{cid}/close", headers=world.worker())).json()
    assert res["outcome"] == "not_applicable"
    menu = {m["code"]: m for m in res["menu"]}
    assert menu["rain_sewage_separation"]["selected"] and menu["rain_sewage_separation"]["ratio"] == "3/5"
    assert menu["parking"]["selected"] and not menu["elevator_installation"]["selected"]
    assert menu["community_canteen"]["category"] == "upgrade"
    await eventually(lambda: _has(ev, "survey.consultation.closed.v1", consultation_id=cid))
    selected = ev.of("survey.consultation.closed.v1", consultation_id=cid)[0]["data"]["selected_items"]
    assert [(s["code"], s["category"], s["support_ratio"]) for s in selected] == [
        ("rain_sewage_separation", "basic", "3/5"),
        ("parking", "improvement", "3/5"),
    ]
    bad = await world.client.post(
        "/v1/consultations",
        headers=world.worker(),
        json={
            "community_id": world.community_id,
            "kind": "menu",
            "title": "x",
            "menu_question_id": "m",
            "questions": [{"id": "m", "kind": "multiple_choice", "text": "m", "options": ["sauna"]}],
        },
    )
    assert bad.status_code == 422 and bad.json()["code"] == "unknown_menu_item"


async def test_demand_survey_per_resident_export_and_chart(world):
    cid = await world.consultation(
        kind="demand",
        title="需求调查",
        questions=[
            {
                "id": "want",
                "kind": "multiple_choice",
                "text": "您需要?",
                "options": ["canteen", "gym", "barber", "parcel_lockers"],
            },
            {"id": "rate", "kind": "rating", "text": "满意度", "required": False},
        ],
        rule={"kind": "none"},
        decision_question_id=None,
        approve_options=[],
    )
    h0 = world.households[0]["id"]
    detail = (await world.client.get(f"/v1/households/{h0}", headers=world.worker())).json()
    resident = detail["residents"][0]["id"]
    assert detail["building_id"]  # the id other services know the building by (device placement, repairs)
    r = await world.answer(cid, h0, {"want": ["gym"]})
    assert r.status_code == 400 and r.json()["code"] == "resident_required"
    assert (
        await world.answer(cid, h0, {"want": ["gym", "parcel_lockers"], "rate": 4}, resident_id=resident)
    ).status_code == 201
    h1 = world.households[1]["id"]
    r1 = (await world.client.get(f"/v1/households/{h1}", headers=world.worker())).json()["residents"][0]["id"]
    assert (
        await world.answer(cid, h1, {"want": ["canteen", "barber"]}, resident_id=r1, suggestion='=HYPERLINK("x")')
    ).status_code == 201
    # a second resident in household 0 answers on their own
    replace = await world.client.patch(
        f"/v1/households/{h0}", headers=world.worker(), json={"residents": [{"birth_year": 1948}]}
    )
    assert replace.status_code == 409 and replace.json()["code"] == "resident_has_responses"
    added = await world.client.patch(
        f"/v1/households/{h0}",
        headers=world.worker(),
        json={"add_residents": [{"birth_year": 1948, "needs_accompaniment": True}]},
    )
    assert added.status_code == 200 and len(added.json()["residents"]) == 2
    detail = (await world.client.get(f"/v1/households/{h0}", headers=world.worker())).json()
    elder = next(x["id"] for x in detail["residents"] if x["birth_year"] == 1948)
    assert (await world.answer(cid, h0, {"want": ["canteen"]}, resident_id=elder)).status_code == 201

    res = (await world.client.get(f"/v1/consultations/{cid}/result", headers=world.worker())).json()
    assert res["by_age_group"]["elderly"]["questions"]["want"]["canteen"] == 2
    assert res["by_age_group"]["youth"]["questions"]["want"]["gym"] == 1  # the 1995 resident of household 0
    svg = await world.client.get(f"/v1/consultations/{cid}/charts/demand-by-age.svg", headers=world.worker())
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "老年 / canteen: 2" in svg.text and svg.text.startswith("<svg")  # the age group in Chinese

    csv_r = await world.client.get(f"/v1/consultations/{cid}/export?format=csv&header=machine", headers=world.worker())
    assert csv_r.status_code == 200
    rows = list(csv.reader(io.StringIO(csv_r.content.decode("utf-8-sig"))))
    header = rows[0]
    assert header[:4] == ["response_id", "household_id", "community_id", "community_name"] and header[-3:] == [
        "q:want",
        "q:rate",
        "suggestion",
    ]
    assert len(rows) == 4 and all(len(r) == len(header) for r in rows)
    assert any(r[-1] == '\'=HYPERLINK("x")' for r in rows[1:])  # formula injection neutralised
    assert not any(p in csv_r.content.decode("utf-8-sig") for p in PERSONAL[:2])
    xlsx_r = await world.client.get(f"/v1/consultations/{cid}/export?format=xlsx", headers=world.worker())
    sheet = load_workbook(io.BytesIO(xlsx_r.content))["data"]
    assert [c.value for c in next(sheet.iter_rows(max_row=1))] == header
    assert sheet.max_row == 4


async def test_import_csv_and_xlsx_all_or_nothing(world):
    cid = world.community_id
    bad_csv = (
        "building,unit,room,floor_area_m2,owner_name,owner_phone,resident_birth_years,lives_alone\n"
        "2,1,201,65.30,张三,13900000001,1940,yes\n"
        "2,1,202,65.333,李四,,1980;1982,no\n"
        "2,1,201,70,王五,,,\n"
        ",1,203,70,,,,\n"
    )
    r = await world.client.post(
        f"/v1/communities/{cid}/households/import",
        content=bad_csv.encode(),
        headers={**world.worker(), "content-type": "text/csv"},
    )
    assert r.status_code == 422 and r.json()["code"] == "household_rows_rejected"
    assert [(e["row"], e["code"]) for e in r.json()["errors"]] == [
        (2, "invalid_household"),
        (3, "duplicate_household"),
        (4, "invalid_household"),
    ]
    assert r.json()["errors"][0]["field"] == "floor_area_m2"
    count = (await world.client.get(f"/v1/communities/{cid}", headers=world.worker())).json()["household_count"]
    assert count == 5  # nothing from the bad file

    wb = Workbook()
    ws = wb.active
    ws.append(["building", "unit", "room", "floor_area_m2", "owner_name", "resident_birth_years"])
    ws.append(["3", "1", 301, 88.5, "赵六", 1950])
    ws.append(["3", "1", 302, "72.35", None, "1990;1992"])
    buf = io.BytesIO()
    wb.save(buf)
    xlsx_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    r = await world.client.post(
        f"/v1/communities/{cid}/households/import",
        content=buf.getvalue(),
        headers={**world.worker(), "content-type": xlsx_type},
    )
    assert r.status_code == 201, r.text
    assert r.json()["created"] == 2
    assert {h["floor_area_m2"] for h in r.json()["households"]} == {"88.50", "72.35"}
    again = await world.client.post(
        f"/v1/communities/{cid}/households/import",
        content=buf.getvalue(),
        headers={**world.worker(), "content-type": xlsx_type},
    )
    assert again.status_code == 422 and {e["code"] for e in again.json()["errors"]} == {"household_exists"}
    garbage = await world.client.post(
        f"/v1/communities/{cid}/households/import",
        content=b"\x00\x01",
        headers={**world.worker(), "content-type": xlsx_type},
    )
    assert garbage.status_code == 400 and garbage.json()["code"] == "unreadable_file"
    page = await world.client.get(f"/v1/communities/{cid}/households?limit=4", headers=world.worker())
    assert len(page.json()["items"]) == 4 and page.json()["next_cursor"]
    rest = await world.client.get(
        f"/v1/communities/{cid}/households?limit=4&cursor={page.json()['next_cursor']}", headers=world.worker()
    )
    assert len(rest.json()["items"]) == 3 and rest.json()["next_cursor"] is None


async def test_validation_and_lifecycle_errors(world):
    r = await world.client.post(
        "/v1/consultations",
        headers=world.worker(),
        json={
            "community_id": world.community_id,
            "kind": "willingness",
            "title": "x",
            "questions": [{"id": "agree", "kind": "single_choice", "text": "?", "options": ["yes", "no"]}],
            "rule": {"kind": "civil_code_278_major", "threshold": "1/2"},
            "decision_question_id": "agree",
            "approve_options": ["yes"],
        },
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_rule"
    r = await world.client.post(
        "/v1/consultations",
        headers=world.worker(),
        json={
            "community_id": world.community_id,
            "kind": "willingness",
            "title": "x",
            "questions": [{"id": "agree", "kind": "single_choice", "text": "?", "options": ["yes", "no"]}],
            "rule": {"kind": "household_share", "threshold": "2/3"},
            "decision_question_id": "agree",
            "approve_options": ["yes"],
        },
    )
    assert r.status_code == 201 and r.json()["threshold"] == "2/3" and r.json()["state"] == "draft"
    draft = r.json()["id"]
    assert (await world.answer(draft, world.households[0]["id"], {"agree": "yes"})).json()["code"] == (
        "consultation_not_open"
    )
    assert (await world.client.post(f"/v1/consultations/{draft}/publish", headers=world.worker())).status_code == 409
    r = await world.client.post(
        "/v1/communities", headers=world.officer(), json={"name": "x", "district_id": "d-other", "street_id": "s"}
    )
    assert r.status_code == 403
    r = await world.client.post(
        f"/v1/communities/{world.community_id}/households",
        headers=world.worker(),
        json={"households": [{"building": "9", "room": "1", "floor_area_m2": "12.345"}]},
    )
    assert r.status_code == 422
    assert (await world.client.get(f"/v1/consultations/{uuid.uuid4()}", headers=world.worker())).status_code == 404
    assert (await world.client.get(f"/v1/consultations/{draft}")).status_code == 401
