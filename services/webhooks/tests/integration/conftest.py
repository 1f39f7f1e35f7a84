"""Fixtures: a real HTTP receiver on 127.0.0.1 verifying with the official ``standardwebhooks`` package, an
injectable clock, helpers to publish CloudEvents straight to JetStream and to start the webhooks app."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from renovation_common.contracts.finance import ContributionPaid
from renovation_common.contracts.survey import CommunityRegistered
from renovation_common.events import new_event
from renovation_common.messaging import ensure_event_stream
from renovation_common.testing.plugin import bearer, running_app
from renovation_common.testing.receiver import WebhookReceiver
from webhooks.entrypoints.app import create_app


class Clock:
    """Wall clock plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@pytest.fixture
def receiver():
    with WebhookReceiver(status=200) as r:
        yield r


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def start_app(service_client):
    async def start(**overrides: Any):
        overrides.setdefault("allowed_target_networks", ["127.0.0.0/8"])
        overrides.setdefault("dispatcher_poll_interval_s", 0.2)
        return await service_client(create_app, "webhooks", **overrides)

    return start


@pytest.fixture
def webhooks_on(stack):
    """``async with webhooks_on(url, keys, **settings) as (app, client)``: the app on a given database (restart it
    with other settings), JSON logs unless ``log_json=False``."""

    @asynccontextmanager
    async def start(url: str, keys: str, **overrides):
        settings = {
            "log_json": True,
            "allowed_target_networks": ["127.0.0.0/8"],
            "dispatcher_poll_interval_s": 0.2,
            "secret_reseal_interval_s": 0.3,  # the re-seal job polls often
            **overrides,
        }
        app = create_app(database_url=url, nats_url=stack.nats_url, secret_encryption_key=keys, **settings)
        async with running_app(app) as client:
            yield app, client

    return start


@pytest.fixture
def gov(make_token):
    def make(sub: str | None = None, **claims: str) -> dict[str, str]:
        return bearer(make_token("gov_system", sub=sub or f"gov-{uuid.uuid4().hex[:6]}", **claims))

    return make


@pytest.fixture
def publish(jetstream):
    async def pub(district_id: str, *, community_id: str = "c-1", amount_fen: int = 100) -> str:
        await ensure_event_stream(jetstream, "finance")
        event = new_event(
            ContributionPaid(
                due_id=str(uuid.uuid4()),
                scheme_id="s-1",
                community_id=community_id,
                district_id=district_id,
                household_id="h-1",
                amount_fen=amount_fen,
            ),
            source="/renovation/finance",
        )
        await jetstream.publish(
            event.nats_subject, event.model_dump_json(exclude_none=True).encode(), headers={"Nats-Msg-Id": event.id}
        )
        return event.id

    return pub


@pytest.fixture
def register_community(jetstream):
    """Publish ``survey.community.registered.v1`` as the survey service would (the webhooks consumer keeps where
    each community lies)."""

    async def register(community_id: str, district_id: str, *, time: datetime | None = None, version: int = 0) -> str:
        await ensure_event_stream(jetstream, "survey")
        event = new_event(
            CommunityRegistered(
                community_id=community_id,
                district_id=district_id,
                street_id=f"{district_id}-01",
                name="劲松北社区",
                maintenance_fund_established=False,
                version=version,
            ),
            source="/renovation/survey",
            subject=community_id,
            time=time,
        )
        await jetstream.publish(
            event.nats_subject, event.model_dump_json(exclude_none=True).encode(), headers={"Nats-Msg-Id": event.id}
        )
        return event.id

    return register


async def subscribe(
    client, headers, receiver: WebhookReceiver, district: str, path: str = "/hook", **extra: Any
) -> dict:
    body = {"url": receiver.url(path), "event_types": ["finance.*"], "district_id": district, **extra}
    resp = await client.post("/v1/subscriptions", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    created = resp.json()
    receiver.secrets = [created["secret"]]
    return created


def dispatcher_of(app: Any) -> Any:
    return app.state.runtime.extras["dispatcher"]
