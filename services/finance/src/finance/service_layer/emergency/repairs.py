"""Emergency repairs as requested (危急维修资金): a request from staff, a resident or an alarm, checked for
eligibility against the fund; reading and listing requests in scope."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from finance.adapters.repositories import (
    CommunityRepository,
    EmergencyRepairRepository,
    HouseholdRepository,
)
from finance.domain.emergency import (
    REFUSAL_TEXT,
    Origin,
    RefusalReason,
    RepairKind,
    check_eligibility,
)
from finance.domain.errors import RuleViolation
from finance.service_layer.context import Context
from finance.service_layer.scope import community_scope, list_filters, of_row
from renovation_common.auth import Principal, Role
from renovation_common.contracts.finance import (
    EmergencyRepairRequested,
)
from renovation_common.db import UnitOfWork
from renovation_common.errors import Forbidden, NotFound


class CommunityUnknown(Exception):
    """The community has not reached finance's read model (yet)."""


@dataclass(frozen=True)
class RepairRequest:
    request_id: uuid.UUID
    origin: Origin
    community_id: str
    requested_by: str
    building_ids: tuple[str, ...] = ()
    location: str = ""
    description: str = ""
    alarm_id: str | None = None
    estimated_cost_fen: int | None = None
    kind: RepairKind = RepairKind.REPAIR


@dataclass(frozen=True)
class RepairView:
    repair: Any
    shares: list[Any]


@dataclass(frozen=True)
class RequestRecorded:
    repair: Any
    created: bool  # False: a retry of the same request, the first result


async def record_request(
    uow: UnitOfWork, ctx: Context, req: RepairRequest, *, event_id: uuid.UUID, now: datetime
) -> RequestRecorded:
    """Record a request once per ``request_id`` with its eligibility and announce it (the caller commits).

    Raises :class:`CommunityUnknown` while the community is not in the read model."""
    community = await CommunityRepository(uow.session).get(req.community_id)
    if community is None:
        raise CommunityUnknown(req.community_id)
    eligibility = check_eligibility(community.delivered_year, community.maintenance_fund_established)
    repairs = EmergencyRepairRepository(uow.session)
    created = await repairs.add(
        {
            "id": req.request_id,
            "origin": req.origin.value,
            "kind": req.kind.value,
            "community_id": req.community_id,
            "district_id": community.district_id,
            "street_id": community.street_id,
            "building_ids": list(req.building_ids),
            "location": req.location[:200],
            "description": req.description[:2000],
            "alarm_id": req.alarm_id,
            "estimated_cost_fen": req.estimated_cost_fen,
            "eligible": eligibility.eligible,
            "refusal_reason": eligibility.reason.value if eligibility.reason else None,
            "status": "requested" if eligibility.eligible else "refused",
            "requested_by": req.requested_by,
            "created_at": now,
        }
    )
    row = await repairs.get(req.request_id)
    if created:
        uow.publish(
            ctx.event(
                EmergencyRepairRequested(
                    request_id=str(req.request_id),
                    community_id=req.community_id,
                    district_id=community.district_id,
                    origin=req.origin.value,
                    alarm_id=req.alarm_id,
                    estimated_cost_fen=req.estimated_cost_fen,
                    eligible=eligibility.eligible,
                    refusal_reason=eligibility.reason.value if eligibility.reason else None,
                ),
                subject=str(req.request_id),
                event_id=event_id,
                now=now,
            )
        )
    return RequestRecorded(row, created)


def refusal(row: Any) -> RuleViolation:
    reason = RefusalReason(row.refusal_reason)
    return RuleViolation(
        "emergency_repair_not_eligible",
        "the emergency repair fund does not apply: " + REFUSAL_TEXT[reason].format(year="2000 or later"),
        reason=reason.value,
        request_id=str(row.id),
    )


def origin_of(principal: Principal) -> Origin:
    if principal.role is Role.RESIDENT:
        return Origin.RESIDENT
    if principal.role is Role.STREET_OFFICER:
        return Origin.STREET_OFFICER
    return Origin.COMMUNITY_WORKER


