"""Helpers for the smart-community integration tests (real Postgres, real NATS with its MQTT listener)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered
from renovation_common.events import new_event
from renovation_common.messaging import ensure_event_stream
from renovation_common.testing.plugin import bearer, eventually


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def publish(js: Any, data: Any, subject_id: str) -> None:
    await ensure_event_stream(js, "survey")
    event = new_event(data, source="/renovation/survey", subject=subject_id)
    await js.publish(event.nats_subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": event.id})


class World:
    """A community with households known to the service through real survey events."""

    def __init__(self, js: Any, client: Any, make_token: Any) -> None:
        self.js = js
        self.client = client
        self.make_token = make_token
        self.community = new_id("c")
        self.district = "510105"
        self.street = new_id("s")
        self.building = new_id("b")

    def token(self, role: str = "community_worker", **scope: str) -> dict[str, str]:
        claims = {"district_id": self.district, "community_id": self.community} | scope
        return bearer(self.make_token(role, **claims))

    async def register(self, households: dict[str, dict[str, bool]]) -> None:
        await auth_callout_answering(self.client)
        await publish(
            self.js,
            CommunityRegistered(
                community_id=self.community,
                district_id=self.district,
                street_id=self.street,
                name="test community",
                maintenance_fund_established=True,
            ),
            self.community,
        )
        for household_id, flags in households.items():
            await publish(
                self.js,
                HouseholdRegistered(
                    household_id=household_id,
                    community_id=self.community,
                    district_id=self.district,
                    street_id=self.street,
                    building_id=self.building,
                    building_code="1",
                    floor_area_m2=Decimal("56.20"),
                    maintenance_fund_established=True,
                    **flags,
                ),
                household_id,
            )

    async def device(self, kind: str, placement: str = "household", household: str | None = None, **extra: Any) -> dict:
        body = {"community_id": self.community, "kind": kind, "placement": placement, **extra}
        if household:
            body["household_id"] = household
        if placement == "building":
            body["building_id"] = self.building
        result: dict[str, Any] = {}

        async def registered() -> bool:
            response = await self.client.post("/v1/devices", json=body, headers=self.token())
            if response.status_code == 201:
                result.update(response.json())
                return True
            assert response.json()["code"] in ("community_unknown", "household_unknown"), response.text
            return False

        await eventually(registered, timeout_s=15)
        return result


async def auth_callout_answering(client: Any, timeout_s: float = 30) -> None:
    """Wait until the app's auth callout responder (it starts in the background) answers the broker."""
    from smart_community.entrypoints.broker_workers import RESPONDER_READY

    app = client._transport.app

    async def ready() -> bool:
        return not app.state.settings.broker_auth_enabled or bool(app.state.runtime.extras.get(RESPONDER_READY))

    await eventually(ready, timeout_s=timeout_s)


async def rows(app: Any, sql: str, **params: Any) -> list[Any]:
    async with app.state.runtime.sessionmaker() as session:
        return list((await session.execute(sa.text(sql), params)).all())


async def outbox_events(app: Any, event_type: str) -> list[dict[str, Any]]:
    found = await rows(app, "select payload from outbox where event_type = :t order by seq", t=event_type)
    return [r.payload for r in found]


async def until_events(app: Any, event_type: str, count: int, timeout_s: float = 15) -> list[dict[str, Any]]:
    """Wait until the outbox holds at least ``count`` events of this type; return them all."""

    async def enough() -> bool:
        return len(await outbox_events(app, event_type)) >= count

    await eventually(enough, timeout_s=timeout_s)
    return await outbox_events(app, event_type)
