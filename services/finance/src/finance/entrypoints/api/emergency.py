"""Emergency repair fund routes (危急维修资金)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from finance.domain.emergency import MAX_COST_FEN, Origin
from finance.domain.ledger import MAX_TRANSFER_FEN, TransferKind, TransferSpec
from finance.domain.money import fen_to_yuan
from finance.entrypoints.api.deps import EXPORT_MEDIA, ID, Fen, StrictId, export_response, get_ctx
from finance.service_layer import emergency, ledger
from finance.service_layer.context import Context
from finance.service_layer.scope import ensure_covers
from renovation_common.auth import Principal, Role, require_roles
from renovation_common.errors import Forbidden
from renovation_common.pagination import Page, PageParams, make_page, page_params

router = APIRouter(tags=["emergency repair fund"])
REQUESTERS = (Role.RESIDENT, Role.COMMUNITY_WORKER, Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
STAFF = (Role.COMMUNITY_WORKER, Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
STATS_READERS = (Role.STREET_OFFICER, Role.DISTRICT_ADMIN, Role.GOV_SYSTEM)


class RepairCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "request_id": "5d8f1e0a-2b7c-4c1e-9d3a-1f2e3d4c5b6a",
                    "community_id": "c-1",
                    "building_ids": ["b-3"],
                    "location": "3号楼地下室",
                    "description": "供水主管爆裂",
                    "estimated_cost_fen": 1_200_000,
                }
            ]
        },
    )
    request_id: uuid.UUID = Field(description="Client id: a retry returns the first result")
    community_id: StrictId
    building_ids: list[StrictId] = Field(
        default_factory=list, max_length=200, description="Affected buildings; empty = the whole community"
    )
    location: str = Field(default="", max_length=200)
    description: str = Field(min_length=1, max_length=2000)
    estimated_cost_fen: Fen | None = Field(default=None, ge=1, le=MAX_COST_FEN)


class ApproveRepair(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approved_cost_fen: Fen = Field(ge=1, le=MAX_COST_FEN)
    use_public_income: bool = Field(default=True, description="Public income pays first, up to its balance")


class ShareRead(BaseModel):
    household_id: str
    floor_area_m2: Decimal
    amount_fen: int


class RepairRead(BaseModel):
    id: uuid.UUID
    origin: str
    community_id: str
    district_id: str
    building_ids: list[str]
    location: str
    description: str
    alarm_id: str | None
    estimated_cost_fen: int | None
    eligible: bool
    refusal_reason: str | None
    status: str
    approved_cost_fen: int | None
    government_fen: int | None
    owners_fen: int | None
    public_income_fen: int | None
    households_fen: int | None
    household_shares: list[ShareRead] | None = None
    approved_at: datetime | None
    paid_at: datetime | None
    transfer_group_id: uuid.UUID | None
    created_at: datetime

    @classmethod
    def of(cls, row: Any, shares: list[Any] | None = None) -> RepairRead:
        data = {k: getattr(row, k) for k in cls.model_fields if k != "household_shares"}
        data["building_ids"] = list(row.building_ids or [])
        shares_read = None if shares is None else [ShareRead.model_validate(s, from_attributes=True) for s in shares]
        return cls(**data, household_shares=shares_read)


class DistrictStatsRead(BaseModel):
    district_id: str
    uses: int = Field(description="Number of uses (笔)")
    total_fen: int
    total_wan_yuan: Decimal = Field(description="Total in 万元, two decimals")
    government_fen: int
    owners_fen: int
    summary_zh: str = Field(examples=["共计4202笔、1073.54万元"])


class StatsRead(BaseModel):
    period_from: datetime | None
    period_to: datetime | None
    districts: list[DistrictStatsRead]
    uses: int
    total_fen: int
    total_wan_yuan: Decimal
    summary_zh: str


class DepositCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deposit_id: uuid.UUID
    amount_fen: Fen = Field(ge=1, le=MAX_TRANSFER_FEN)
    memo: str | None = Field(default=None, max_length=500)


class PublicIncomeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    receipt_id: uuid.UUID
    amount_fen: Fen = Field(ge=1, le=MAX_TRANSFER_FEN)
    memo: str | None = Field(default=None, max_length=500)


class PostedRead(BaseModel):
    transfer_id: uuid.UUID
    account_id: uuid.UUID
    amount_fen: int
    replayed: bool


def _district_filter(principal: Principal, district_id: str | None) -> str:
    if principal.district_id is None or district_id not in (None, principal.district_id):
        raise Forbidden("statistics cover your own district", code="out_of_scope")
    return principal.district_id


@router.get("/v1/emergency-repairs/stats", operation_id="getEmergencyRepairStats", response_model=StatsRead)
async def stats(
    district_id: str | None = Query(default=None, pattern=ID),
    period_from: datetime | None = Query(default=None, alias="from"),
    period_to: datetime | None = Query(default=None, alias="to", description="Exclusive"),
    principal: Principal = Depends(require_roles(*STATS_READERS)),
    ctx: Context = Depends(get_ctx),
) -> StatsRead:
    """Uses and amounts per district and period, in the Jiaxing format (共计N笔、X万元); counts paid repairs."""
    district = _district_filter(principal, district_id)
    rows = await emergency.stats(ctx, district_id=district, start=period_from, end=period_to)
    total = emergency.DistrictStats(
        "*",
        sum(r.uses for r in rows),
        sum(r.total_fen for r in rows),
        sum(r.government_fen for r in rows),
        sum(r.owners_fen for r in rows),
    )
    return StatsRead(
        period_from=period_from,
        period_to=period_to,
        districts=[
            DistrictStatsRead(
                district_id=r.district_id,
                uses=r.uses,
                total_fen=r.total_fen,
                total_wan_yuan=r.total_wan_yuan,
                government_fen=r.government_fen,
                owners_fen=r.owners_fen,
                summary_zh=r.summary_zh,
            )
            for r in rows
        ],
        uses=total.uses,
        total_fen=total.total_fen,
        total_wan_yuan=total.total_wan_yuan,
        summary_zh=total.summary_zh,
    )


@router.get(
    "/v1/emergency-repairs/report",
    operation_id="exportEmergencyRepairReport",
    responses=EXPORT_MEDIA,
    response_class=Response,
)
async def report(
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
    district_id: str | None = Query(default=None, pattern=ID),
    period_from: datetime | None = Query(default=None, alias="from"),
    period_to: datetime | None = Query(default=None, alias="to"),
    principal: Principal = Depends(require_roles(*STATS_READERS)),
    ctx: Context = Depends(get_ctx),
) -> Response:
    """The emergency-fund report: one line per paid use, then the Jiaxing summary line."""
    district = _district_filter(principal, district_id)
    rows = await emergency.report_rows(ctx, district_id=district, start=period_from, end=period_to)
    summary = await emergency.stats(ctx, district_id=district, start=period_from, end=period_to)
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
        ]
        for r in rows
    ]
    for s in summary:
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
            ]
        )
    return export_response(format, f"emergency-repair-fund-{district}", "危急维修资金", header, data)


@router.post(
    "/v1/emergency-repairs",
    operation_id="requestEmergencyRepair",
    response_model=RepairRead,
    status_code=201,
    responses={200: {"model": RepairRead, "description": "A retry of the request"}},
)
async def request_repair(
    body: RepairCreate,
    response: Response,
    principal: Principal = Depends(require_roles(*REQUESTERS)),
    ctx: Context = Depends(get_ctx),
) -> RepairRead:
    """Record a request with its eligibility. An ineligible request is kept (and announced) but answered with
    422 ``emergency_repair_not_eligible`` and the ``reason`` code."""
    origin = (
        Origin.RESIDENT
        if principal.role is Role.RESIDENT
        else (Origin.STREET_OFFICER if principal.role is Role.STREET_OFFICER else Origin.COMMUNITY_WORKER)
    )
    row, created = await emergency.request_repair(
        ctx,
        principal,
        emergency.RepairRequest(
            request_id=body.request_id,
            origin=origin,
            community_id=body.community_id,
            requested_by=principal.sub,
            building_ids=tuple(body.building_ids),
            location=body.location,
            description=body.description,
            estimated_cost_fen=body.estimated_cost_fen,
        ),
    )
    if not created:
        response.status_code = 200
    return RepairRead.of(row)


@router.get("/v1/emergency-repairs", operation_id="listEmergencyRepairs", response_model=Page[RepairRead])
async def list_repairs(
    status: Literal["requested", "refused", "approved", "paid"] | None = None,
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require_roles(*STAFF)),
    ctx: Context = Depends(get_ctx),
) -> Page[RepairRead]:
    filters = {
        k: v
        for k, v in (
            ("district_id", principal.district_id),
            ("street_id", principal.street_id),
            ("community_id", principal.community_id),
            ("status", status),
        )
        if v
    }
    if not {"district_id", "street_id", "community_id"} & filters.keys():
        raise Forbidden("your token carries no scope", code="out_of_scope")
    rows = await emergency.list_repairs(ctx, filters, page.after, page.limit + 1)
    return make_page([RepairRead.of(r) for r in rows], page.limit, lambda r: str(r.id))


@router.get("/v1/emergency-repairs/{request_id}", operation_id="getEmergencyRepair", response_model=RepairRead)
async def get_repair(
    request_id: uuid.UUID,
    principal: Principal = Depends(require_roles(*REQUESTERS)),
    ctx: Context = Depends(get_ctx),
) -> RepairRead:
    view = await emergency.get_repair(ctx, request_id)
    if principal.role is Role.RESIDENT:
        if principal.community_id != view.repair.community_id:
            raise Forbidden("this request is outside your scope", code="out_of_scope")
        own = [s for s in view.shares if s.household_id == principal.household_id]
        return RepairRead.of(view.repair, own)
    ensure_covers(principal, emergency.repair_scope(view.repair), "emergency repair")
    return RepairRead.of(view.repair, view.shares)


@router.post(
    "/v1/emergency-repairs/{request_id}/approve", operation_id="approveEmergencyRepair", response_model=RepairRead
)
async def approve_repair(
    request_id: uuid.UUID,
    body: ApproveRepair,
    principal: Principal = Depends(require_roles(Role.DISTRICT_ADMIN)),
    ctx: Context = Depends(get_ctx),
) -> RepairRead:
    view = await emergency.approve(
        ctx, principal, request_id, approved_cost_fen=body.approved_cost_fen, use_public_income=body.use_public_income
    )
    return RepairRead.of(view.repair, view.shares)


@router.post("/v1/emergency-repairs/{request_id}/pay", operation_id="payEmergencyRepair", response_model=RepairRead)
async def pay_repair(
    request_id: uuid.UUID,
    principal: Principal = Depends(require_roles(Role.DISTRICT_ADMIN)),
    ctx: Context = Depends(get_ctx),
) -> RepairRead:
    view, _ = await emergency.pay(ctx, principal, request_id)
    return RepairRead.of(view.repair, view.shares)


@router.post(
    "/v1/emergency-fund/deposits",
    operation_id="depositEmergencyFund",
    response_model=PostedRead,
    status_code=201,
    tags=["emergency repair fund"],
)
async def deposit(
    body: DepositCreate,
    principal: Principal = Depends(require_roles(Role.DISTRICT_ADMIN)),
    ctx: Context = Depends(get_ctx),
) -> PostedRead:
    """Government finance tops up the district's emergency repair fund (treasury → fund)."""
    if principal.district_id is None:
        raise Forbidden("your token carries no district", code="out_of_scope")
    treasury, fund = await emergency.district_fund_accounts(ctx, principal.district_id)
    result = await ledger.post(
        ctx,
        [
            TransferSpec(
                id=str(body.deposit_id),
                kind=TransferKind.POSTED,
                debit_account_id=str(treasury),
                credit_account_id=str(fund),
                amount_fen=body.amount_fen,
                code="emergency_fund_deposit",
                memo=body.memo,
            )
        ],
    )
    return PostedRead(
        transfer_id=body.deposit_id, account_id=fund, amount_fen=body.amount_fen, replayed=result.replayed
    )


@router.post(
    "/v1/communities/{community_id}/public-income",
    operation_id="receivePublicIncome",
    response_model=PostedRead,
    status_code=201,
    tags=["emergency repair fund"],
)
async def receive_public_income(
    community_id: str,
    body: PublicIncomeCreate,
    principal: Principal = Depends(require_roles(*STAFF)),
    ctx: Context = Depends(get_ctx),
) -> PostedRead:
    """Record public income (parking, advertising, rents of common parts) into the community's account."""
    outside, account, _community = await emergency.public_income_accounts(ctx, principal, community_id)
    result = await ledger.post(
        ctx,
        [
            TransferSpec(
                id=str(body.receipt_id),
                kind=TransferKind.POSTED,
                debit_account_id=str(outside),
                credit_account_id=str(account),
                amount_fen=body.amount_fen,
                code="public_income",
                memo=body.memo,
                reference=f"community:{community_id}",
            )
        ],
    )
    return PostedRead(
        transfer_id=body.receipt_id, account_id=account, amount_fen=body.amount_fen, replayed=result.replayed
    )
