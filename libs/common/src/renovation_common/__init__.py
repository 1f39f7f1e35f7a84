"""Shared building blocks for the renovation platform's services.

Everything two services need lives here once: settings, database unit of work, the transactional
outbox and its relay, the consumer runner with its inbox, event contracts, auth, problem responses,
pagination, idempotency keys, health and metrics, logging, the app factory and a pytest plugin.
"""
