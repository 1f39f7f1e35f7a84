"""Payment use cases: intents (never move money), staff receipts and provider callbacks (post money on proof).

Posting is the ledger group outside → household → scheme pool (linked) — for a due of an emergency repair only
outside → household, since the repair's payment charges the household account with its share (the account goes
negative: what the household owes) — the due's ``paid_fen`` raised under the
database's ``paid ≤ due`` check, the payment row with its proof and ``finance.contribution.paid.v1`` in the outbox:
one transaction. Lock order: intent, then due (receipts lock only the due), then the ledger's accounts in id order.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from finance.adapters.repositories import (
    AccountRepository,
    DueRepository,
    LedgerRepository,
    PaymentIntentRepository,
    PaymentRepository,
    SchemeRepository,
)
from finance.domain.contributions import SchemeKind, check_payment
from finance.domain.errors import RuleViolation
from finance.domain.ledger import TransferKind, TransferSpec
from finance.domain.payments import (
    IntentFacts,
    PaymentMethod,
    PaymentSource,
    ProviderPayment,
    ReceiptFacts,
    ReceiptMethod,
    check_intent_provider,
    check_provider_payment,
    check_received_at,
    intent_expiry,
    provider_secrets,
    same_receipt,
    verify_callback,
)
from finance.service_layer import well_known_accounts
from finance.service_layer.context import Context, derived_id
from finance.service_layer.contributions import DueView, due_view
from finance.service_layer.scope import of_row
from renovation_common.auth import Principal
from renovation_common.contracts.finance import ContributionPaid
from renovation_common.errors import NotFound


async def _locked_due(session: Any, due_id: uuid.UUID) -> Any:
    due = await DueRepository(session).get(due_id, for_update=True)
    if due is None:
        raise NotFound("due not found", code="due_not_found")
    return due


async def _post(ctx: Context, uow: Any, due: Any, *, payment: dict[str, Any]) -> None:
    """Claim the payment row, post the linked ledger group, raise the due, announce it (caller commits)."""
    _check_in_force(due)
    check_payment(payment["amount_fen"], due.amount_fen, due.paid_fen)
    now = ctx.clock()
    payment_id = payment["id"]
    group_id = derived_id("payment-group", payment_id)
    claimed = await PaymentRepository(uow.session).claim(
        {
            **payment,
            "due_id": due.id,
            "community_id": due.community_id,
            "transfer_group_id": group_id,
            "created_at": now,
        }
    )
    if not claimed:
        raise _Taken()
    accounts = AccountRepository(uow.session)
    outside = await well_known_accounts.external(accounts, due.district_id, now)
    home = await well_known_accounts.household(accounts, due, due.household_id, now)
    amount = payment["amount_fen"]
    group = [
        TransferSpec(
            id=str(derived_id("payment", payment_id, "in")),
            kind=TransferKind.POSTED,
            debit_account_id=str(outside),
            credit_account_id=str(home),
            amount_fen=amount,
            code="contribution_payment",
            reference=f"due:{due.id}",
        ),
    ]
    if due.kind != SchemeKind.EMERGENCY_REPAIR.value:
        scheme = await SchemeRepository(uow.session).get(due.scheme_id)
        group.append(
            TransferSpec(
                id=str(derived_id("payment", payment_id, "settle")),
                kind=TransferKind.POSTED,
                debit_account_id=str(home),
                credit_account_id=str(scheme.pool_account_id),
                amount_fen=amount,
                code="contribution_settlement",
                reference=f"due:{due.id}",
            )
        )
    await LedgerRepository(uow.session).post(group, group_id=group_id, now=now)
    await DueRepository(uow.session).raise_paid(due.id, amount)
    uow.publish(
        ctx.event(
            ContributionPaid(
                due_id=str(due.id),
                scheme_id=str(due.scheme_id),
                community_id=due.community_id,
                district_id=due.district_id,
                household_id=due.household_id,
                amount_fen=amount,
            ),
            subject=str(due.id),
            now=now,
        )
    )


def _check_in_force(due: Any) -> None:
    if due.cancelled_at is not None:
        raise RuleViolation(
            "due_cancelled", "this due was cancelled (its emergency repair was cancelled); nothing is owed", status=409
        )


class _Taken(Exception):
    """A concurrent transaction committed a payment with the same proof first: re-read and answer from it."""


# ------------------------------------------------------------------------------------------------ intents
@dataclass(frozen=True)
class IntentView:
    intent: Any
    now: datetime


async def create_intent(
    ctx: Context,
    principal: Principal,
    due_id: uuid.UUID,
    *,
    amount_fen: int,
    method: PaymentMethod,
    provider: str,
) -> IntentView:
    """An intent to pay (part of) a due through a provider; at most what is outstanding. Posts nothing."""
    now = ctx.clock()
    rules = ctx.payment_rules
    async with ctx.uow() as uow:
        due = await DueRepository(uow.session).get(due_id)
        if due is None:
            raise NotFound("due not found", code="due_not_found")
        principal.ensure_covers(of_row(due), "due")
        check_intent_provider(provider, rules)
        _check_in_force(due)
        check_payment(amount_fen, due.amount_fen, due.paid_fen)
        row = await PaymentIntentRepository(uow.session).add(
            {
                "id": ctx.new_id(),
                "due_id": due_id,
                "household_id": due.household_id,
                "community_id": due.community_id,
                "district_id": due.district_id,
                "street_id": due.street_id,
                "amount_fen": amount_fen,
                "method": method.value,
                "provider": provider,
                "status": "pending",
                "expires_at": intent_expiry(now, rules),
                "created_by": principal.sub,
                "created_at": now,
            },
        )
        await uow.commit()
    return IntentView(row, now)


async def get_intent(ctx: Context, principal: Principal, intent_id: uuid.UUID) -> IntentView:
    async with ctx.read() as reader:
        row = await PaymentIntentRepository(reader.session).get(intent_id)
    if row is None:
        raise NotFound("payment intent not found", code="payment_intent_not_found")
    principal.ensure_covers(of_row(row), "payment intent")
    return IntentView(row, ctx.clock())


async def list_intents(
    ctx: Context, principal: Principal, due_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
) -> list[IntentView]:
    """Up to ``limit`` intents of a due in the caller's scope, by id after the cursor."""
    async with ctx.read() as reader:
        due = await DueRepository(reader.session).get(due_id)
        if due is None:
            raise NotFound("due not found", code="due_not_found")
        principal.ensure_covers(of_row(due), "due")
        rows = await PaymentIntentRepository(reader.session).of_due(due_id, after=after, limit=limit)
    now = ctx.clock()
    return [IntentView(r, now) for r in rows]


