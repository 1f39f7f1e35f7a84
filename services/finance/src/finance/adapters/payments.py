"""SQL for payment intents and posted payments (with their proof).

A payment row is *claimed* before its ledger transfers are posted, with ``ON CONFLICT DO NOTHING``: when a
concurrent transaction holds the same receipt number (per community), provider transaction id (per provider) or
intent, Postgres waits for it to finish and then reports the conflict, so the caller re-reads the committed row and
answers a replay or a refusal. Nothing is ever posted twice.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters.orm import dues, payment_intents, payments


# ------------------------------------------------------------------------------------------ intents
async def insert_intent(session: AsyncSession, values: dict[str, Any]) -> Any:
    return (await session.execute(sa.insert(payment_intents).values(**values).returning(payment_intents))).one()


async def intent(session: AsyncSession, intent_id: uuid.UUID, *, for_update: bool = False) -> Any:
    stmt = sa.select(payment_intents).where(payment_intents.c.id == intent_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).first()


async def due_intents(session: AsyncSession, due_id: uuid.UUID, *, after: str | None, limit: int) -> list[Any]:
    stmt = (
        sa.select(payment_intents).where(payment_intents.c.due_id == due_id).order_by(payment_intents.c.id).limit(limit)
    )
    if after is not None:
        stmt = stmt.where(payment_intents.c.id > uuid.UUID(after))
    return list((await session.execute(stmt)).all())


async def mark_intent_paid(
    session: AsyncSession, intent_id: uuid.UUID, *, payment_id: uuid.UUID, provider_txn_id: str, paid_at: Any
) -> None:
    await session.execute(
        sa.update(payment_intents)
        .where(payment_intents.c.id == intent_id)
        .values(status="succeeded", payment_id=payment_id, provider_txn_id=provider_txn_id, paid_at=paid_at)
    )


# ------------------------------------------------------------------------------------------ payments
async def claim_payment(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert the payment row unless its id, receipt number, provider transaction id or intent is taken."""
    inserted = (
        await session.execute(pg_insert(payments).values(**values).on_conflict_do_nothing().returning(payments.c.id))
    ).first()
    return inserted is not None


async def raise_paid(session: AsyncSession, due_id: uuid.UUID, amount_fen: int) -> None:
    """The due's paid amount rises under the database's ``paid ≤ due`` check."""
    await session.execute(sa.update(dues).where(dues.c.id == due_id).values(paid_fen=dues.c.paid_fen + amount_fen))


async def payment(session: AsyncSession, payment_id: uuid.UUID) -> Any:
    return (await session.execute(sa.select(payments).where(payments.c.id == payment_id))).first()


async def payment_by_receipt(session: AsyncSession, community_id: str, receipt_number: str) -> Any:
    stmt = sa.select(payments).where(
        payments.c.community_id == community_id, payments.c.receipt_number == receipt_number
    )
    return (await session.execute(stmt)).first()


async def payment_by_provider_txn(session: AsyncSession, provider: str, provider_txn_id: str) -> Any:
    stmt = sa.select(payments).where(payments.c.provider == provider, payments.c.provider_txn_id == provider_txn_id)
    return (await session.execute(stmt)).first()


async def due_payments(session: AsyncSession, due_id: uuid.UUID) -> list[Any]:
    stmt = sa.select(payments).where(payments.c.due_id == due_id).order_by(payments.c.created_at, payments.c.id)
    return list((await session.execute(stmt)).all())
