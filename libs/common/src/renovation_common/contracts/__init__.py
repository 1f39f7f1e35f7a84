"""Event contracts, one module per producing service. Importing this package registers them all."""

from renovation_common.contracts import finance, projects, smart_community, survey, webhooks  # noqa: F401
