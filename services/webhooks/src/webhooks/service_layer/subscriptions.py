"""Use cases on subscriptions: create, read, change, delete, rotate the secret, ping, replay."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from renovation_common.contracts.webhooks import EndpointDisabled
from renovation_common.db import UnitOfWork
from renovation_common.errors import BadRequest, Forbidden, InvalidState, NotFound
from renovation_common.events import CloudEvent, new_event
from webhooks.adapters import repository as repo
from webhooks.adapters.http import check_target
from webhooks.domain.patterns import InvalidPattern, normalise_patterns
from webhooks.domain.signing import SECRET_BYTES, format_secret
from webhooks.domain.subscriptions import (
    AccessDenied,
    EventFilter,
    Manager,
    can_manage,
    district_for_new_subscription,
    rotation_grace,
)
from webhooks.domain.targets import TargetRefused
from webhooks.service_layer.context import Context

EVENT_SOURCE = "/renovation/webhooks"
PING_TYPE = "webhooks.endpoint.ping.v1"


@dataclass(frozen=True)
class CreateSubscription:
    url: str
    event_types: list[str]
    district_id: str | None = None
    community_id: str | None = None
    description: str = ""
    max_concurrency: int | None = None


@dataclass(frozen=True)
class UpdateSubscription:
    changes: dict[str, Any]  # url, event_types, community_id, description, enabled, max_concurrency


def _patterns(event_types: list[str]) -> list[str]:
    try:
        return normalise_patterns(event_types)
    except InvalidPattern as exc:
        raise BadRequest(str(exc), code="invalid_event_type_pattern") from None


async def _check_url(ctx: Context, url: str) -> None:
    try:
        await check_target(url, ctx.policy, ctx.resolver)
    except TargetRefused as exc:
        raise BadRequest(str(exc), code=exc.code) from None


async def load_managed(
    uow: UnitOfWork, manager: Manager, subscription_id: uuid.UUID, *, for_update: bool = False
) -> Any:
    row = await repo.get_subscription(uow.session, subscription_id, for_update=for_update)
    if row is None or not can_manage(manager, owner_sub=row.owner_sub, district_id=row.district_id):
        # Someone else's subscription is indistinguishable from a missing one.
        raise NotFound("subscription not found", code="subscription_not_found")
    return row


async def create_subscription(
    uow: UnitOfWork, ctx: Context, manager: Manager, cmd: CreateSubscription
) -> tuple[Any, str]:
    try:
        district_id = district_for_new_subscription(manager, cmd.district_id)
    except AccessDenied as exc:
        raise Forbidden(str(exc), code=exc.code) from None
    patterns = _patterns(cmd.event_types)
    await _check_url(ctx, cmd.url)
    secret = format_secret(ctx.random_bytes(SECRET_BYTES))
    now = ctx.clock()
    subscription_id = uuid.uuid4()
    async with uow:
        await repo.insert_subscription(
            uow.session,
            {
                "id": subscription_id,
                "owner_sub": manager.sub,
                "owner_role": manager.role,
                "url": cmd.url,
                "event_types": patterns,
                "district_id": district_id,
                "community_id": cmd.community_id,
                "description": cmd.description,
                "enabled": True,
                "secret_encrypted": ctx.box.seal(secret),
                "max_concurrency": cmd.max_concurrency or ctx.default_concurrency,
                "created_at": now,
                "updated_at": now,
            },
        )
        row = await repo.get_subscription(uow.session, subscription_id)
        await uow.commit()
    return row, secret


async def get_subscription(uow: UnitOfWork, manager: Manager, subscription_id: uuid.UUID) -> Any:
    async with uow:
        return await load_managed(uow, manager, subscription_id)


async def list_subscriptions(
    uow: UnitOfWork, manager: Manager, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Any]:
    async with uow:
        return await repo.list_subscriptions(
            uow.session, repo.access_clause(manager.role, manager.sub, manager.district_id), after, limit
        )


def disabled_event(row: Any, reason: str, now: datetime) -> CloudEvent:
    return new_event(
        EndpointDisabled(
            subscription_id=str(row.id),
            owner_sub=row.owner_sub,
            district_id=row.district_id,
            reason=reason,
            disabled_at=now,
        ),
        source=EVENT_SOURCE,
        subject=str(row.id),
        time=now,
    )


async def update_subscription(
    uow: UnitOfWork, ctx: Context, manager: Manager, subscription_id: uuid.UUID, cmd: UpdateSubscription
) -> Any:
    changes = dict(cmd.changes)
    if "event_types" in changes:
        changes["event_types"] = _patterns(changes["event_types"])
    if "url" in changes:
        await _check_url(ctx, changes["url"])
    now = ctx.clock()
    async with uow:
        row = await load_managed(uow, manager, subscription_id, for_update=True)
        values: dict[str, Any] = {k: v for k, v in changes.items() if k != "enabled"}
        enabled = changes.get("enabled")
        if enabled is True and not row.enabled:
            values.update(enabled=True, disabled_at=None, disabled_reason=None, failing_since=None)
        elif enabled is False and row.enabled:
            values.update(enabled=False, disabled_at=now, disabled_reason="manual")
            uow.publish(disabled_event(row, "manual", now))
        values["updated_at"] = now
        await repo.update_subscription(uow.session, subscription_id, values)
        updated = await repo.get_subscription(uow.session, subscription_id)
        await uow.commit()
    return updated


async def delete_subscription(uow: UnitOfWork, manager: Manager, subscription_id: uuid.UUID) -> None:
    async with uow:
        await load_managed(uow, manager, subscription_id, for_update=True)
        await repo.delete_subscription(uow.session, subscription_id)
        await uow.commit()


async def rotate_secret(
    uow: UnitOfWork, ctx: Context, manager: Manager, subscription_id: uuid.UUID, grace_s: int | None
) -> tuple[Any, str]:
    try:
        grace = rotation_grace(grace_s)
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_grace_period") from None
    secret = format_secret(ctx.random_bytes(SECRET_BYTES))
    now = ctx.clock()
    async with uow:
        row = await load_managed(uow, manager, subscription_id, for_update=True)
        await repo.update_subscription(
            uow.session,
            subscription_id,
            {
                "secret_encrypted": ctx.box.seal(secret),
                "previous_secret_encrypted": row.secret_encrypted if grace.total_seconds() > 0 else None,
                "previous_secret_expires_at": now + grace if grace.total_seconds() > 0 else None,
                "updated_at": now,
            },
        )
        updated = await repo.get_subscription(uow.session, subscription_id)
        await uow.commit()
    return updated, secret


async def send_test(uow: UnitOfWork, ctx: Context, manager: Manager, subscription_id: uuid.UUID) -> Any:
    """Queue a ping (a CloudEvent of type ``webhooks.endpoint.ping.v1``) to the endpoint, signed like any event."""
    now = ctx.clock()
    event_id = uuid.uuid4()
    delivery_id = uuid.uuid4()
    async with uow:
        row = await load_managed(uow, manager, subscription_id)
        if not row.enabled:
            raise InvalidState("the subscription is disabled", code="subscription_disabled")
        payload = CloudEvent(
            id=str(event_id),
            source=EVENT_SOURCE,
            type=PING_TYPE,
            time=now,
            subject=str(subscription_id),
            data={"subscription_id": str(subscription_id), "message": "ping"},
        ).model_dump(mode="json", exclude_none=True)
        await repo.insert_event(
            uow.session,
            {
                "id": event_id,
                "type": PING_TYPE,
                "source": EVENT_SOURCE,
                "time": now,
                "district_id": row.district_id,
                "community_id": None,
                "payload": payload,
                "is_test": True,
                "received_at": now,
            },
        )
        await repo.insert_deliveries(
            uow.session,
            [_delivery_row(delivery_id, subscription_id, event_id, PING_TYPE, now)],
        )
        delivery = await repo.get_delivery(uow.session, delivery_id)
        await uow.commit()
    return delivery


def _delivery_row(
    delivery_id: uuid.UUID, subscription_id: uuid.UUID, event_id: uuid.UUID, event_type: str, now: datetime
) -> dict[str, Any]:
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


@dataclass(frozen=True)
class ReplayResult:
    matched_events: int
    scheduled: int
    truncated: bool


async def replay(
    uow: UnitOfWork,
    ctx: Context,
    manager: Manager,
    subscription_id: uuid.UUID,
    since: datetime,
    until: datetime | None,
) -> ReplayResult:
    """Schedule every kept event since ``since`` that matches: missing deliveries are created, failed ones retried.

    Events the endpoint already received are not sent again (the receiver sees each ``webhook-id`` once).
    """
    now = ctx.clock()
    if until is not None and until <= since:
        raise BadRequest("until must be after since", code="invalid_time_range")
    async with uow:
        row = await load_managed(uow, manager, subscription_id)
        if not row.enabled:
            raise InvalidState("enable the subscription before replaying", code="subscription_disabled")
        flt = EventFilter(row.event_types, row.district_id, row.community_id)
        found = await repo.events_since(
            uow.session, since, until, row.district_id, row.community_id, ctx.replay_max_events + 1
        )
        truncated = len(found) > ctx.replay_max_events
        found = found[: ctx.replay_max_events]
        rows = [
            _delivery_row(uuid.uuid4(), subscription_id, e.id, e.type, now)
            for e in found
            if flt.accepts(e.type, {"district_id": e.district_id, "community_id": e.community_id})
        ]
        scheduled = 0
        for start in range(0, len(rows), 1000):
            scheduled += await repo.upsert_replay(uow.session, rows[start : start + 1000], now)
        await uow.commit()
    return ReplayResult(matched_events=len(rows), scheduled=scheduled, truncated=truncated)
