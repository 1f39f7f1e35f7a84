"""What the use cases need besides a unit of work, built once by the composition root (``entrypoints/app.py``).

The clock is the service's (``runtime.clock``: the wall clock, or the one a test injects) — the one source of "now"
for routes and workers alike; the household file reader is an adapter, seen here only through :class:`RowReader`;
the result cache renders documents with the API's response model, which the composition root gives it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

from renovation_common.clock import Clock, system_clock
from survey.service_layer.consultations.results import ResultCache


class RowReader(Protocol):
    """Reads a household file into column → cell rows, bounded in size, rows, cells and time, off the event loop
    (``adapters.files.HouseholdFileReader``); refuses with a ``DomainError``."""

    async def read(self, content: bytes, fmt: str) -> list[dict[str, object]]: ...


@dataclass
class Context:
    files: RowReader
    results: ResultCache  # this replica's result documents, rendered by the API's response model
    source: str = "survey"  # the CloudEvents ``source`` of the events this service writes
    clock: Clock = system_clock
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))  # exports' times for people
