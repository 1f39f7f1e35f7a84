"""Bodies of the ledger: accounts, transfers, statement entries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from finance.domain.ledger import MAX_GROUP_SIZE, MAX_TRANSFER_FEN, AccountKind, TransferKind, TransferSpec
from finance.entrypoints.api.schemas.types import Fen, StrictId


class AccountCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "c-guidong:public_income",
                    "kind": "community_public_income",
                    "name": "桂东小区公共收益账户",
                    "community_id": "c-guidong",
                },
                {
                    "kind": "project",
                    "name": "桂东小区老旧小区改造项目资金账户",
                    "project_id": "3f0c5e1e-0000-4000-8000-000000000001",
                },
            ]
        },
    )
    code: StrictStr | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:\-]{1,200}$", description="Unique, optional")
    kind: AccountKind
    name: str = Field(min_length=1, max_length=200)
    allow_negative: bool | None = Field(default=None, description="Defaults by kind (treasury, outside, household)")
    district_id: StrictId | None = Field(default=None, description="Optional: taken from the record named")
    street_id: StrictId | None = Field(default=None, description="Optional: taken from the record named")
    community_id: StrictId | None = Field(default=None, description="A community finance knows")
    household_id: StrictId | None = Field(default=None, description="A household finance knows")
    project_id: StrictId | None = Field(default=None, description="A project finance knows")


class AccountRead(BaseModel):
    id: uuid.UUID
    code: str | None
    kind: AccountKind
    name: str
    allow_negative: bool
    district_id: str | None
    street_id: str | None
    community_id: str | None
    household_id: str | None
    project_id: str | None
    debits_posted_fen: int
    credits_posted_fen: int
    debits_pending_fen: int
    credits_pending_fen: int
    balance_fen: int = Field(description="credits posted − debits posted")
    available_fen: int = Field(description="balance − debits pending")
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> AccountRead:
        return cls(
            id=row.id,
            code=row.code,
            kind=row.kind,
            name=row.name,
            allow_negative=row.allow_negative,
            district_id=row.district_id,
            street_id=row.street_id,
            community_id=row.community_id,
            household_id=row.household_id,
            project_id=row.project_id,
            debits_posted_fen=row.debits_posted,
            credits_posted_fen=row.credits_posted,
            debits_pending_fen=row.debits_pending,
            credits_pending_fen=row.credits_pending,
            balance_fen=row.credits_posted - row.debits_posted,
            available_fen=row.credits_posted - row.debits_posted - row.debits_pending,
            created_at=row.created_at,
        )


class TransferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: uuid.UUID = Field(description="Client-supplied; a retry with the same id and body returns the first result")
    kind: TransferKind = TransferKind.POSTED
    debit_account_id: uuid.UUID | None = None
    credit_account_id: uuid.UUID | None = None
    amount_fen: Fen | None = Field(default=None, ge=1, le=MAX_TRANSFER_FEN)
    pending_id: uuid.UUID | None = None
    code: str = Field(default="transfer", pattern=r"^[a-z0-9_]{1,60}$")
    reference: str | None = Field(default=None, max_length=200)
    memo: str | None = Field(default=None, max_length=500)

    def spec(self) -> TransferSpec:
        return TransferSpec(
            id=str(self.id),
            kind=self.kind,
            debit_account_id=str(self.debit_account_id) if self.debit_account_id else None,
            credit_account_id=str(self.credit_account_id) if self.credit_account_id else None,
            amount_fen=self.amount_fen,
            pending_id=str(self.pending_id) if self.pending_id else None,
            code=self.code,
            reference=self.reference,
            memo=self.memo,
        )


class TransferBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "transfers": [
                        {
                            "id": "0b9c7c8e-3c1f-4d0a-9a51-2f1e7c0d9a11",
                            "debit_account_id": "5d1e2f3a-6b7c-4d8e-9f00-112233445566",
                            "credit_account_id": "6e2f3a4b-7c8d-4e9f-8011-223344556677",
                            "amount_fen": 1_000_000,
                        }
                    ]
                }
            ]
        },
    )
    transfers: list[TransferCreate] = Field(
        min_length=1, max_length=MAX_GROUP_SIZE, description="More than one transfer: a linked group (all or nothing)"
    )


class TransferRead(BaseModel):
    id: uuid.UUID
    seq: int
    kind: TransferKind
    debit_account_id: uuid.UUID
    credit_account_id: uuid.UUID
    amount_fen: int
    pending_id: uuid.UUID | None
    group_id: uuid.UUID | None
    code: str
    reference: str | None
    memo: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> TransferRead:
        return cls.model_validate(row, from_attributes=True)


class TransfersRead(BaseModel):
    transfers: list[TransferRead]
    group_id: uuid.UUID | None
    replayed: bool


class EntryRead(BaseModel):
    entry_id: int
    transfer_id: uuid.UUID
    kind: TransferKind
    side: Literal["debit", "credit"]
    amount_fen: int
    posted_delta_fen: int
    pending_delta_fen: int
    balance_after_fen: int
    available_after_fen: int
    code: str
    reference: str | None
    memo: str | None
    counterparty_account_id: uuid.UUID
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> EntryRead:
        counterparty = row.credit_account_id if row.side == "debit" else row.debit_account_id
        return cls(
            entry_id=row.entry_id,
            transfer_id=row.transfer_id,
            kind=row.kind,
            side=row.side,
            amount_fen=row.amount_fen,
            posted_delta_fen=row.posted_delta_fen,
            pending_delta_fen=row.pending_delta_fen,
            balance_after_fen=row.balance_after_fen,
            available_after_fen=row.available_after_fen,
            code=row.code,
            reference=row.reference,
            memo=row.memo,
            counterparty_account_id=counterparty,
            created_at=row.created_at,
        )
