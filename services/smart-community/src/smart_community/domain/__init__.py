"""Pure consultation rules: no SQLAlchemy, FastAPI, NATS, clock or uuid calls."""
