"""Bodies of funding plans: the "four a little" sources, milestones, receipts and disbursements."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from finance.domain.funding import MAX_PLAN_FEN, SOURCE_GROUP, FundingSource
from finance.domain.funding import PlanStatus as FundingPlanStatus
from finance.entrypoints.api.schemas.types import Fen, StrictId
from finance.service_layer.funding import PlanView


class SourceLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: FundingSource
    planned_fen: Fen = Field(ge=1, le=MAX_PLAN_FEN)


class MilestoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[a-z0-9_\-]{1,64}$")
    name: str = Field(default="", max_length=200)
    amount_fen: Fen = Field(ge=1, le=MAX_PLAN_FEN)


class FundingPlanCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "project_id": "p-1",
                    "sources": [
                        {"source": "government_subsidy", "planned_fen": 159_000_000},
                        {"source": "donations", "planned_fen": 24_000_000},
                    ],
                    "milestones": [{"code": "underground", "name": "Underground works", "amount_fen": 100_000_000}],
                }
            ]
        },
    )
    project_id: StrictId
    sources: list[SourceLine] = Field(min_length=1, max_length=8)
    milestones: list[MilestoneIn] = Field(default_factory=list, max_length=100)


class SourceRead(BaseModel):
    source: str
    group: str = Field(description="government | market | residents | society")
    planned_fen: int
    received_fen: int
    disbursed_fen: int
    account_id: uuid.UUID | None


class MilestoneRead(BaseModel):
    code: str
    name: str
    amount_fen: int
    disbursed_fen: int


class DisbursementRead(BaseModel):
    id: uuid.UUID
    milestone_code: str
    source: str
    amount_fen: int
    transfer_id: uuid.UUID
    created_at: datetime


class FundingPlanSummary(BaseModel):
    """A plan as a list shows it (read it by id for its sources, milestones and disbursements)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: str
    community_id: str
    district_id: str
    street_id: str | None
    status: FundingPlanStatus
    total_fen: int = Field(description="The plan's total in fen (the sum of its sources)")
    approved_by: str | None
    approved_at: datetime | None
    created_at: datetime


class FundingPlanRead(BaseModel):
    id: uuid.UUID
    project_id: str
    community_id: str
    district_id: str
    status: FundingPlanStatus
    total_planned_fen: int
    total_received_fen: int
    total_disbursed_fen: int
    sources: list[SourceRead]
    milestones: list[MilestoneRead]
    disbursements: list[DisbursementRead]
    approved_by: str | None
    approved_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, view: PlanView) -> FundingPlanRead:
        p = view.plan
        sources = [
            SourceRead(
                source=ln.source,
                group=SOURCE_GROUP[FundingSource(ln.source)],
                planned_fen=ln.planned_fen,
                received_fen=int(ln.received_fen),
                disbursed_fen=int(ln.disbursed_fen),
                account_id=ln.account_id,
            )
            for ln in view.lines
        ]
        return cls(
            id=p.id,
            project_id=p.project_id,
            community_id=p.community_id,
            district_id=p.district_id,
            status=p.status,
            total_planned_fen=p.total_fen,
            total_received_fen=sum(s.received_fen for s in sources),
            total_disbursed_fen=sum(s.disbursed_fen for s in sources),
            sources=sources,
            milestones=[
                MilestoneRead(code=m.code, name=m.name, amount_fen=m.amount_fen, disbursed_fen=m.disbursed_fen)
                for m in view.milestones
            ],
            disbursements=[DisbursementRead.model_validate(d, from_attributes=True) for d in view.disbursements],
            approved_by=p.approved_by,
            approved_at=p.approved_at,
            created_at=p.created_at,
        )


class FundingReceiptCreate(BaseModel):
    """Money received from one of the plan's funding sources."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "receipt_id": "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                    "source": "special_bonds",
                    "amount_fen": 120_000_000,
                    "memo": "2026年第一批地方政府专项债券资金到账",
                }
            ]
        },
    )
    receipt_id: uuid.UUID = Field(description="Client id; becomes the transfer id")
    source: FundingSource
    amount_fen: Fen = Field(ge=1, le=MAX_PLAN_FEN)
    memo: str | None = Field(default=None, max_length=500)


class DisbursementCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "disbursement_id": "8b2c3d4e-5f60-4b7c-9d8e-0f1a2b3c4d5e",
                    "milestone": "underground",
                    "source": "government_subsidy",
                    "amount_fen": 45_000_000,
                }
            ]
        },
    )
    disbursement_id: uuid.UUID
    milestone: str = Field(pattern=r"^[a-z0-9_\-]{1,64}$")
    source: FundingSource
    amount_fen: Fen = Field(ge=1, le=MAX_PLAN_FEN)
