"""Contribution routes: schemes, dues, collection rates (paying a due: ``payments.py``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from finance.domain.contributions import MAX_FIXED_FEN, MAX_RATE_FEN_PER_M2, Collection, SchemeKind
from finance.entrypoints.api.deps import ID, Fen, StrictId, get_ctx
from finance.service_layer import contributions
from finance.service_layer.context import Context
from finance.service_layer.scope import ensure_covers
from renovation_common.auth import Principal, Role, require_roles
from renovation_common.errors import BadRequest, Forbidden
from renovation_common.pagination import Page, PageParams, make_page, page_params

router = APIRouter(tags=["contributions"])
STAFF = (Role.COMMUNITY_WORKER, Role.STREET_OFFICER, Role.DISTRICT_ADMIN)
# Dues and collection rates are read by the finance office too (it records receipts against them).
READERS = (*STAFF, Role.FINANCE_OFFICER)


class SchemeCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"community_id": "c-1", "kind": "maintenance_fund", "title": "维修资金", "rate_fen_per_m2": 500},
                {"community_id": "c-1", "kind": "water_meter", "title": "水表改造"},
            ]
        },
    )
    community_id: StrictId
    kind: SchemeKind
    title: str = Field(min_length=1, max_length=200)
    rate_fen_per_m2: Fen | None = Field(
        default=None, ge=1, le=MAX_RATE_FEN_PER_M2, description="Maintenance fund: fen per m² (≥ 500 = 5 yuan)"
    )
    amount_fen_per_household: Fen | None = Field(
        default=None, ge=1, le=MAX_FIXED_FEN, description="Water meter: default 80,000 fen (800 yuan)"
    )
    building_ids: list[StrictId] = Field(default_factory=list, max_length=500)


class SchemeRead(BaseModel):
    id: uuid.UUID
    community_id: str
    district_id: str
    kind: str
    title: str
    rate_fen_per_m2: int | None
    amount_fen_per_household: int | None
    pool_account_id: uuid.UUID
    dues_count: int
    dues_total_fen: int
    created_at: datetime


class PaymentRead(BaseModel):
    id: uuid.UUID
    amount_fen: int
    source: str = Field(description="The proof it was posted on: receipt | provider | legacy (before proofs)")
    method: str | None
    receipt_number: str | None = Field(description="Staff receipt: its number, unique in the community")
    received_at: datetime | None = Field(description="When the money was received (receipt) or paid (provider)")
    provider: str | None
    provider_txn_id: str | None
    intent_id: uuid.UUID | None
    transfer_group_id: uuid.UUID
    created_at: datetime


class DueRead(BaseModel):
    id: uuid.UUID
    scheme_id: uuid.UUID
    household_id: str
    community_id: str
    building_id: str
    floor_area_m2: Decimal
    amount_fen: int
    paid_fen: int
    outstanding_fen: int
    payments: list[PaymentRead] | None = None

    @classmethod
    def of(cls, row: Any, payments: list[Any] | None = None) -> DueRead:
        return cls(
            id=row.id,
            scheme_id=row.scheme_id,
            household_id=row.household_id,
            community_id=row.community_id,
            building_id=row.building_id,
            floor_area_m2=row.floor_area_m2,
            amount_fen=row.amount_fen,
            paid_fen=row.paid_fen,
            outstanding_fen=row.amount_fen - row.paid_fen,
            payments=None
            if payments is None
            else [PaymentRead.model_validate(p, from_attributes=True) for p in payments],
        )


class CollectionRead(BaseModel):
    due_fen: int
    paid_fen: int
    households: int
    households_paid_in_full: int
    rate_percent: Decimal = Field(description="paid / due, percent, two decimals")
    households_rate_percent: Decimal

    @classmethod
    def of(cls, c: Collection) -> CollectionRead:
        return cls(
            due_fen=c.due_fen,
            paid_fen=c.paid_fen,
            households=c.households,
            households_paid_in_full=c.households_paid_in_full,
            rate_percent=c.rate_percent,
            households_rate_percent=c.households_rate_percent,
        )


class BuildingCollectionRead(CollectionRead):
    building_id: str


class SchemeCollectionRead(BaseModel):
    scheme_id: uuid.UUID
    kind: str
    total: CollectionRead
    buildings: list[BuildingCollectionRead]


class CommunityCollectionRead(BaseModel):
    community_id: str
    total: CollectionRead
    schemes: list[SchemeCollectionRead]


@router.post(
    "/v1/contribution-schemes", operation_id="createContributionScheme", response_model=SchemeRead, status_code=201
)
async def create_scheme(
    body: SchemeCreate,
    principal: Principal = Depends(require_roles(*STAFF)),
    ctx: Context = Depends(get_ctx),
) -> SchemeRead:
    scheme, count, total = await contributions.create_scheme(
        ctx,
        principal,
        community_id=body.community_id,
        kind=body.kind,
        title=body.title,
        rate_fen_per_m2=body.rate_fen_per_m2,
        amount_fen_per_household=body.amount_fen_per_household,
        building_ids=body.building_ids,
    )
    return SchemeRead(
        id=scheme.id,
        community_id=scheme.community_id,
        district_id=scheme.district_id,
        kind=scheme.kind,
        title=scheme.title,
        rate_fen_per_m2=scheme.rate_fen_per_m2,
        amount_fen_per_household=scheme.amount_fen_per_household,
        pool_account_id=scheme.pool_account_id,
        dues_count=count,
        dues_total_fen=total,
        created_at=scheme.created_at,
    )


@router.get("/v1/dues", operation_id="listDues", response_model=Page[DueRead])
async def list_dues(
    household_id: str | None = Query(default=None, pattern=ID),
    scheme_id: uuid.UUID | None = None,
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require_roles(Role.RESIDENT, *READERS)),
    ctx: Context = Depends(get_ctx),
) -> Page[DueRead]:
    """Residents see their own household's dues only; staff filter by household or scheme inside their scope."""
    if principal.role is Role.RESIDENT:
        if household_id not in (None, principal.household_id) or principal.household_id is None:
            raise Forbidden("residents see only their own household", code="out_of_scope")
        household_id = principal.household_id
    else:
        if household_id is None and scheme_id is None:
            raise BadRequest("filter by household_id or scheme_id", code="filter_required")
    rows = await contributions.list_dues(
        ctx, household_id=household_id, scheme_id=scheme_id, after=page.after, limit=page.limit + 1
    )
    if principal.role is not Role.RESIDENT:
        for row in rows:
            ensure_covers(principal, contributions.due_scope(row), "due")
    return make_page([DueRead.of(r) for r in rows], page.limit, lambda d: str(d.id))


