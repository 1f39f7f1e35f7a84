"""Routes: validate, authorise (role + scope), call one use case, return a schema."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import Principal, Role, require_roles
from renovation_common.errors import BadRequest, Forbidden
from renovation_common.pagination import Page, PageParams, make_page, page_params
from smart_community.adapters import repository as repo
from smart_community.domain import rules
from smart_community.domain.model import RuleSettings, Severity, device_topic
from smart_community.entrypoints.api.schemas import (
    AlarmRead,
    BatchResult,
    CredentialsRead,
    DeviceCreate,
    DeviceEventRead,
    DeviceRead,
    GatewayBatch,
    ParkingRead,
    RejectedItem,
    RuleSettingsBody,
)
from smart_community.service_layer import credentials, use_cases
from smart_community.service_layer.ingestion import Incoming, ingest

router = APIRouter()

STAFF = (Role.COMMUNITY_WORKER, Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
MAX_RANGE = timedelta(days=31)
DevicePath = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
CommunityPath = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _now(runtime: Runtime) -> datetime:
    return runtime.clock()


def _device_read(r: repo.DeviceRecord) -> DeviceRead:
    d = r.device
    return DeviceRead(
        id=d.id,
        community_id=d.community_id,
        district_id=d.district_id,
        building_id=d.building_id,
        household_id=d.household_id,
        kind=d.kind,
        placement=d.placement,
        label=r.label,
        heartbeat_interval_s=d.heartbeat_interval_s,
        topic=device_topic(d.community_id, d.id, d.kind.value),
        created_at=r.created_at,
        last_seen_at=r.last_seen_at,
        offline=r.offline,
        credentials_issued_at=r.credential_issued_at,
    )


def _alarm_read(row: Any) -> AlarmRead:
    return AlarmRead.model_validate(row._mapping, from_attributes=False)


# ------------------------------------------------------------------------------------------ devices


@router.post("/v1/devices", operation_id="registerDevice", response_model=DeviceRead, status_code=201, tags=["devices"])
async def register_device(
    body: DeviceCreate,
    principal: Principal = Depends(require_roles(*STAFF, Role.OPERATOR)),
    runtime: Runtime = Depends(get_runtime),
) -> DeviceRead:
    record = await use_cases.register_device(
        runtime.uow(),
        use_cases.RegisterDevice(
            community_id=body.community_id,
            kind=body.kind,
            placement=body.placement,
            building_id=body.building_id,
            household_id=body.household_id,
            heartbeat_interval_s=body.heartbeat_interval_s,
            label=body.label,
        ),
        principal,
        now=_now(runtime),
        device_id=str(uuid.uuid4()),
    )
    return _device_read(record)


@router.get("/v1/devices/{device_id}", operation_id="getDevice", response_model=DeviceRead, tags=["devices"])
async def get_device(
    device_id: DevicePath,
    principal: Principal = Depends(require_roles(*STAFF, Role.OPERATOR, Role.DEVICE_GATEWAY, Role.GOV_SYSTEM)),
    runtime: Runtime = Depends(get_runtime),
) -> DeviceRead:
    async with runtime.sessionmaker() as session:
        return _device_read(await use_cases.get_device(session, device_id, principal))


CREDENTIAL_PROBLEMS: dict[int | str, dict[str, Any]] = {
    503: {"description": "The broker was not shown to enforce the credential (`broker_not_enforcing`); nothing changed"}
}


@router.post(
    "/v1/devices/{device_id}/credentials",
    operation_id="issueDeviceCredentials",
    response_model=CredentialsRead,
    status_code=201,
    tags=["devices"],
    summary="Issue (or rotate) the device's MQTT credentials: allowed to publish only to its own topics",
    description=(
        "The password is shown once; only a bcrypt hash is kept. Success means the broker was just shown to enforce "
        "it (a login with it accepted, one with a wrong password refused); connections made with the previous "
        "credential are closed. Otherwise 503 `broker_not_enforcing` and the previous credential stays."
    ),
    responses=CREDENTIAL_PROBLEMS,
)
async def issue_credentials(
    device_id: DevicePath,
    principal: Principal = Depends(require_roles(*STAFF, Role.OPERATOR)),
    runtime: Runtime = Depends(get_runtime),
) -> CredentialsRead:
    issued = await credentials.issue_credentials(
        runtime.uow(), device_id, principal, now=_now(runtime), broker=runtime.extras["device_broker"]
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
    tags=["devices"],
    summary="Revoke the device's MQTT credentials: no new login, open connections closed",
)
async def revoke_credentials(
    device_id: DevicePath,
    principal: Principal = Depends(require_roles(*STAFF, Role.OPERATOR)),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    await credentials.revoke_credentials(runtime.uow(), device_id, principal, broker=runtime.extras["device_broker"])
    return Response(status_code=204)


@router.get(
    "/v1/devices/{device_id}/events",
    operation_id="listDeviceEvents",
    response_model=Page[DeviceEventRead],
    tags=["devices"],
)
async def list_device_events(
    device_id: DevicePath,
    from_: Annotated[datetime, Query(alias="from", description="Device time, inclusive")],
    to: Annotated[datetime, Query(description="Device time, exclusive; at most 31 days after `from`")],
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require_roles(*STAFF, Role.OPERATOR, Role.GOV_SYSTEM)),
    runtime: Runtime = Depends(get_runtime),
) -> Page[DeviceEventRead]:
    if from_.tzinfo is None or to.tzinfo is None:
        raise BadRequest("from and to need an offset", code="naive_timestamp", status=422)
    if to <= from_ or to - from_ > MAX_RANGE:
        raise BadRequest("to must be after from, at most 31 days later", code="invalid_range", status=422)
    after = page.after_time_and_id(int)
    async with runtime.sessionmaker() as session:
        await use_cases.get_device(session, device_id, principal)
        rows = await repo.events_of_device(session, device_id, from_, to, after, page.limit)
    items = [
        DeviceEventRead(
            id=r.id,
            device_id=r.device_id,
            event_type=r.event_type,
            device_time=r.device_time,
            received_at=r.received_at,
            readings=r.readings,
            source=r.source,
        )
        for r in rows
    ]
    return make_page(items, page.limit, lambda e: [e.device_time.isoformat(), e.id])


@router.post(
    "/v1/device-events/batch",
    operation_id="ingestDeviceEventBatch",
    response_model=BatchResult,
    tags=["devices"],
    summary="A gateway posts up to 1,000 events of devices in its community",
)
async def ingest_batch(
    body: GatewayBatch,
    principal: Principal = Depends(require_roles(Role.DEVICE_GATEWAY)),
    runtime: Runtime = Depends(get_runtime),
) -> BatchResult:
    if principal.community_id is None:
        raise Forbidden("a gateway token needs a community_id", code="out_of_scope")
    received = datetime.now(UTC)
    items = [
        Incoming(
            source="http",
            received_at=received,
            device_id=e.device_id,
            fields={"type": e.type, "time": e.time, "readings": e.readings},
            client_event_id=e.event_id,
        )
        for e in body.events
    ]
    result = await ingest(
        runtime.uow(),
        items,
        source_uri=runtime.settings.event_source,
        now=_now(runtime),
        gateway_community=principal.community_id,
    )
    return BatchResult(
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=[RejectedItem(index=i, reason=r) for i, r in result.rejected],
        alarms_raised=result.alarms_raised,
    )


# ------------------------------------------------------------------------------------------ alarms


@router.get("/v1/alarms", operation_id="listAlarms", response_model=Page[AlarmRead], tags=["alarms"])
async def list_alarms(
    status: Annotated[str | None, Query(pattern="^(active|acknowledged|cleared|open)$")] = None,
    severity: Severity | None = None,
    community_id: Annotated[str | None, Query(max_length=64)] = None,
    alarm_type: Annotated[str | None, Query(max_length=40)] = None,
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require_roles(*STAFF, Role.OPERATOR, Role.GOV_SYSTEM, Role.RESIDENT)),
    runtime: Runtime = Depends(get_runtime),
) -> Page[AlarmRead]:
    query = use_cases.alarm_query(
        principal,
        status=status,
        severity=severity.value if severity else None,
        community_id=community_id,
        alarm_type=alarm_type,
    )
    async with runtime.sessionmaker() as session:
        rows = await repo.list_alarms(session, query, page.after_time_and_id(uuid.UUID), page.limit)
    items = [_alarm_read(r) for r in rows]
    return make_page(items, page.limit, lambda a: [a.raised_at.isoformat(), str(a.id)])


@router.post(
    "/v1/alarms/{alarm_id}/acknowledge", operation_id="acknowledgeAlarm", response_model=AlarmRead, tags=["alarms"]
)
async def acknowledge_alarm(
    alarm_id: uuid.UUID,
    principal: Principal = Depends(require_roles(*STAFF, Role.OPERATOR)),
    runtime: Runtime = Depends(get_runtime),
) -> AlarmRead:
    row = await use_cases.acknowledge_alarm(
        runtime.uow(), alarm_id, principal, now=_now(runtime), source=runtime.settings.event_source
    )
    return _alarm_read(row)


@router.post("/v1/alarms/{alarm_id}/clear", operation_id="clearAlarm", response_model=AlarmRead, tags=["alarms"])
async def clear_alarm(
    alarm_id: uuid.UUID,
    principal: Principal = Depends(require_roles(*STAFF, Role.OPERATOR)),
    runtime: Runtime = Depends(get_runtime),
) -> AlarmRead:
    row = await use_cases.clear_alarm(
        runtime.uow(), alarm_id, principal, now=_now(runtime), source=runtime.settings.event_source
    )
    return _alarm_read(row)


# ------------------------------------------------------------------------------------------ communities


@router.put(
    "/v1/communities/{community_id}/rule-settings",
    operation_id="putRuleSettings",
    response_model=RuleSettingsBody,
    tags=["rules"],
)
async def put_rule_settings(
    community_id: CommunityPath,
    body: RuleSettingsBody,
    principal: Principal = Depends(require_roles(*STAFF)),
    runtime: Runtime = Depends(get_runtime),
) -> RuleSettingsBody:
    settings = RuleSettings(
        gas_smoke_enabled=body.gas_smoke_enabled,
        welfare_check_enabled=body.welfare_check_enabled,
        welfare_check_window=timedelta(hours=body.welfare_check_hours),
        accompaniment_enabled=body.accompaniment_enabled,
        offline_enabled=body.offline_enabled,
        offline_grace_factor=body.offline_grace_factor,
        water_leak_enabled=body.water_leak_enabled,
        escalation_after=timedelta(minutes=body.escalation_minutes),
        max_escalation_level=body.max_escalation_level,
        parking_capacity=body.parking_capacity,
    )
    await use_cases.put_rule_settings(runtime.uow(), community_id, settings, principal, now=_now(runtime))
    return body


@router.get(
    "/v1/communities/{community_id}/parking", operation_id="getParking", response_model=ParkingRead, tags=["parking"]
)
async def get_parking(
    community_id: CommunityPath,
    principal: Principal = Depends(require_roles(*STAFF, Role.OPERATOR, Role.GOV_SYSTEM)),
    runtime: Runtime = Depends(get_runtime),
) -> ParkingRead:
    async with runtime.sessionmaker() as session:
        await use_cases.community_checked(session, community_id, principal)
        row = await repo.get_parking(session, community_id)
        capacity = (await repo.settings_for(session, [community_id]))[community_id].parking_capacity
    occupied = row.occupied if row else 0
    return ParkingRead(
        community_id=community_id,
        occupied=occupied,
        capacity=capacity,
        available=rules.available_spaces(occupied, capacity),
        entries=row.entries if row else 0,
        exits=row.exits if row else 0,
        updated_at=row.updated_at if row else None,
    )
