"""What the use cases need besides a unit of work, built once by the composition root (``entrypoints/app.py``).

The clock is the service's (``runtime.clock``: the wall clock, or the one a test injects); the secret box and the
target check are adapters, seen here only through the small interfaces below.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from renovation_common.clock import Clock, system_clock


class SecretSealer(Protocol):
    """Seals signing secrets under the newest key of a key ring (``adapters.secrets.SecretBox``)."""

    key_id: str

    def seal(self, secret: str) -> str: ...

    def open(self, token: str) -> str: ...

    def reseal(self, token: str) -> str: ...


# Resolves a URL's host and checks every address (SSRF); raises ``domain.targets.TargetRefused``.
TargetCheck = Callable[[str], Awaitable[object]]


def _nothing() -> None:
    return None


@dataclass
class Context:
    box: SecretSealer
    check_target: TargetCheck
    clock: Clock = system_clock
    default_concurrency: int = 4
    replay_max_events: int = 10000
    random_bytes: Callable[[int], bytes] = field(default=secrets.token_bytes)
    # called after a commit that made deliveries due now (wakes this process's dispatcher)
    deliveries_due: Callable[[], None] = field(default=_nothing)
