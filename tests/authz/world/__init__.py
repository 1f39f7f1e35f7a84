"""A small world per service for the authorisation matrix and the fuzz tests (one module per service: its
rows of the matrix, its seeder and its app settings).

Each seeder starts from a freshly migrated database (the app from ``service_client``), creates a few resources in
the *home* scope through the public API (read models that arrive as events in production are written with the
service's own consumer use cases, as the services' own tests do) and returns a :class:`Seeds`: values for path
parameters by name, per-operation overrides, and request bodies for some operations.

Tokens: :func:`claims` gives every role the scope claims it naturally carries; ``away=True`` gives the same role
a scope that shares nothing with the home scope (another district, street, community and household).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from renovation_common.auth import Role
from renovation_common.testing.plugin import bearer

HOME = {"district_id": "510105", "street_id": "51010501", "community_id": "c-home", "household_id": "h-home"}
AWAY = {"district_id": "510999", "street_id": "51099901", "community_id": "c-away", "household_id": "h-away"}

# Which scope claims a role's token carries (the narrowest claim decides what it covers).
CLAIMS: dict[Role, tuple[str, ...]] = {
    Role.RESIDENT: ("district_id", "street_id", "community_id", "household_id"),
    Role.COMMUNITY_WORKER: ("district_id", "street_id", "community_id"),
    Role.STREET_OFFICER: ("district_id", "street_id"),
    Role.DISTRICT_ADMIN: ("district_id",),
    Role.CONTRACTOR: ("district_id",),
    Role.QUALITY_SUPERVISOR: ("district_id",),
    Role.OPERATOR: ("district_id",),
    Role.GOV_SYSTEM: ("district_id",),
    Role.DEVICE_GATEWAY: ("district_id", "community_id"),
    Role.FINANCE_OFFICER: ("district_id",),
}


def claims(role: Role, home: dict[str, str], *, away: bool = False) -> dict[str, str]:
    source = {k: f"{v}-away" if k in ("community_id", "household_id") else v for k, v in AWAY.items()} if away else home
    return {k: source[k] for k in CLAIMS[role]}


def headers_for(make_token: Any, role: Role, home: dict[str, str], *, away: bool = False) -> dict[str, str]:
    # a stable subject per role and side, so ownership rules (webhooks: owner = sub) are deterministic
    sub = f"{role.value}-{'away' if away else 'home'}"
    return bearer(make_token(role.value, sub=sub, **claims(role, home, away=away)))


@dataclass
class Seeds:
    home: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)  # path parameter name -> value
    per_op: dict[str, dict[str, str]] = field(default_factory=dict)  # operationId -> path parameter overrides
    bodies: dict[str, Any] = field(default_factory=dict)  # operationId -> JSON body for the allowed calls
    role_bodies: dict[str, dict[Role, Any]] = field(default_factory=dict)  # operationId -> role -> body
    queries: dict[str, dict[str, str]] = field(default_factory=dict)  # operationId -> query parameters

    def body_for(self, op_id: str, role: Role) -> Any:
        if role in self.role_bodies.get(op_id, {}):
            return self.role_bodies[op_id][role]
        return self.bodies.get(op_id, {})

    def has_body(self, op_id: str) -> bool:
        return op_id in self.bodies or op_id in self.role_bodies

    def path_for(self, op_id: str, path: str) -> tuple[str, bool]:
        """The concrete URL and whether every path parameter is a seeded (existing, home-scope) value."""
        seeded = True

        def fill(m: re.Match[str]) -> str:
            nonlocal seeded
            name = m.group(1)
            value = self.per_op.get(op_id, {}).get(name) or self.params.get(name)
            if value is None:
                seeded = False
                return str(uuid.uuid4())
            return value

        return re.sub(r"\{([^}]+)\}", fill, path), seeded


def ok(response: Any, what: str) -> dict[str, Any]:
    assert response.status_code < 300, f"seeding {what}: {response.status_code} {response.text[:500]}"
    return response.json()  # type: ignore[no-any-return]


# Settings for the apps under test: no background traffic that would race the checks.
COMMON_SETTINGS: dict[str, Any] = {"consumers_enabled": False, "relay_enabled": False, "log_level": "WARNING"}

from . import finance, projects, smart_community, survey, webhooks  # noqa: E402 - they import the helpers above

MODULES: dict[str, Any] = {
    "survey": survey,
    "projects": projects,
    "finance": finance,
    "smart-community": smart_community,
    "webhooks": webhooks,
}
SEEDERS = {name: module.seed for name, module in MODULES.items()}
APP_SETTINGS: dict[str, dict[str, Any]] = {name: module.APP_SETTINGS for name, module in MODULES.items()}
MATRICES: dict[str, str] = {name: module.MATRIX for name, module in MODULES.items()}
