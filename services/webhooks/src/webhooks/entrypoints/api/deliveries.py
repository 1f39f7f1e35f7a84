from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query

from renovation_common.app import Runtime, get_runtime
from renovation_common.pagination import Page, PageParams, encode_cursor, page_params
from webhooks.domain.subscriptions import Manager
from webhooks.entrypoints.api.dependencies import context, current_manager, wake_dispatcher
from webhooks.entrypoints.api.schemas import AttemptRead, DeliveryRead, DeliveryStatus
from webhooks.service_layer import deliveries as uc
from webhooks.service_layer.context import Context

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])


@router.get(
    "",
    operation_id="listDeliveries",
    response_model=Page[DeliveryRead],
    summary="Delivery log, newest first; `status=failed` lists deliveries that gave up, `failing` those retrying",
)
async def list_deliveries(
    status: DeliveryStatus | None = Query(default=None),
    subscription_id: uuid.UUID | None = Query(default=None),
    page: PageParams = Depends(page_params),
    manager: Manager = Depends(current_manager),
    runtime: Runtime = Depends(get_runtime),
) -> Page[DeliveryRead]:
    rows = await uc.list_deliveries(
        runtime.uow(),
        manager,
        status=status,
        subscription_id=subscription_id,
        after=page.after_time_and_id(uuid.UUID),
        limit=page.limit,
    )
    items = [DeliveryRead.of(r) for r in rows[: page.limit]]
    cursor = encode_cursor([items[-1].created_at.isoformat(), str(items[-1].id)]) if len(rows) > page.limit else None
    return Page[DeliveryRead](items=items, next_cursor=cursor)


@router.get("/{delivery_id}", operation_id="getDelivery", response_model=DeliveryRead)
async def get_delivery(
    delivery_id: uuid.UUID, manager: Manager = Depends(current_manager), runtime: Runtime = Depends(get_runtime)
) -> DeliveryRead:
    return DeliveryRead.of(await uc.get_delivery(runtime.uow(), manager, delivery_id))


@router.get("/{delivery_id}/attempts", operation_id="listDeliveryAttempts", response_model=list[AttemptRead])
async def list_attempts(
    delivery_id: uuid.UUID, manager: Manager = Depends(current_manager), runtime: Runtime = Depends(get_runtime)
) -> list[AttemptRead]:
    return [AttemptRead.of(r) for r in await uc.list_attempts(runtime.uow(), manager, delivery_id)]


@router.post(
    "/{delivery_id}/retry",
    operation_id="retryDelivery",
    status_code=202,
    response_model=DeliveryRead,
    summary="Send a pending or failed delivery again now, with a fresh retry schedule",
)
async def retry_delivery(
    delivery_id: uuid.UUID,
    manager: Manager = Depends(current_manager),
    runtime: Runtime = Depends(get_runtime),
    ctx: Context = Depends(context),
) -> DeliveryRead:
    row = await uc.retry_delivery(runtime.uow(), ctx, manager, delivery_id)
    wake_dispatcher(runtime)
    return DeliveryRead.of(row)
