"""The survey service in the authorisation matrix: its rows and its seeded world.

Bodies naming another scope (issue 12.5): the create routes whose target is named in the body — registerCommunity
(a street), createConsultation (a community), publishRanking (a district), submitResponse/syncResponses (a
household) — have no path parameter the matrix's own out-of-scope pass could vary. The seeder therefore registers
an *away* community (another district and street, by that district's admin) and then sends, as every role allowed
to call each route, bodies naming the away scope: each must be refused (403 ``out_of_scope``, or 404 where the
target is looked up inside the caller's own records), with a control that the same body naming the home scope is
accepted. In particular a district admin naming a street that the registry places in another district is refused
(the district comes from the street's record, never from the body). A failure fails every matrix test of survey.
"""

from __future__ import annotations

import uuid
from typing import Any

from renovation_common.auth import Role

from . import AWAY, HOME, Seeds, headers_for, ok

# fmt: off
MATRIX = """
service          operation                      res  cw  so  da con  qs  op gov  dg  fo
survey           healthz                          Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
survey           createSignedLink                 Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
survey           readyz                           Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
survey           metrics                          Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
survey           registerCommunity                .   .   Y   Y   .   .   .   .   .   .
survey           listCommunities                  Y   Y   Y   Y   .   .   .   .   .   .
survey           getCommunity                     Y   Y   Y   Y   .   .   .   .   .   .
survey           addHouseholds                    .   Y   Y   Y   .   .   .   .   .   .
survey           importHouseholds                 .   Y   Y   Y   .   .   .   .   .   .
survey           listHouseholds                   .   Y   Y   Y   .   .   .   .   .   .
survey           listBuildings                    Y   Y   Y   Y   .   .   .   .   .   .
survey           getHousehold                     Y   Y   Y   Y   .   .   .   .   .   .
survey           updateHousehold                  .   Y   Y   Y   .   .   .   .   .   .
survey           createConsultation               .   Y   Y   Y   .   .   .   .   .   .
survey           listConsultations                Y   Y   Y   Y   .   .   .   .   .   .
survey           getConsultation                  Y   Y   Y   Y   .   .   .   .   .   .
survey           openConsultation                 .   Y   Y   Y   .   .   .   .   .   .
survey           closeConsultation                .   Y   Y   Y   .   .   .   .   .   .
survey           publishConsultation              .   Y   Y   Y   .   .   .   .   .   .
survey           submitResponse                   Y   Y   .   .   .   .   .   .   .   .
survey           syncResponses                    Y   Y   .   .   .   .   .   .   .   .
survey           getHouseholdResponses            Y   Y   Y   Y   .   .   .   .   .   .
survey           getResult                        Y   Y   Y   Y   .   .   .   .   .   .
survey           exportResponses                  .   Y   Y   Y   .   .   .   .   .   .
survey           demandByAgeChart                 Y   Y   Y   Y   .   .   .   .   .   .
survey           publishRanking                   .   .   Y   Y   .   .   .   .   .   .
survey           createSchemeRound                .   Y   Y   Y   .   .   .   .   .   .
survey           listSchemeRounds                 Y   Y   Y   Y   .   .   .   .   .   .
survey           getSchemeRound                   Y   Y   Y   Y   .   .   .   .   .   .
survey           addSchemeProposal                .   Y   Y   Y   .   .   .   .   .   .
survey           sendSchemeRoundDown              .   Y   Y   Y   .   .   .   .   .   .
survey           sendSchemeRoundUp                .   Y   Y   Y   .   .   .   .   .   .
survey           reviseSchemeProposal             .   Y   Y   Y   .   .   .   .   .   .
survey           giveSchemeFeedback               Y   Y   .   .   .   .   .   .   .   .
survey           listSchemeFeedback               .   Y   Y   Y   .   .   .   .   .   .
survey           startSchemeFinalVote             .   Y   Y   Y   .   .   .   .   .   .
survey           decideSchemeRound                .   Y   Y   Y   .   .   .   .   .   .
survey           openSchemeRunoff                 .   Y   Y   Y   .   .   .   .   .   .
survey           countSchemeRunoff                .   Y   Y   Y   .   .   .   .   .   .
survey           exportSchemeLineage              .   Y   Y   Y   .   .   .   .   .   .
"""
# fmt: on

# Settings of the app under test (besides COMMON_SETTINGS).
APP_SETTINGS: dict[str, Any] = {}


