"""Posted payments with their proof: a staff receipt (number unique per community) or a provider's callback
(transaction id unique per provider, an intent paid once).

A payment row is *claimed* before its ledger transfers are posted, with ``ON CONFLICT DO NOTHING``: when a
concurrent transaction holds the same receipt number, provider transaction id or intent, Postgres waits for it to
finish and then reports the conflict, so the caller re-reads the committed row and answers a replay or a refusal.
Nothing is ever posted twice.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters.orm import payments

P = payments.c


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, values: dict[str, Any]) -> bool:
        """Insert the payment row unless its id, receipt number, provider transaction id or intent is taken."""
        stmt = pg_insert(payments).values(**values).on_conflict_do_nothing().returning(P.id)
        return (await self.session.execute(stmt)).first() is not None

    async def get(self, payment_id: uuid.UUID) -> Any:
        return (await self.session.execute(sa.select(payments).where(P.id == payment_id))).first()

    async def by_receipt(self, community_id: str, receipt_number: str) -> Any:
        stmt = sa.select(payments).where(P.community_id == community_id, P.receipt_number == receipt_number)
        return (await self.session.execute(stmt)).first()

    async def by_provider_txn(self, provider: str, provider_txn_id: str) -> Any:
        stmt = sa.select(payments).where(P.provider == provider, P.provider_txn_id == provider_txn_id)
        return (await self.session.execute(stmt)).first()

    async def of_due(self, due_id: uuid.UUID) -> list[Any]:
        stmt = sa.select(payments).where(P.due_id == due_id).order_by(P.created_at, P.id)
        return list((await self.session.execute(stmt)).all())
