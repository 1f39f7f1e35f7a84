"""Routes of subscriptions: parse, authenticate, call one use case, render."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import Principal, Role, authorize
from renovation_common.pagination import Page, PageParams, encode_cursor, page_params
from webhooks.entrypoints.api.dependencies import context
from webhooks.entrypoints.api.schemas import (
    DeliveryRead,
    ReplayRead,
    ReplayRequest,
    RotateSecret,
    SubscriptionCreate,
    SubscriptionRead,
    SubscriptionUpdate,
    SubscriptionWithSecret,
)
from webhooks.service_layer import subscriptions as uc
from webhooks.service_layer.context import Context

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ContextDep = Annotated[Context, Depends(context)]


@router.post(
    "",
    operation_id="createSubscription",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionWithSecret,
    summary="Subscribe an endpoint to events; the signing secret is returned only here",
)
async def create_subscription(
    body: SubscriptionCreate,
    principal: Annotated[Principal, authorize(Role.GOV_SYSTEM, Role.DISTRICT_ADMIN)],
    runtime: RuntimeDep,
    ctx: ContextDep,
) -> SubscriptionWithSecret:
    """Registers an HTTPS endpoint of a government system for event types (patterns) within the caller's district or
    one of its communities; the signing secret is shown only in this response (Standard Webhooks signatures).
    """
    subscription, secret = await uc.create_subscription(
        runtime.uow(),
        ctx,
        principal,
        uc.CreateSubscription(
            url=body.url,
            event_types=body.event_types,
            district_id=body.district_id,
            community_id=body.community_id,
            description=body.description,
            max_concurrency=body.max_concurrency,
        ),
    )
    return SubscriptionWithSecret.of(subscription, secret)


@router.get("", operation_id="listSubscriptions", summary="List subscriptions", response_model=Page[SubscriptionRead])
async def list_subscriptions(
    page: Annotated[PageParams, Depends(page_params)],
    principal: Annotated[Principal, authorize(Role.GOV_SYSTEM, Role.DISTRICT_ADMIN)],
    runtime: RuntimeDep,
) -> Page[SubscriptionRead]:
    """Subscriptions within the caller's scope, cursor-paginated."""
    found = await uc.list_subscriptions(runtime.read(), principal, page.after_time_and_id(uuid.UUID), page.limit)
    items = [SubscriptionRead.of(s) for s in found[: page.limit]]
    cursor = encode_cursor([items[-1].created_at.isoformat(), str(items[-1].id)]) if len(found) > page.limit else None
    return Page[SubscriptionRead](items=items, next_cursor=cursor)


@router.get(
    "/{subscription_id}", operation_id="getSubscription", summary="Read a subscription", response_model=SubscriptionRead
)
async def get_subscription(
    subscription_id: uuid.UUID,
    principal: Annotated[Principal, authorize(Role.GOV_SYSTEM, Role.DISTRICT_ADMIN)],
    runtime: RuntimeDep,
) -> SubscriptionRead:
    """A subscription's endpoint, filters, state and limits (never its secret)."""
    return SubscriptionRead.of(await uc.get_subscription(runtime.read(), principal, subscription_id))


@router.patch(
    "/{subscription_id}",
    operation_id="updateSubscription",
    response_model=SubscriptionRead,
    summary="Change URL, event types, community filter, description, concurrency; enable or disable",
)
async def update_subscription(
    subscription_id: uuid.UUID,
    body: SubscriptionUpdate,
    principal: Annotated[Principal, authorize(Role.GOV_SYSTEM, Role.DISTRICT_ADMIN)],
    runtime: RuntimeDep,
    ctx: ContextDep,
) -> SubscriptionRead:
    """Changes an endpoint's URL, event types, concurrency or state; a re-enabled endpoint resumes from where it
    stopped.
    """
    changes = body.model_dump(exclude_unset=True)
    for key in ("url", "event_types", "description", "enabled", "max_concurrency"):
        if key in changes and changes[key] is None:
            del changes[key]  # null means "leave as is" except for the community filter
    subscription = await uc.update_subscription(
        runtime.uow(), ctx, principal, subscription_id, uc.UpdateSubscription(changes)
    )
    return SubscriptionRead.of(subscription)


@router.delete(
    "/{subscription_id}",
    operation_id="deleteSubscription",
    summary="Delete a subscription",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def delete_subscription(
    subscription_id: uuid.UUID,
    principal: Annotated[Principal, authorize(Role.GOV_SYSTEM, Role.DISTRICT_ADMIN)],
    runtime: RuntimeDep,
) -> Response:
    """Stops deliveries to the endpoint and removes the subscription; its delivery log is kept."""
    await uc.delete_subscription(runtime.uow(), principal, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{subscription_id}/rotate-secret",
    operation_id="rotateSubscriptionSecret",
    response_model=SubscriptionWithSecret,
    summary="New secret (shown once); the old one keeps signing alongside it for the grace period",
)
async def rotate_secret(
    subscription_id: uuid.UUID,
    principal: Annotated[Principal, authorize(Role.GOV_SYSTEM, Role.DISTRICT_ADMIN)],
    runtime: RuntimeDep,
    ctx: ContextDep,
    body: RotateSecret | None = None,
) -> SubscriptionWithSecret:
    """Issues a new signing secret (shown once); the old one keeps signing alongside it for the overlap window."""
    subscription, secret = await uc.rotate_secret(
        runtime.uow(), ctx, principal, subscription_id, body.grace_period_s if body else None
    )
    return SubscriptionWithSecret.of(subscription, secret)


@router.post(
    "/{subscription_id}/test",
    operation_id="sendTestPing",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryRead,
    summary="Queue a signed ping (webhooks.endpoint.ping.v1); follow it in its delivery's attempts",
)
async def send_test(
    subscription_id: uuid.UUID,
    principal: Annotated[Principal, authorize(Role.GOV_SYSTEM, Role.DISTRICT_ADMIN)],
    runtime: RuntimeDep,
    ctx: ContextDep,
) -> DeliveryRead:
    """Queues a signed ping event to the endpoint so an integrator can check verification."""
    return DeliveryRead.of(await uc.send_test(runtime.uow(), ctx, principal, subscription_id))


@router.post(
    "/{subscription_id}/replay",
    operation_id="replaySubscription",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReplayRead,
    summary="Deliver again every kept event since a time that the endpoint has not received",
)
async def replay(
    subscription_id: uuid.UUID,
    body: ReplayRequest,
    principal: Annotated[Principal, authorize(Role.GOV_SYSTEM, Role.DISTRICT_ADMIN)],
    runtime: RuntimeDep,
    ctx: ContextDep,
) -> ReplayRead:
    """Queues again the events of a time range to the endpoint (bounded by `replay_max_events`), each under its
    original event id.
    """
    result = await uc.replay(runtime.uow(), ctx, principal, subscription_id, body.since, body.until)
    return ReplayRead(matched_events=result.matched_events, scheduled=result.scheduled, truncated=result.truncated)
