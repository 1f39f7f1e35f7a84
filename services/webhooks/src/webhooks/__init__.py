"""Webhooks service: signed, retried, replayable delivery of domain events to government systems."""
