"""Request and trace ids carried across HTTP and NATS (W3C ``traceparent``)."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

_traceparent: ContextVar[str | None] = ContextVar("traceparent", default=None)
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_traceparent(trace_id: str | None = None) -> str:
    return f"00-{trace_id or secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_traceparent(parent: str | None) -> str:
    """Continue the trace of ``parent`` with a new span id, or start a new trace."""
    if parent:
        match = TRACEPARENT_RE.match(parent.strip().lower())
        if match:
            return new_traceparent(match.group(1))
    return new_traceparent()


def trace_id_of(traceparent: str | None) -> str | None:
    if not traceparent:
        return None
    match = TRACEPARENT_RE.match(traceparent)
    return match.group(1) if match else None


def set_trace(traceparent: str | None, request_id: str | None = None) -> None:
    _traceparent.set(traceparent)
    _request_id.set(request_id)


def current_traceparent() -> str | None:
    return _traceparent.get()


def current_request_id() -> str | None:
    return _request_id.get()
