"""Proof: authentication and scope (401/403 as problem+json), validation problems, Idempotency-Key,
trace context from an HTTP request into the event it causes, health and readiness."""

from __future__ import annotations

import uuid
from typing import Annotated, ClassVar

import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from renovation_common.app import Runtime, ServiceDefinition, create_app, get_runtime
from renovation_common.auth import Principal, Role, Scope, require_roles
from renovation_common.events import EventData, new_event
from renovation_common.settings import ServiceSettings
from renovation_common.testing import bearer, running_app


class ProbeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROBE_", extra="ignore")
    service_name: ClassVar[str] = "probe"


class ThingCreate(BaseModel):
    name: str = Field(min_length=1, max_length=50)


class ThingMade(EventData):
    thing_id: str
    community_id: str


ThingMade.event_type = "probe.thing.made.v1"  # type: ignore[attr-defined]

COMMUNITY = {"district_id": "510105", "street_id": "s1", "community_id": "c1"}


def probe_router(things: sa.Table) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/communities/{community_id}/things", status_code=201, operation_id="createThing")
    async def create_thing(
        community_id: str,
        body: ThingCreate,
        principal: Annotated[Principal, Depends(require_roles(Role.COMMUNITY_WORKER, Role.STREET_OFFICER))],
        runtime: Annotated[Runtime, Depends(get_runtime)],
    ) -> dict[str, str]:
        principal.ensure_covers(Scope(district_id="510105", street_id="s1", community_id=community_id), "community")
        thing_id = uuid.uuid4()
        async with runtime.uow() as uow:
            await uow.session.execute(sa.insert(things).values(id=thing_id, name=body.name))
            uow.publish(
                new_event(ThingMade(thing_id=str(thing_id), community_id=community_id), source="/renovation/probe")
            )
            await uow.commit()
        return {"id": str(thing_id)}

    return router


@pytest.fixture
async def client(probe_db, stack):
    settings = ProbeSettings(database_url=probe_db.url, nats_url=stack.nats_url, log_json=False)
    app = create_app(
        ServiceDefinition(
            settings=settings,
            infra=probe_db.infra,
            title="probe",
            description="probe",
            routers=[probe_router(probe_db.things)],
            produces_events=False,
        )
    )
    async with running_app(app) as c:
        yield c


async def test_no_token_is_401_problem_json(client):
    r = await client.post("/v1/communities/c1/things", json={"name": "gate"})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "missing_token"
    assert r.headers["www-authenticate"] == "Bearer"


async def test_bad_and_expired_tokens_are_401(client, make_token):
    r = await client.post("/v1/communities/c1/things", json={"name": "x"}, headers=bearer("not.a.jwt"))
    assert (r.status_code, r.json()["code"]) == (401, "invalid_token")
    expired = make_token("community_worker", ttl_s=-10, **COMMUNITY)
    r = await client.post("/v1/communities/c1/things", json={"name": "x"}, headers=bearer(expired))
    assert (r.status_code, r.json()["code"]) == (401, "token_expired")


async def test_wrong_scope_is_403(client, make_token):
    other = make_token("community_worker", district_id="510105", street_id="s1", community_id="c2")
    r = await client.post("/v1/communities/c1/things", json={"name": "x"}, headers=bearer(other))
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "out_of_scope"


async def test_wrong_role_is_403(client, make_token):
    resident = make_token("resident", household_id="h1", **COMMUNITY)
    r = await client.post("/v1/communities/c1/things", json={"name": "x"}, headers=bearer(resident))
    assert (r.status_code, r.json()["code"]) == (403, "role_not_allowed")


async def test_right_role_and_scope_is_allowed_and_street_covers_its_communities(client, make_token, probe_db):
    worker = make_token("community_worker", **COMMUNITY)
    assert (
        await client.post("/v1/communities/c1/things", json={"name": "a"}, headers=bearer(worker))
    ).status_code == 201
    officer = make_token("street_officer", district_id="510105", street_id="s1")
    assert (
        await client.post("/v1/communities/c1/things", json={"name": "b"}, headers=bearer(officer))
    ).status_code == 201
    assert await probe_db.count(probe_db.things) == 2


async def test_invalid_body_is_422_problem_with_field_errors(client, make_token):
    worker = make_token("community_worker", **COMMUNITY)
    r = await client.post("/v1/communities/c1/things", json={"name": ""}, headers=bearer(worker))
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "validation_error"
    assert body["errors"][0]["loc"] == ["body", "name"]


async def test_idempotency_key_replays_and_rejects_a_different_body(client, make_token, probe_db):
    worker = make_token("community_worker", sub="worker-1", **COMMUNITY)
    headers = {**bearer(worker), "Idempotency-Key": "k-123"}
    first = await client.post("/v1/communities/c1/things", json={"name": "a"}, headers=headers)
    again = await client.post("/v1/communities/c1/things", json={"name": "a"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers.get("idempotent-replayed") == "true"
    other = await client.post("/v1/communities/c1/things", json={"name": "b"}, headers=headers)
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
    assert await probe_db.count(probe_db.things) == 1
    assert await probe_db.count(probe_db.infra.outbox) == 1


async def test_request_trace_reaches_the_event(client, make_token, probe_db):
    worker = make_token("community_worker", **COMMUNITY)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    r = await client.post(
        "/v1/communities/c1/things",
        json={"name": "a"},
        headers={**bearer(worker), "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01", "X-Request-Id": "req-1"},
    )
    assert r.status_code == 201
    assert r.headers["x-request-id"] == "req-1"
    async with probe_db.sessionmaker() as s:
        payload = (await s.execute(sa.select(probe_db.infra.outbox.c.payload))).scalar_one()
    assert payload["traceparent"].split("-")[1] == trace_id


async def test_metrics_are_not_served_through_a_proxy(client):
    assert (await client.get("/metrics")).status_code == 200
    proxied = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert proxied.status_code == 404


async def test_health_and_readiness(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "nats": "ok"}