async def seed(app: Any, client: Any, make_token: Any) -> Seeds:
    admin = headers_for(make_token, Role.DISTRICT_ADMIN, HOME)
    community = ok(
        await client.post(
            "/v1/communities",
            json={"name": "劲松北社区", "district_id": HOME["district_id"], "street_id": HOME["street_id"]},
            headers=admin,
        ),
        "community",
    )
    cid = community["id"]
    created = ok(
        await client.post(
            f"/v1/communities/{cid}/households",
            json={
                "households": [
                    {"building": "1", "unit": "1", "room": "101", "floor_area_m2": "60.50", "residents": []},
                    {"building": "1", "unit": "1", "room": "102", "floor_area_m2": "72.00", "residents": []},
                ]
            },
            headers=admin,
        ),
        "households",
    )
    hid = created["households"][0]["id"]
    home = {**HOME, "community_id": cid, "household_id": hid}
    admin = headers_for(make_token, Role.DISTRICT_ADMIN, home)

    def consultation() -> dict[str, Any]:
        return {
            "community_id": cid,
            "kind": "willingness",
            "title": "是否同意改造",
            "questions": [{"id": "q1", "kind": "single_choice", "text": "同意改造吗?", "options": ["yes", "no"]}],
            "rule": {"kind": "household_share"},
            "decision_question_id": "q1",
            "approve_options": ["yes"],
        }

    open_c = ok(await client.post("/v1/consultations", json=consultation(), headers=admin), "consultation")
    ok(await client.post(f"/v1/consultations/{open_c['id']}/open", headers=admin), "open")
    done = ok(await client.post("/v1/consultations", json=consultation(), headers=admin), "consultation 2")
    for step in ("open", "close", "publish"):
        ok(await client.post(f"/v1/consultations/{done['id']}/{step}", headers=admin), step)
    published = {"consultation_id": done["id"]}

    def answer(**extra: str) -> dict[str, Any]:
        return {"submission_id": str(uuid.uuid4()), "household_id": hid, "answers": {"q1": "yes"}, **extra}

    by_resident, by_worker = answer(), answer(channel="door_to_door")
    # a design-scheme round (三上三下) of courtyard A (building 1) with one proposal, in its first round up
    scheme_round = {"community_id": cid, "title": "车棚方案评选", "groups": [_group()]}
    rnd = ok(await client.post("/v1/scheme-rounds", json=scheme_round, headers=admin), "scheme round")
    proposal = {"source_kind": "university", "proposer": "某高校", "title": "车棚改造", "summary": "立体停车"}
    rnd = ok(await client.post(f"/v1/scheme-rounds/{rnd['id']}/proposals", json=proposal, headers=admin), "proposal")
    pid, vid = rnd["proposals"][0]["id"], rnd["proposals"][0]["versions"][0]["id"]
    revision = {"parent_version_id": vid, "summary": "立体停车，保留晾晒区", "changes": "保留晾晒区"}
    feedback = {"household_id": hid, "stance": "concerns", "text": "保留晾晒区"}
    await refuse_bodies_naming_another_scope(client, make_token, home, open_c["id"])
    return Seeds(
        home=home,
        params={
            "community_id": cid,
            "household_id": hid,
            "consultation_id": open_c["id"],
            "round_id": rnd["id"],
            "proposal_id": pid,
            "version_id": vid,
            "group_code": "A",
        },
        per_op={
            "getResult": published,
            "demandByAgeChart": published,
            "exportResponses": published,
            "publishConsultation": published,
            "closeConsultation": published,  # already closed: allowed roles get 409, never a state change
            "openConsultation": published,
        },
        queries={"listSchemeRounds": {"community_id": cid}},
        bodies={
            "publishRanking": {"district_id": HOME["district_id"]},
            "createSchemeRound": scheme_round,
            "addSchemeProposal": proposal,
            "reviseSchemeProposal": revision,
            "startSchemeFinalVote": {},
            "openSchemeRunoff": {},
        },
        role_bodies={
            "giveSchemeFeedback": {
                Role.RESIDENT: {"stance": "support"},
                Role.COMMUNITY_WORKER: {**feedback, "channel": "door_to_door"},
            },
            "submitResponse": {Role.RESIDENT: by_resident, Role.COMMUNITY_WORKER: by_worker},
            "syncResponses": {Role.RESIDENT: {"items": [by_resident]}, Role.COMMUNITY_WORKER: {"items": [by_worker]}},
        },
    )


def _group(*buildings: str) -> dict[str, Any]:
    return {"code": "A", "name": "一号院", "building_codes": list(buildings or ("1",))}


