"""Routes of the delivery log: parse, authenticate, call one use case, render."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from renovation_common.app import Runtime, get_runtime
from renovation_common.auth import Principal, Role, authorize
from renovation_common.pagination import Page, PageParams, encode_cursor, page_params
from webhooks.entrypoints.api.dependencies import context
from webhooks.entrypoints.api.schemas import AttemptRead, DeliveryRead, DeliveryStatus
from webhooks.service_layer import deliveries as uc
from webhooks.service_layer.context import Context

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


@router.get(
    "",
    operation_id="listDeliveries",
    response_model=Page[DeliveryRead],
    summary="Delivery log, newest first; `status=failed` lists deliveries that gave up, `failing` those retrying",
)
async def list_deliveries(
    principal: Annotated[Principal, authorize(Role.GOV_SYSTEM, Role.DISTRICT_ADMIN)],
    runtime: RuntimeDep,
    page: Annotated[PageParams, Depends(page_params)],
    status: Annotated[DeliveryStatus | None, Query()] = None,
    subscription_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[DeliveryRead]:
    """Deliveries of the caller's subscriptions, filtered by subscription, state and event type, cursor-paginated."""
    found = await uc.list_deliveries(
        runtime.read(),
        principal,
        status=status,
        subscription_id=subscription_id,
        after=page.after_time_and_id(uuid.UUID),
        limit=page.limit,
    )
    items = [DeliveryRead.of(d) for d in found[: page.limit]]
    cursor = encode_cursor([items[-1].created_at.isoformat(), str(items[-1].id)]) if len(found) > page.limit else None
    return Page[DeliveryRead](items=items, next_cursor=cursor)


@router.get("/{delivery_id}", operation_id="getDelivery", summary="Read a delivery", response_model=DeliveryRead)
async def get_delivery(
    delivery_id: uuid.UUID,
    principal: Annotated[Principal, authorize(Role.GOV_SYSTEM, Role.DISTRICT_ADMIN)],
    runtime: RuntimeDep,
) -> DeliveryRead:
    """One delivery: event, state, attempts so far and the next attempt time."""
    return DeliveryRead.of(await uc.get_delivery(runtime.read(), principal, delivery_id))


@router.get(
    "/{delivery_id}/attempts",
    operation_id="listDeliveryAttempts",
    summary="List a delivery's attempts",
    response_model=list[AttemptRead],
)
async def list_attempts(
    delivery_id: uuid.UUID,
    principal: Annotated[Principal, authorize(Role.GOV_SYSTEM, Role.DISTRICT_ADMIN)],
    runtime: RuntimeDep,
) -> list[AttemptRead]:
    """Every attempt of a delivery: time, status code, duration, error (receiver URLs logged without path or query)."""
    return [AttemptRead.of(a) for a in await uc.list_attempts(runtime.read(), principal, delivery_id)]


@router.post(
    "/{delivery_id}/retry",
    operation_id="retryDelivery",
    status_code=202,
    response_model=DeliveryRead,
    summary="Send a pending or failed delivery again now, with a fresh retry schedule",
)
async def retry_delivery(
    delivery_id: uuid.UUID,
    principal: Annotated[Principal, authorize(Role.GOV_SYSTEM, Role.DISTRICT_ADMIN)],
    runtime: RuntimeDep,
    ctx: Annotated[Context, Depends(context)],
) -> DeliveryRead:
    """Schedules a failed or dead delivery to be tried again now."""
    return DeliveryRead.of(await uc.retry_delivery(runtime.uow(), ctx, principal, delivery_id))
