"""Payment routes: intents (residents and staff), staff receipts, and payment providers' signed callbacks.

Money is posted only on proof: a receipt recorded by a community worker or finance officer in scope, or a
provider callback authenticated by HMAC-SHA256 over its raw body (``docs/payments.md``). No route lets a caller
declare a payment posted.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from finance.domain.errors import RuleViolation
from finance.domain.payments import PROVIDER_NAME, ProviderPayment
from finance.entrypoints.api.dependencies import ContextDep
from finance.entrypoints.api.schemas.contributions import DueRead
from finance.entrypoints.api.schemas.payments import (
    CallbackRead,
    IntentCreate,
    IntentRead,
    PaymentCallback,
    ReceiptCreate,
)
from finance.service_layer import payments as uc
from renovation_common.auth import Principal, Role, authorize
from renovation_common.errors import PROBLEM_JSON, PROBLEM_RESPONSES, DomainError, Problem
from renovation_common.idempotency import answer_replay, replay_responses
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
@router.post(
    "/v1/dues/{due_id}/payment-intents",
    operation_id="createPaymentIntent",
    response_model=IntentRead,
    status_code=201,
    summary="Create an intent to pay a due through a payment provider (moves no money)",
)
async def create_intent(
    due_id: uuid.UUID,
    body: IntentCreate,
    principal: Annotated[Principal, authorize(*PAYERS)],
    ctx: ContextDep,
) -> IntentRead:
    """An intent to pay (part of) a due through a provider. It posts nothing: money is posted when the provider's
    signed callback arrives. Residents: their own household's dues only."""
    view = await uc.create_intent(
        ctx, principal, due_id, amount_fen=body.amount_fen, method=body.method, provider=body.provider
    )
    return IntentRead.of(view)


@router.get(
    "/v1/dues/{due_id}/payment-intents",
    operation_id="listPaymentIntents",
    response_model=Page[IntentRead],
    summary="The payment intents of a due (cursor pagination)",
)
async def list_intents(
    due_id: uuid.UUID,
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, authorize(*PAYERS)],
    ctx: ContextDep,
) -> Page[IntentRead]:
    """Oldest first by id; each with its status (``expired`` is derived from ``expires_at``)."""
    views = await uc.list_intents(ctx, principal, due_id, after=page.after_uuid(), limit=page.limit + 1)
    return make_page([IntentRead.of(v) for v in views], page.limit, lambda i: str(i.id))


@router.get(
    "/v1/payment-intents/{intent_id}",
    operation_id="getPaymentIntent",
    response_model=IntentRead,
    summary="A payment intent and its status",
)
async def get_intent(
    intent_id: uuid.UUID, principal: Annotated[Principal, authorize(*PAYERS)], ctx: ContextDep
) -> IntentRead:
    """While pending, ``provider_order`` is what the app hands to the provider's SDK or page."""
    return IntentRead.of(await uc.get_intent(ctx, principal, intent_id))


# ------------------------------------------------------------------------------------------------ receipts
@router.post(
    "/v1/dues/{due_id}/receipts",
    operation_id="recordReceipt",
    response_model=DueRead,
    status_code=201,
    responses=replay_responses(DueRead, "the due as the first receipt left it"),
    summary="Record a staff receipt: the payment is posted on it",
)
async def record_receipt(
    due_id: uuid.UUID,
    body: ReceiptCreate,
    response: Response,
    principal: Annotated[Principal, authorize(*RECEIVERS)],
    ctx: ContextDep,
) -> DueRead:
    """A community worker of the due's community or a finance officer in scope records a receipt; the payment is
    posted (outside → household → scheme pool) in the same transaction. A receipt number is unique in the
    community: the same receipt again is a replay (200, ``Idempotent-Replayed: true``, the first result), the
    number with other content is 409
    ``receipt_number_taken``."""
    receipt = uc.Receipt(body.receipt_number, body.amount_fen, body.method, body.received_at)
    recorded = await uc.record_receipt(ctx, principal, due_id, receipt)
    if recorded.replayed:
        answer_replay(response)
    return DueRead.of(recorded.due.due, recorded.due.payments)


# ------------------------------------------------------------------------------------------------ callbacks
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
    response: Response,
    ctx: ContextDep,
    provider: Annotated[str, Path(pattern=PROVIDER_NAME, max_length=40)],
    payment_timestamp: Annotated[
        str | None, Header(alias="Payment-Timestamp", description="Unix time in seconds, as signed")
    ] = None,
    payment_signature: Annotated[
        str | None, Header(alias="Payment-Signature", description="v1=<base64 HMAC-SHA256>[ v1=...]")
    ] = None,
) -> CallbackRead:
    """Authenticated by ``Payment-Signature: v1=base64(HMAC-SHA256(secret, "{Payment-Timestamp}.{raw body}"))``
    with the provider's secret, verified on the raw bytes before the JSON is parsed; the timestamp must be within
    the tolerance (default 300 s). Idempotent by ``provider_txn_id``: a repeat answers the first result (200,
    ``Idempotent-Replayed: true``, ``replayed: true``) and posts nothing. The full contract: ``docs/payments.md``."""
    try:
        raw = await uc.authenticate_callback(
            ctx,
            provider,
            payment_timestamp,
            payment_signature,
            lambda limit: _bounded_body(request, limit),
        )
    except (RuleViolation, DomainError) as exc:
        log.warning("payment_callback_refused", provider=provider, code=exc.code)
        raise
    body = _parse(raw)
    result = await uc.post_provider_payment(
        ctx,
        ProviderPayment(
            provider=provider,
            provider_txn_id=body.provider_txn_id,
            intent_id=str(body.intent_id),
            amount_fen=body.amount_fen,
            paid_at=body.paid_at,
        ),
    )
    log.info(
        "payment_callback_posted",
        provider=provider,
        intent_id=str(body.intent_id),
        payment_id=str(result.payment.id),
        replayed=result.replayed,
    )
    if result.replayed:
        answer_replay(response)
    return CallbackRead.of(result)