@dataclass(frozen=True)
class RequestRepair:
    """What a caller asks for; the origin follows from the caller's role, the scope from the community's record."""

    request_id: uuid.UUID
    community_id: str
    description: str
    building_ids: tuple[str, ...] = ()
    location: str = ""
    estimated_cost_fen: int | None = None
    kind: RepairKind = RepairKind.REPAIR


async def request_repair(ctx: Context, principal: Principal, cmd: RequestRepair) -> RequestRecorded:
    """Scope check, record (refused requests are kept for the record and announced), then refuse with the reason."""
    req = RepairRequest(
        request_id=cmd.request_id,
        origin=origin_of(principal),
        community_id=cmd.community_id,
        requested_by=principal.sub,
        building_ids=cmd.building_ids,
        location=cmd.location,
        description=cmd.description,
        estimated_cost_fen=cmd.estimated_cost_fen,
        kind=cmd.kind,
    )
    now = ctx.clock()
    async with ctx.uow() as uow:
        community = await CommunityRepository(uow.session).get(req.community_id)
        if community is None:
            raise RuleViolation("community_unknown", "no community with this id is known to finance")
        if principal.role is Role.RESIDENT:
            # a resident's community is the one finance's records hold for their household, not a body's word
            homes = HouseholdRepository(uow.session)
            home = await homes.get(principal.household_id) if principal.household_id else None
            if home is None or home.community_id != req.community_id:
                raise Forbidden("residents request repairs for their own community", code="out_of_scope")
        else:
            principal.ensure_covers(community_scope(community), "community")
        recorded = await record_request(uow, ctx, req, event_id=ctx.new_id(), now=now)
        row = recorded.repair
        if not recorded.created and (
            row.community_id != req.community_id or row.origin != req.origin.value or row.kind != req.kind.value
        ):
            raise RuleViolation("request_id_reused", "this request id was used for another request", status=409)
        await uow.commit()
    if not row.eligible:
        eligibility = check_eligibility(community.delivered_year, community.maintenance_fund_established)
        raise RuleViolation(
            "emergency_repair_not_eligible",
            f"the emergency repair fund does not apply: {eligibility.detail}",
            reason=row.refusal_reason,
            request_id=str(row.id),
            delivered_year=community.delivered_year,
            maintenance_fund_established=community.maintenance_fund_established,
        )
    return recorded


async def view_of(session: Any, request_id: uuid.UUID) -> RepairView:
    repairs = EmergencyRepairRepository(session)
    row = await repairs.get(request_id)
    if row is None:
        raise NotFound("emergency repair request not found", code="emergency_repair_not_found")
    return RepairView(row, await repairs.shares(request_id))


async def _read_view(ctx: Context, request_id: uuid.UUID) -> RepairView:
    async with ctx.read() as reader:
        return await view_of(reader.session, request_id)


async def get_repair(ctx: Context, principal: Principal, request_id: uuid.UUID) -> RepairView:
    """Staff in scope see every household's share; a resident of the community sees only their own."""
    view = await _read_view(ctx, request_id)
    if principal.role is Role.RESIDENT:
        if principal.community_id != view.repair.community_id:
            raise Forbidden("this request is outside your scope", code="out_of_scope")
        return RepairView(view.repair, [s for s in view.shares if s.household_id == principal.household_id])
    principal.ensure_covers(of_row(view.repair), "emergency repair")
    return view


async def list_repairs(
    ctx: Context, principal: Principal, *, status: str | None, after: uuid.UUID | None, limit: int
) -> list[Any]:
    """Requests in the caller's scope (district, street, community), by id after the cursor."""
    scope = {k: v for k, v in list_filters(principal, households=False).items() if k != "household_id"}
    filters = {**scope, **({"status": status} if status else {})}
    async with ctx.read() as reader:
        return await EmergencyRepairRepository(reader.session).find(filters=filters, after=after, limit=limit)


async def locked_in_scope(repairs: EmergencyRepairRepository, principal: Principal, request_id: uuid.UUID) -> Any:
    row = await repairs.get(request_id, for_update=True)
    if row is None:
        raise NotFound("emergency repair request not found", code="emergency_repair_not_found")
    principal.ensure_covers(of_row(row), "emergency repair")
    return row
