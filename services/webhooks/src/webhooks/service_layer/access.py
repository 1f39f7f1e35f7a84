"""Who the caller is, as the subscription rules see it, and loading what it may manage.

Scope is decided here from the service's own records (a subscription's owner and district), never from a body.
"""

from __future__ import annotations

import uuid

from renovation_common.auth import Principal
from renovation_common.errors import Forbidden, NotFound
from webhooks.adapters.repositories import DeliveryRepository, SubscriptionRepository
from webhooks.domain.model import Delivery, Subscription
from webhooks.domain.subscriptions import AccessDenied, Manager, can_manage

MAX_SUBJECT_LENGTH = 200  # subscriptions.owner_sub


def manager_of(principal: Principal) -> Manager:
    if len(principal.sub) > MAX_SUBJECT_LENGTH:  # it is recorded as the owner: bounded like any input
        raise Forbidden(f"the token's subject is longer than {MAX_SUBJECT_LENGTH} characters", code="subject_too_long")
    return Manager(sub=principal.sub, role=principal.role.value, district_id=principal.district_id)


def forbidden(exc: AccessDenied) -> Forbidden:
    return Forbidden(str(exc), code=exc.code)


async def managed_subscription(
    repo: SubscriptionRepository, manager: Manager, subscription_id: uuid.UUID, *, for_update: bool = False
) -> Subscription:
    subscription = await repo.get(subscription_id, for_update=for_update)
    if subscription is None or not can_manage(
        manager, owner_sub=subscription.owner_sub, district_id=subscription.district_id
    ):
        # Someone else's subscription is indistinguishable from a missing one.
        raise NotFound("subscription not found", code="subscription_not_found")
    return subscription


async def managed_delivery(
    repo: DeliveryRepository, manager: Manager, delivery_id: uuid.UUID, *, for_update: bool = False
) -> Delivery:
    delivery = await repo.get(delivery_id, for_update=for_update)
    if delivery is None or not can_manage(
        manager, owner_sub=delivery.owner_sub, district_id=delivery.subscription_district_id
    ):
        raise NotFound("delivery not found", code="delivery_not_found")
    return delivery
