"""SQL of the webhooks service (the service layer calls these inside its transactions)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from webhooks.adapters.orm import deliveries, delivery_attempts, events, subscriptions

S = subscriptions.c
D = deliveries.c
E = events.c
A = delivery_attempts.c


def access_clause(role: str, sub: str, district_id: str | None) -> sa.ColumnElement[bool]:
    """Rows of ``subscriptions`` the caller may see (mirrors ``domain.subscriptions.can_manage``)."""
    if role == "gov_system":
        return S.owner_sub == sub
    if role == "district_admin" and district_id is not None:
        return S.district_id == district_id
    return sa.false()


# ---------------------------------------------------------------------------------------------------- subscriptions


async def insert_subscription(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(sa.insert(subscriptions).values(**values))


async def get_subscription(
    session: AsyncSession, subscription_id: uuid.UUID, *, for_update: bool = False
) -> sa.Row[Any] | None:
    stmt = sa.select(subscriptions).where(S.id == subscription_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).first()


async def list_subscriptions(
    session: AsyncSession, access: sa.ColumnElement[bool], after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[sa.Row[Any]]:
    stmt = sa.select(subscriptions).where(access).order_by(S.created_at, S.id).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(sa.tuple_(S.created_at, S.id) > sa.tuple_(*after))
    return list((await session.execute(stmt)).all())


async def update_subscription(session: AsyncSession, subscription_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(sa.update(subscriptions).where(S.id == subscription_id).values(**values))


async def delete_subscription(session: AsyncSession, subscription_id: uuid.UUID) -> None:
    await session.execute(sa.delete(subscriptions).where(S.id == subscription_id))


async def disable_if_enabled(
    session: AsyncSession, subscription_id: uuid.UUID, *, reason: str, now: datetime
) -> sa.Row[Any] | None:
    """Disable an enabled subscription; returns the row when this call disabled it."""
    return (
        await session.execute(
            sa.update(subscriptions)
            .where(S.id == subscription_id, S.enabled.is_(True))
            .values(enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now)
            .returning(S.id, S.owner_sub, S.district_id)
        )
    ).first()


async def candidate_subscriptions(
    session: AsyncSession, district_id: str | None, community_id: str | None
) -> list[sa.Row[Any]]:
    """Enabled subscriptions whose district/community filter does not exclude an event."""
    return list(
        (
            await session.execute(
                sa.select(S.id, S.event_types, S.district_id, S.community_id).where(
                    S.enabled.is_(True),
                    sa.or_(S.district_id.is_(None), S.district_id == district_id),
                    sa.or_(S.community_id.is_(None), S.community_id == community_id),
                )
            )
        ).all()
    )


# ----------------------------------------------------------------------------------------------------------- events


async def insert_event(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(pg_insert(events).values(**values).on_conflict_do_nothing(index_elements=["id"]))


async def events_since(
    session: AsyncSession,
    since: datetime,
    until: datetime | None,
    district_id: str | None,
    community_id: str | None,
    limit: int,
) -> list[sa.Row[Any]]:
    stmt = (
        sa.select(E.id, E.type, E.district_id, E.community_id)
        .where(E.is_test.is_(False), E.time >= since)
        .order_by(E.time, E.id)
        .limit(limit)
    )
    if until is not None:
        stmt = stmt.where(E.time < until)
    if district_id is not None:
        stmt = stmt.where(E.district_id == district_id)
    if community_id is not None:
        stmt = stmt.where(E.community_id == community_id)
    return list((await session.execute(stmt)).all())


# ------------------------------------------------------------------------------------------------------- deliveries


async def insert_deliveries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Insert new deliveries; a (subscription, event) pair that already has one is left alone."""
    if not rows:
        return 0
    result = await session.execute(
        pg_insert(deliveries)
        .values(list(rows))
        .on_conflict_do_nothing(constraint="uq_deliveries_subscription_id_event_id")
        .returning(D.id)
    )
    return len(result.all())


async def upsert_replay(session: AsyncSession, rows: Sequence[dict[str, Any]], now: datetime) -> int:
    """Replay: create missing deliveries and reschedule terminally failed ones; delivered ones stay delivered."""
    if not rows:
        return 0
    stmt = pg_insert(deliveries).values(list(rows))
    stmt = stmt.on_conflict_do_update(
        constraint="uq_deliveries_subscription_id_event_id",
        set_={
            "status": "pending",
            "next_attempt_at": now,
            "round_failures": 0,
            "lease_expires_at": None,
            "updated_at": now,
        },
        where=D.status == "failed",
    ).returning(D.id)
    return len((await session.execute(stmt)).all())


async def get_delivery(
    session: AsyncSession, delivery_id: uuid.UUID, *, for_update: bool = False
) -> sa.Row[Any] | None:
    stmt = (
        sa.select(deliveries, S.owner_sub, S.district_id.label("subscription_district_id"), S.enabled)
        .join(subscriptions, S.id == D.subscription_id)
        .where(D.id == delivery_id)
    )
    if for_update:
        stmt = stmt.with_for_update(of=deliveries)
    return (await session.execute(stmt)).first()


