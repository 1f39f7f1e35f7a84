from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from renovation_common.testing.plugin import bearer
from survey.entrypoints.app import create_app

DISTRICT, STREET = "d-qingyang", "s-shaocheng"


@dataclass
class World:
    client: Any
    make_token: Any
    community_id: str = ""
    households: list[dict[str, Any]] = field(default_factory=list)
    district: str = DISTRICT
    street: str = STREET
    app: Any = None

    def officer(self, **kw: Any) -> dict[str, str]:
        return bearer(self.make_token("district_admin", district_id=kw.get("district", self.district)))

    def worker(self, community_id: str | None = None, sub: str | None = None) -> dict[str, str]:
        return bearer(
            self.make_token(
                "community_worker",
                sub=sub,
                district_id=self.district,
                street_id=self.street,
                community_id=community_id or self.community_id,
            )
        )

    def resident(self, household_id: str) -> dict[str, str]:
        return bearer(self.make_token("resident", household_id=household_id, community_id=self.community_id))

    async def community(self, name: str = "劲松北社区", district: str | None = None) -> str:
        r = await self.client.post(
            "/v1/communities",
            json={
                "name": name,
                "district_id": district or self.district,
                "street_id": self.street,
                "built_year": 1985,
                "delivered_year": 1987,
                "maintenance_fund_established": False,
            },
            headers=self.officer(district=district or self.district),
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def add_households(self, community_id: str, areas: list[str], *, building: str = "1") -> list[dict]:
        body = {
            "households": [
                {
                    "building": building,
                    "unit": "1",
                    "room": str(100 + i),
                    "floor_area_m2": a,
                    "owner_name": f"业主{i}",
                    "owner_phone": "13800000000",
                    "residents": [{"birth_year": 1950 if i % 2 else 1995, "lives_alone": i % 4 == 1}],
                }
                for i, a in enumerate(areas)
            ]
        }
        r = await self.client.post(
            f"/v1/communities/{community_id}/households", json=body, headers=self.worker(community_id)
        )
        assert r.status_code == 201, r.text
        return r.json()["households"]

    async def consultation(self, community_id: str | None = None, **overrides: Any) -> str:
        body: dict[str, Any] = {
            "community_id": community_id or self.community_id,
            "kind": "willingness",
            "title": "第一轮意愿征询",
            "questions": [
                {"id": "agree", "kind": "single_choice", "text": "同意改造吗?", "options": ["yes", "no"]},
                {
                    "id": "why",
                    "kind": "text",
                    "text": "为什么?",
                    "required": False,
                    "show_if": {"question_id": "agree", "any_of": ["no"]},
                },
            ],
            "rule": {"kind": "household_share"},
            "decision_question_id": "agree",
            "approve_options": ["yes"],
        }
        body.update(overrides)
        r = await self.client.post("/v1/consultations", json=body, headers=self.worker(body["community_id"]))
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        r = await self.client.post(f"/v1/consultations/{cid}/open", headers=self.worker(body["community_id"]))
        assert r.status_code == 200, r.text
        return str(cid)

    async def answer(self, consultation_id: str, household_id: str, answers: dict, **kw: Any) -> Any:
        headers = kw.pop("headers", None) or self.worker()
        body = {
            "submission_id": str(uuid.uuid4()),
            "household_id": household_id,
            "answers": answers,
            "channel": kw.pop("channel", "door_to_door"),
            **kw,
        }
        return await self.client.post(f"/v1/consultations/{consultation_id}/responses", json=body, headers=headers)


@pytest.fixture
async def world(service_client, make_token) -> World:
    app, client = await service_client(create_app, "survey", outbox_poll_interval_s=0.05)
    w = World(client, make_token, app=app)
    w.community_id = await w.community()
    w.households = await w.add_households(w.community_id, ["60.00", "70.50", "80.25", "90.00", "55.55"])
    return w
