"""The survey service in the authorisation matrix: its rows and its seeded world."""

from __future__ import annotations

import uuid
from typing import Any

from renovation_common.auth import Role

from . import HOME, Seeds, headers_for, ok

# fmt: off
MATRIX = """
service          operation                      res  cw  so  da con  qs  op gov  dg  fo
survey           healthz                          Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
survey           readyz                           Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
survey           metrics                          Y   Y   Y   Y   Y   Y   Y   Y   Y   Y
survey           registerCommunity                .   .   Y   Y   .   .   .   .   .   .
survey           getCommunity                     Y   Y   Y   Y   .   .   .   .   .   .
survey           addHouseholds                    .   Y   Y   Y   .   .   .   .   .   .
survey           importHouseholds                 .   Y   Y   Y   .   .   .   .   .   .
survey           listHouseholds                   .   Y   Y   Y   .   .   .   .   .   .
survey           getHousehold                     Y   Y   Y   Y   .   .   .   .   .   .
survey           updateHousehold                  .   Y   Y   Y   .   .   .   .   .   .
survey           createConsultation               .   Y   Y   Y   .   .   .   .   .   .
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
    return Seeds(
        home=home,
        params={"community_id": cid, "household_id": hid, "consultation_id": open_c["id"]},
        per_op={
            "getResult": published,
            "demandByAgeChart": published,
            "exportResponses": published,
            "publishConsultation": published,
            "closeConsultation": published,  # already closed: allowed roles get 409, never a state change
            "openConsultation": published,
        },
        bodies={"publishRanking": {"district_id": HOME["district_id"]}},
        role_bodies={
            "submitResponse": {Role.RESIDENT: by_resident, Role.COMMUNITY_WORKER: by_worker},
            "syncResponses": {Role.RESIDENT: {"items": [by_resident]}, Role.COMMUNITY_WORKER: {"items": [by_worker]}},
        },
    )
