"""Prometheus metrics shared by every service (one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_PUBLISHED = Counter("outbox_published_total", "Events published from the outbox", ["service"])
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_LAG = Gauge("outbox_relay_lag_seconds", "Age of the oldest row in the last published batch", ["service"])
EVENTS_CONSUMED = Counter("events_consumed_total", "Events handled by consumers", ["service", "consumer", "outcome"])
CONSUMER_PENDING = Gauge(
    "consumer_pending_messages", "Messages not yet delivered to a durable consumer", ["service", "consumer", "stream"]
)
DEAD_LETTERS = Counter("dead_letters_total", "Messages dead-lettered by consumers", ["service", "consumer"])
NATS_CONNECTED = Gauge("nats_connected", "1 while the service's NATS connection is up", ["service"])
REQUESTS_TOO_LARGE = Counter("http_requests_too_large_total", "Requests refused for their body size", ["service"])
