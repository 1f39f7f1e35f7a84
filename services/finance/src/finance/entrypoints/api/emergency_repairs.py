"""Emergency repair routes (危急维修资金): requests, approval with the 80/20 split, payment, statistics, report."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from finance.domain.emergency import Period
from finance.domain.money import fen_to_wan_yuan, fen_to_yuan
from finance.entrypoints.api.dependencies import ContextDep
from finance.entrypoints.api.exports import EXPORT_MEDIA, export_response
from finance.entrypoints.api.schemas.emergency_repairs import (
    AmountsRead,
    ApproveRepair,
    CancelRepair,
    DistrictStatsRead,
    PeriodStatsRead,
    RepairCreate,
    RepairRead,
    StatsRead,
)
from finance.entrypoints.api.schemas.types import ID
from finance.service_layer import emergency as uc
from renovation_common.auth import Principal, Role, authorize
from renovation_common.idempotency import answer_replay, replay_responses
from renovation_common.pagination import Page, PageParams, make_page, page_params

router = APIRouter(tags=["emergency repair fund"])
REQUESTERS = (Role.RESIDENT, Role.COMMUNITY_WORKER, Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
STAFF = (Role.COMMUNITY_WORKER, Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
# District statistics: the district's admin, government systems and finance offices (their district), street
# officers (their street); the scope is checked against the records' district and street.
STATS_READERS = (Role.STREET_OFFICER, Role.DISTRICT_ADMIN, Role.FINANCE_OFFICER, Role.GOV_SYSTEM)
STATUSES = Literal["requested", "refused", "approved", "paid", "rejected", "cancelled"]

DistrictQuery = Annotated[str | None, Query(pattern=ID, description="Your own district (the default)")]
FromQuery = Annotated[datetime | None, Query(alias="from", description="Paid at or after (inclusive)")]
ToQuery = Annotated[datetime | None, Query(alias="to", description="Paid before (exclusive)")]


def _amounts_read(a: uc.Amounts) -> AmountsRead:
    money = ("total", "government", "owners", "public_income", "households")
    return AmountsRead(
        uses=a.uses,
        **{f"{m}_fen": getattr(a, f"{m}_fen") for m in money},
        **{f"{m}_yuan": a.yuan(f"{m}_fen") for m in money},
    )


def _period_read(p: uc.PeriodStats) -> PeriodStatsRead:
    return PeriodStatsRead(
        period=p.label,
        period_start=p.start,
        summary_zh=p.amounts.summary_zh,
        by_kind={k: _amounts_read(a) for k, a in p.by_kind.items()},
        **_amounts_read(p.amounts).model_dump(),
    )


def _district_read(s: uc.DistrictStats) -> DistrictStatsRead:
    return DistrictStatsRead(
        district_id=s.district_id,
        uses=s.uses,
        total_fen=s.total_fen,
        total_wan_yuan=s.total_wan_yuan,
        government_fen=s.government_fen,
        owners_fen=s.owners_fen,
        summary_zh=s.summary_zh,
    )


@router.get(
    "/v1/emergency-repairs/stats",
    operation_id="getEmergencyRepairStats",
    response_model=StatsRead,
    summary="District statistics of the emergency repair fund in the Jiaxing form, by month, quarter or year",
)
async def stats(
    principal: Annotated[Principal, authorize(*STATS_READERS)],
    ctx: ContextDep,
    district_id: DistrictQuery = None,
    period: Annotated[Period, Query(description="month | quarter | year, China's calendar")] = Period.MONTH,
    period_from: FromQuery = None,
    period_to: ToQuery = None,
) -> StatsRead:
    """Paid uses (笔) per period and kind of work, with the amount, the government's 80% and the owners' 20%
    (public income and households apart), exact in fen with yuan strings beside; ``summary_zh`` in the Jiaxing
    form (共计N笔、X万元). A district's admin, finance office and government systems read their district; a street
    officer their street."""
    result = await uc.stats(ctx, principal, district_id=district_id, period=period, start=period_from, end=period_to)
    total = result.total
    return StatsRead(
        district_id=result.district_id,
        street_id=result.street_id,
        period=result.period,
        period_from=result.period_from,
        period_to=result.period_to,
        periods=[_period_read(p) for p in result.periods],
        by_kind={k: _amounts_read(a) for k, a in result.by_kind.items()},
        totals=_amounts_read(total),
        districts=[_district_read(r) for r in result.districts],
        uses=total.uses,
        total_fen=total.total_fen,
        total_wan_yuan=fen_to_wan_yuan(total.total_fen),
        summary_zh=total.summary_zh,
    )


@router.get(
    "/v1/emergency-repairs/report",
    operation_id="exportEmergencyRepairReport",
    responses=EXPORT_MEDIA,
    response_class=Response,
    summary="The emergency repair fund's report as CSV or XLSX",
    openapi_extra={"x-signed-link": True},  # opens in a browser from POST /v1/links
)
async def report(
    principal: Annotated[Principal, authorize(*STATS_READERS)],
    ctx: ContextDep,
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
    district_id: DistrictQuery = None,
    period_from: FromQuery = None,
    period_to: ToQuery = None,
) -> Response:
    """The emergency-fund report: one line per paid use, then the Jiaxing summary line."""
    result = await uc.report(ctx, principal, district_id=district_id, start=period_from, end=period_to)
    header = [
        "request_id",
        "paid_at",
        "district_id",
        "community_id",
        "origin",
        "location",
        "approved_cost_fen",
        "government_fen",
        "public_income_fen",
        "households_fen",
        "approved_cost_yuan",
        "kind",
    ]
    data: list[list[Any]] = [
        [
            str(r.id),
            r.paid_at,
            r.district_id,
            r.community_id,
            r.origin,
            r.location,
            r.approved_cost_fen,
            r.government_fen,
            r.public_income_fen,
            r.households_fen,
            str(fen_to_yuan(r.approved_cost_fen)),
            r.kind,
        ]
        for r in result.uses
    ]
    for s in result.summary:
        data.append(
            [
                "合计",
                None,
                s.district_id,
                None,
                None,
                s.summary_zh,
                s.total_fen,
                s.government_fen,
                None,
                None,
                str(fen_to_yuan(s.total_fen)),
                None,
            ]
        )
    return export_response(format, f"emergency-repair-fund-{result.district_id}", "危急维修资金", header, data)


@router.post(
    "/v1/emergency-repairs",
    operation_id="requestEmergencyRepair",
    response_model=RepairRead,
    status_code=201,
    responses={200: {"model": RepairRead, "description": "A retry of the request"}},
    summary="Request an emergency repair of common parts; eligibility is decided at once",
)
async def request_repair(
    body: RepairCreate,
    response: Response,
    principal: Annotated[Principal, authorize(*REQUESTERS)],
    ctx: ContextDep,
) -> RepairRead:
    """Record a request with its eligibility. An ineligible request is kept (and announced) but answered with
    422 ``emergency_repair_not_eligible`` and the ``reason`` code."""
    recorded = await uc.request_repair(
        ctx,
        principal,
        uc.RequestRepair(
            request_id=body.request_id,
            community_id=body.community_id,
            description=body.description,
            building_ids=tuple(body.building_ids),
            location=body.location,
            estimated_cost_fen=body.estimated_cost_fen,
            kind=body.kind,
        ),
    )
    if not recorded.created:
        response.status_code = 200
    return RepairRead.of(recorded.repair)


@router.get(
    "/v1/emergency-repairs",
    operation_id="listEmergencyRepairs",
    response_model=Page[RepairRead],
    summary="Emergency repair requests in your scope (cursor pagination)",
)
async def list_repairs(
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, authorize(*STAFF)],
    ctx: ContextDep,
    status: STATUSES | None = None,
) -> Page[RepairRead]:
    """The requests of the caller's district, street or community, by id; optionally of one status."""
    rows = await uc.list_repairs(ctx, principal, status=status, after=page.after_uuid(), limit=page.limit + 1)
    return make_page([RepairRead.of(r) for r in rows], page.limit, lambda r: str(r.id))


