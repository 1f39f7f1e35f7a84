"""A small world per service for the authorisation matrix and the fuzz tests.

Each seeder starts from a freshly migrated database (the app from ``service_client``), creates a few resources in
the *home* scope through the public API (read models that arrive as events in production are written with the
service's own consumer use cases, as the services' own tests do) and returns a :class:`Seeds`: values for path
parameters by name, per-operation overrides, and request bodies for some operations.

Tokens: :func:`claims` gives every role the scope claims it naturally carries; ``away=True`` gives the same role
a scope that shares nothing with the home scope (another district, street, community and household).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from renovation_common.auth import Role
from renovation_common.testing.plugin import bearer

HOME = {"district_id": "510105", "street_id": "51010501", "community_id": "c-home", "household_id": "h-home"}
AWAY = {"district_id": "510999", "street_id": "51099901", "community_id": "c-away", "household_id": "h-away"}

# Which scope claims a role's token carries (the narrowest claim decides what it covers).
CLAIMS: dict[Role, tuple[str, ...]] = {
    Role.RESIDENT: ("district_id", "street_id", "community_id", "household_id"),
    Role.COMMUNITY_WORKER: ("district_id", "street_id", "community_id"),
    Role.STREET_OFFICER: ("district_id", "street_id"),
    Role.DISTRICT_ADMIN: ("district_id",),
    Role.CONTRACTOR: ("district_id",),
    Role.QUALITY_SUPERVISOR: ("district_id",),
    Role.OPERATOR: ("district_id",),
    Role.GOV_SYSTEM: ("district_id",),
    Role.DEVICE_GATEWAY: ("district_id", "community_id"),
}


def claims(role: Role, home: dict[str, str], *, away: bool = False) -> dict[str, str]:
    source = {k: f"{v}-away" if k in ("community_id", "household_id") else v for k, v in AWAY.items()} if away else home
    return {k: source[k] for k in CLAIMS[role]}


def headers_for(make_token: Any, role: Role, home: dict[str, str], *, away: bool = False) -> dict[str, str]:
    # a stable subject per role and side, so ownership rules (webhooks: owner = sub) are deterministic
    sub = f"{role.value}-{'away' if away else 'home'}"
    return bearer(make_token(role.value, sub=sub, **claims(role, home, away=away)))


@dataclass
class Seeds:
    home: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)  # path parameter name -> value
    per_op: dict[str, dict[str, str]] = field(default_factory=dict)  # operationId -> path parameter overrides
    bodies: dict[str, Any] = field(default_factory=dict)  # operationId -> JSON body for the allowed calls
    role_bodies: dict[str, dict[Role, Any]] = field(default_factory=dict)  # operationId -> role -> body
    queries: dict[str, dict[str, str]] = field(default_factory=dict)  # operationId -> query parameters

    def body_for(self, op_id: str, role: Role) -> Any:
        if role in self.role_bodies.get(op_id, {}):
            return self.role_bodies[op_id][role]
        return self.bodies.get(op_id, {})

    def has_body(self, op_id: str) -> bool:
        return op_id in self.bodies or op_id in self.role_bodies

    def path_for(self, op_id: str, path: str) -> tuple[str, bool]:
        """The concrete URL and whether every path parameter is a seeded (existing, home-scope) value."""
        seeded = True

        def fill(m: re.Match[str]) -> str:
            nonlocal seeded
            name = m.group(1)
            value = self.per_op.get(op_id, {}).get(name) or self.params.get(name)
            if value is None:
                seeded = False
                return str(uuid.uuid4())
            return value

        return re.sub(r"\{([^}]+)\}", fill, path), seeded


def _ok(response: Any, what: str) -> dict[str, Any]:
    assert response.status_code < 300, f"seeding {what}: {response.status_code} {response.text[:500]}"
    return response.json()  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------------- survey
async def seed_survey(app: Any, client: Any, make_token: Any) -> Seeds:
    admin = headers_for(make_token, Role.DISTRICT_ADMIN, HOME)
    community = _ok(
        await client.post(
            "/v1/communities",
            json={"name": "劲松北社区", "district_id": HOME["district_id"], "street_id": HOME["street_id"]},
            headers=admin,
        ),
        "community",
    )
    cid = community["id"]
    created = _ok(
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

    open_c = _ok(await client.post("/v1/consultations", json=consultation(), headers=admin), "consultation")
    _ok(await client.post(f"/v1/consultations/{open_c['id']}/open", headers=admin), "open")
    done = _ok(await client.post("/v1/consultations", json=consultation(), headers=admin), "consultation 2")
    for step in ("open", "close", "publish"):
        _ok(await client.post(f"/v1/consultations/{done['id']}/{step}", headers=admin), step)
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


# ------------------------------------------------------------------------------------------------- projects
async def seed_projects(app: Any, client: Any, make_token: Any) -> Seeds:
    admin = headers_for(make_token, Role.DISTRICT_ADMIN, HOME)
    project = _ok(
        await client.post(
            "/v1/projects",
            json={
                "community_id": HOME["community_id"],
                "district_id": HOME["district_id"],
                "street_id": HOME["street_id"],
                "name": "劲松北社区改造",
                "package_codes": ["water_main_renewal"],
            },
            headers=admin,
        ),
        "project",
    )
    plan = _ok(
        await client.post(
            "/v1/plans",
            json={"project_ids": [project["id"]], "start_date": date.today().isoformat(), "time_limit_s": 1},
            headers=admin,
        ),
        "plan",
    )
    today = {"date": date.today().isoformat()}
    return Seeds(
        home=HOME,
        params={"project_id": project["id"], "plan_id": plan["id"]},
        queries={"getProgressTable": today, "getDailyReport": today},
        bodies={
            "reportProgress": {
                "package_id": project["packages"][0]["id"],
                "report_date": date.today().isoformat(),
                "percent_complete": "10",
            },
        },
    )


# -------------------------------------------------------------------------------------------------- finance
async def seed_finance(app: Any, client: Any, make_token: Any) -> Seeds:
    from finance.service_layer import readmodels
    from renovation_common.contracts.projects import ProjectCreated
    from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered

    district, street, cid, hid = HOME["district_id"], HOME["street_id"], HOME["community_id"], HOME["household_id"]
    async with app.state.sessionmaker() as session, session.begin():
        await readmodels.record_community(
            session,
            CommunityRegistered(
                community_id=cid,
                district_id=district,
                street_id=street,
                name="劲松北社区",
                delivered_year=1985,
                maintenance_fund_established=False,
            ),
        )
        await readmodels.record_household(
            session,
            HouseholdRegistered(
                household_id=hid,
                community_id=cid,
                district_id=district,
                street_id=street,
                building_id="b-1",
                building_code="1",
                floor_area_m2=Decimal("60.50"),
                delivered_year=1985,
                maintenance_fund_established=False,
            ),
        )
        await readmodels.record_project(
            session,
            ProjectCreated(
                project_id="p-home",
                community_id=cid,
                district_id=district,
                street_id=street,
                name="p",
                package_codes=["water_pipe_renewal"],
            ),
        )
    admin = headers_for(make_token, Role.DISTRICT_ADMIN, HOME)
    account = _ok(
        await client.post(
            "/v1/accounts",
            json={
                "kind": "household",
                "name": "户账",
                "district_id": district,
                "street_id": street,
                "community_id": cid,
                "household_id": hid,
            },
            headers=admin,
        ),
        "account",
    )
    plan = _ok(
        await client.post(
            "/v1/funding-plans",
            json={"project_id": "p-home", "sources": [{"source": "government_subsidy", "planned_fen": 100_000}]},
            headers=admin,
        ),
        "funding plan",
    )
    scheme = _ok(
        await client.post(
            "/v1/contribution-schemes",
            json={"community_id": cid, "kind": "water_meter", "title": "水表改造"},
            headers=admin,
        ),
        "scheme",
    )
    resident = headers_for(make_token, Role.RESIDENT, HOME)
    dues = _ok(await client.get("/v1/dues", headers=resident), "dues")
    repair = _ok(
        await client.post(
            "/v1/emergency-repairs",
            json={
                "request_id": str(uuid.uuid4()),
                "community_id": cid,
                "description": "供水主管爆裂",
                "estimated_cost_fen": 100_000,
            },
            headers=admin,
        ),
        "emergency repair",
    )
    analysis = _ok(
        await client.post(
            "/v1/payback-analyses",
            json=_payback_example(app),
            headers=admin,
        ),
        "payback analysis",
    )
    assert scheme["dues_count"] >= 1
    return Seeds(
        home=HOME,
        params={
            "account_id": account["id"],
            "plan_id": plan["id"],
            "due_id": dues["items"][0]["id"],
            "community_id": cid,
            "request_id": repair["id"],
            "analysis_id": analysis["id"],
        },
        queries={"listDues": {"household_id": hid}},
    )


def _payback_example(app: Any) -> Any:
    """The documented example of ``createPaybackAnalysis`` (its request schema carries one)."""
    spec = app.openapi()
    op = spec["paths"]["/v1/payback-analyses"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema["examples"][0]


# ------------------------------------------------------------------------------------------ smart-community
async def seed_smart_community(app: Any, client: Any, make_token: Any) -> Seeds:
    from smart_community.domain.model import HouseholdFlags
    from smart_community.service_layer import use_cases

    district, street, cid, hid = HOME["district_id"], HOME["street_id"], HOME["community_id"], HOME["household_id"]
    async with app.state.sessionmaker() as session, session.begin():
        await use_cases.apply_community(session, cid, district, street)
        await use_cases.apply_household(
            session,
            HouseholdFlags(
                household_id=hid,
                community_id=cid,
                building_id="b-1",
                elderly_living_alone=False,
                needs_accompaniment=False,
            ),
            district,
            at=datetime.now(UTC),
        )
    admin = headers_for(make_token, Role.DISTRICT_ADMIN, HOME)
    device = _ok(
        await client.post(
            "/v1/devices",
            json={"community_id": cid, "kind": "water_leak_sensor", "placement": "building", "building_id": "b-1"},
            headers=admin,
        ),
        "device",
    )
    gateway = headers_for(make_token, Role.DEVICE_GATEWAY, HOME)
    now = datetime.now(UTC) - timedelta(seconds=5)
    leak = {"device_id": device["id"], "type": "leak", "time": now.isoformat(), "readings": {}}
    _ok(await client.post("/v1/device-events/batch", json={"events": [leak]}, headers=gateway), "leak")
    alarms = _ok(await client.get("/v1/alarms", headers=admin), "alarms")
    assert alarms["items"], "the leak raised no alarm"
    return Seeds(
        home=HOME,
        params={"device_id": device["id"], "alarm_id": alarms["items"][0]["id"], "community_id": cid},
        bodies={"ingestDeviceEventBatch": {"events": [leak]}},
        queries={
            "listDeviceEvents": {
                "from": (now - timedelta(hours=1)).isoformat(),
                "to": (now + timedelta(hours=1)).isoformat(),
            }
        },
    )


# ------------------------------------------------------------------------------------------------- webhooks
async def seed_webhooks(app: Any, client: Any, make_token: Any) -> Seeds:
    admin = headers_for(make_token, Role.DISTRICT_ADMIN, HOME)
    sub = _ok(
        await client.post(
            "/v1/subscriptions",
            json={"url": "http://127.0.0.1:9/hook", "event_types": ["*"], "district_id": HOME["district_id"]},
            headers=admin,
        ),
        "subscription",
    )
    delivery = _ok(await client.post(f"/v1/subscriptions/{sub['id']}/test", headers=admin), "ping")
    return Seeds(home=HOME, params={"subscription_id": sub["id"], "delivery_id": delivery["id"]})


SEEDERS = {
    "survey": seed_survey,
    "projects": seed_projects,
    "finance": seed_finance,
    "smart-community": seed_smart_community,
    "webhooks": seed_webhooks,
}

# Settings for the apps under test: no background traffic that would race the checks.
APP_SETTINGS: dict[str, dict[str, Any]] = {
    "survey": {},
    "projects": {"plan_worker_enabled": False},
    "finance": {},
    "smart-community": {},
    "webhooks": {"dispatcher_enabled": False, "allowed_target_networks": ["127.0.0.0/8"]},
}
COMMON_SETTINGS: dict[str, Any] = {"consumers_enabled": False, "relay_enabled": False, "log_level": "WARNING"}
