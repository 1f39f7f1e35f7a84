"""Pure webhook rules: event-type patterns, target (SSRF) checks, retry schedule, signing, access; the records
the service keeps (``model``).

No SQLAlchemy, FastAPI, NATS, HTTP, clock or uuid calls: time, randomness and ids are passed in.
"""
