"""The one source of "now" for every service.

Use cases take ``now`` (or a :data:`Clock`) as an argument; the running service's clock is ``runtime.clock`` (the
wall clock, or the one a test injects with ``ServiceDefinition(clock=...)``). Nothing else calls ``datetime.now``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The wall clock, timezone-aware (UTC)."""
    return datetime.now(UTC)
