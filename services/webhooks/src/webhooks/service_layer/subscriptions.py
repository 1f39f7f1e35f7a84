"""Use cases on subscriptions: create, read, change, delete, rotate the secret, ping, replay.

Scope: a subscription's district filter is bounded by the caller's district (``domain.subscriptions``); a community
filter must be a community the service knows (read model of ``survey.community.registered.v1``) lying in the
caller's district and in the subscription's district filter — decided from that record, never from the body.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from renovation_common.auth import Principal
from renovation_common.contracts.webhooks import EndpointDisabled
from renovation_common.db import ReadOnlyUnitOfWork, UnitOfWork
from renovation_common.errors import BadRequest, InvalidState
from renovation_common.events import CloudEvent, new_event
from webhooks.adapters.repositories import (
    CommunityRepository,
    DeliveryRepository,
    EventRepository,
    SubscriptionRepository,
)
from webhooks.adapters.repositories.deliveries import new_delivery
from webhooks.domain.model import Delivery, Subscription
from webhooks.domain.patterns import InvalidPattern, normalise_patterns
from webhooks.domain.signing import SECRET_BYTES, format_secret
from webhooks.domain.subscriptions import (
    AccessDenied,
    InconsistentFilter,
    Manager,
    check_community_filter,
    district_for_new_subscription,
    rotation_grace,
)
from webhooks.domain.targets import TargetRefused
from webhooks.service_layer.access import forbidden, managed_subscription, manager_of
from webhooks.service_layer.context import Context

EVENT_SOURCE = "/renovation/webhooks"
PING_TYPE = "webhooks.endpoint.ping.v1"
REPLAY_CHUNK = 1000


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
    changes: dict[str, Any]  # url, event_types, community_id (None clears it), description, enabled, max_concurrency


@dataclass(frozen=True)
class ReplayResult:
    matched_events: int
    scheduled: int
    truncated: bool


def _patterns(event_types: list[str]) -> list[str]:
    try:
        return normalise_patterns(event_types)
    except InvalidPattern as exc:
        raise BadRequest(str(exc), code="invalid_event_type_pattern") from None


async def _check_url(ctx: Context, url: str) -> None:
    try:
        await ctx.check_target(url)
    except TargetRefused as exc:
        raise BadRequest(str(exc), code=exc.code) from None


async def _check_community(
    uow: UnitOfWork, manager: Manager, subscription_district: str | None, community_id: str
) -> None:
    """The community filter against the service's record of the community (never the caller's word for it)."""
    community = await CommunityRepository(uow.session).get(community_id)
    if community is None:
        raise BadRequest(
            "this community is not known (yet) to the webhooks service; it learns communities from the survey "
            "service's registrations",
            code="unknown_community",
        )
    try:
        check_community_filter(manager, subscription_district, community.district_id)
    except AccessDenied as exc:
        raise forbidden(exc) from None
    except InconsistentFilter as exc:
        raise BadRequest(str(exc), code=exc.code) from None


async def create_subscription(
    uow: UnitOfWork, ctx: Context, principal: Principal, cmd: CreateSubscription
) -> tuple[Subscription, str]:
    """Returns the subscription and its signing secret (shown to the caller this once)."""
    manager = manager_of(principal)
    try:
        district_id = district_for_new_subscription(manager, cmd.district_id)
    except AccessDenied as exc:
        raise forbidden(exc) from None
    patterns = _patterns(cmd.event_types)
    await _check_url(ctx, cmd.url)  # resolves the host: before the transaction, not inside it
    secret = format_secret(ctx.random_bytes(SECRET_BYTES))
    now = ctx.clock()
    subscription = Subscription(
        id=uuid.uuid4(),
        owner_sub=manager.sub,
        owner_role=manager.role,
        url=cmd.url,
        event_types=tuple(patterns),
        district_id=district_id,
        community_id=cmd.community_id,
        description=cmd.description,
        enabled=True,
        disabled_reason=None,
        disabled_at=None,
        max_concurrency=cmd.max_concurrency or ctx.default_concurrency,
        failing_since=None,
        previous_secret_expires_at=None,
        created_at=now,
        updated_at=now,
        secret_encrypted=ctx.box.seal(secret),
        secret_key_id=ctx.box.key_id,
        previous_secret_encrypted=None,
        previous_secret_key_id=None,
    )
    async with uow:
        if cmd.community_id is not None:
            await _check_community(uow, manager, district_id, cmd.community_id)
        await SubscriptionRepository(uow.session).add(subscription)
        await uow.commit()
    return subscription, secret


async def get_subscription(
    reader: ReadOnlyUnitOfWork, principal: Principal, subscription_id: uuid.UUID
) -> Subscription:
    async with reader:
        return await managed_subscription(
            SubscriptionRepository(reader.session), manager_of(principal), subscription_id
        )


async def list_subscriptions(
    reader: ReadOnlyUnitOfWork, principal: Principal, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Subscription]:
    """Up to ``limit + 1`` (the extra one says there is a next page)."""
    async with reader:
        return await SubscriptionRepository(reader.session).list(manager_of(principal), after, limit)


def disabled_event(subscription: Subscription, reason: str, now: datetime) -> CloudEvent:
    return new_event(
        EndpointDisabled(
            subscription_id=str(subscription.id),
            owner_sub=subscription.owner_sub,
            district_id=subscription.district_id,
            reason=reason,
            disabled_at=now,
        ),
        source=EVENT_SOURCE,
        subject=str(subscription.id),
        time=now,
    )


async def update_subscription(
    uow: UnitOfWork, ctx: Context, principal: Principal, subscription_id: uuid.UUID, cmd: UpdateSubscription
) -> Subscription:
    manager = manager_of(principal)
    changes = dict(cmd.changes)
    if "event_types" in changes:
        changes["event_types"] = _patterns(changes["event_types"])
    if "url" in changes:
        await _check_url(ctx, changes["url"])
    now = ctx.clock()
    async with uow:
        repo = SubscriptionRepository(uow.session)
        subscription = await managed_subscription(repo, manager, subscription_id, for_update=True)
        if changes.get("community_id") is not None:
            await _check_community(uow, manager, subscription.district_id, changes["community_id"])
        values: dict[str, Any] = {k: v for k, v in changes.items() if k != "enabled"}
        enabled = changes.get("enabled")
        if enabled is True and not subscription.enabled:
            values.update(enabled=True, disabled_at=None, disabled_reason=None, failing_since=None)
        elif enabled is False and subscription.enabled:
            values.update(enabled=False, disabled_at=now, disabled_reason="manual")
            uow.publish(disabled_event(subscription, "manual", now))
        values["updated_at"] = now
        await repo.update(subscription_id, **values)
        updated = await repo.get(subscription_id)
        await uow.commit()
    ctx.deliveries_due()  # an enabled endpoint may have deliveries waiting
    assert updated is not None
    return updated


async def delete_subscription(uow: UnitOfWork, principal: Principal, subscription_id: uuid.UUID) -> None:
    """Delete a subscription with its deliveries and their attempts."""
    async with uow:
        repo = SubscriptionRepository(uow.session)
        await managed_subscription(repo, manager_of(principal), subscription_id, for_update=True)
        await repo.delete(subscription_id)
        await uow.commit()


async def rotate_secret(
    uow: UnitOfWork, ctx: Context, principal: Principal, subscription_id: uuid.UUID, grace_s: int | None
) -> tuple[Subscription, str]:
    """A new secret (returned this once); the old one keeps signing alongside it for the grace period."""
    try:
        grace = rotation_grace(grace_s)
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_grace_period") from None
    secret = format_secret(ctx.random_bytes(SECRET_BYTES))
    now = ctx.clock()
    keep_previous = grace.total_seconds() > 0
    async with uow:
        repo = SubscriptionRepository(uow.session)
        subscription = await managed_subscription(repo, manager_of(principal), subscription_id, for_update=True)
        await repo.update(
            subscription_id,
            secret_encrypted=ctx.box.seal(secret),
            secret_key_id=ctx.box.key_id,
            previous_secret_encrypted=subscription.secret_encrypted if keep_previous else None,
            previous_secret_key_id=subscription.secret_key_id if keep_previous else None,
            previous_secret_expires_at=now + grace if keep_previous else None,
            updated_at=now,
        )
        updated = await repo.get(subscription_id)
        await uow.commit()
    assert updated is not None
    return updated, secret


async def send_test(uow: UnitOfWork, ctx: Context, principal: Principal, subscription_id: uuid.UUID) -> Delivery:
    """Queue a ping (a CloudEvent of type ``webhooks.endpoint.ping.v1``) to the endpoint, signed like any event."""
    now = ctx.clock()
    event_id = uuid.uuid4()
    delivery_id = uuid.uuid4()
    async with uow:
        subscription = await managed_subscription(
            SubscriptionRepository(uow.session), manager_of(principal), subscription_id
        )
        if not subscription.enabled:
            raise InvalidState("the subscription is disabled", code="subscription_disabled")
        payload = CloudEvent(
            id=str(event_id),
            source=EVENT_SOURCE,
            type=PING_TYPE,
            time=now,
            subject=str(subscription_id),
            data={"subscription_id": str(subscription_id), "message": "ping"},
        ).model_dump(mode="json", exclude_none=True)
        await EventRepository(uow.session).add(
            event_id=event_id,
            type=PING_TYPE,
            source=EVENT_SOURCE,
            time=now,
            district_id=subscription.district_id,
            community_id=None,
            payload=payload,
            is_test=True,
            received_at=now,
        )
        deliveries = DeliveryRepository(uow.session)
        await deliveries.add_new([new_delivery(delivery_id, subscription_id, event_id, PING_TYPE, now)])
        delivery = await deliveries.get(delivery_id)
        await uow.commit()
    ctx.deliveries_due()
    assert delivery is not None
    return delivery


async def replay(
    uow: UnitOfWork,
    ctx: Context,
    principal: Principal,
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
        subscription = await managed_subscription(
            SubscriptionRepository(uow.session), manager_of(principal), subscription_id
        )
        if not subscription.enabled:
            raise InvalidState("enable the subscription before replaying", code="subscription_disabled")
        flt = subscription.event_filter
        found = await EventRepository(uow.session).since(
            since, until, subscription.district_id, subscription.community_id, ctx.replay_max_events + 1
        )
        truncated = len(found) > ctx.replay_max_events
        rows = [
            new_delivery(uuid.uuid4(), subscription_id, e.id, e.type, now)
            for e in found[: ctx.replay_max_events]
            if flt.accepts(e.type, {"district_id": e.district_id, "community_id": e.community_id})
        ]
        deliveries = DeliveryRepository(uow.session)
        scheduled = 0
        for start in range(0, len(rows), REPLAY_CHUNK):
            scheduled += await deliveries.replay(rows[start : start + REPLAY_CHUNK], now)
        await uow.commit()
    ctx.deliveries_due()
    return ReplayResult(matched_events=len(rows), scheduled=scheduled, truncated=truncated)
