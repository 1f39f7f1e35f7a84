"""What the use cases need besides a unit of work, built once by the composition root (``entrypoints/app.py``).

The clock is the service's (``runtime.clock``: the wall clock, or the one a test injects); "today" is the date on
that clock in the service's time zone (``PROJECTS_TIMEZONE``, Beijing time by default), so every replica agrees on
which progress reports are in the future and which day the delay check is about.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from renovation_common.clock import Clock, system_clock


@dataclass
class Context:
    source: str  # CloudEvents ``source`` of the events this service publishes
    clock: Clock = system_clock
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    plan_sync_max_packages: int = 200
    plan_sync_max_time_limit_s: float = 10.0
    max_time_limit_s: float = 60.0
    max_concurrent_solves: int = 1
    plan_sync_wait_s: float = 15.0
    plan_stale_after_s: float = 3600.0
    delay_check_batch: int = 200
    _gate: asyncio.Semaphore | None = field(default=None, init=False, repr=False)
    _background: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        return self.clock().astimezone(self.timezone).date()

    @property
    def solve_gate(self) -> asyncio.Semaphore:
        """At most ``max_concurrent_solves`` CP-SAT solves at once in this process."""
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.max_concurrent_solves)
        return self._gate

    def keep(self, task: asyncio.Task[None]) -> None:
        """Hold a reference to a solve that outlives its request until it ends."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)
