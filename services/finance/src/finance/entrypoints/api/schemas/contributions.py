"""Bodies of contributions: schemes, dues with their payments, collection rates."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from finance.domain.contributions import MAX_FIXED_FEN, MAX_RATE_FEN_PER_M2, Collection, DueStatus, SchemeKind
from finance.entrypoints.api.schemas.types import Fen, StrictId


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
    kind: SchemeKind
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


def _status(row: Any) -> DueStatus:
    if row.cancelled_at is not None:
        return "cancelled"
    return "paid" if row.paid_fen == row.amount_fen else "outstanding"


class DueRead(BaseModel):
    id: uuid.UUID
    scheme_id: uuid.UUID
    kind: SchemeKind = Field(
        description="maintenance_fund | water_meter | emergency_repair (a repair's household share)"
    )
    status: DueStatus = Field(description="outstanding | paid | cancelled")
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
            kind=row.kind,
            status=_status(row),
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
    households: int = Field(description="Households with a due, each counted once")
    households_paying: int = Field(description="Households that paid something, each counted once")
    households_paid_in_full: int = Field(description="Households whose every due is paid")
    rate_percent: Decimal = Field(description="paid / due, percent, two decimals")
    households_rate_percent: Decimal

    @classmethod
    def of(cls, c: Collection) -> CollectionRead:
        return cls(
            due_fen=c.due_fen,
            paid_fen=c.paid_fen,
            households=c.households,
            households_paying=c.households_paying,
            households_paid_in_full=c.households_paid_in_full,
            rate_percent=c.rate_percent,
            households_rate_percent=c.households_rate_percent,
        )


class BuildingCollectionRead(CollectionRead):
    building_id: str


class SchemeCollectionRead(BaseModel):
    scheme_id: uuid.UUID
    kind: SchemeKind
    total: CollectionRead
    buildings: list[BuildingCollectionRead]


class CommunityCollectionRead(BaseModel):
    community_id: str
    total: CollectionRead
    schemes: list[SchemeCollectionRead]
