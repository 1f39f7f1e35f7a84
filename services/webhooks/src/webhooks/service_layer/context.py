"""What the use cases need besides a unit of work: the clock, the secret box, the target policy."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from webhooks.adapters.http import Resolver, TargetPolicy, system_resolver
from webhooks.adapters.secrets import SecretBox

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    box: SecretBox
    policy: TargetPolicy
    clock: Clock = system_clock
    resolver: Resolver = system_resolver
    default_concurrency: int = 4
    replay_max_events: int = 10000
    random_bytes: Callable[[int], bytes] = field(default=secrets.token_bytes)
