"""Routes of devices: the registry, MQTT credentials, a device's events and gateway batches (parse, authenticate,
call one use case, render)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import Principal, Role, authorize
from renovation_common.clock import system_clock
from renovation_common.pagination import Page, PageParams, make_page, page_params
from smart_community.domain.model import DeviceKind
from smart_community.entrypoints.api.dependencies import device_broker
from smart_community.entrypoints.api.schemas import (
    BatchResult,
    CredentialsRead,
    DeviceCreate,
    DeviceEventRead,
    DeviceRead,
    DeviceRejectRead,
    GatewayBatch,
    RejectedItem,
)
from smart_community.service_layer import credentials, devices
from smart_community.service_layer.credentials import DeviceBroker
from smart_community.service_layer.ingestion import GatewayEvent, ingest_gateway_batch

router = APIRouter(tags=["devices"])

STAFF = (Role.COMMUNITY_WORKER, Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
BrokerDep = Annotated[DeviceBroker, Depends(device_broker)]
DevicePath = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.post(
    "/v1/devices",
    operation_id="registerDevice",
    response_model=DeviceRead,
    status_code=201,
    summary="Register a device in a community, a building's common parts or a home",
)
async def register_device(
    body: DeviceCreate,
    principal: Annotated[Principal, authorize(*STAFF, Role.OPERATOR)],
    runtime: RuntimeDep,
) -> DeviceRead:
    """The community must be known from the survey service's events (422 `community_unknown`), a household device's
    household too (422 `household_unknown`); the scope is the community's, from this service's records. The answer
    names the MQTT topic the device publishes to; it can log in once credentials are issued."""
    record = await devices.register_device(
        runtime.uow(),
        devices.RegisterDevice(
            community_id=body.community_id,
            kind=body.kind,
            placement=body.placement,
            building_id=body.building_id,
            household_id=body.household_id,
            heartbeat_interval_s=body.heartbeat_interval_s,
            label=body.label,
        ),
        principal,
        now=runtime.clock(),
        device_id=str(uuid.uuid4()),
    )
    return DeviceRead.of(record)


@router.get(
    "/v1/devices",
    operation_id="listDevices",
    response_model=Page[DeviceRead],
    summary="The devices of your scope, with filters and a cursor",
)
async def list_devices(
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, authorize(*STAFF, Role.OPERATOR, Role.DEVICE_GATEWAY, Role.GOV_SYSTEM)],
    runtime: RuntimeDep,
    community_id: Annotated[str | None, Query(max_length=64, description="Only this community's devices")] = None,
    kind: Annotated[DeviceKind | None, Query(description="Only devices of this kind")] = None,
    offline: Annotated[bool | None, Query(description="`true`: only silent devices; `false`: only live ones")] = None,
) -> Page[DeviceRead]:
    """Devices of the token's community, street or district (a gateway: its community's), by id."""
    found = await devices.list_devices(
        runtime.read(),
        principal,
        community_id=community_id,
        kind=kind.value if kind else None,
        offline=offline,
        after=page.after_str(64),
        limit=page.limit + 1,
    )
    return make_page([DeviceRead.of(d) for d in found], page.limit, lambda d: d.id)


@router.get(
    "/v1/device-rejects",
    operation_id="listDeviceRejects",
    response_model=Page[DeviceRejectRead],
    summary="Device messages that were refused, and why (newest first, with a cursor)",
)
async def list_device_rejects(
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, authorize(*STAFF, Role.OPERATOR)],
    runtime: RuntimeDep,
    community_id: Annotated[str | None, Query(max_length=64, description="Only this community's devices")] = None,
) -> Page[DeviceRejectRead]:
    """What ingestion refused (NUL bytes, bad UTF-8, oversized or too deeply nested payloads, unknown types, a
    clock too far ahead …) for the devices of your scope — the same rejects the
    `smart_community_device_events_total{outcome="rejected"}` metric counts. A message no registered device can be
    tied to is counted but listed nowhere (it has no scope)."""
    found = await devices.list_rejects(
        runtime.read(), principal, community_id=community_id, after=page.after_int(), limit=page.limit + 1
    )
    return make_page([DeviceRejectRead.of(r) for r in found], page.limit, lambda r: r.id)


@router.get(
    "/v1/devices/{device_id}", operation_id="getDevice", response_model=DeviceRead, summary="One device of your scope"
)
async def get_device(
    device_id: DevicePath,
    principal: Annotated[Principal, authorize(*STAFF, Role.OPERATOR, Role.DEVICE_GATEWAY, Role.GOV_SYSTEM)],
    runtime: RuntimeDep,
) -> DeviceRead:
    """The device with when it was last heard of and whether it is offline (silent beyond heartbeat × grace)."""
    return DeviceRead.of(await devices.get_device(runtime.read(), device_id, principal))


CREDENTIAL_PROBLEMS: dict[int | str, dict[str, Any]] = {
    503: {"description": "The broker was not shown to enforce the credential (`broker_not_enforcing`); nothing changed"}
}


@router.post(
    "/v1/devices/{device_id}/credentials",
    operation_id="issueDeviceCredentials",
    response_model=CredentialsRead,
    status_code=201,
    summary="Issue (or rotate) the device's MQTT credentials: allowed to publish only to its own topics",
    responses=CREDENTIAL_PROBLEMS,
)
async def issue_credentials(
    device_id: DevicePath,
    principal: Annotated[Principal, authorize(*STAFF, Role.OPERATOR)],
    runtime: RuntimeDep,
    broker: BrokerDep,
) -> CredentialsRead:
    """The password is shown once; only a bcrypt hash is kept. Success means the broker was just shown to enforce
    it (a login with it accepted, one with a wrong password refused); connections made with the previous credential
    are closed. Otherwise 503 `broker_not_enforcing` and the previous credential stays."""
    issued = await credentials.issue_credentials(
        runtime.uow(), runtime.read, device_id, principal, now=runtime.clock(), broker=broker
    )
    return CredentialsRead(
        device_id=issued.device_id,
        username=issued.username,
        password=issued.password,
        mqtt_client_id=issued.username,
        mqtt_topic=issued.topic,
        publish_subjects=issued.publish_subjects,
        issued_at=issued.issued_at,
    )


@router.delete(
    "/v1/devices/{device_id}/credentials",
    operation_id="revokeDeviceCredentials",
    status_code=204,
    response_class=Response,
    summary="Revoke the device's MQTT credentials: no new login, open connections closed",
)
async def revoke_credentials(
    device_id: DevicePath,
    principal: Annotated[Principal, authorize(*STAFF, Role.OPERATOR)],
    runtime: RuntimeDep,
    broker: BrokerDep,
) -> Response:
    """Takes effect at the device's next CONNECT; its open connections are closed at once (and by the periodic
    reconciliation if the broker was away). Revoking twice is fine."""
    await credentials.revoke_credentials(runtime.uow(), runtime.read, device_id, principal, broker=broker)
    return Response(status_code=204)


@router.get(
    "/v1/devices/{device_id}/events",
    operation_id="listDeviceEvents",
    response_model=Page[DeviceEventRead],
    summary="A device's events in a time range (device time), oldest first, with a cursor",
)
async def list_device_events(
    device_id: DevicePath,
    from_: Annotated[datetime, Query(alias="from", description="Device time, inclusive, RFC 3339 with offset")],
    to: Annotated[datetime, Query(description="Device time, exclusive; at most 31 days after `from`")],
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, authorize(*STAFF, Role.OPERATOR, Role.GOV_SYSTEM)],
    runtime: RuntimeDep,
) -> Page[DeviceEventRead]:
    """422 `naive_timestamp` without an offset, 422 `invalid_range` when `to` is not after `from` or more than 31
    days later."""
    found = await devices.list_device_events(
        runtime.read(), device_id, principal, start=from_, end=to, after=page.after_time_and_id(int), limit=page.limit
    )
    items = [DeviceEventRead.of(e) for e in found]
    return make_page(items, page.limit, lambda e: [e.device_time.isoformat(), e.id])


@router.post(
    "/v1/device-events/batch",
    operation_id="ingestDeviceEventBatch",
    response_model=BatchResult,
    summary="A gateway posts up to 1,000 events of devices in its community",
)
async def ingest_batch(
    body: GatewayBatch,
    principal: Annotated[Principal, authorize(Role.DEVICE_GATEWAY)],
    runtime: RuntimeDep,
) -> BatchResult:
    """Each event is validated on its own: the answer counts the accepted and duplicate ones and lists each
    rejected one by its index with the reason (also kept as a device reject). Only devices of the token's community
    are accepted. An `event_id` makes a resent batch store each event once."""
    result = await ingest_gateway_batch(
        runtime.uow(),
        principal,
        [GatewayEvent(e.device_id, e.type, e.time, e.readings, e.event_id) for e in body.events],
        source_uri=runtime.settings.event_source,
        now=runtime.clock(),
        received_at=system_clock(),  # the wall clock: device clocks are checked against it
    )
    return BatchResult(
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=[RejectedItem(index=i, reason=r) for i, r in result.rejected],
        alarms_raised=result.alarms_raised,
    )
