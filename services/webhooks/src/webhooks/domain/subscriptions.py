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
    """The caller, as far as subscription rules care (built from the token by the entrypoint)."""

    sub: str
    role: str
    district_id: str | None


class AccessDenied(Exception):
    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.code = code


def can_manage(manager: Manager, *, owner_sub: str, district_id: str | None) -> bool:
    """gov_system manages only its own subscriptions; district_admin those filtered on its district."""
    if manager.role == "gov_system":
        return manager.sub == owner_sub
    if manager.role == "district_admin":
        return manager.district_id is not None and manager.district_id == district_id
    return False


def district_for_new_subscription(manager: Manager, requested: str | None) -> str | None:
    """The district filter of a new subscription: a caller bound to a district can only watch that district."""
    if manager.role not in MANAGER_ROLES:
        raise AccessDenied("only gov_system and district_admin manage subscriptions", "role_not_allowed")
    if manager.district_id is None:
        if manager.role == "district_admin":
            raise AccessDenied("a district_admin token needs a district_id claim", "out_of_scope")
        return requested
    if requested is not None and requested != manager.district_id:
        raise AccessDenied("you can only subscribe to events of your own district", "out_of_scope")
    return manager.district_id


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