# ------------------------------------------------------------------------------------------------ receipts
@dataclass(frozen=True)
class Receipt:
    receipt_number: str
    amount_fen: int
    method: ReceiptMethod
    received_at: datetime


def _receipt_facts(due_id: uuid.UUID, amount_fen: int, method: str, received_at: datetime) -> ReceiptFacts:
    return ReceiptFacts(str(due_id), amount_fen, method, received_at)


@dataclass(frozen=True)
class ReceiptRecorded:
    due: DueView
    replayed: bool  # the same receipt again: the first result, nothing posted now


async def _due_view(ctx: Context, due_id: uuid.UUID) -> DueView:
    async with ctx.read() as reader:
        return await due_view(reader.session, due_id)


async def record_receipt(ctx: Context, principal: Principal, due_id: uuid.UUID, receipt: Receipt) -> ReceiptRecorded:
    """Staff in scope record a receipt and the payment is posted; the receipt number is unique in the community.
    The same receipt again answers the first result (``True``: replayed); the number with other content is 409."""
    asked = _receipt_facts(due_id, receipt.amount_fen, receipt.method.value, receipt.received_at)
    for _attempt in range(3):
        try:
            async with ctx.uow() as uow:
                due = await _locked_due(uow.session, due_id)
                principal.ensure_covers(of_row(due), "due")
                replayed = await _receipt_replayed(uow.session, due.community_id, receipt.receipt_number, asked)
                if replayed:
                    break  # answered from the first result, read after this transaction (and its lock) ends
                check_received_at(receipt.received_at, now=ctx.clock(), rules=ctx.payment_rules)
                await _post(
                    ctx,
                    uow,
                    due,
                    payment={
                        "id": ctx.new_id(),
                        "amount_fen": receipt.amount_fen,
                        "paid_by": principal.sub,
                        "source": PaymentSource.RECEIPT.value,
                        "method": receipt.method.value,
                        "receipt_number": receipt.receipt_number,
                        "received_at": receipt.received_at,
                    },
                )
                await uow.commit()
            return ReceiptRecorded(await _due_view(ctx, due_id), replayed=False)
        except _Taken:
            continue  # the committed receipt decides in the next round: a replay or receipt_number_taken
    else:
        raise RuleViolation("payments_busy", "retry the same request", status=409)
    return ReceiptRecorded(await _due_view(ctx, due_id), replayed=True)