@router.get(
    "/v1/emergency-repairs/{request_id}",
    operation_id="getEmergencyRepair",
    response_model=RepairRead,
    summary="An emergency repair request with its split and the households' shares",
)
async def get_repair(
    request_id: uuid.UUID, principal: Annotated[Principal, authorize(*REQUESTERS)], ctx: ContextDep
) -> RepairRead:
    """Staff in scope see every household's share; a resident of the community sees only their own."""
    view = await uc.get_repair(ctx, principal, request_id)
    return RepairRead.of(view.repair, view.shares)


@router.post(
    "/v1/emergency-repairs/{request_id}/approve",
    operation_id="approveEmergencyRepair",
    response_model=RepairRead,
    summary="Approve a repair's cost: 80% government, 20% public income first, then the households by area",
)
async def approve_repair(
    request_id: uuid.UUID,
    body: ApproveRepair,
    principal: Annotated[Principal, authorize(Role.DISTRICT_ADMIN)],
    ctx: ContextDep,
) -> RepairRead:
    """The owners' 20% is ``floor(cost × 20%)`` (the government takes the odd fen); public income pays first up to
    what it has available (or exactly ``public_income_fen``) unless ``use_public_income`` is false; the rest is
    apportioned to the affected households by exclusive floor area (largest remainder) and becomes their dues
    (``GET /v1/dues?kind=emergency_repair``). The fund's and the public income's shares are reserved (pending
    transfers): a later approval sees only what is left, and one they cannot cover is refused with 422
    ``insufficient_funds`` (``account``: ``emergency_fund`` | ``public_income``, ``available_fen``), writing
    nothing."""
    view = await uc.approve(
        ctx,
        principal,
        request_id,
        uc.Approve(
            approved_cost_fen=body.approved_cost_fen,
            use_public_income=body.use_public_income,
            public_income_fen=body.public_income_fen,
        ),
    )
    return RepairRead.of(view.repair, view.shares)