@router.get("/v1/dues/{due_id}", operation_id="getDue", response_model=DueRead)
async def get_due(
    due_id: uuid.UUID,
    principal: Principal = Depends(require_roles(Role.RESIDENT, *READERS)),
    ctx: Context = Depends(get_ctx),
) -> DueRead:
    view = await contributions.get_due(ctx, due_id)
    ensure_covers(principal, contributions.due_scope(view.due), "due")
    return DueRead.of(view.due, view.payments)


@router.get(
    "/v1/communities/{community_id}/collection", operation_id="getCollection", response_model=CommunityCollectionRead
)
async def get_collection(
    community_id: str,
    scheme_id: uuid.UUID | None = None,
    principal: Principal = Depends(require_roles(*READERS)),
    ctx: Context = Depends(get_ctx),
) -> CommunityCollectionRead:
    overall, schemes = await contributions.collection(ctx, principal, community_id, scheme_id)
    return CommunityCollectionRead(
        community_id=community_id,
        total=CollectionRead.of(overall),
        schemes=[
            SchemeCollectionRead(
                scheme_id=s.scheme_id,
                kind=s.kind,
                total=CollectionRead.of(s.total),
                buildings=[
                    BuildingCollectionRead(building_id=b.building_id, **CollectionRead.of(b.collection).model_dump())
                    for b in s.buildings
                ],
            )
            for s in schemes
        ],
    )
