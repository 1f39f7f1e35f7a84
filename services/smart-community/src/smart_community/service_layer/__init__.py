"""Use cases: unit of work -> load -> domain -> commit (one transaction, events to the outbox)."""