@router.post(
    "/v1/emergency-repairs/{request_id}/pay",
    operation_id="payEmergencyRepair",
    response_model=RepairRead,
    summary="Pay an approved repair: the split is posted as one linked group",
    responses=replay_responses(RepairRead, "the paid request"),
)
async def pay_repair(
    request_id: uuid.UUID,
    response: Response,
    principal: Annotated[Principal, authorize(Role.DISTRICT_ADMIN)],
    ctx: ContextDep,
) -> RepairRead:
    """All or nothing: the reservations are posted, each household's share charged to its account (settled by its
    due's payments), the cost paid out. A repeat is a replay (`Idempotent-Replayed: true`, the paid request).
    Announced as ``finance.emergency_repair.paid.v1``."""
    paid = await uc.pay(ctx, principal, request_id)
    if paid.replayed:
        answer_replay(response)
    return RepairRead.of(paid.repair.repair, paid.repair.shares)


@router.post(
    "/v1/emergency-repairs/{request_id}/cancel",
    operation_id="cancelEmergencyRepair",
    response_model=RepairRead,
    summary="Reject a requested repair, or cancel an approved one and release its reservations",
    responses=replay_responses(RepairRead, "the closed request"),
)
async def cancel_repair(
    request_id: uuid.UUID,
    body: CancelRepair,
    response: Response,
    principal: Annotated[Principal, authorize(Role.DISTRICT_ADMIN)],
    ctx: ContextDep,
) -> RepairRead:
    """A requested repair becomes ``rejected``; an approved one ``cancelled``: the fund's and the public income's
    reservations are voided and the households' dues cancelled, in one transaction. Refused once a household has
    paid towards its share (409 ``emergency_repair_dues_paid``) and for a paid repair (409
    ``emergency_repair_already_paid``). A repeat is a replay (`Idempotent-Replayed: true`, the closed request)."""
    closed = await uc.cancel(ctx, principal, request_id, reason=body.reason)
    if closed.replayed:
        answer_replay(response)
    return RepairRead.of(closed.repair.repair, closed.repair.shares)
