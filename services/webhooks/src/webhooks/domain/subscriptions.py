"""Which events a subscription receives and who may manage it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from webhooks.domain.patterns import matches_any

MANAGER_ROLES = frozenset({"gov_system", "district_admin"})
MAX_ROTATION_GRACE = timedelta(days=7)
DEFAULT_ROTATION_GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class EventFilter:
    patterns: Sequence[str]
    district_id: str | None = None
    community_id: str | None = None

    def accepts(self, event_type: str, data: Mapping[str, Any]) -> bool:
        if not matches_any(self.patterns, event_type):
            return False
        if self.district_id is not None and str(data.get("district_id") or "") != self.district_id:
            return False
        return not (self.community_id is not None and str(data.get("community_id") or "") != self.community_id)


@dataclass(frozen=True)
class Manager:
    """The caller, as far as subscription rules care (built from the verified token by the service layer)."""

    sub: str
    role: str
    district_id: str | None

    @property
    def bound_district(self) -> str | None:
        """The district the caller is confined to; ``None`` for a city-level system (a gov_system without one)."""
        return self.district_id


class AccessDenied(Exception):
    """The caller may not do this (403)."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.code = code


class InconsistentFilter(ValueError):
    """The filters contradict each other (400)."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.code = code


def can_manage(manager: Manager, *, owner_sub: str, district_id: str | None) -> bool:
    """gov_system manages the subscriptions it created (and, when its token names a district, only those bound to
    that district); district_admin manages the subscriptions filtered on its district."""
    if manager.role == "gov_system":
        return manager.sub == owner_sub and (manager.district_id is None or manager.district_id == district_id)
    if manager.role == "district_admin":
        return manager.district_id is not None and manager.district_id == district_id
    return False


def district_for_new_subscription(manager: Manager, requested: str | None) -> str | None:
    """The district filter of a new subscription: a caller bound to a district can only watch that district."""
    if manager.role not in MANAGER_ROLES:
        raise AccessDenied("only gov_system and district_admin manage subscriptions", "role_not_allowed")
    if manager.district_id is None:
        if manager.role == "district_admin":
            raise AccessDenied("a district_admin token needs a district_id claim", "scope_claim_missing")
        return requested  # a city-level system: the whole city, or any district of it
    if requested is not None and requested != manager.district_id:
        raise AccessDenied("you can only subscribe to events of your own district", "out_of_scope")
    return manager.district_id


def check_community_filter(manager: Manager, subscription_district: str | None, community_district: str) -> None:
    """A community filter must lie in the caller's district and in the subscription's district filter.

    ``community_district`` comes from the service's own record of the community, never from the request.
    """
    bound = manager.bound_district
    if bound is not None and community_district != bound:
        raise AccessDenied("the community is outside your district", "out_of_scope")
    if subscription_district is not None and community_district != subscription_district:
        raise InconsistentFilter(
            "the community does not lie in the subscription's district", "community_outside_district"
        )


def rotation_grace(requested_s: int | None) -> timedelta:
    if requested_s is None:
        return DEFAULT_ROTATION_GRACE
    if requested_s < 0 or timedelta(seconds=requested_s) > MAX_ROTATION_GRACE:
        raise ValueError("grace period must be between 0 and 7 days")
    return timedelta(seconds=requested_s)


def signing_secrets(
    current: str, previous: str | None, previous_expires_at: datetime | None, now: datetime
) -> list[str]:
    """Secrets that sign a request now: the current one, plus the previous one during its grace period."""
    out = [current]
    if previous is not None and previous_expires_at is not None and now < previous_expires_at:
        out.append(previous)
    return out


def truncate_body(body: bytes, limit: int) -> str:
    return body[:limit].decode("utf-8", errors="replace")
