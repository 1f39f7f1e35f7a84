"""Every async webhooks test: no background task (a dispatcher, a consumer, a relay) outlives it."""

from __future__ import annotations

import inspect

import pytest


@pytest.fixture(autouse=True)
def _no_leftover_tasks(request: pytest.FixtureRequest) -> None:
    if inspect.iscoroutinefunction(getattr(request.node, "function", None)):
        request.getfixturevalue("no_leftover_tasks")
