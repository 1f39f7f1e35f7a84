"""Payment routes: intents (residents and staff), staff receipts, and payment providers' signed callbacks.

Money is posted only on proof: a receipt recorded by a community worker or finance officer in scope, or a
provider callback authenticated by HMAC-SHA256 over its raw body (``docs/payments.md``). No route lets a caller
declare a payment posted.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from finance.domain.errors import RuleViolation
from finance.domain.ledger import MAX_TRANSFER_FEN
from finance.domain.payments import (
    CALLBACK_EVENT,
    CURRENCY,
    PROVIDER_NAME,
    PROVIDER_TXN_ID,
    RECEIPT_NUMBER,
    IntentStatus,
    PaymentMethod,
    PaymentRules,
    ProviderPayment,
    ReceiptMethod,
    intent_status,
    provider_secrets,
    verify_callback,
)
from finance.entrypoints.api.contributions import DueRead
from finance.entrypoints.api.deps import Fen, get_ctx, get_payment_rules
from finance.service_layer import payments
from finance.service_layer.context import Context
from renovation_common.auth import Principal, Role, require_roles
from renovation_common.errors import PROBLEM_JSON, PROBLEM_RESPONSES, DomainError, Problem
from renovation_common.pagination import Page, PageParams, make_page, page_params

router = APIRouter(tags=["payments"])
log = structlog.get_logger("finance.payments")

# Who may create and read intents: the household itself and staff in scope.
PAYERS = (Role.RESIDENT, Role.COMMUNITY_WORKER, Role.STREET_OFFICER, Role.DISTRICT_ADMIN, Role.FINANCE_OFFICER)
# Who may record a receipt (and so post money): a worker of the due's community, the finance office in scope.
RECEIVERS = (Role.COMMUNITY_WORKER, Role.FINANCE_OFFICER)


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"
    title = "The request body is too large"


# ------------------------------------------------------------------------------------------------ intents
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
    currency: Literal["CNY"] = CURRENCY
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


@router.post(
    "/v1/dues/{due_id}/payment-intents",
    operation_id="createPaymentIntent",
    response_model=IntentRead,
    status_code=201,
)
async def create_intent(
    due_id: uuid.UUID,
    body: IntentCreate,
    principal: Principal = Depends(require_roles(*PAYERS)),
    ctx: Context = Depends(get_ctx),
    rules: PaymentRules = Depends(get_payment_rules),
) -> IntentRead:
    """An intent to pay (part of) a due through a provider. It posts nothing: money is posted when the provider's
    signed callback arrives. Residents: their own household's dues only."""
    view = await payments.create_intent(
        ctx, principal, due_id, amount_fen=body.amount_fen, method=body.method, provider=body.provider, rules=rules
    )
    return IntentRead.of(view)


@router.get("/v1/dues/{due_id}/payment-intents", operation_id="listPaymentIntents", response_model=Page[IntentRead])
async def list_intents(
    due_id: uuid.UUID,
    page: PageParams = Depends(page_params),
    principal: Principal = Depends(require_roles(*PAYERS)),
    ctx: Context = Depends(get_ctx),
) -> Page[IntentRead]:
    views = await payments.list_intents(ctx, principal, due_id, after=page.after, limit=page.limit + 1)
    return make_page([IntentRead.of(v) for v in views], page.limit, lambda i: str(i.id))


@router.get("/v1/payment-intents/{intent_id}", operation_id="getPaymentIntent", response_model=IntentRead)
async def get_intent(
    intent_id: uuid.UUID,
    principal: Principal = Depends(require_roles(*PAYERS)),
    ctx: Context = Depends(get_ctx),
) -> IntentRead:
    return IntentRead.of(await payments.get_intent(ctx, principal, intent_id))


# ------------------------------------------------------------------------------------------------ receipts
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