async def list_deliveries(
    session: AsyncSession,
    access: sa.ColumnElement[bool],
    *,
    status: str | None,
    subscription_id: uuid.UUID | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[sa.Row[Any]]:
    stmt = (
        sa.select(deliveries)
        .join(subscriptions, S.id == D.subscription_id)
        .where(access)
        .order_by(D.created_at.desc(), D.id.desc())
        .limit(limit + 1)
    )
    if status == "failing":
        stmt = stmt.where(D.status == "pending", D.round_failures > 0)
    elif status is not None:
        stmt = stmt.where(D.status == status)
    if subscription_id is not None:
        stmt = stmt.where(D.subscription_id == subscription_id)
    if after is not None:
        stmt = stmt.where(sa.tuple_(D.created_at, D.id) < sa.tuple_(*after))
    return list((await session.execute(stmt)).all())


async def list_attempts(session: AsyncSession, delivery_id: uuid.UUID) -> list[sa.Row[Any]]:
    return list(
        (
            await session.execute(
                sa.select(delivery_attempts).where(A.delivery_id == delivery_id).order_by(A.attempt_no)
            )
        ).all()
    )


async def update_delivery(session: AsyncSession, delivery_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(sa.update(deliveries).where(D.id == delivery_id).values(**values))


async def insert_attempt(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(sa.insert(delivery_attempts).values(**values))


# ------------------------------------------------------------------------------------------------------ dispatching


@dataclass(frozen=True)
class Claimed:
    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    attempt_no: int
    url: str
    secret_encrypted: str
    previous_secret_encrypted: str | None
    previous_secret_expires_at: datetime | None
    payload: dict[str, Any]


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        D.status == "pending",
        D.next_attempt_at <= now,
        sa.or_(D.lease_expires_at.is_(None), D.lease_expires_at <= now),
    )


async def claim_due(session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries, never more per endpoint than its concurrency limit allows.

    Each endpoint's subscription row is locked (``FOR UPDATE SKIP LOCKED``) while its deliveries are leased, so
    replicas claiming at the same time never exceed an endpoint's limit together and never claim the same row.
    """
    if limit <= 0:
        return []
    due_exists = sa.exists().where(D.subscription_id == S.id, _due(now))
    locked = (
        await session.execute(
            sa.select(S.id, S.max_concurrency)
            .where(S.enabled.is_(True), due_exists)
            .limit(max(limit, 20))
            .with_for_update(of=subscriptions, skip_locked=True)
        )
    ).all()
    if not locked:
        return []
    sub_ids = [r.id for r in locked]
    in_flight = dict(
        (
            await session.execute(
                sa.select(D.subscription_id, sa.func.count())
                .where(D.subscription_id.in_(sub_ids), D.status == "pending", D.lease_expires_at > now)
                .group_by(D.subscription_id)
            )
        ).all()
    )
    quota = {r.id: r.max_concurrency - int(in_flight.get(r.id, 0)) for r in locked}
    ranked = (
        sa.select(
            D.id,
            D.subscription_id,
            D.next_attempt_at,
            sa.func.row_number().over(partition_by=D.subscription_id, order_by=(D.next_attempt_at, D.id)).label("rn"),
        )
        .where(D.subscription_id.in_([s for s, q in quota.items() if q > 0]), _due(now))
        .subquery()
    )
    max_quota = max([*quota.values(), 0])
    candidates = (
        await session.execute(
            sa.select(ranked.c.id, ranked.c.subscription_id, ranked.c.rn, ranked.c.next_attempt_at)
            .where(ranked.c.rn <= max_quota)
            .order_by(ranked.c.next_attempt_at)
        )
    ).all()
    chosen = [c.id for c in candidates if c.rn <= quota[c.subscription_id]][:limit]
    if not chosen:
        return []
    await session.execute(
        sa.update(deliveries)
        .where(D.id.in_(chosen))
        .values(lease_expires_at=lease_until, attempts=D.attempts + 1, updated_at=now)
    )
    rows = (
        await session.execute(
            sa.select(
                D.id,
                D.subscription_id,
                D.event_id,
                D.attempts,
                S.url,
                S.secret_encrypted,
                S.previous_secret_encrypted,
                S.previous_secret_expires_at,
                E.payload,
            )
            .join(subscriptions, S.id == D.subscription_id)
            .join(events, E.id == D.event_id)
            .where(D.id.in_(chosen))
        )
    ).all()
    return [
        Claimed(
            delivery_id=r.id,
            subscription_id=r.subscription_id,
            event_id=r.event_id,
            attempt_no=r.attempts,
            url=r.url,
            secret_encrypted=r.secret_encrypted,
            previous_secret_encrypted=r.previous_secret_encrypted,
            previous_secret_expires_at=r.previous_secret_expires_at,
            payload=r.payload,
        )
        for r in rows
    ]


async def next_due_at(session: AsyncSession) -> datetime | None:
    value: datetime | None = await session.scalar(
        sa.select(sa.func.min(D.next_attempt_at))
        .join(subscriptions, S.id == D.subscription_id)
        .where(D.status == "pending", S.enabled.is_(True))
    )
    return value
