"""Use cases of the device registry: register a device, read one, read its events; the offline/online pair of
events the ingestion and the deadline scanner announce."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from renovation_common.auth import Principal, Scope
from renovation_common.contracts.smart_community import DeviceOffline, DeviceOnline
from renovation_common.db import ReadOnlyUnitOfWork, UnitOfWork
from renovation_common.errors import BadRequest, NotFound
from renovation_common.events import EventData, new_event
from smart_community.adapters.repositories import (
    CommunityRepository,
    DeviceEventRepository,
    DeviceRepository,
    HouseholdRepository,
)
from smart_community.domain.model import (
    DEFAULT_HEARTBEAT_S,
    Device,
    DeviceEventRecord,
    DeviceKind,
    DeviceRecord,
    Placement,
    check_device_placement,
)

MAX_EVENT_RANGE = timedelta(days=31)


def announce_liveness(
    uow: UnitOfWork, device: Device, *, online: bool, seen_at: datetime | None, source: str, now: datetime
) -> None:
    """``device.offline`` (``seen_at``: when it was last heard of) or ``device.online`` (when it was heard again)
    into the outbox of the caller's unit of work."""
    fields = {"device_id": device.id, "community_id": device.community_id, "district_id": device.district_id}
    data: EventData
    if online:
        assert seen_at is not None
        data = DeviceOnline(**fields, kind=device.kind.value, seen_at=seen_at)
    else:
        data = DeviceOffline(**fields, kind=device.kind.value, last_seen_at=seen_at)
    uow.publish(new_event(data, source=source, subject=device.id, time=now))


@dataclass(frozen=True)
class RegisterDevice:
    community_id: str
    kind: DeviceKind
    placement: Placement
    building_id: str | None = None
    household_id: str | None = None
    heartbeat_interval_s: int | None = None
    label: str = ""


def device_scope(record: DeviceRecord) -> Scope:
    d = record.device
    return Scope(d.district_id, record.street_id, d.community_id)


async def register_device(
    uow: UnitOfWork, cmd: RegisterDevice, principal: Principal, *, now: datetime, device_id: str
) -> DeviceRecord:
    """Register a device in a community known from survey events; the scope is the community's, from the read
    model (never the request)."""
    problem = check_device_placement(cmd.placement, cmd.building_id, cmd.household_id)
    if problem:
        raise BadRequest(problem, code="invalid_placement", status=422)
    async with uow:
        scope = await CommunityRepository(uow.session).scope(cmd.community_id)
        if scope is None:
            raise BadRequest("the community is not registered (survey events)", code="community_unknown", status=422)
        district_id, street_id = scope
        principal.ensure_covers(Scope(district_id, street_id, cmd.community_id), "community")
        building_id = cmd.building_id
        if cmd.household_id is not None:
            home = await HouseholdRepository(uow.session).get(cmd.household_id)
            if home is None or home.community_id != cmd.community_id:
                raise BadRequest(
                    "the household is not registered in this community", code="household_unknown", status=422
                )
            building_id = building_id or home.building_id
        repo = DeviceRepository(uow.session)
        await repo.add(
            {
                "id": device_id,
                "community_id": cmd.community_id,
                "district_id": district_id,
                "street_id": street_id,
                "building_id": building_id,
                "household_id": cmd.household_id,
                "kind": cmd.kind.value,
                "placement": cmd.placement.value,
                "label": cmd.label,
                "heartbeat_interval_s": cmd.heartbeat_interval_s or DEFAULT_HEARTBEAT_S[cmd.kind],
                "created_at": now,
            }
        )
        record = await repo.get(device_id)
        await uow.commit()
    assert record is not None
    return record


async def _visible_device(uow: ReadOnlyUnitOfWork | UnitOfWork, device_id: str, principal: Principal) -> DeviceRecord:
    record = await DeviceRepository(uow.session).get(device_id)
    if record is None:
        raise NotFound("no such device", code="device_not_found")
    principal.ensure_covers(device_scope(record), "device")
    return record


async def list_devices(
    read: ReadOnlyUnitOfWork,
    principal: Principal,
    *,
    community_id: str | None,
    kind: str | None,
    offline: bool | None,
    after: str | None,
    limit: int,
) -> list[DeviceRecord]:
    """Up to ``limit`` devices in the caller's scope (what :meth:`Principal.covers` admits), by id."""
    scope = principal.scope_filters()
    if community_id is not None and scope.get("community_id", community_id) != community_id:
        return []
    equals = {**scope, "community_id": community_id or scope.get("community_id"), "kind": kind, "offline": offline}
    async with read:
        return await DeviceRepository(read.session).find(equals, after, limit)


async def list_rejects(
    read: ReadOnlyUnitOfWork, principal: Principal, *, community_id: str | None, after: int | None, limit: int
) -> list[Any]:
    """Up to ``limit`` rejected device messages of the devices in the caller's scope, newest first."""
    scope = principal.scope_filters()
    if community_id is not None:
        if scope.get("community_id", community_id) != community_id:
            return []
        scope = {**scope, "community_id": community_id}
    async with read:
        return await DeviceEventRepository(read.session).rejects(scope, after, limit)


async def get_device(read: ReadOnlyUnitOfWork, device_id: str, principal: Principal) -> DeviceRecord:
    async with read:
        return await _visible_device(read, device_id, principal)


async def list_device_events(
    read: ReadOnlyUnitOfWork,
    device_id: str,
    principal: Principal,
    *,
    start: datetime,
    end: datetime,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[DeviceEventRecord]:
    """Up to ``limit + 1`` events of a device the caller may see, by device time, in [start, end) (≤ 31 days)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise BadRequest("from and to need an offset", code="naive_timestamp", status=422)
    if end <= start or end - start > MAX_EVENT_RANGE:
        raise BadRequest("to must be after from, at most 31 days later", code="invalid_range", status=422)
    async with read:
        await _visible_device(read, device_id, principal)
        return await DeviceEventRepository(read.session).of_device(device_id, start, end, after, limit)
