"""Routes of a community's settings and counts: the alarm rule settings and the parking occupancy."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import Principal, Role, authorize
from smart_community.domain.model import RuleSettings
from smart_community.entrypoints.api.schemas import ParkingRead, RuleSettingsBody
from smart_community.service_layer import communities

router = APIRouter(prefix="/v1/communities/{community_id}")

STAFF = (Role.COMMUNITY_WORKER, Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
CommunityPath = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.put(
    "/rule-settings",
    operation_id="putRuleSettings",
    response_model=RuleSettingsBody,
    tags=["rules"],
    summary="Set the community's alarm rules (fields left out take their defaults)",
)
async def put_rule_settings(
    community_id: CommunityPath,
    body: RuleSettingsBody,
    principal: Annotated[Principal, authorize(*STAFF)],
    runtime: RuntimeDep,
) -> RuleSettingsBody:
    """Replaces the whole set: gas/smoke, welfare check window, accompaniment, offline grace, water leak,
    escalation period and levels, parking capacity, the quiet time after which a gas, smoke or leak alarm clears
    itself. 404 `community_unknown` for a community not known from survey
    events."""
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
        gas_auto_clear_after=_quiet(body.gas_auto_clear_s),
        smoke_auto_clear_after=_quiet(body.smoke_auto_clear_s),
        water_leak_auto_clear_after=_quiet(body.water_leak_auto_clear_s),
    )
    await communities.put_rule_settings(runtime.uow(), community_id, settings, principal, now=runtime.clock())
    return body


def _quiet(seconds: int) -> timedelta | None:
    return timedelta(seconds=seconds) if seconds > 0 else None


@router.get(
    "/parking",
    operation_id="getParking",
    response_model=ParkingRead,
    tags=["parking"],
    summary="Parking occupancy of the community",
)
async def get_parking(
    community_id: CommunityPath,
    principal: Annotated[Principal, authorize(*STAFF, Role.OPERATOR, Role.GOV_SYSTEM)],
    runtime: RuntimeDep,
) -> ParkingRead:
    """Occupied spaces from licence-plate cameras' and barrier gates' entries and exits (never below zero), against
    the capacity in the rule settings."""
    p = await communities.get_parking(runtime.read(), community_id, principal)
    return ParkingRead(
        community_id=p.community_id,
        occupied=p.occupied,
        capacity=p.capacity,
        available=p.available,
        entries=p.entries,
        exits=p.exits,
        updated_at=p.updated_at,
    )
