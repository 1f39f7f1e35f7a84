"""Repositories, one module per aggregate: ``subscriptions``, ``deliveries`` (with their attempts and the dispatcher's
claim), ``events`` (the local event copy replay reads), ``communities`` (read model). SQL lives only here."""

from webhooks.adapters.repositories.communities import CommunityRepository
from webhooks.adapters.repositories.deliveries import DeliveryRepository
from webhooks.adapters.repositories.events import EventRepository
from webhooks.adapters.repositories.subscriptions import SubscriptionRepository

__all__ = ["CommunityRepository", "DeliveryRepository", "EventRepository", "SubscriptionRepository"]
