"""The Python client an integrator generates with openapi-python-client from every service's OpenAPI document,
driving a short story against the running services. A warning of the generator fails the test."""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest

from .conftest import HERE, write_documents

pytestmark = pytest.mark.integration

DISTRICT, STREET = "510106", "51010602"  # a district of its own, another street than the TypeScript story's
T = TypeVar("T")


def package_name(service: str) -> str:
    return f"renovation_{service.replace('-', '_')}_client"


def generate(specs: dict[str, Path], into: Path) -> dict[str, ModuleType]:
    """openapi-python-client in this process (what its ``generate`` command runs, without a process per service);
    every problem it reports — a warning included (an endpoint or a response left out) — fails the test."""
    from openapi_python_client import MetaType, generate
    from openapi_python_client.config import Config, ConfigFile

    config_file = ConfigFile.load_from_path(HERE / "openapi-python-client.yaml")
    into.mkdir(parents=True, exist_ok=True)
    for name, spec in specs.items():
        config = Config.from_sources(
            config_file, MetaType.NONE, spec, "utf-8", overwrite=True, output_path=into / package_name(name)
        )
        problems = generate(config=config)
        assert not problems, f"openapi-python-client on {name}:\n" + "\n".join(
            f"{p.level}: {p.header} {p.detail}" for p in problems
        )
    sys.path.insert(0, str(into))
    importlib.invalidate_caches()
    return {name: importlib.import_module(package_name(name)) for name in specs}


def mod(package: ModuleType, dotted: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{dotted}")


def field(obj: Any, name: str) -> Any:
    """A field of a generated model: an attribute when the schema names it, else an additional property."""
    return getattr(obj, name) if hasattr(obj, name) else obj[name]


def ok(response: Any) -> Any:
    assert 200 <= response.status_code < 300, (response.status_code, response.content[:2000])
    return response.parsed


async def until(what: str, attempt: Callable[[], Awaitable[T | None]], timeout_s: float = 60) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await attempt()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout_s}s")
        await asyncio.sleep(0.3)