async def _receipt_replayed(session: Any, community_id: str, number: str, asked: ReceiptFacts) -> bool:
    stored = await PaymentRepository(session).by_receipt(community_id, number)
    if stored is None:
        return False
    if not same_receipt(_receipt_facts(stored.due_id, stored.amount_fen, stored.method, stored.received_at), asked):
        raise RuleViolation(
            "receipt_number_taken",
            "this receipt number was already recorded in the community for another payment",
            status=409,
            receipt_number=number,
        )
    return True


# ------------------------------------------------------------------------------------------------ callbacks
@dataclass(frozen=True)
class CallbackResult:
    payment: Any
    replayed: bool


def provider_payment_id(provider: str, provider_txn_id: str) -> uuid.UUID:
    """Deterministic: duplicates of one provider transaction map to one payment (and one set of transfer ids)."""
    return derived_id("provider-payment", provider, provider_txn_id)


# Reads the raw request body, refusing it (413) beyond the given number of bytes.
BodyReader = Callable[[int], Awaitable[bytes]]


async def authenticate_callback(
    ctx: Context, provider: str, timestamp: str | None, signature: str | None, read_body: BodyReader
) -> bytes:
    """A provider callback authenticates by its HMAC signature over the raw bytes, before anything parses them;
    returns those bytes. An unknown provider is 401 before the body is read; a bad signature or timestamp 401 with
    a stable code (``domain.payments.verify_callback``)."""
    rules = ctx.payment_rules
    secrets = provider_secrets(rules, provider)
    raw = await read_body(rules.callback_max_body_bytes)
    verify_callback(
        secrets,
        timestamp,
        signature,
        raw,
        now_s=int(ctx.clock().timestamp()),
        tolerance_s=rules.callback_tolerance_s,
    )
    return raw


async def post_provider_payment(ctx: Context, payment: ProviderPayment) -> CallbackResult:
    """Post an authenticated provider callback once per (provider, transaction id).

    The intent is locked first, so concurrent duplicates serialise on it: the first posts, the others find the
    payment and answer it (replayed). A transaction id already used for another intent or amount → 409
    ``provider_txn_id_reused``. Mismatches are refused (see ``check_provider_payment``) and post nothing.
    """
    try:
        intent_id = uuid.UUID(payment.intent_id)
    except ValueError:
        raise RuleViolation("payment_intent_unknown", "no payment intent with this id") from None
    for _attempt in range(3):
        try:
            async with ctx.uow() as uow:
                intents = PaymentIntentRepository(uow.session)
                intent = await intents.get(intent_id, for_update=True)
                if intent is None:
                    raise RuleViolation("payment_intent_unknown", "no payment intent with this id")
                payments = PaymentRepository(uow.session)
                existing = await payments.by_provider_txn(payment.provider, payment.provider_txn_id)
                if existing is not None:
                    if existing.intent_id != intent_id or existing.amount_fen != payment.amount_fen:
                        raise _txn_reused()
                    return CallbackResult(existing, replayed=True)
                check_provider_payment(
                    IntentFacts(
                        intent.provider, intent.amount_fen, intent.status, intent.expires_at, intent.provider_txn_id
                    ),
                    payment,
                    now=ctx.clock(),
                    tolerance_s=ctx.payment_rules.callback_tolerance_s,
                )
                due = await _locked_due(uow.session, intent.due_id)
                payment_id = provider_payment_id(payment.provider, payment.provider_txn_id)
                await _post(
                    ctx,
                    uow,
                    due,
                    payment={
                        "id": payment_id,
                        "amount_fen": payment.amount_fen,
                        "paid_by": f"provider:{payment.provider}",
                        "source": PaymentSource.PROVIDER.value,
                        "method": intent.method,
                        "provider": payment.provider,
                        "provider_txn_id": payment.provider_txn_id,
                        "intent_id": intent_id,
                        "received_at": payment.paid_at,
                    },
                )
                await intents.mark_paid(
                    intent_id,
                    payment_id=payment_id,
                    provider_txn_id=payment.provider_txn_id,
                    paid_at=payment.paid_at,
                )
                row = await payments.get(payment_id)
                await uow.commit()
            return CallbackResult(row, replayed=False)
        except _Taken:
            continue  # the same transaction id committed for another intent meanwhile: decided in the next round
    raise _txn_reused()


def _txn_reused() -> RuleViolation:
    return RuleViolation(
        "provider_txn_id_reused",
        "this provider transaction id was already posted for another intent or amount",
        status=409,
    )
