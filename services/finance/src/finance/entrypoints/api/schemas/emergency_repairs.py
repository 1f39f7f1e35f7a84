"""Bodies of the emergency repair fund (危急维修资金): requests, approvals, statistics, deposits, public income."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from finance.domain.emergency import MAX_COST_FEN, Origin, Period, RepairKind, RepairStatus
from finance.domain.ledger import MAX_TRANSFER_FEN
from finance.entrypoints.api.schemas.types import Fen, StrictId


class RepairCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "request_id": "5d8f1e0a-2b7c-4c1e-9d3a-1f2e3d4c5b6a",
                    "community_id": "c-1",
                    "kind": "repair",
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
    kind: RepairKind = Field(
        default=RepairKind.REPAIR, description="维修 repair | 更新 renewal | 改造 renovation of common parts"
    )
    building_ids: list[StrictId] = Field(
        default_factory=list, max_length=200, description="Affected buildings; empty = the whole community"
    )
    location: str = Field(default="", max_length=200)
    description: str = Field(min_length=1, max_length=2000)
    estimated_cost_fen: Fen | None = Field(default=None, ge=1, le=MAX_COST_FEN)


class ApproveRepair(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"approved_cost_fen": 1_000_003},
                {"approved_cost_fen": 1_000_003, "public_income_fen": 5_000},
                {"approved_cost_fen": 1_000_003, "use_public_income": False},
            ]
        },
    )
    approved_cost_fen: Fen = Field(ge=1, le=MAX_COST_FEN)
    use_public_income: bool = Field(
        default=True, description="Public income pays first, up to what it has available (balance − reservations)"
    )
    public_income_fen: Fen | None = Field(
        default=None,
        ge=0,
        le=MAX_COST_FEN,
        description="Exactly what public income pays (≤ the owners' 20%); 422 insufficient_funds when its available "
        "balance (balance minus earlier approvals' reservations) cannot cover it",
    )


class CancelRepair(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "业主自行修复"}]})
    reason: str = Field(min_length=1, max_length=500)


class ShareRead(BaseModel):
    household_id: str
    floor_area_m2: Decimal
    amount_fen: int


class RepairRead(BaseModel):
    id: uuid.UUID
    origin: Origin
    kind: RepairKind
    community_id: str
    district_id: str
    building_ids: list[str]
    location: str
    description: str
    alarm_id: str | None
    estimated_cost_fen: int | None
    eligible: bool
    refusal_reason: str | None
    status: RepairStatus
    approved_cost_fen: int | None
    government_fen: int | None
    owners_fen: int | None
    public_income_fen: int | None
    households_fen: int | None
    household_shares: list[ShareRead] | None = None
    reserved: bool = Field(description="The fund's and the public income's shares are held (pending transfers)")
    dues_scheme_id: uuid.UUID | None = Field(description="The scheme whose dues are the households' shares")
    approved_at: datetime | None
    paid_at: datetime | None
    transfer_group_id: uuid.UUID | None
    closed_at: datetime | None = Field(description="When it was rejected (requested) or cancelled (approved)")
    close_reason: str | None
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


class AmountsRead(BaseModel):
    uses: int = Field(description="Number of uses (笔)")
    total_fen: int
    total_yuan: str = Field(examples=["10735400.00"])
    government_fen: int = Field(description="Government finance's 80%")
    government_yuan: str
    owners_fen: int = Field(description="Owners' and public income's 20%")
    owners_yuan: str
    public_income_fen: int
    public_income_yuan: str
    households_fen: int
    households_yuan: str


class PeriodStatsRead(AmountsRead):
    period: str = Field(pattern=r"^\d{4}(-\d{2}|-Q[1-4])?$", examples=["2026-03", "2026-Q1", "2026"])
    period_start: datetime = Field(description="The period's first moment, China's time (+08:00)")
    summary_zh: str
    by_kind: dict[str, AmountsRead] = Field(description="repair (维修) | renewal (更新) | renovation (改造)")


class StatsRead(BaseModel):
    district_id: str
    street_id: str | None = Field(description="Set when the caller's statistics cover one street")
    period: Period
    period_from: datetime | None
    period_to: datetime | None
    periods: list[PeriodStatsRead]
    by_kind: dict[str, AmountsRead]
    totals: AmountsRead
    districts: list[DistrictStatsRead]
    uses: int
    total_fen: int
    total_wan_yuan: Decimal
    summary_zh: str


class DepositCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "deposit_id": "9c3d4e5f-6071-4c8d-8e9f-1a2b3c4d5e6f",
                    "amount_fen": 500_000_000,
                    "memo": "区财政局拨付2026年度老旧小区应急维修资金",
                }
            ]
        },
    )
    deposit_id: uuid.UUID
    amount_fen: Fen = Field(ge=1, le=MAX_TRANSFER_FEN)
    memo: str | None = Field(default=None, max_length=500)


class PublicIncomeCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "receipt_id": "ad4e5f60-7182-4d9e-9fa0-2b3c4d5e6f70",
                    "amount_fen": 1_860_000,
                    "memo": "2026年4月小区停车场及电梯广告收益",
                }
            ]
        },
    )
    receipt_id: uuid.UUID
    amount_fen: Fen = Field(ge=1, le=MAX_TRANSFER_FEN)
    memo: str | None = Field(default=None, max_length=500)


class PostedRead(BaseModel):
    transfer_id: uuid.UUID
    account_id: uuid.UUID
    amount_fen: int
    replayed: bool