async def refuse_bodies_naming_another_scope(
    client: Any, make_token: Any, home: dict[str, str], consultation_id: str
) -> None:
    problems: list[str] = []

    def expect(response: Any, statuses: set[int], what: str, *, any_code: bool = False) -> None:
        code = response.json().get("code") if response.status_code >= 400 else None
        scoped = any_code or code == "out_of_scope"
        if response.status_code not in statuses or (response.status_code == 403 and not scoped):
            problems.append(f"{what}: {response.status_code} {response.text[:200]}")

    away_admin = headers_for(make_token, Role.DISTRICT_ADMIN, AWAY)
    away = ok(
        await client.post(
            "/v1/communities", json={"name": "桂东社区", "street_id": AWAY["street_id"]}, headers=away_admin
        ),
        "away community",
    )
    away_households = ok(
        await client.post(
            f"/v1/communities/{away['id']}/households",
            json={"households": [{"building": "9", "unit": "1", "room": "901", "floor_area_m2": "50.00"}]},
            headers=away_admin,
        ),
        "away household",
    )["households"]

    def community(**place: str) -> dict[str, Any]:
        return {"name": "越界社区", **place}

    officers = (Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
    for role in officers:
        headers = headers_for(make_token, role, home)
        for place in (
            {"street_id": AWAY["street_id"]},  # a street the registry places in another district
            {"street_id": AWAY["street_id"], "district_id": HOME["district_id"]},  # ... claimed to be ours
            {"street_id": HOME["street_id"], "district_id": AWAY["district_id"]},  # our street, another district
        ):
            r = await client.post("/v1/communities", json=community(**place), headers=headers)
            expect(r, {403}, f"registerCommunity as {role.value} with {place}")
        r = await client.post("/v1/communities", json=community(street_id=HOME["street_id"]), headers=headers)
        expect(r, {201}, f"registerCommunity as {role.value} in its own street (control)")
    street_officer = headers_for(make_token, Role.STREET_OFFICER, home)
    r = await client.post("/v1/communities", json=community(street_id="51010599"), headers=street_officer)
    expect(r, {403}, "registerCommunity as street_officer in another street of its district")

    questionnaire = {
        "kind": "demand",
        "title": "越界征询",
        "questions": [{"id": "q1", "kind": "single_choice", "text": "?", "options": ["a", "b"]}],
    }
    for role in (Role.COMMUNITY_WORKER, Role.STREET_OFFICER, Role.DISTRICT_ADMIN):
        headers = headers_for(make_token, role, home)
        r = await client.post("/v1/consultations", json={**questionnaire, "community_id": away["id"]}, headers=headers)
        expect(r, {403}, f"createConsultation as {role.value} in a community of another district")
        r = await client.post(
            "/v1/consultations", json={**questionnaire, "community_id": str(uuid.uuid4())}, headers=headers
        )
        expect(r, {404}, f"createConsultation as {role.value} in an unknown community")
        r = await client.post(
            "/v1/consultations", json={**questionnaire, "community_id": home["community_id"]}, headers=headers
        )
        expect(r, {201}, f"createConsultation as {role.value} in its own community (control)")
        # a scheme round names its community (and buildings of it) in the body
        rounds = "/v1/scheme-rounds"
        r = await client.post(
            rounds, json={"community_id": away["id"], "title": "越界", "groups": [_group("9")]}, headers=headers
        )
        expect(r, {403}, f"createSchemeRound as {role.value} in a community of another district")
        r = await client.post(
            rounds,
            json={"community_id": home["community_id"], "title": "越界", "groups": [_group("9")]},
            headers=headers,
        )
        expect(r, {422}, f"createSchemeRound as {role.value} naming another community's building", any_code=True)
        r = await client.post(
            rounds,
            json={"community_id": home["community_id"], "title": "本社区", "groups": [_group()]},
            headers=headers,
        )
        expect(r, {201}, f"createSchemeRound as {role.value} in its own community (control)")
        if role is Role.COMMUNITY_WORKER:
            continue
        r = await client.post("/v1/rankings", json={"district_id": AWAY["district_id"]}, headers=headers)
        expect(r, {403}, f"publishRanking as {role.value} for another district")

    # answering for a household of another community (a worker names it; a resident's own is the only one)
    foreign = away_households[0]["id"]
    worker = headers_for(make_token, Role.COMMUNITY_WORKER, home)
    resident = headers_for(make_token, Role.RESIDENT, home)
    path = f"/v1/consultations/{consultation_id}/responses"
    for headers, body, who in (
        (worker, {"household_id": foreign, "channel": "paper"}, "community_worker"),
        (resident, {"household_id": foreign}, "resident"),
    ):
        submission = {"submission_id": str(uuid.uuid4()), "answers": {"q1": "yes"}, **body}
        r = await client.post(path, json=submission, headers=headers)
        expect(r, {403, 404}, f"submitResponse as {who} for a household of another community", any_code=True)
        r = await client.post(f"{path}/batch", json={"items": [submission]}, headers=headers)
        items = r.json().get("items", []) if r.status_code == 200 else []
        if not items or any(i["status"] not in (403, 404) for i in items):
            problems.append(f"syncResponses as {who} for a household of another community: {r.text[:200]}")
    assert not problems, "bodies naming another scope:\n" + "\n".join(problems)
