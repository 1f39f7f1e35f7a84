"""What every use case needs: a unit of work factory, the event source, a clock and an id source."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from renovation_common.db import UnitOfWork

NAMESPACE = uuid.UUID("6f1d0c2e-52c4-4bb8-9d0b-3f6a1b7e9a10")


def derived_id(*parts: object) -> uuid.UUID:
    """A deterministic id (uuid5) for a transfer derived from a business id: retries map to the same transfer."""
    return uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts))


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    uow: Callable[[], UnitOfWork]
    source: str = "/renovation/finance"
    clock: Callable[[], datetime] = field(default=_now)
    new_id: Callable[[], uuid.UUID] = field(default=uuid.uuid4)
