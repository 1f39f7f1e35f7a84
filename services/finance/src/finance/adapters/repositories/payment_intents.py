"""Payment intents: a household's intent to pay a due through a provider. An intent never moves money."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from finance.adapters.orm import payment_intents

I = payment_intents.c  # noqa: E741


class PaymentIntentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, values: dict[str, Any]) -> Any:
        stmt = sa.insert(payment_intents).values(**values).returning(payment_intents)
        return (await self.session.execute(stmt)).one()

    async def get(self, intent_id: uuid.UUID, *, for_update: bool = False) -> Any:
        stmt = sa.select(payment_intents).where(I.id == intent_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).first()

    async def of_due(self, due_id: uuid.UUID, *, after: uuid.UUID | None, limit: int) -> list[Any]:
        stmt = sa.select(payment_intents).where(I.due_id == due_id).order_by(I.id).limit(limit)
        if after is not None:
            stmt = stmt.where(I.id > after)
        return list((await self.session.execute(stmt)).all())

    async def mark_paid(
        self, intent_id: uuid.UUID, *, payment_id: uuid.UUID, provider_txn_id: str, paid_at: datetime
    ) -> None:
        await self.session.execute(
            sa.update(payment_intents)
            .where(I.id == intent_id)
            .values(status="succeeded", payment_id=payment_id, provider_txn_id=provider_txn_id, paid_at=paid_at)
        )
