"""Finance service: funding plans, ledger, contributions and the emergency repair fund."""
