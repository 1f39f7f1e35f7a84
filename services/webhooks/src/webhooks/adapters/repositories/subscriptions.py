"""Subscriptions: the endpoints of government systems, their filters and their sealed signing secrets."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from webhooks.adapters.orm import subscriptions
from webhooks.domain.model import SealedSecrets, Subscription
from webhooks.domain.subscriptions import EventFilter, Manager

S = subscriptions.c
FIELDS = [f.name for f in dataclasses.fields(Subscription)]


def access_clause(manager: Manager) -> sa.ColumnElement[bool]:
    """Rows the caller may see (mirrors ``domain.subscriptions.can_manage``)."""
    if manager.role == "gov_system":
        owned = S.owner_sub == manager.sub
        return owned if manager.district_id is None else sa.and_(owned, S.district_id == manager.district_id)
    if manager.role == "district_admin" and manager.district_id is not None:
        return S.district_id == manager.district_id
    return sa.false()


def _subscription(row: Any) -> Subscription:
    values = {name: getattr(row, name) for name in FIELDS}
    values["event_types"] = tuple(values["event_types"])
    return Subscription(**values)


class SubscriptionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, subscription: Subscription) -> None:
        values = {name: getattr(subscription, name) for name in FIELDS}
        values["event_types"] = list(subscription.event_types)
        await self.session.execute(sa.insert(subscriptions).values(**values))

    async def get(self, subscription_id: uuid.UUID, *, for_update: bool = False) -> Subscription | None:
        stmt = sa.select(subscriptions).where(S.id == subscription_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).first()
        return None if row is None else _subscription(row)

    async def list(self, manager: Manager, after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[Subscription]:
        """Up to ``limit + 1`` subscriptions the caller may see, oldest first, after a (created_at, id) cursor."""
        stmt = sa.select(subscriptions).where(access_clause(manager)).order_by(S.created_at, S.id).limit(limit + 1)
        if after is not None:
            stmt = stmt.where(sa.tuple_(S.created_at, S.id) > sa.tuple_(*after))
        return [_subscription(r) for r in (await self.session.execute(stmt)).all()]

    async def update(self, subscription_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(sa.update(subscriptions).where(S.id == subscription_id).values(**values))

    async def delete(self, subscription_id: uuid.UUID) -> None:
        await self.session.execute(sa.delete(subscriptions).where(S.id == subscription_id))

    async def disable_if_enabled(
        self, subscription_id: uuid.UUID, *, reason: str, now: datetime
    ) -> Subscription | None:
        """Disable an enabled subscription; returns it when this call disabled it."""
        row = (
            await self.session.execute(
                sa.update(subscriptions)
                .where(S.id == subscription_id, S.enabled.is_(True))
                .values(enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now)
                .returning(subscriptions)
            )
        ).first()
        return None if row is None else _subscription(row)

    async def candidates(
        self, district_id: str | None, community_id: str | None
    ) -> list[tuple[uuid.UUID, EventFilter]]:
        """Enabled subscriptions whose district/community filter does not exclude an event, with their filters."""
        rows = await self.session.execute(
            sa.select(S.id, S.event_types, S.district_id, S.community_id).where(
                S.enabled.is_(True),
                sa.or_(S.district_id.is_(None), S.district_id == district_id),
                sa.or_(S.community_id.is_(None), S.community_id == community_id),
            )
        )
        return [(r.id, EventFilter(tuple(r.event_types), r.district_id, r.community_id)) for r in rows]

    async def candidates_for_any(
        self, district_ids: Collection[str | None], community_ids: Collection[str | None]
    ) -> list[tuple[uuid.UUID, EventFilter]]:
        """Enabled subscriptions whose district/community filter lets through an event of at least one of these
        districts and communities (a batch's), with their filters; ``EventFilter.accepts`` then decides per event."""
        districts = sorted(d for d in district_ids if d is not None)
        communities = sorted(c for c in community_ids if c is not None)
        rows = await self.session.execute(
            sa.select(S.id, S.event_types, S.district_id, S.community_id).where(
                S.enabled.is_(True),
                sa.or_(S.district_id.is_(None), S.district_id.in_(districts)),
                sa.or_(S.community_id.is_(None), S.community_id.in_(communities)),
            )
        )
        return [(r.id, EventFilter(tuple(r.event_types), r.district_id, r.community_id)) for r in rows]

    # -- signing secrets under the key ring --------------------------------------------------------------------

    @staticmethod
    def _not_under(key_id: str) -> sa.ColumnElement[bool]:
        return sa.or_(
            S.secret_key_id.is_distinct_from(key_id),
            sa.and_(S.previous_secret_encrypted.is_not(None), S.previous_secret_key_id.is_distinct_from(key_id)),
        )

    async def sealed_under_other_keys(self, key_id: str, *, after: uuid.UUID | None, limit: int) -> list[SealedSecrets]:
        """Up to ``limit`` subscriptions (by id, after ``after``) holding a secret not sealed under ``key_id``,
        locked for this transaction; rows another transaction holds are skipped (the next pass takes them)."""
        stmt = (
            sa.select(S.id, S.secret_encrypted, S.secret_key_id, S.previous_secret_encrypted, S.previous_secret_key_id)
            .where(self._not_under(key_id))
            .order_by(S.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if after is not None:
            stmt = stmt.where(S.id > after)
        return [
            SealedSecrets(
                r.id, r.secret_encrypted, r.secret_key_id, r.previous_secret_encrypted, r.previous_secret_key_id
            )
            for r in (await self.session.execute(stmt)).all()
        ]

    async def count_sealed_under_other_keys(self, key_id: str) -> int:
        return int(await self.session.scalar(sa.select(sa.func.count()).where(self._not_under(key_id))) or 0)
