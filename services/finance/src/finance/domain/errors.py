"""Business-rule failures raised by the pure domain (mapped to problem+json in one place, the app)."""

from __future__ import annotations

from typing import Any


class RuleViolation(Exception):
    """A finance rule said no. ``code`` is stable and documented; ``extra`` goes into the problem body."""

    def __init__(self, code: str, detail: str, *, status: int = 422, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status
        self.extra = extra
