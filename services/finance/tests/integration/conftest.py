"""Helpers: start the finance app on a fresh database, seed its read models as the consumers would."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from finance.entrypoints.app import create_app
from finance.service_layer import readmodels
from renovation_common.contracts.projects import ProjectCreated
from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered
from renovation_common.testing.plugin import bearer


@pytest.fixture
async def finance(service_client):
    app, client = await service_client(create_app, "finance", **PAYMENT_SETTINGS)
    return app, client


async def seed_community(app, community_id, *, district="D1", street="S1", delivered=1995, fund=False, homes=()):
    """homes: (household_id, building_id, area) tuples."""
    async with app.state.runtime.uow() as uow:
        await readmodels.record_community(
            uow,
            CommunityRegistered(
                community_id=community_id,
                district_id=district,
                street_id=street,
                name="test",
                delivered_year=delivered,
                maintenance_fund_established=fund,
            ),
        )
        for hid, building, area in homes:
            await readmodels.record_household(
                uow,
                HouseholdRegistered(
                    household_id=hid,
                    community_id=community_id,
                    district_id=district,
                    street_id=street,
                    building_id=building,
                    building_code=building,
                    floor_area_m2=Decimal(area),
                    delivered_year=delivered,
                    maintenance_fund_established=fund,
                ),
            )


async def seed_project(app, project_id, community_id, *, district="D1", street="S1"):
    async with app.state.runtime.uow() as uow:
        await readmodels.record_project(
            uow,
            ProjectCreated(
                project_id=project_id,
                community_id=community_id,
                district_id=district,
                street_id=street,
                name="p",
                package_codes=["water_pipe_renewal"],
            ),
            now=datetime.now(UTC),
        )


PROVIDER = "wechat_pay"
SECRET = "test-wechat-pay-secret-0123456789abcdef"
PREVIOUS_SECRET = "test-wechat-pay-old-secret-0123456789ab"
PAYMENT_SETTINGS = {"payment_provider_secrets": {PROVIDER: [SECRET, PREVIOUS_SECRET], "alipay": [SECRET + "-ali"]}}


class Clock:
    """A controllable clock for the app (``create_app(clock=...)``): starts at the wall clock, moves on demand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


async def seed_scheme(client, make_token, community_id="c1", *, district="D1", street="S1", amount=80_000):
    """A water-meter scheme (a fixed due per household) created by a worker of the community; its dues by id."""
    worker = auth(make_token, "community_worker", district_id=district, street_id=street, community_id=community_id)
    r = await client.post(
        "/v1/contribution-schemes",
        headers=worker,
        json={"community_id": community_id, "kind": "water_meter", "title": "水表", "amount_fen_per_household": amount},
    )
    assert r.status_code == 201, r.text
    scheme = r.json()
    dues = (await client.get("/v1/dues", headers=worker, params={"scheme_id": scheme["id"]})).json()["items"]
    return scheme, {d["household_id"]: d for d in dues}


@pytest.fixture
async def clocked(service_client):
    """The app on a controllable clock: ``app, client, clock``."""
    clock = Clock()
    app, client = await service_client(create_app, "finance", clock=clock, **PAYMENT_SETTINGS)
    return app, client, clock


def recently(**delta) -> str:
    return (datetime.now(UTC) - timedelta(**(delta or {"minutes": 5}))).isoformat()


def signed(body, *, secret: str = SECRET, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """A provider's callback: the raw bytes and the headers of docs/payments.md."""
    from finance.domain.payments import signature_header

    raw = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return raw, {
        "Content-Type": "application/json",
        "Payment-Timestamp": ts,
        "Payment-Signature": signature_header(secret.encode(), ts, raw),
    }


def callback(intent: dict, txn: str, **overrides) -> dict:
    return {
        "event": "payment.succeeded",
        "provider_txn_id": txn,
        "intent_id": intent["id"],
        "amount_fen": intent["amount_fen"],
        "currency": "CNY",
        "paid_at": datetime.now(UTC).isoformat(),
        **overrides,
    }


def new_id() -> str:
    return str(uuid.uuid4())


def auth(make_token, role, **scope):
    return bearer(make_token(role, **scope))