@router.post(
    "/v1/dues/{due_id}/receipts",
    operation_id="recordReceipt",
    response_model=DueRead,
    status_code=201,
    responses={200: {"model": DueRead, "description": "The same receipt again: the first result"}},
)
async def record_receipt(
    due_id: uuid.UUID,
    body: ReceiptCreate,
    response: Response,
    principal: Principal = Depends(require_roles(*RECEIVERS)),
    ctx: Context = Depends(get_ctx),
    rules: PaymentRules = Depends(get_payment_rules),
) -> DueRead:
    """A community worker of the due's community or a finance officer in scope records a receipt; the payment is
    posted (outside → household → scheme pool) in the same transaction. A receipt number is unique in the
    community: the same receipt again answers the first result, the number with other content is 409
    ``receipt_number_taken``."""
    receipt = payments.Receipt(body.receipt_number, body.amount_fen, body.method, body.received_at)
    view, replayed = await payments.record_receipt(ctx, principal, due_id, receipt, rules=rules)
    if replayed:
        response.status_code = 200
    return DueRead.of(view.due, view.payments)


# ------------------------------------------------------------------------------------------------ callbacks
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


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it exceeds ``limit`` (before it is buffered whole)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise PayloadTooLarge(f"a callback body is at most {limit} bytes", limit_bytes=limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"a callback body is at most {limit} bytes", limit_bytes=limit)
    return bytes(body)


def _parse(raw: bytes) -> PaymentCallback:
    try:
        return PaymentCallback.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_input=False)) from None


CALLBACK_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {**PROBLEM_RESPONSES[401], "description": "Unknown provider, missing or invalid signature, stale timestamp"},
    409: {**PROBLEM_RESPONSES[409], "description": "Transaction id reused, intent already paid or expired"},
    413: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "Body larger than the limit"},
    422: {**PROBLEM_RESPONSES[422], "description": "Body invalid, or it does not match the intent it names"},
}


@router.post(
    "/v1/payment-providers/{provider}/callbacks",
    operation_id="receivePaymentCallback",
    response_model=CallbackRead,
    summary="A payment provider reports a payment (HMAC-SHA256 signature; no bearer token)",
    responses=CALLBACK_RESPONSES,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PaymentCallback.model_json_schema()}},
        },
        "security": [],
    },
)
async def receive_callback(
    request: Request,
    provider: str = Path(pattern=PROVIDER_NAME, max_length=40),
    payment_timestamp: str | None = Header(
        default=None, alias="Payment-Timestamp", description="Unix time in seconds, as signed"
    ),
    payment_signature: str | None = Header(
        default=None, alias="Payment-Signature", description="v1=<base64 HMAC-SHA256>[ v1=...]"
    ),
    ctx: Context = Depends(get_ctx),
    rules: PaymentRules = Depends(get_payment_rules),
) -> CallbackRead:
    """Authenticated by ``Payment-Signature: v1=base64(HMAC-SHA256(secret, "{Payment-Timestamp}.{raw body}"))``
    with the provider's secret, verified on the raw bytes before the JSON is parsed; the timestamp must be within
    the tolerance (default 300 s). Idempotent by ``provider_txn_id``: a repeat answers the first result (200,
    ``replayed: true``) and posts nothing. The full contract: ``docs/payments.md``."""
    try:
        secrets = provider_secrets(rules, provider)
        raw = await _bounded_body(request, rules.callback_max_body_bytes)
        verify_callback(
            secrets,
            payment_timestamp,
            payment_signature,
            raw,
            now_s=int(ctx.clock().timestamp()),
            tolerance_s=rules.callback_tolerance_s,
        )
    except (RuleViolation, DomainError) as exc:
        log.warning("payment_callback_refused", provider=provider, code=exc.code)
        raise
    body = _parse(raw)
    result = await payments.post_provider_payment(
        ctx,
        ProviderPayment(
            provider=provider,
            provider_txn_id=body.provider_txn_id,
            intent_id=str(body.intent_id),
            amount_fen=body.amount_fen,
            paid_at=body.paid_at,
        ),
        rules=rules,
    )
    log.info(
        "payment_callback_posted",
        provider=provider,
        intent_id=str(body.intent_id),
        payment_id=str(result.payment.id),
        replayed=result.replayed,
    )
    return CallbackRead.of(result)
