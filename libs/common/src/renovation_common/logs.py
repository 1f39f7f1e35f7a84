"""JSON logs with the request id and trace id of the current request or message.

Never log secrets or personal data: log ids, counts and codes. :func:`redact` strips the usual suspects from
dictionaries before they reach a log line.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from renovation_common.tracing import current_request_id, current_traceparent, trace_id_of

SENSITIVE_KEYS = frozenset(
    {
        "password",
        "secret",
        "token",
        "authorization",
        "phone",
        "owner_phone",
        "name",
        "owner_name",
        "id_number",
        "address",
        "api_key",
    }
)


def redact(values: dict[str, Any]) -> dict[str, Any]:
    return {k: ("[redacted]" if k.lower() in SENSITIVE_KEYS else v) for k, v in values.items()}


def _add_trace(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    request_id = current_request_id()
    if request_id:
        event_dict.setdefault("request_id", request_id)
    trace_id = trace_id_of(current_traceparent())
    if trace_id:
        event_dict.setdefault("trace_id", trace_id)
    return event_dict


def _redact_processor(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    event_dict.pop("color_message", None)  # uvicorn's copy of the message with terminal colour codes
    for key in list(event_dict):
        if key.lower() in SENSITIVE_KEYS:
            event_dict[key] = "[redacted]"
    return event_dict


def configure_logging(service: str, *, level: str = "INFO", json: bool = True) -> None:
    """structlog for our own loggers, and the same processors and renderer for every standard-library logger
    (uvicorn, SQLAlchemy, asyncio, alembic ...): with ``json`` every line the process writes is one JSON object."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace,
        _redact_processor,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # httpx logs every request with its full URL at INFO: a webhook URL may carry a token in its query string
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
