"""Fixtures: an injectable clock, the survey registry as the projects consumer records it, and helpers to publish
the survey's events straight to JetStream."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from projects.service_layer import readmodels
from renovation_common.contracts.survey import CommunityRegistered, HouseholdRegistered, SiteRegistered
from renovation_common.db import ConsumerUnitOfWork
from renovation_common.events import EventData, new_event
from renovation_common.messaging import ensure_event_stream


class Clock:
    """Wall clock plus an offset the test moves."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


def community_event(community_id: str, district_id: str, street_id: str, *, name: str = "桂东社区", version: int = 1,
                    households: int = 0) -> CommunityRegistered:  # fmt: skip
    return CommunityRegistered(
        community_id=community_id,
        district_id=district_id,
        street_id=street_id,
        name=name,
        maintenance_fund_established=False,
        household_count=households,
        version=version,
    )


def household_events(
    community_id: str, district_id: str, street_id: str, buildings: dict[str, int]
) -> list[HouseholdRegistered]:
    """``buildings``: building code -> number of homes."""
    out = []
    for code, homes in buildings.items():
        building_id = f"{community_id}-b{code}"
        for k in range(homes):
            out.append(
                HouseholdRegistered(
                    household_id=f"{building_id}-h{k}",
                    community_id=community_id,
                    district_id=district_id,
                    street_id=street_id,
                    building_id=building_id,
                    building_code=code,
                    floor_area_m2=Decimal("60.00"),
                    maintenance_fund_established=False,
                    version=1,
                )
            )
    return out


def site_event(
    community_id: str, district_id: str, street_id: str, code: str, kind: str, *, version: int = 1,
    length_m: int | None = None, retired: bool = False, name: str | None = None,
) -> SiteRegistered:  # fmt: skip
    return SiteRegistered(
        site_id=f"{community_id}-{code}",
        community_id=community_id,
        district_id=district_id,
        street_id=street_id,
        code=code,
        name=name or code,
        kind=kind,
        length_m=length_m,
        retired=retired,
        version=version,
    )


async def record(app: Any, events: Iterable[EventData]) -> None:
    """Write read models with the consumer's own use cases (what ``survey-events`` does for each event)."""
    apply = {
        CommunityRegistered: readmodels.record_community,
        HouseholdRegistered: readmodels.record_household,
        SiteRegistered: readmodels.record_site,
    }
    async with app.state.sessionmaker() as session, session.begin():
        for data in events:
            await apply[type(data)](ConsumerUnitOfWork(session, app.state.infra), data)


async def seed_community(
    app: Any, community_id: str, district_id: str, street_id: str, *, buildings: dict[str, int] | None = None,
    lanes: Iterable[str] = (), name: str = "桂东社区",
) -> None:  # fmt: skip
    buildings = {"1": 40, "2": 20} if buildings is None else buildings
    events: list[EventData] = [
        community_event(community_id, district_id, street_id, name=name, households=sum(buildings.values()))
    ]
    events += household_events(community_id, district_id, street_id, buildings)
    events += [site_event(community_id, district_id, street_id, code, "lane") for code in lanes]
    await record(app, events)


@pytest.fixture
def publish(jetstream):
    """Publish a survey event as the survey service would (its stream is ensured first)."""

    async def pub(data: EventData, subject_id: str | None = None) -> str:
        await ensure_event_stream(jetstream, "survey")
        event = new_event(data, source="/renovation/survey", subject=subject_id or str(uuid.uuid4()))
        await jetstream.publish(
            event.nats_subject, event.model_dump_json(exclude_none=True).encode(), headers={"Nats-Msg-Id": event.id}
        )
        return event.id

    return pub