async def test_python_client_generated_without_warnings_drives_the_story(
    openapi_documents, tmp_path: Path, system, make_receiver, tokens
):
    clients = generate(write_documents(openapi_documents, tmp_path / "openapi"), tmp_path / "py")
    survey, projects, finance, smart, webhooks = (
        clients[n] for n in ("survey", "projects", "finance", "smart-community", "webhooks")
    )

    def client(package: ModuleType, service: str, role: str, **claims: str) -> Any:
        bearer = tokens(role, sub=f"{role}-py-client", **claims)["Authorization"].removeprefix("Bearer ")
        return package.AuthenticatedClient(base_url=system.url(service), token=bearer, raise_on_unexpected_status=True)

    admin = {"district_id": DISTRICT}
    # 1. the district registers the community
    community = ok(
        await mod(survey, "api.registry.register_community").asyncio_detailed(
            client=client(survey, "survey", "district_admin", **admin),
            body=survey.models.CommunityCreate(
                name="Python客户端小区", street_id=STREET, district_id=DISTRICT, built_year=1980, delivered_year=1983
            ),
        )
    )
    assert isinstance(community, survey.models.CommunityRead) and community.street_id == STREET
    cid = str(community.id)

    # 2. a government system subscribes, and the endpoint answers a signed ping
    receiver = make_receiver()
    gov = client(webhooks, "webhooks", "gov_system", **admin)
    subscription = ok(
        await mod(webhooks, "api.subscriptions.create_subscription").asyncio_detailed(
            client=gov,
            body=webhooks.models.SubscriptionCreate(
                url=receiver.url(), event_types=["finance.funding_plan.approved.v1"]
            ),
            idempotency_key=f"py-client-{cid}",
        )
    )
    receiver.secret = subscription.secret
    ping = ok(await mod(webhooks, "api.subscriptions.send_test_ping").asyncio_detailed(subscription.id, client=gov))
    get_delivery = mod(webhooks, "api.deliveries.get_delivery")

    async def ping_delivered() -> Any:
        d = ok(await get_delivery.asyncio_detailed(ping.id, client=gov))
        return d if str(d.status) == "succeeded" else None

    pinged = await until("ping delivered", ping_delivered)

    # 3. the grid worker registers households, runs a menu round and closes it
    worker = client(survey, "survey", "community_worker", district_id=DISTRICT, street_id=STREET, community_id=cid)
    created = ok(
        await mod(survey, "api.registry.add_households").asyncio_detailed(
            community.id,
            client=worker,
            body=survey.models.HouseholdsCreate.from_dict(
                {
                    "households": [
                        {"building": "2", "unit": "1", "room": f"20{i}", "floor_area_m2": "58.00"} for i in (1, 2, 3)
                    ]
                }
            ),
        )
    )
    households = created.households
    consultation = ok(
        await mod(survey, "api.consultations.create_consultation").asyncio_detailed(
            client=worker,
            body=survey.models.ConsultationCreate.from_dict(
                {
                    "community_id": cid,
                    "kind": "menu",
                    "title": "菜单式改造内容",
                    "questions": [
                        {
                            "id": "menu",
                            "kind": "multiple_choice",
                            "text": "选择改造项目",
                            "options": ["water_pipe_renewal", "greening", "parking"],
                            "min_picks": 1,
                        }
                    ],
                    "menu_question_id": "menu",
                    "menu_threshold": "1/2",
                }
            ),
        )
    )
    ok(await mod(survey, "api.consultations.open_consultation").asyncio_detailed(consultation.id, client=worker))
    synced = ok(
        await mod(survey, "api.responses.sync_responses").asyncio_detailed(
            consultation.id,
            client=worker,
            body=survey.models.BatchSubmit.from_dict(
                {
                    "items": [
                        {
                            "submission_id": str(uuid.uuid4()),
                            "household_id": str(h.id),
                            "answers": {"menu": ["water_pipe_renewal"] if i else ["water_pipe_renewal", "parking"]},
                            "channel": "app",
                        }
                        for i, h in enumerate(households)
                    ]
                }
            ),
        )
    )
    assert (synced.accepted, synced.rejected) == (3, 0)
    closed = ok(
        await mod(survey, "api.consultations.close_consultation").asyncio_detailed(consultation.id, client=worker)
    )
    assert sorted(field(m, "code") for m in closed.menu if field(m, "selected")) == ["water_pipe_renewal"]

    # 4. projects made a project of the closed round
    officer = client(projects, "projects", "district_admin", **admin)
    list_projects = mod(projects, "api.projects.list_projects")

    async def project() -> Any:
        page = ok(await list_projects.asyncio_detailed(client=officer, community_id=cid))
        return page.items[0] if page.items else None

    summary = await until("project from the menu round", project)
    detail = ok(await mod(projects, "api.projects.get_project").asyncio_detailed(summary.id, client=officer))
    assert str(detail.community_id) == cid and str(detail.source_consultation_id) == str(consultation.id)

    # 5. finance: a funding plan for the project, approved by the district
    street = client(finance, "finance", "street_officer", district_id=DISTRICT, street_id=STREET)
    create_plan = mod(finance, "api.funding_plans.create_funding_plan")
    body = finance.models.FundingPlanCreate.from_dict(
        {"project_id": str(summary.id), "sources": [{"source": "government_subsidy", "planned_fen": 2_000_000}]}
    )

    async def plan_created() -> Any:
        r = await create_plan.asyncio_detailed(client=street, body=body)
        return r.parsed if r.status_code == 201 else None

    plan = await until("funding plan accepted", plan_created)
    approved = ok(
        await mod(finance, "api.funding_plans.approve_funding_plan").asyncio_detailed(
            plan.id, client=client(finance, "finance", "district_admin", **admin)
        )
    )
    assert str(approved.status) == "approved" and approved.total_planned_fen == 2_000_000

    # 6. smart community: a smoke alarm in a home becomes an alarm the worker sees
    sc_worker = client(
        smart, "smart-community", "community_worker", district_id=DISTRICT, street_id=STREET, community_id=cid
    )
    register = mod(smart, "api.devices.register_device")
    device_body = smart.models.DeviceCreate.from_dict(
        {
            "community_id": cid,
            "kind": "smoke_alarm",
            "placement": "household",
            "household_id": str(households[1].id),
        }
    )

    async def device_registered() -> Any:
        r = await register.asyncio_detailed(client=sc_worker, body=device_body)
        return r.parsed if r.status_code == 201 else None

    device = await until("device registered", device_registered)
    gateway = client(smart, "smart-community", "device_gateway", district_id=DISTRICT, community_id=cid)
    ingested = ok(
        await mod(smart, "api.devices.ingest_device_event_batch").asyncio_detailed(
            client=gateway,
            body=smart.models.GatewayBatch.from_dict(
                {"events": [{"device_id": device.id, "type": "alarm", "time": datetime.now(UTC).isoformat()}]}
            ),
        )
    )
    assert ingested.alarms_raised == 1
    alarms = ok(await mod(smart, "api.alarms.list_alarms").asyncio_detailed(client=sc_worker, community_id=cid)).items
    assert [(str(a.household_id), str(a.alarm_type)) for a in alarms] == [(str(households[1].id), "smoke")]

    # 7. the approval reached the government endpoint, verified there
    list_deliveries = mod(webhooks, "api.deliveries.list_deliveries")

    async def approval_delivered() -> Any:
        page = ok(await list_deliveries.asyncio_detailed(client=gov, subscription_id=subscription.id))
        done = [d for d in page.items if d.event_type == "finance.funding_plan.approved.v1"]
        return done[0] if done and str(done[0].status) == "succeeded" else None

    approval = await until("approval delivered", approval_delivered)
    verified = {d.webhook_id for d in receiver.snapshot() if d.verified}
    assert {str(pinged.event_id), str(approval.event_id)} <= verified
    assert all(d.verified for d in receiver.snapshot())
