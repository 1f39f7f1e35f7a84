"""Proof: the Idempotency-Key record is written in the transaction of the effect, a duplicate never applies the
effect twice (sequential or concurrent), stored responses are encrypted, and a request that commits nothing leaves
no record."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, ClassVar

import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from renovation_common.app import Runtime, ServiceDefinition, create_app, get_runtime
from renovation_common.auth import Principal, Role, authorize
from renovation_common.errors import BadRequest
from renovation_common.settings import ServiceSettings
from renovation_common.testing import bearer, running_app

pytestmark = pytest.mark.integration

SECRET_MARK = "whsec_"


class ProbeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROBE_", extra="ignore")
    service_name: ClassVar[str] = "probe"


class ThingCreate(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    delay_s: float = Field(default=0, ge=0, le=2)
    fail_after_commit: bool = False
    refuse: bool = False


def probe_router(things: sa.Table) -> APIRouter:
    router = APIRouter()

    @router.post("/v1/things", status_code=201, operation_id="createThing")
    async def create_thing(
        body: ThingCreate,
        principal: Annotated[Principal, authorize(Role.DISTRICT_ADMIN)],
        runtime: Annotated[Runtime, Depends(get_runtime)],
    ) -> dict[str, str]:
        if body.refuse:
            raise BadRequest("refused", code="refused")
        thing_id = uuid.uuid4()
        async with runtime.uow() as uow:
            await uow.session.execute(sa.insert(things).values(id=thing_id, name=body.name))
            await asyncio.sleep(body.delay_s)  # widen the window between the effect and its commit
            await uow.commit()
        if body.fail_after_commit:
            raise RuntimeError("rendering failed after the commit")
        # a once-shown secret in the response, as a webhook subscription or device credential would carry
        return {"id": str(thing_id), "secret": f"{SECRET_MARK}{uuid.uuid4().hex}"}

    return router


@pytest.fixture
async def app_and_client(probe_db, stack):
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
    async with running_app(app) as client:
        yield app, client


def admin(make_token) -> dict[str, str]:
    return bearer(make_token("district_admin", sub="admin-1", district_id="510105"))


async def test_replay_returns_the_first_response_and_applies_once(app_and_client, make_token, probe_db):
    _, client = app_and_client
    headers = {**admin(make_token), "Idempotency-Key": "k-1"}
    first = await client.post("/v1/things", json={"name": "a"}, headers=headers)
    again = await client.post("/v1/things", json={"name": "a"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert await probe_db.count(probe_db.things) == 1
    other = await client.post("/v1/things", json={"name": "b"}, headers=headers)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert await probe_db.count(probe_db.things) == 1


async def test_stored_response_is_encrypted_at_rest(app_and_client, make_token, probe_db):
    _, client = app_and_client
    first = await client.post("/v1/things", json={"name": "a"}, headers={**admin(make_token), "Idempotency-Key": "k"})
    secret = first.json()["secret"]
    async with probe_db.sessionmaker() as s:
        row = (await s.execute(sa.select(probe_db.infra.idempotency_keys))).one()
        dump = (await s.execute(sa.text("select row_to_json(k)::text from idempotency_keys k"))).scalar_one()
    assert row.status_code == 201 and row.response_body
    assert secret.encode() not in row.response_body and secret not in dump and SECRET_MARK not in dump


async def test_concurrent_duplicates_apply_once_and_answer_alike(app_and_client, make_token, probe_db):
    _, client = app_and_client
    headers = {**admin(make_token), "Idempotency-Key": "k-race"}
    answers = await asyncio.gather(
        *(client.post("/v1/things", json={"name": "a", "delay_s": 0.3}, headers=headers) for _ in range(5))
    )
    assert [a.status_code for a in answers] == [201] * 5, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await probe_db.count(probe_db.things) == 1


async def test_a_request_that_commits_nothing_leaves_no_record(app_and_client, make_token, probe_db):
    _, client = app_and_client
    headers = {**admin(make_token), "Idempotency-Key": "k-refused"}
    refused = await client.post("/v1/things", json={"name": "a", "refuse": True}, headers=headers)
    assert refused.status_code == 400
    assert await probe_db.count(probe_db.infra.idempotency_keys) == 0
    # nothing was applied, so the same key may carry the request again and run it
    retried = await client.post("/v1/things", json={"name": "a", "refuse": True}, headers=headers)
    assert retried.status_code == 400 and "idempotent-replayed" not in retried.headers


async def test_the_record_is_in_the_effects_transaction(app_and_client, make_token, probe_db):
    """The effect commits, then the request fails: a retry must not run the work again."""
    _, client = app_and_client
    headers = {**admin(make_token), "Idempotency-Key": "k-crash"}
    with pytest.raises(RuntimeError):
        await client.post("/v1/things", json={"name": "a", "fail_after_commit": True}, headers=headers)
    assert await probe_db.count(probe_db.things) == 1
    async with probe_db.sessionmaker() as s:
        committed = (await s.execute(sa.select(probe_db.infra.idempotency_keys))).one()
    assert committed.request_nonce is not None
    retry = await client.post("/v1/things", json={"name": "a", "fail_after_commit": True}, headers=headers)
    assert retry.status_code == 500 and retry.headers["idempotent-replayed"] == "true"
    assert await probe_db.count(probe_db.things) == 1


async def test_a_record_without_response_is_never_run_again(app_and_client, make_token, probe_db):
    """A process that died between the effect's commit and storing the response: the retry is told, not re-run."""
    app, client = app_and_client
    headers = {**admin(make_token), "Idempotency-Key": "k-lost"}
    first = await client.post("/v1/things", json={"name": "a"}, headers=headers)
    assert first.status_code == 201
    async with probe_db.sessionmaker() as s, s.begin():  # what a crash right after the commit leaves behind
        await s.execute(sa.update(probe_db.infra.idempotency_keys).values(completed_at=None, response_body=None))
    middleware = app.middleware_stack
    while middleware is not None and type(middleware).__name__ != "IdempotencyMiddleware":
        middleware = getattr(middleware, "app", None)
    assert middleware is not None
    middleware.wait_for_first_s = 0.3
    retry = await client.post("/v1/things", json={"name": "a"}, headers=headers)
    assert retry.status_code == 409 and retry.json()["code"] == "idempotent_request_applied"
    assert await probe_db.count(probe_db.things) == 1
