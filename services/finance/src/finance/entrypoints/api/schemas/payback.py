"""Bodies of payback analyses (Jinsong model): revenue streams, cost lines, the yearly flows and the result."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from finance.domain.payback import MAX_YEARS, StreamKind
from finance.entrypoints.api.schemas.types import Count, Fen

MAX_FEN = 10**13
Rate = Field(default=Decimal(0), ge=Decimal("-0.99"), le=Decimal(1), max_digits=8, decimal_places=6)


class RevenueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: StreamKind
    name: str = Field(default="", max_length=100)
    annual_fen: Fen = Field(default=0, ge=0, le=MAX_FEN, description="Parking, rents, subsidies: per year")
    fee_fen_per_m2_month: Fen = Field(default=0, ge=0, le=100_000, description="Property fee: fen per m² per month")
    area_m2: Decimal = Field(default=Decimal(0), ge=0, le=Decimal(10_000_000), decimal_places=2)
    collection_rate: Decimal = Field(default=Decimal(1), ge=0, le=1, decimal_places=4)
    growth_rate: Decimal = Rate
    start_year: Count = Field(default=1, ge=1, le=MAX_YEARS)
    end_year: Count | None = Field(default=None, ge=1, le=MAX_YEARS)


class CostIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    annual_fen: Fen = Field(ge=0, le=MAX_FEN)
    growth_rate: Decimal = Rate
    start_year: Count = Field(default=1, ge=1, le=MAX_YEARS)
    end_year: Count | None = Field(default=None, ge=1, le=MAX_YEARS)


class PaybackCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "劲松北社区 微利可持续",
                    "investment_fen": 3_000_000_000,
                    "years": 20,
                    "discount_rate": "0.05",
                    "revenues": [
                        {
                            "kind": "property_fee",
                            "fee_fen_per_m2_month": 40,
                            "area_m2": "200000",
                            "collection_rate": "0.9",
                            "growth_rate": "0.02",
                        },
                        {"kind": "parking", "annual_fen": 60_000_000},
                        {"kind": "commercial_rent", "annual_fen": 80_000_000, "growth_rate": "0.03"},
                        {"kind": "subsidy", "annual_fen": 50_000_000, "end_year": 5},
                    ],
                    "costs": [{"name": "operations", "annual_fen": 90_000_000, "growth_rate": "0.03"}],
                }
            ]
        },
    )
    title: str = Field(min_length=1, max_length=200)
    investment_fen: Fen = Field(ge=0, le=MAX_FEN)
    years: Count = Field(ge=1, le=MAX_YEARS)
    discount_rate: Decimal = Field(ge=Decimal("-0.5"), le=Decimal(1), max_digits=8, decimal_places=6)
    revenues: list[RevenueIn] = Field(default_factory=list, max_length=50)
    costs: list[CostIn] = Field(default_factory=list, max_length=50)


class YearRead(BaseModel):
    year: int
    revenue_fen: int
    cost_fen: int
    net_fen: int
    cumulative_fen: int
    discounted_fen: int
    cumulative_discounted_fen: int


class PaybackRead(BaseModel):
    id: uuid.UUID
    title: str
    payback_year: int | None = Field(description="First year whose cumulative cash flow is ≥ 0")
    payback_period_years: Decimal | None = Field(description="Interpolated within the payback year")
    discounted_payback_year: int | None
    npv_fen: int
    irr: Decimal | None = Field(description="Internal rate of return, a fraction (0.0875 = 8.75%)")
    revenue_by_kind_fen: dict[str, int]
    flows: list[YearRead]
    created_at: datetime | None = None
