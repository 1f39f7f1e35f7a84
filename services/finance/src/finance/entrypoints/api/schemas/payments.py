"""Bodies of payments: intents (with the order handed to the provider), staff receipts, provider callbacks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StrictStr

from finance.domain.ledger import MAX_TRANSFER_FEN
from finance.domain.payments import (
    CALLBACK_EVENT,
    CURRENCY,
    PROVIDER_NAME,
    PROVIDER_TXN_ID,
    RECEIPT_NUMBER,
    IntentStatus,
    PaymentMethod,
    ReceiptMethod,
    intent_status,
)
from finance.entrypoints.api.schemas.types import Fen
from finance.service_layer import payments


class IntentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"amount_fen": 40_154, "method": "wechat_pay", "provider": "wechat_pay"}]},
    )
    amount_fen: Fen = Field(ge=1, le=MAX_TRANSFER_FEN, description="At most what is outstanding on the due")
    method: PaymentMethod
    provider: StrictStr = Field(pattern=PROVIDER_NAME, description="A configured payment provider")


class ProviderOrder(BaseModel):
    """What the app hands to the provider's SDK or page; the provider calls back with ``merchant_order_id``."""

    provider: str
    merchant_order_id: uuid.UUID = Field(description="The intent id; the callback's intent_id (商户订单号)")
    amount_fen: int
    currency: Literal["CNY"] = "CNY"
    description: str
    notify_path: str = Field(description="Where the provider calls back, relative to the finance service's URL")
    expires_at: datetime = Field(description="The provider must not accept payment after this time")


class IntentRead(BaseModel):
    id: uuid.UUID
    due_id: uuid.UUID
    household_id: str
    community_id: str
    amount_fen: int
    method: str
    provider: str
    status: IntentStatus = Field(description="pending | succeeded | expired (pending past expires_at)")
    expires_at: datetime
    created_at: datetime
    paid_at: datetime | None
    payment_id: uuid.UUID | None
    provider_txn_id: str | None
    provider_order: ProviderOrder | None = Field(description="Present while the intent is pending")

    @classmethod
    def of(cls, view: payments.IntentView) -> IntentRead:
        row = view.intent
        status = intent_status(row.status, row.expires_at, view.now)
        order = (
            ProviderOrder(
                provider=row.provider,
                merchant_order_id=row.id,
                amount_fen=row.amount_fen,
                description=f"Renovation contribution, due {row.due_id}",
                notify_path=f"/v1/payment-providers/{row.provider}/callbacks",
                expires_at=row.expires_at,
            )
            if status is IntentStatus.PENDING
            else None
        )
        return cls(
            id=row.id,
            due_id=row.due_id,
            household_id=row.household_id,
            community_id=row.community_id,
            amount_fen=row.amount_fen,
            method=row.method,
            provider=row.provider,
            status=status,
            expires_at=row.expires_at,
            created_at=row.created_at,
            paid_at=row.paid_at,
            payment_id=row.payment_id,
            provider_txn_id=row.provider_txn_id,
            provider_order=order,
        )


class ReceiptCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "receipt_number": "JS-2026-000123",
                    "amount_fen": 80_000,
                    "method": "cash",
                    "received_at": "2026-03-02T10:15:00+08:00",
                }
            ]
        },
    )
    receipt_number: StrictStr = Field(pattern=RECEIPT_NUMBER, description="Unique in the due's community")
    amount_fen: Fen = Field(ge=1, le=MAX_TRANSFER_FEN)
    method: ReceiptMethod
    received_at: AwareDatetime = Field(description="When the money was received; not in the future")


class PaymentCallback(BaseModel):
    """The body a provider posts (other fields are ignored). Parsed only after the signature is verified."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "event": CALLBACK_EVENT,
                    "provider_txn_id": "4200002026030212345678",
                    "intent_id": "0f8e3f4c-8d0c-4c39-9d9b-1d1b6c1c2a01",
                    "amount_fen": 40_154,
                    "currency": CURRENCY,
                    "paid_at": "2026-03-02T10:15:00+08:00",
                }
            ]
        },
    )
    event: Literal["payment.succeeded"]
    provider_txn_id: StrictStr = Field(pattern=PROVIDER_TXN_ID, description="The provider's transaction id")
    intent_id: uuid.UUID = Field(description="merchant_order_id of the intent's provider_order")
    amount_fen: StrictInt = Field(ge=1, le=MAX_TRANSFER_FEN)
    currency: Literal["CNY"]
    paid_at: AwareDatetime


class CallbackRead(BaseModel):
    result: Literal["posted"] = "posted"
    replayed: bool = Field(description="true: this transaction was posted before; nothing was posted now")
    payment_id: uuid.UUID
    intent_id: uuid.UUID
    due_id: uuid.UUID
    provider: str
    provider_txn_id: str
    amount_fen: int
    posted_at: datetime

    @classmethod
    def of(cls, result: payments.CallbackResult) -> CallbackRead:
        p = result.payment
        return cls(
            replayed=result.replayed,
            payment_id=p.id,
            intent_id=p.intent_id,
            due_id=p.due_id,
            provider=p.provider,
            provider_txn_id=p.provider_txn_id,
            amount_fen=p.amount_fen,
            posted_at=p.created_at,
        )
