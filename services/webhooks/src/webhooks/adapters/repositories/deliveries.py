"""Deliveries (one per subscription and event), their attempts, and the dispatcher's lease on due ones."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from webhooks.adapters.orm import deliveries, delivery_attempts, events, subscriptions
from webhooks.adapters.repositories.subscriptions import access_clause
from webhooks.domain.model import Attempt, ClaimedDelivery, Delivery
from webhooks.domain.subscriptions import Manager

S = subscriptions.c
D = deliveries.c
E = events.c
A = delivery_attempts.c
ATTEMPT_FIELDS = [f.name for f in dataclasses.fields(Attempt)]
UNIQUE = "uq_deliveries_subscription_id_event_id"


@dataclasses.dataclass(frozen=True)
class Success:
    """A delivery its receiver accepted, with the attempt to log."""

    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    attempt: Attempt


def new_delivery(
    delivery_id: uuid.UUID, subscription_id: uuid.UUID, event_id: uuid.UUID, event_type: str, now: datetime
) -> dict[str, Any]:
    """Values of a delivery due now (insert them with :meth:`DeliveryRepository.add_new` or ``replay``)."""
    return {
        "id": delivery_id,
        "subscription_id": subscription_id,
        "event_id": event_id,
        "event_type": event_type,
        "status": "pending",
        "attempts": 0,
        "round_failures": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def _with_subscription() -> sa.Select[Any]:
    return sa.select(
        deliveries,
        S.owner_sub,
        S.district_id.label("subscription_district_id"),
        S.enabled.label("subscription_enabled"),
    ).join(subscriptions, S.id == D.subscription_id)


# Each endpoint's free slots (its limit less its leased deliveries), filled with its oldest due deliveries, the
# oldest of all first, up to :limit; leased and returned with what sending them needs.
LEASE = (
    sa.text(
        """
WITH endpoint AS (
    SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:limits AS integer[])) AS e(id, max_concurrency)
), free AS (
    SELECT e.id, e.max_concurrency - (
        SELECT count(*) FROM deliveries b
        WHERE b.subscription_id = e.id AND b.status = 'pending' AND b.lease_expires_at > CAST(:now AS timestamptz)
    ) AS slots
    FROM endpoint e
), chosen AS (
    SELECT c.id FROM free f
    CROSS JOIN LATERAL (
        SELECT d.id, d.next_attempt_at FROM deliveries d
        WHERE d.subscription_id = f.id AND d.status = 'pending' AND d.next_attempt_at <= CAST(:now AS timestamptz)
          AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= CAST(:now AS timestamptz))
        ORDER BY d.next_attempt_at, d.id
        LIMIT greatest(f.slots, 0)
    ) c
    ORDER BY c.next_attempt_at, c.id
    LIMIT CAST(:limit AS integer)
)
UPDATE deliveries d
SET lease_expires_at = CAST(:lease_until AS timestamptz), attempts = d.attempts + 1,
    updated_at = CAST(:now AS timestamptz)
FROM chosen, subscriptions s, events e
WHERE d.id = chosen.id AND s.id = d.subscription_id AND e.id = d.event_id
RETURNING d.id, d.subscription_id, d.event_id, d.attempts, s.url, s.secret_encrypted, s.previous_secret_encrypted,
    s.previous_secret_expires_at, e.payload
"""
    )
    .bindparams(
        sa.bindparam("ids", type_=ARRAY(PG_UUID(as_uuid=True))),
        sa.bindparam("limits", type_=ARRAY(sa.Integer)),
        sa.bindparam("now", type_=sa.DateTime(timezone=True)),
        sa.bindparam("lease_until", type_=sa.DateTime(timezone=True)),
        sa.bindparam("limit", type_=sa.Integer),
    )
    .columns(
        id=PG_UUID(as_uuid=True),
        subscription_id=PG_UUID(as_uuid=True),
        event_id=PG_UUID(as_uuid=True),
        attempts=sa.Integer,
        url=sa.String,
        secret_encrypted=sa.Text,
        previous_secret_encrypted=sa.Text,
        previous_secret_expires_at=sa.DateTime(timezone=True),
        payload=JSONB,
    )
)


def _values(attempt: Attempt) -> dict[str, Any]:
    """The attempt's fields (``dataclasses.asdict`` would deep-copy every value)."""
    return {name: getattr(attempt, name) for name in ATTEMPT_FIELDS}


def _delivery(row: Any) -> Delivery:
    return Delivery(**{f.name: getattr(row, f.name) for f in dataclasses.fields(Delivery)})


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        D.status == "pending",
        D.next_attempt_at <= now,
        sa.or_(D.lease_expires_at.is_(None), D.lease_expires_at <= now),
    )


class DeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_new(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert new deliveries; a (subscription, event) pair that already has one is left alone. Returns how many
        were inserted."""
        if not rows:
            return 0
        result = await self.session.execute(  # one multi-row INSERT of a cached statement
            pg_insert(deliveries).on_conflict_do_nothing(constraint=UNIQUE).returning(D.id), list(rows)
        )
        return len(result.all())

    async def replay(self, rows: Sequence[dict[str, Any]], now: datetime) -> int:
        """Create missing deliveries and reschedule terminally failed ones; delivered ones stay delivered."""
        if not rows:
            return 0
        stmt = (
            pg_insert(deliveries)
            .values(list(rows))
            .on_conflict_do_update(
                constraint=UNIQUE,
                set_={
                    "status": "pending",
                    "next_attempt_at": now,
                    "round_failures": 0,
                    "lease_expires_at": None,
                    "updated_at": now,
                },
                where=D.status == "failed",
            )
            .returning(D.id)
        )
        return len((await self.session.execute(stmt)).all())

    async def get(self, delivery_id: uuid.UUID, *, for_update: bool = False) -> Delivery | None:
        stmt = _with_subscription().where(D.id == delivery_id)
        if for_update:
            stmt = stmt.with_for_update(of=deliveries)
        row = (await self.session.execute(stmt)).first()
        return None if row is None else _delivery(row)

    async def list(
        self,
        manager: Manager,
        *,
        status: str | None,
        subscription_id: uuid.UUID | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[Delivery]:
        """Up to ``limit + 1`` deliveries the caller may see, newest first. ``failing``: pending after failures."""
        stmt = _with_subscription().where(access_clause(manager)).order_by(D.created_at.desc(), D.id.desc())
        stmt = stmt.limit(limit + 1)
        if status == "failing":
            stmt = stmt.where(D.status == "pending", D.round_failures > 0)
        elif status is not None:
            stmt = stmt.where(D.status == status)
        if subscription_id is not None:
            stmt = stmt.where(D.subscription_id == subscription_id)
        if after is not None:
            stmt = stmt.where(sa.tuple_(D.created_at, D.id) < sa.tuple_(*after))
        return [_delivery(r) for r in (await self.session.execute(stmt)).all()]

    async def update(self, delivery_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(sa.update(deliveries).where(D.id == delivery_id).values(**values))

    async def attempts(self, delivery_id: uuid.UUID) -> list[Attempt]:
        rows = await self.session.execute(
            sa.select(*(A[name] for name in ATTEMPT_FIELDS)).where(A.delivery_id == delivery_id).order_by(A.attempt_no)
        )
        return [Attempt(**r._asdict()) for r in rows]

    async def add_attempt(self, delivery_id: uuid.UUID, attempt: Attempt) -> None:
        await self.session.execute(
            sa.insert(delivery_attempts).values(delivery_id=delivery_id, **dataclasses.asdict(attempt))
        )

    async def record_successes(
        self, successes: Sequence[Success], *, now: datetime, lease_until: datetime, lease_limit: int
    ) -> tuple[set[uuid.UUID], list[ClaimedDelivery]]:
        """Mark deliveries delivered and log their attempts, clear their endpoints' failure streaks, and lease the
        next due deliveries of those endpoints into the slots just freed — a handful of statements whatever the
        number. Returns the deliveries recorded (one deleted meanwhile, with its subscription, is not) and the ones
        leased (up to ``lease_limit``).

        The endpoints' rows are locked first (in id order: the claim's lock order), so the endpoint's limit holds
        across replicas exactly as in :meth:`claim_due`."""
        if not successes:
            return set(), []
        locked = (
            await self.session.execute(
                sa.select(S.id, S.max_concurrency, S.enabled, S.failing_since)
                .where(S.id.in_(sorted({s.subscription_id for s in successes})))
                .order_by(S.id)
                .with_for_update(of=subscriptions)
            )
        ).all()
        streaks = [r.id for r in locked if r.failing_since is not None]
        if streaks:
            await self.session.execute(sa.update(subscriptions).where(S.id.in_(streaks)).values(failing_since=None))
        by_id = {s.delivery_id: s for s in successes}
        codes = {s.delivery_id: s.attempt.status_code for s in successes}
        times = {s.delivery_id: s.attempt.attempted_at for s in successes}
        recorded = set(
            (
                await self.session.execute(
                    sa.update(deliveries)
                    .where(D.id.in_(sorted(by_id)))
                    .values(
                        status="succeeded",
                        delivered_at=sa.case(times, value=D.id),
                        lease_expires_at=None,
                        last_status_code=sa.case(codes, value=D.id),
                        last_error=None,
                        updated_at=sa.case(times, value=D.id),
                    )
                    .returning(D.id)
                )
            ).scalars()
        )
        if recorded:
            await self.session.execute(
                sa.insert(delivery_attempts),
                [{"delivery_id": d, **_values(by_id[d].attempt)} for d in sorted(recorded)],
            )
        leased = await self._lease(
            [r for r in locked if r.enabled], now=now, lease_until=lease_until, limit=lease_limit
        )
        return recorded, leased

    async def claim_due(self, *, now: datetime, lease_until: datetime, limit: int) -> list[ClaimedDelivery]:
        """Lease up to ``limit`` due deliveries, never more per endpoint than its concurrency limit allows.

        Each endpoint's subscription row is locked (``FOR UPDATE SKIP LOCKED``) while its deliveries are leased, so
        replicas claiming at the same time never exceed an endpoint's limit together and never claim the same row.
        """
        if limit <= 0:
            return []
        session = self.session
        due_exists = sa.exists().where(D.subscription_id == S.id, _due(now))
        locked = (
            await session.execute(
                sa.select(S.id, S.max_concurrency)
                .where(S.enabled.is_(True), due_exists)
                .limit(max(limit, 20))
                .with_for_update(of=subscriptions, skip_locked=True)
            )
        ).all()
        return await self._lease(locked, now=now, lease_until=lease_until, limit=limit)

    async def _lease(
        self, locked: Sequence[Any], *, now: datetime, lease_until: datetime, limit: int
    ) -> list[ClaimedDelivery]:
        """Lease due deliveries of endpoints whose rows this transaction has locked (``locked``: their ids and
        concurrency limits), up to each endpoint's free slots and ``limit`` in all — one statement, which reads only
        each endpoint's leased rows and its oldest due ones (partial indexes of migration 0005), never its backlog."""
        if not locked or limit <= 0:
            return []
        rows = (
            await self.session.execute(
                LEASE,
                {
                    "ids": [r.id for r in locked],
                    "limits": [int(r.max_concurrency) for r in locked],
                    "now": now,
                    "lease_until": lease_until,
                    "limit": limit,
                },
            )
        ).all()
        return [
            ClaimedDelivery(
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
