"""The app's shutdown stops every background task, even one whose first cancellation was swallowed (on Python
< 3.12 an ``asyncio.wait_for`` inside it can lose a cancellation that lands as its inner call completes; a
periodic job would then sleep on for its interval and outlive the process's shutdown)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from renovation_common.app import _shutdown


class _Engine:
    disposed = False

    async def dispose(self) -> None:
        self.disposed = True


async def test_a_task_that_swallowed_its_cancellation_is_cancelled_again() -> None:
    swallowed = asyncio.Event()

    async def job() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed.set()  # as a wait_for that lost the cancellation: the loop goes on
        await asyncio.sleep(3600)  # the job's next interval

    task = asyncio.create_task(job(), name="job:swallows-once")
    await asyncio.sleep(0)
    engine = _Engine()
    runtime: Any = SimpleNamespace(consumers=[], nats=None, engine=engine)
    await _shutdown(runtime, [task])
    assert swallowed.is_set()
    assert task.cancelled()
    assert engine.disposed
